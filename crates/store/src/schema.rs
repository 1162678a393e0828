//! The schema, described once. DDL for SQLite and PostgreSQL is generated from these
//! descriptions, so the two databases cannot drift apart.
//!
//! Conventions that keep one SQL text valid on both databases:
//! * times are `BIGINT` epoch milliseconds; booleans are integers 0/1;
//! * JSON is stored as text (attributes, configs, cursors);
//! * every entity has an integer `id` (SQLite rowid; PostgreSQL identity column).

use crate::conn::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Integer primary key, generated when not given.
    Id,
    Int,
    Real,
    Text,
    Blob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    Cascade,
    SetNull,
    Restrict,
}

#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub ty: Ty,
    pub not_null: bool,
    /// A literal valid in both dialects (`0`, `''`).
    pub default: Option<&'static str>,
    pub refs: Option<(&'static str, OnDelete)>,
}

#[derive(Debug, Clone, Copy)]
pub struct Index {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub unique: bool,
    /// A partial index's condition (same text in both dialects): rows that fail it cost
    /// the index nothing to write or delete.
    pub filter: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub cols: &'static [Col],
    /// Composite primary key; empty when the `Id` column is the key.
    pub pk: &'static [&'static str],
    pub indexes: &'static [Index],
    /// SQLite `WITHOUT ROWID` (narrow tables keyed by their primary key).
    pub without_rowid: bool,
    /// High-volume table written only with reserved ids: PostgreSQL hands out ids in
    /// blocks of this size (one `nextval` per block instead of per row).
    pub id_block: i64,
}

const fn col(name: &'static str, ty: Ty, not_null: bool) -> Col {
    Col { name, ty, not_null, default: None, refs: None }
}
const fn id() -> Col {
    col("id", Ty::Id, true)
}
const fn int(name: &'static str) -> Col {
    col(name, Ty::Int, false)
}
const fn int_nn(name: &'static str) -> Col {
    col(name, Ty::Int, true)
}
const fn flag(name: &'static str, default: &'static str) -> Col {
    Col { default: Some(default), ..col(name, Ty::Int, true) }
}
const fn text(name: &'static str) -> Col {
    col(name, Ty::Text, false)
}
const fn text_nn(name: &'static str) -> Col {
    col(name, Ty::Text, true)
}
const fn real(name: &'static str) -> Col {
    col(name, Ty::Real, false)
}
const fn blob(name: &'static str) -> Col {
    col(name, Ty::Blob, false)
}
const fn fk(name: &'static str, table: &'static str, on_delete: OnDelete, not_null: bool) -> Col {
    Col { refs: Some((table, on_delete)), ..col(name, Ty::Int, not_null) }
}
const fn idx(name: &'static str, columns: &'static [&'static str]) -> Index {
    Index { name, columns, unique: false, filter: None }
}
/// A partial index: only rows meeting `filter`. With `column IS NOT NULL`, a query
/// comparing the column (`=`, `IN`, `LIKE`…) implies it, so both databases still use it.
const fn partial(name: &'static str, columns: &'static [&'static str], filter: &'static str) -> Index {
    Index { name, columns, unique: false, filter: Some(filter) }
}
const fn uniq(name: &'static str, columns: &'static [&'static str]) -> Index {
    Index { name, columns, unique: true, filter: None }
}
const fn table(name: &'static str, cols: &'static [Col], indexes: &'static [Index]) -> Table {
    Table { name, cols, pk: &[], indexes, without_rowid: false, id_block: 1 }
}
/// A high-volume table: ids come from [`crate::Conn::reserve_ids`] in blocks.
const fn bulk_table(name: &'static str, cols: &'static [Col], indexes: &'static [Index]) -> Table {
    Table { id_block: 1024, ..table(name, cols, indexes) }
}

use OnDelete::*;

pub const META: Table =
    Table { name: "meta", cols: &[text_nn("key"), text_nn("value")], pk: &["key"], indexes: &[], without_rowid: true, id_block: 1 };

pub const USERS: Table = table(
    "users",
    &[id(), text_nn("name"), text_nn("role"), text_nn("password_hash"), flag("disabled", "0"), int_nn("created_at")],
    &[uniq("users_name", &["name"])],
);

pub const API_TOKENS: Table = table(
    "api_tokens",
    &[
        id(),
        fk("user_id", "users", Cascade, true),
        text_nn("name"),
        text_nn("token_hash"),
        int_nn("created_at"),
        int("expires_at"),
        int("last_used_at"),
        API_TOKEN_REVOKED_AT,
    ],
    &[uniq("api_tokens_hash", &["token_hash"]), idx("api_tokens_user", &["user_id"])],
);

pub const AUDIT_EVENTS: Table = table(
    "audit_events",
    &[id(), int_nn("at"), text_nn("actor"), text_nn("action"), text_nn("target"), text("detail")],
    &[idx("audit_events_at", &["at"]), AUDIT_EVENTS_TARGET],
);

/// An item's history (schema 6): a finding's triage events by its id.
pub const AUDIT_EVENTS_TARGET: Index = idx("audit_events_target", &["target", "id"]);

pub const INTEGRATIONS: Table = table(
    "integrations",
    &[
        id(),
        text_nn("name"),
        text_nn("kind"),
        text_nn("base_url"),
        text_nn("config"),
        blob("secret"),
        text_nn("status"),
        text("status_reason"),
        int("status_at"),
        int_nn("created_at"),
        int_nn("updated_at"),
    ],
    &[uniq("integrations_name", &["name"])],
);

pub const TRANSFORM_MAPS: Table = table(
    "transform_maps",
    &[
        id(),
        text_nn("name"),
        text_nn("connector"),
        text_nn("source_model"),
        text_nn("target_model"),
        text("product"),
        text("description"),
        text_nn("rules"),
        flag("builtin", "0"),
        int_nn("version"),
        int_nn("created_at"),
        int_nn("updated_at"),
    ],
    &[uniq("transform_maps_name", &["name"])],
);

pub const IDENTIFICATION_RULES: Table = Table {
    name: "identification_rules",
    cols: &[text_nn("asset_kind"), text_nn("identifier"), int_nn("precedence")],
    pk: &["asset_kind", "identifier"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

pub const PROFILES: Table = table(
    "profiles",
    &[
        id(),
        text_nn("name"),
        text("description"),
        fk("integration_id", "integrations", Cascade, true),
        flag("active", "1"),
        flag("is_default", "0"),
        text_nn("schedule"),
        int("next_run_at"),
        int("last_run_at"),
        int_nn("created_at"),
    ],
    &[uniq("profiles_name", &["name"]), idx("profiles_integration", &["integration_id"]), idx("profiles_next_run", &["next_run_at"])],
);

pub const PROFILE_MAPS: Table = Table {
    name: "profile_maps",
    cols: &[fk("profile_id", "profiles", Cascade, true), text_nn("stream"), fk("map_id", "transform_maps", Restrict, true)],
    pk: &["profile_id", "stream"],
    indexes: &[idx("profile_maps_map", &["map_id"])],
    without_rowid: true,
    id_block: 1,
};

pub const SYNC_RUNS: Table = table(
    "sync_runs",
    &[
        id(),
        fk("integration_id", "integrations", Cascade, true),
        fk("profile_id", "profiles", SetNull, false),
        text_nn("mode"),
        text_nn("status"),
        int_nn("started_at"),
        int("ended_at"),
        int("heartbeat_at"),
        text("lease_owner"),
        flag("fetched", "0"),
        flag("created", "0"),
        flag("updated", "0"),
        flag("unchanged", "0"),
        flag("closed", "0"),
        flag("skipped", "0"),
        flag("assets_created", "0"),
        flag("assets_updated", "0"),
        flag("assets_retired", "0"),
        flag("pages", "0"),
        text("error"),
        text("cursor"),
        text("watermark"),
        flag("resumes", "0"),
        SYNC_RUN_INITIAL,
        SYNC_RUN_NOTES,
    ],
    &[idx("sync_runs_integration", &["integration_id", "started_at"]), idx("sync_runs_status", &["status"])],
);

pub const SYNC_STATE: Table = Table {
    name: "sync_state",
    cols: &[
        fk("integration_id", "integrations", Cascade, true),
        text_nn("stream"),
        text("watermark"),
        int("last_full_at"),
        int("last_run_at"),
    ],
    pk: &["integration_id", "stream"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// Items a full sync saw, written with each page so a resumed run still knows them.
/// `item_kind`: 1 finding, 2 asset source, 3 raw record.
pub const SYNC_SEEN: Table = Table {
    name: "sync_seen",
    cols: &[int_nn("run_id"), int_nn("item_kind"), int_nn("item_id")],
    pk: &["run_id", "item_kind", "item_id"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

pub const ASSETS: Table = bulk_table(
    "assets",
    &[
        id(),
        text_nn("kind"),
        text_nn("name"),
        text_nn("identity"),
        text_nn("matched_rule"),
        text_nn("attributes"),
        int_nn("first_seen"),
        int_nn("last_seen"),
        int_nn("created_at"),
        int_nn("updated_at"),
        ASSET_CRITICALITY,
    ],
    &[idx("assets_kind", &["kind"]), idx("assets_name", &["name"]), ASSETS_NAME_LOWER],
);

pub const ASSET_IDENTIFIERS: Table = Table {
    name: "asset_identifiers",
    cols: &[text_nn("kind"), text_nn("value"), int_nn("asset_id")],
    pk: &["kind", "value"],
    indexes: &[idx("asset_identifiers_asset", &["asset_id"])],
    without_rowid: true,
    id_block: 1,
};

// High-volume tables carry no foreign keys: on PostgreSQL each one is a trigger per row
// that halves COPY throughput (bench/RESULTS.md). `repo::integrations::delete` removes
// their rows explicitly.
pub const ASSET_SOURCES: Table = bulk_table(
    "asset_sources",
    &[
        id(),
        int_nn("asset_id"),
        int_nn("integration_id"),
        text_nn("source"),
        text_nn("source_key"),
        int("raw_id"),
        int_nn("chash"),
        text_nn("attributes"),
        flag("active", "1"),
        int_nn("first_seen"),
        int_nn("last_seen"),
        int("removed_at"),
    ],
    &[uniq("asset_sources_key", &["integration_id", "source_key"]), idx("asset_sources_asset", &["asset_id"])],
);

pub const ASSET_RELATIONS: Table = Table {
    name: "asset_relations",
    cols: &[int_nn("parent_id"), int_nn("child_id"), text_nn("kind")],
    pk: &["parent_id", "child_id", "kind"],
    indexes: &[idx("asset_relations_child", &["child_id"])],
    without_rowid: true,
    id_block: 1,
};

pub const RAW_RECORDS: Table = bulk_table(
    "raw_records",
    &[
        id(),
        int_nn("integration_id"),
        text_nn("stream"),
        text_nn("record_key"),
        text("scope"),
        int_nn("chash"),
        blob("body"),
        int_nn("fetched_at"),
        RAW_DICT_ID,
    ],
    &[uniq("raw_records_key", &["integration_id", "stream", "record_key"])],
);

/// Findings by the repository they belong to (added by schema version 3; partial since
/// schema 7: host findings, most of a tenant, have none).
pub const FINDINGS_REPO: Index = partial("findings_repo", &["repo_asset_id"], "repo_asset_id IS NOT NULL");

/// `api_tokens.revoked_at` (schema 4): a revoked token never authenticates again.
pub const API_TOKEN_REVOKED_AT: Col = int("revoked_at");

/// Triage (schema 4): the human decision on a finding, kept beside the vendor's `status`
/// and never written by a sync. `triage` is one of `TriageStatus`; `triage_until` ends a
/// risk acceptance.
pub const FINDING_TRIAGE: Col = text("triage");
pub const FINDING_TRIAGE_REASON: Col = text("triage_reason");
pub const FINDING_TRIAGE_UNTIL: Col = int("triage_until");
pub const FINDING_ASSIGNEE: Col = text("assignee");
pub const FINDING_TRIAGED_AT: Col = int("triaged_at");

/// Comments on findings (schema 4).
pub const FINDING_COMMENTS: Table = table(
    "finding_comments",
    &[id(), int_nn("finding_id"), text_nn("author"), text_nn("body"), int_nn("created_at")],
    &[idx("finding_comments_finding", &["finding_id"])],
);

/// Counts of findings per product, kind, severity and status (schema 4): a maintained
/// aggregate (see `repo::stats`), so a dashboard's counts read a few hundred rows instead
/// of scanning every finding.
pub const FINDING_STATS: Table = Table {
    name: "finding_stats",
    cols: &[text_nn("product"), text_nn("kind"), int_nn("severity"), text_nn("status"), int_nn("n")],
    pk: &["product", "kind", "severity", "status"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// One row while `finding_stats` is out of date (schema 4): whatever changes findings
/// bumps `version` in its own transaction, and the next read rebuilds the counts and
/// clears the version it saw.
pub const FINDING_STATS_STALE: Table = Table {
    name: "finding_stats_stale",
    cols: &[int_nn("id"), int_nn("version")],
    pk: &["id"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// FIRST EPSS scores by CVE (schema 4), replaced whole by `tributary intel load epss`.
pub const INTEL_EPSS: Table = Table {
    name: "intel_epss",
    cols: &[text_nn("cve"), real("epss"), real("percentile")],
    pk: &["cve"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// CISA KEV entries by CVE (schema 4), replaced whole by `tributary intel load kev`.
pub const INTEL_KEV: Table = Table {
    name: "intel_kev",
    cols: &[
        text_nn("cve"),
        text_nn("name"),
        text_nn("vendor"),
        text_nn("product"),
        text_nn("date_added"),
        text("due_date"),
        text("ransomware"),
        text("forensic_triage"),
    ],
    pk: &["cve"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// Standing triage rules (schema 4): a query and the decision findings matching it get
/// when they arrive untriaged.
pub const TRIAGE_RULES: Table = table(
    "triage_rules",
    &[
        id(),
        text_nn("name"),
        text_nn("query"),
        text_nn("triage"),
        text("reason"),
        int("until"),
        text("assignee"),
        text_nn("created_by"),
        int_nn("created_at"),
        flag("applied", "0"),
    ],
    &[uniq("triage_rules_name", &["name"])],
);

/// `sync_runs.notes`: what the run says besides its counts (see `SyncRun::notes`).
pub const SYNC_RUN_NOTES: Col = text("notes");

/// `sync_runs.initial`: see `SyncRun::initial`.
pub const SYNC_RUN_INITIAL: Col = flag("initial", "0");

/// `raw_records.dict_id`: the dictionary `body` was compressed against (none: plain LZ4).
pub const RAW_DICT_ID: Col = int("dict_id");

/// Compression dictionaries of raw records (one sample record of a stream). The id is a
/// hash of integration, stream and bytes, chosen by the writer; a row never changes.
pub const RAW_DICTS: Table = Table {
    name: "raw_dicts",
    cols: &[int_nn("id"), int_nn("integration_id"), text_nn("stream"), blob("body"), int_nn("created_at")],
    pk: &["id"],
    indexes: &[],
    without_rowid: false,
    id_block: 1,
};

pub const FINDINGS: Table = bulk_table(
    "findings",
    &[
        id(),
        int_nn("asset_id"),
        // 64-bit key, unique within its asset (so collisions need two findings of one
        // asset to collide: never in practice), cheaper than a blob in both databases.
        int_nn("fkey"),
        int_nn("integration_id"),
        text_nn("kind"),
        text_nn("product"),
        text_nn("external_id"),
        text_nn("title"),
        int_nn("severity"),
        text("source_severity"),
        real("source_score"),
        text_nn("status"),
        text("cve"),
        real("cvss_score"),
        text("cvss_version"),
        int("repo_asset_id"),
        text("scope"),
        int("issue_id"),
        int_nn("first_seen"),
        int_nn("last_seen"),
        int("closed_at"),
        int("raw_id"),
        int_nn("chash"),
        text_nn("attributes"),
        int_nn("created_at"),
        int_nn("updated_at"),
        FINDING_TRIAGE,
        FINDING_TRIAGE_REASON,
        FINDING_TRIAGE_UNTIL,
        FINDING_ASSIGNEE,
        FINDING_TRIAGED_AT,
        FINDING_CWE_TOP25,
        FINDING_REACH,
        FINDING_FIX,
        FINDING_VECTOR,
    ],
    // Deliberately few indexes: each one costs every insert (bench/RESULTS.md). The unique
    // key is local to the asset, so a first load appends; (product, status) serves
    // vendorProductName queries and the end-of-sync sweep; repo_asset_id serves the
    // per-project reconcile of a Semgrep delta.
    &[
        uniq("findings_key", &["asset_id", "fkey"]),
        FINDINGS_PRODUCT_STATUS,
        FINDINGS_REPO,
        FINDINGS_OPEN_SEVERITY,
        FINDINGS_CVE,
        FINDINGS_ISSUE,
        FINDINGS_UPDATED,
    ],
);

/// `vendorProductName` queries, the end-of-sync sweep, and (with severity and kind, schema 4)
/// the rebuild of `finding_stats` as an index-only scan.
pub const FINDINGS_PRODUCT_STATUS: Index = idx("findings_product_status", &["product", "status", "severity", "kind"]);

/// Lists in the default order (most severe first, newest id first) and severity filters
/// read this index in order and stop at a page (schema 4).
pub const FINDINGS_OPEN_SEVERITY: Index = idx("findings_status_severity", &["status", "severity", "id"]);
/// A CVE across every asset (schema 4). Its keys arrive in random order, so maintaining it
/// row by row costs a bulk load more than the rest of the write path together (bench
/// xdr: 15 s → 37 s); an integration's first run builds it once at its end instead
/// ([`DEFERRABLE`]). Partial since schema 7: code weaknesses (most SAST findings) have no
/// CVE, and an index entry per NULL cost every write and delete of them for nothing.
pub const FINDINGS_CVE: Index = partial("findings_cve", &["cve"], "cve IS NOT NULL");

/// Indexes a bulk first load drops and builds again at its end (`Store::defer_indexes`,
/// `Store::ensure_indexes`): one sort instead of millions of random B-tree inserts.
pub const DEFERRABLE: &[(&Table, &Index)] = &[(&FINDINGS, &FINDINGS_CVE)];
/// Case-insensitive name lookups (`asset.name:web-01`) (schema 4).
pub const ASSETS_NAME_LOWER: Index = idx("assets_name_lower", &["LOWER(name)"]);

/// Issues (schema 5): findings of one problem, correlated across sources. The id is the
/// findings' `issue_id`, a hash of the correlation key (`core::transform::Correlation`),
/// so the same input always gives the same ids. Rebuilt from findings by
/// `repo::issues::refresh` (counts and risk aggregated in SQL, scored in Rust).
pub const ISSUES: Table = Table {
    name: "issues",
    cols: &[
        int_nn("id"),
        text_nn("kind"),
        text_nn("title"),
        text("cve"),
        int("repo_asset_id"),
        int_nn("asset_id"),
        int_nn("severity"),
        text_nn("status"),
        int_nn("findings"),
        int_nn("open_findings"),
        int_nn("sources"),
        // Tenths of a point (0–1000), so the stored factors add up exactly.
        int_nn("score"),
        text_nn("decision"),
        text_nn("factors"),
        int_nn("first_seen"),
        int_nn("last_seen"),
        int_nn("updated_at"),
    ],
    // No primary key: ids are random hashes, so a key-ordered table takes every row at a
    // random place. Rows append; `issues_id` is unique. A full rebuild drops both indexes
    // and builds them again after (`repo::issues::refresh_all`).
    pk: &[],
    indexes: &[ISSUES_ID, ISSUES_STATUS_SCORE],
    without_rowid: false,
    id_block: 1,
};

pub const ISSUES_ID: Index = uniq("issues_id", &["id"]);
pub const ISSUES_STATUS_SCORE: Index = idx("issues_status_score", &["status", "score"]);

/// Findings by when they last changed (schema 5): what a run touched, for rebuilding only
/// those issues. The keys only grow, so writes append.
pub const FINDINGS_UPDATED: Index = idx("findings_updated", &["updated_at"]);

/// Findings by issue (schema 5). Since schema 7 an issue id starts with its anchor asset's
/// id, so a load's keys mostly append: kept row by row, not deferred (bench/RESULTS.md).
pub const FINDINGS_ISSUE: Index = idx("findings_issue", &["issue_id"]);

/// Risk traits of a finding (schema 5; `core::risk::RiskTraits`), aggregated per issue.
pub const FINDING_CWE_TOP25: Col = int("cwe_top25");
pub const FINDING_REACH: Col = int("reach");
pub const FINDING_FIX: Col = int("fix");
pub const FINDING_VECTOR: Col = int("vector");

/// Business criticality 1–5 set by a user on an asset (schema 5); `NULL` = 3.
pub const ASSET_CRITICALITY: Col = int("criticality");

/// Deployment and internet exposure of a repository (schema 5), from Cortex Cloud, kept
/// only where the seed's conditions hold (`repo::context`); otherwise `reason` says why
/// there is none.
pub const REPO_CONTEXT: Table = Table {
    name: "repo_context",
    cols: &[
        int_nn("asset_id"),
        int("integration_id"),
        text("deployment"),
        text("exposure"),
        text_nn("evidence"),
        text("reason"),
        int("scanned_at"),
        int_nn("updated_at"),
    ],
    pk: &["asset_id"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// Internet exposure of hosts (schema 5), from attack-surface records, rebuilt with the
/// repository context (`repo::context`).
pub const HOST_CONTEXT: Table = Table {
    name: "host_context",
    cols: &[int_nn("asset_id"), int_nn("exposed"), text_nn("evidence"), int_nn("updated_at")],
    pk: &["asset_id"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// Host findings moved into a repository's issue (code to runtime, schema 5): the finding
/// and the issue it joined (`repo::issues::link_runtime`).
pub const ISSUE_LINKS: Table = Table {
    name: "issue_links",
    cols: &[int_nn("finding_id"), int_nn("issue_id")],
    pk: &["finding_id"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// Daily metrics (schema 5): per day, integration, product, severity and status, the
/// findings in that state at the day's last snapshot (`n`), those first seen that day
/// (`new`), those closed that day (`fixed`) and the sum of their time open
/// (`remediation_ms`, for the mean time to remediate). Keyed by integration so deleting
/// one takes its share of every trend with it.
pub const METRICS_DAILY: Table = Table {
    name: "metrics_daily",
    cols: &[
        text_nn("day"),
        int_nn("integration_id"),
        text_nn("product"),
        int_nn("severity"),
        text_nn("status"),
        int_nn("n"),
        int_nn("new"),
        int_nn("fixed"),
        int_nn("remediation_ms"),
        int_nn("taken_at"),
    ],
    pk: &["day", "integration_id", "product", "severity", "status"],
    indexes: &[idx("metrics_daily_integration", &["integration_id"])],
    without_rowid: true,
    id_block: 1,
};

/// Policies (schema 5): a query and the action label findings matching it carry.
pub const POLICIES: Table = table(
    "policies",
    &[id(), text_nn("name"), text_nn("query"), text_nn("action"), flag("enabled", "1"), int_nn("created_at"), int_nn("updated_at")],
    &[uniq("policies_name", &["name"])],
);

/// Which findings each policy matched at its last evaluation (schema 5).
pub const POLICY_RESULTS: Table = Table {
    name: "policy_results",
    cols: &[fk("policy_id", "policies", Cascade, true), int_nn("finding_id"), int_nn("matched_at")],
    pk: &["policy_id", "finding_id"],
    indexes: &[idx("policy_results_finding", &["finding_id"])],
    without_rowid: true,
    id_block: 1,
};

/// Webhooks (schema 6): where notifications go. The URL and the signing secret are both
/// sealed with the master key (a Slack or Teams URL is itself a credential); `url_hint`
/// is what front ends show.
pub const WEBHOOKS: Table = table(
    "webhooks",
    &[
        id(),
        text_nn("name"),
        text_nn("kind"),
        blob("url"),
        text_nn("url_hint"),
        blob("secret"),
        text_nn("events"),
        flag("enabled", "1"),
        int_nn("created_at"),
        int_nn("updated_at"),
    ],
    &[uniq("webhooks_name", &["name"])],
);

/// Each notification to each webhook, with its delivery attempts (schema 6).
pub const WEBHOOK_DELIVERIES: Table = table(
    "webhook_deliveries",
    &[
        id(),
        fk("webhook_id", "webhooks", Cascade, true),
        text_nn("event"),
        text_nn("body"),
        text_nn("status"),
        int_nn("attempts"),
        int_nn("next_at"),
        int("last_code"),
        text("last_error"),
        int_nn("created_at"),
        int("delivered_at"),
    ],
    &[idx("webhook_deliveries_due", &["status", "next_at"]), idx("webhook_deliveries_hook", &["webhook_id", "id"])],
);

/// Issues a webhook was told about (schema 6): each issue once per webhook.
pub const NOTIFIED_ISSUES: Table = Table {
    name: "notified_issues",
    cols: &[fk("webhook_id", "webhooks", Cascade, true), int_nn("issue_id"), int_nn("notified_at")],
    pk: &["webhook_id", "issue_id"],
    indexes: &[],
    without_rowid: true,
    id_block: 1,
};

/// Vendor-side containers that map to repository assets (Semgrep projects).
pub const SCOPES: Table = table(
    "scopes",
    &[
        id(),
        fk("integration_id", "integrations", Cascade, true),
        text_nn("scope_key"),
        text_nn("name"),
        text("url"),
        text("repo_key"),
        int("repo_asset_id"),
        text_nn("mapping"),
        text("reason"),
        text_nn("attributes"),
        int_nn("first_seen"),
        int_nn("last_seen"),
    ],
    &[uniq("scopes_key", &["integration_id", "scope_key"]), idx("scopes_repo", &["repo_asset_id"])],
);

/// Every table, in creation order (parents before children).
pub const TABLES: &[&Table] = &[
    &META,
    &USERS,
    &API_TOKENS,
    &AUDIT_EVENTS,
    &INTEGRATIONS,
    &TRANSFORM_MAPS,
    &IDENTIFICATION_RULES,
    &PROFILES,
    &PROFILE_MAPS,
    &SYNC_RUNS,
    &SYNC_STATE,
    &SYNC_SEEN,
    &ASSETS,
    &ASSET_IDENTIFIERS,
    &ASSET_SOURCES,
    &ASSET_RELATIONS,
    &RAW_RECORDS,
    &RAW_DICTS,
    &FINDINGS,
    &ISSUES,
    &SCOPES,
    &FINDING_COMMENTS,
    &TRIAGE_RULES,
    &FINDING_STATS,
    &FINDING_STATS_STALE,
    &INTEL_EPSS,
    &INTEL_KEV,
    &REPO_CONTEXT,
    &HOST_CONTEXT,
    &ISSUE_LINKS,
    &METRICS_DAILY,
    &POLICIES,
    &POLICY_RESULTS,
    &WEBHOOKS,
    &WEBHOOK_DELIVERIES,
    &NOTIFIED_ISSUES,
];

fn sql_type(ty: Ty, d: Dialect) -> &'static str {
    // (The identity clause with its block size is added by `column_sql`.)
    match (ty, d) {
        (Ty::Id, Dialect::Sqlite) => "INTEGER PRIMARY KEY",
        (Ty::Id, Dialect::Postgres) => "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        (Ty::Int, Dialect::Sqlite) => "INTEGER",
        (Ty::Int, Dialect::Postgres) => "BIGINT",
        (Ty::Real, Dialect::Sqlite) => "REAL",
        (Ty::Real, Dialect::Postgres) => "DOUBLE PRECISION",
        (Ty::Text, Dialect::Sqlite) => "TEXT",
        // Byte order, like SQLite's BINARY: same sorting on both databases, and the
        // fast comparison path (a libc locale makes every text index compare slowly).
        (Ty::Text, Dialect::Postgres) => "TEXT COLLATE \"C\"",
        (Ty::Blob, Dialect::Sqlite) => "BLOB",
        (Ty::Blob, Dialect::Postgres) => "BYTEA",
    }
}

/// The column definition as it appears in `CREATE TABLE` / `ADD COLUMN`.
pub fn column_sql(c: &Col, d: Dialect) -> String {
    column_sql_in(c, d, 1)
}

fn column_sql_in(c: &Col, d: Dialect, id_block: i64) -> String {
    let mut s = match (c.ty, d) {
        (Ty::Id, Dialect::Postgres) if id_block > 1 => {
            format!("{} BIGINT GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY {id_block}) PRIMARY KEY", c.name)
        }
        _ => format!("{} {}", c.name, sql_type(c.ty, d)),
    };
    if c.not_null && c.ty != Ty::Id {
        s.push_str(" NOT NULL");
    }
    if let Some(def) = c.default {
        s.push_str(" DEFAULT ");
        s.push_str(def);
    }
    if let Some((t, on_delete)) = c.refs {
        s.push_str(&format!(" REFERENCES {t}(id)"));
        s.push_str(match on_delete {
            OnDelete::Cascade => " ON DELETE CASCADE",
            OnDelete::SetNull => " ON DELETE SET NULL",
            OnDelete::Restrict => " ON DELETE RESTRICT",
        });
    }
    s
}

pub fn create_table_sql(t: &Table, d: Dialect) -> String {
    let mut parts: Vec<String> = t.cols.iter().map(|c| column_sql_in(c, d, t.id_block)).collect();
    if !t.pk.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", t.pk.join(", ")));
    }
    let mut s = format!("CREATE TABLE {} (\n    {}\n)", t.name, parts.join(",\n    "));
    if t.without_rowid && d == Dialect::Sqlite {
        s.push_str(" WITHOUT ROWID");
    }
    s
}

pub fn create_index_sql(t: &Table, i: &Index) -> String {
    let filter = i.filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    format!("CREATE {}INDEX {} ON {} ({}){filter}", if i.unique { "UNIQUE " } else { "" }, i.name, t.name, i.columns.join(", "))
}

pub fn drop_index_sql(i: &Index) -> String {
    format!("DROP INDEX IF EXISTS {}", i.name)
}

/// The table named `name`.
pub fn table_named(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// One table and its indexes as DDL statements for `d`.
pub fn table_ddl(t: &Table, d: Dialect) -> Vec<String> {
    let mut out = vec![create_table_sql(t, d)];
    out.extend(t.indexes.iter().map(|i| create_index_sql(t, i)));
    out
}

/// The whole current schema as DDL statements for `d`.
pub fn ddl(d: Dialect) -> Vec<String> {
    TABLES.iter().flat_map(|t| table_ddl(t, d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_differs_only_where_the_dialects_do() {
        let s = create_table_sql(&FINDINGS, Dialect::Sqlite);
        let p = create_table_sql(&FINDINGS, Dialect::Postgres);
        assert!(s.contains("id INTEGER PRIMARY KEY"));
        assert!(p.contains("id BIGINT GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 1024) PRIMARY KEY"));
        let u = create_table_sql(&USERS, Dialect::Postgres);
        assert!(u.contains("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"), "{u}");
        assert!(s.contains("title TEXT NOT NULL") && p.contains("title TEXT COLLATE \"C\" NOT NULL"));
        let prof = create_table_sql(&PROFILES, Dialect::Postgres);
        assert!(prof.contains("integration_id BIGINT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE"), "{prof}");
        assert!(create_table_sql(&SYNC_SEEN, Dialect::Sqlite).ends_with("WITHOUT ROWID"));
        assert!(!create_table_sql(&SYNC_SEEN, Dialect::Postgres).contains("ROWID"));
        assert_eq!(ddl(Dialect::Sqlite).len(), ddl(Dialect::Postgres).len());
    }

    #[test]
    fn parents_come_before_children() {
        for (i, t) in TABLES.iter().enumerate() {
            for c in t.cols {
                if let Some((parent, _)) = c.refs {
                    let p = TABLES.iter().position(|x| x.name == parent).unwrap_or(usize::MAX);
                    assert!(p < i, "{}.{} references {parent} defined later", t.name, c.name);
                }
            }
        }
    }
}
