//! Every API route: its documentation and its handler, in one table ([`api`]). Handlers
//! are thin: they take typed input, call one use case of the application layer on a
//! blocking thread, and return its typed output as JSON.

mod auth;
mod config;
mod data;
mod integrations;
mod notify;

use axum::http::Method;
use axum::routing::{delete, get, patch, post, put};
use tributary_app::{App, Role};

use crate::api::{Api, In, Op, Param, schema};

const NAME: Param = ("name", In::Path, "string", true, "Its name.");
const ID: Param = ("id", In::Path, "integer", true, "Its id.");
const LIST: &[Param] = &[
    ("q", In::Query, "string", false, "A query in the query language (GET /api/v1/fields); empty: everything (findings: the open ones)."),
    (
        "sort",
        In::Query,
        "string",
        false,
        "A sort key (findings: severity, id, first_seen, last_seen; assets: id, name, first_seen, last_seen); prefix - for descending.",
    ),
    ("cursor", In::Query, "string", false, "The next_cursor of the previous page."),
    ("limit", In::Query, "integer", false, "Items per page, 1-1000 (default 100)."),
    ("fields", In::Query, "string", false, "Only these keys of each item, comma-separated (e.g. id,severity,title); id is always there."),
];

const A: Option<Role> = Some(Role::Admin);
const N: Option<Role> = Some(Role::Analyst);
const V: Option<Role> = Some(Role::Viewer);

macro_rules! op {
    ($id:literal, $tag:literal, $role:expr, $summary:literal, $params:expr, $body:expr, $ok:expr) => {
        Op { id: $id, summary: $summary, tag: $tag, role: $role, params: $params, body: $body, ok: $ok }
    };
}

/// The API's routes (everything under `/api/v1`).
pub fn api(app: App) -> Api {
    use auth::*;
    use config::*;
    use data::*;
    use integrations::*;
    use tributary_app::integrations::IntegrationView;
    use tributary_app::maps::StoredMap;
    use tributary_app::profiles::{AddProfile, ProfileView};
    use tributary_app::projects::{ProjectView, Scope};
    use tributary_app::query::{AssetDetail, FieldInfo, FindingDetail, Page};
    use tributary_app::triage::{BulkOutcome, Comment, FindingTriage, TriageInput, TriageRule};
    use tributary_core::identify::IdentificationRule;
    use tributary_core::model::{ApiToken, AuditEvent, Profile, SyncRun, User};
    use tributary_core::transform::TransformMapSpec;

    Api::new(app)
        // Sign-in and tokens.
        .route(Method::POST, "/api/v1/auth/login", op!("login", "auth", None, "Sign in with a user name and password: returns a bearer token (12 h).", &[], Some(schema::<LoginRequest>), (200, Some(schema::<tributary_app::auth::IssuedToken>))), post(login))
        .route(Method::GET, "/api/v1/me", op!("me", "auth", V, "Who the token belongs to.", &[], None, (200, Some(schema::<Me>))), get(me))
        .route(Method::GET, "/api/v1/tokens", op!("listTokens", "auth", V, "API tokens: one's own (administrators: all). Never the tokens themselves.", &[], None, (200, Some(schema::<Vec<ApiToken>>))), get(list_tokens))
        .route(Method::POST, "/api/v1/tokens", op!("createToken", "auth", V, "Create an API token; the response is the only time it is shown.", &[], Some(schema::<NewToken>), (201, Some(schema::<tributary_app::auth::IssuedToken>))), post(create_token))
        .route(Method::DELETE, "/api/v1/tokens/{id}", op!("revokeToken", "auth", V, "Revoke a token: it stops working at once.", &[ID], None, (200, Some(schema::<ApiToken>))), delete(revoke_token))
        .route(Method::GET, "/api/v1/users", op!("listUsers", "users", A, "Users and roles.", &[], None, (200, Some(schema::<Vec<User>>))), get(list_users))
        .route(Method::POST, "/api/v1/users", op!("addUser", "users", A, "Add a user (without a password one is generated and returned once).", &[], Some(schema::<NewUser>), (201, Some(schema::<AddedUser>))), post(add_user))
        .route(Method::PATCH, "/api/v1/users/{name}", op!("updateUser", "users", A, "Change a user's role or password.", &[NAME], Some(schema::<UserPatch>), (200, Some(schema::<User>))), patch(update_user))
        .route(Method::DELETE, "/api/v1/users/{name}", op!("deleteUser", "users", A, "Delete a user and their tokens.", &[NAME], None, (204, None)), delete(delete_user))
        .route(Method::GET, "/api/v1/audit", op!("audit", "users", A, "The audit trail, newest first.", &[("limit", In::Query, "integer", false, "At most this many (default 100).")], None, (200, Some(schema::<Vec<AuditEvent>>))), get(audit))
        // Integrations, projects, sync.
        .route(Method::GET, "/api/v1/connectors", op!("listConnectors", "integrations", V, "The kinds of integration, with the JSON Schema of each one's settings (the `config` of POST /api/v1/integrations).", &[], None, (200, Some(schema::<Vec<tributary_app::integrations::ConnectorInfo>>))), get(list_connectors))
        .route(Method::GET, "/api/v1/integrations", op!("listIntegrations", "integrations", V, "Integrations with status and last run (never credentials).", &[], None, (200, Some(schema::<Vec<IntegrationView>>))), get(list_integrations))
        .route(Method::POST, "/api/v1/integrations", op!("addIntegration", "integrations", A, "Add an integration: settings and credential are checked against the vendor first.", &[], Some(schema::<NewIntegration>), (201, Some(schema::<AddedIntegration>))), post(add_integration))
        .route(Method::GET, "/api/v1/integrations/{name}", op!("getIntegration", "integrations", V, "One integration.", &[NAME], None, (200, Some(schema::<IntegrationView>))), get(get_integration))
        .route(Method::DELETE, "/api/v1/integrations/{name}", op!("deleteIntegration", "integrations", A, "Delete an integration and everything it brought in.", &[NAME], None, (204, None)), delete(delete_integration))
        .route(Method::POST, "/api/v1/integrations/{name}/test", op!("testIntegration", "integrations", N, "Test the connection; the outcome becomes the integration's status.", &[NAME], None, (200, Some(schema::<TestOutcome>))), post(test_integration))
        .route(Method::POST, "/api/v1/integrations/{name}/sync", op!("syncIntegration", "integrations", N, "Run the integration's profile now, in the background: returns the run; poll GET /api/v1/runs/{id} for progress.", &[NAME], Some(schema::<SyncRequest>), (202, Some(schema::<SyncRun>))), post(sync_now))
        .route(Method::GET, "/api/v1/integrations/{name}/projects", op!("listProjects", "integrations", V, "The integration's projects and the repositories they map to.", &[NAME, ("refresh", In::Query, "boolean", false, "Ask the vendor for the current list first (analysts).")], None, (200, Some(schema::<Vec<ProjectView>>))), get(list_projects))
        .route(Method::PUT, "/api/v1/integrations/{name}/projects/{project}/mapping", op!("mapProject", "integrations", N, "Map a project to a repository (any URL spelling).", &[NAME, ("project", In::Path, "string", true, "Project name or id.")], Some(schema::<ProjectMapping>), (200, Some(schema::<Scope>))), put(map_project))
        .route(Method::DELETE, "/api/v1/integrations/{name}/projects/{project}/mapping", op!("unmapProject", "integrations", N, "Stop ingesting a project; its findings are removed.", &[NAME, ("project", In::Path, "string", true, "Project name or id.")], None, (200, Some(schema::<Unmapped>))), delete(unmap_project))
        .route(Method::GET, "/api/v1/runs", op!("listRuns", "integrations", V, "Sync runs, newest first.", &[("integration", In::Query, "string", false, "Only this integration's."), ("limit", In::Query, "integer", false, "1-1000 (default 20).")], None, (200, Some(schema::<Vec<SyncRun>>))), get(list_runs))
        .route(Method::GET, "/api/v1/runs/{id}", op!("getRun", "integrations", V, "One run: status and counts so far (live while it runs).", &[ID], None, (200, Some(schema::<SyncRun>))), get(get_run))
        .route(Method::POST, "/api/v1/imports", op!("importFile", "integrations", N, "Import a Semgrep CLI JSON or SARIF file (the request body, up to 1 GiB) for one repository.", &[("format", In::Query, "string", true, "semgrep-json or sarif."), ("repository", In::Query, "string", true, "The repository the scan covers."), ("tool", In::Query, "string", false, "SARIF: file findings under this tool name."), ("allow_mass_close", In::Query, "boolean", false, "Go ahead even if most of the repository's findings would close.")], None, (200, Some(schema::<Imported>))), post(import_file))
        .route(Method::GET, "/api/v1/intel", op!("intelStatus", "intel", V, "What exploit intelligence is loaded (EPSS, CISA KEV): rows, versions, dates.", &[], None, (200, Some(schema::<tributary_app::intel::IntelStatus>))), get(intel_status))
        .route(Method::POST, "/api/v1/intel/epss", op!("loadEpss", "intel", N, "Load FIRST's daily EPSS CSV (the body; .csv or .csv.gz), replacing the last load.", &[], None, (200, Some(schema::<tributary_app::intel::IntelLoad>))), post(load_epss))
        .route(Method::POST, "/api/v1/intel/kev", op!("loadKev", "intel", N, "Load CISA's KEV catalog JSON (the body), replacing the last load.", &[], None, (200, Some(schema::<tributary_app::intel::IntelLoad>))), post(load_kev))
        // Configuration.
        .route(Method::GET, "/api/v1/maps", op!("listMaps", "maps", V, "Transform maps.", &[], None, (200, Some(schema::<Vec<StoredMap>>))), get(list_maps))
        .route(Method::GET, "/api/v1/maps/{name}", op!("getMap", "maps", V, "One transform map.", &[NAME], None, (200, Some(schema::<StoredMap>))), get(get_map))
        .route(Method::PUT, "/api/v1/maps/{name}", op!("editMap", "maps", N, "Replace a map's rules (refused whole if invalid).", &[NAME], Some(schema::<TransformMapSpec>), (200, Some(schema::<StoredMap>))), put(edit_map))
        .route(Method::POST, "/api/v1/maps/{name}/clone", op!("cloneMap", "maps", N, "Copy a map under a new name.", &[NAME], Some(schema::<CloneMap>), (201, Some(schema::<StoredMap>))), post(clone_map))
        .route(Method::POST, "/api/v1/maps/validate", op!("validateMap", "maps", V, "Check a map without saving it.", &[], Some(schema::<TransformMapSpec>), (200, Some(schema::<Valid>))), post(validate_map))
        .route(Method::POST, "/api/v1/maps/{name}/preview", op!("previewMap", "maps", V, "A map (or an unsaved edit of it) applied to stored records: input beside output.", &[NAME], Some(schema::<PreviewRequest>), (200, Some(schema::<Vec<PreviewPair>>))), post(preview_map))
        .route(Method::POST, "/api/v1/maps/{name}/apply", op!("applyMap", "maps", N, "Re-run an integration's stored records through a map; it becomes the map in use.", &[NAME], Some(schema::<ApplyMap>), (200, Some(schema::<SyncRun>))), post(apply_map))
        .route(Method::GET, "/api/v1/profiles", op!("listProfiles", "profiles", V, "Profiles and their schedules.", &[], None, (200, Some(schema::<Vec<ProfileView>>))), get(list_profiles))
        .route(Method::POST, "/api/v1/profiles", op!("addProfile", "profiles", N, "Add a profile (manual, once, every N or cron).", &[], Some(schema::<AddProfile>), (201, Some(schema::<Profile>))), post(add_profile))
        .route(Method::PATCH, "/api/v1/profiles/{name}", op!("updateProfile", "profiles", N, "Enable or disable a profile.", &[NAME], Some(schema::<ProfilePatch>), (200, Some(schema::<Profile>))), patch(update_profile))
        .route(Method::DELETE, "/api/v1/profiles/{name}", op!("deleteProfile", "profiles", N, "Delete a profile.", &[NAME], None, (204, None)), delete(delete_profile))
        .route(Method::POST, "/api/v1/profiles/{name}/sync", op!("syncProfile", "profiles", N, "Run a profile now, in the background.", &[NAME], Some(schema::<SyncRequest>), (202, Some(schema::<SyncRun>))), post(sync_now))
        .route(Method::GET, "/api/v1/identification-rules", op!("listIdentificationRules", "profiles", V, "Identification rules: which identifiers match records to assets, by precedence.", &[], None, (200, Some(schema::<Vec<IdentificationRule>>))), get(list_rules))
        .route(Method::PUT, "/api/v1/identification-rules/{kind}", op!("setIdentificationRules", "profiles", N, "Set the identifier order of an asset kind.", &[("kind", In::Path, "string", true, "host, repository, package, cloud_resource.")], Some(schema::<RuleOrder>), (200, Some(schema::<Vec<IdentificationRule>>))), put(set_rules))
        // Data.
        .route(Method::GET, "/api/v1/fields", op!("listFields", "data", V, "The query language's fields.", &[], None, (200, Some(schema::<Vec<FieldInfo>>))), get(list_fields))
        .route(Method::GET, "/api/v1/summary", op!("summary", "data", V, "Open findings by severity, source and kind, and all findings by status (maintained counts: instant at any size).", &[], None, (200, Some(schema::<tributary_app::query::Summary>))), get(summary))
        .route(Method::GET, "/api/v1/count", op!("count", "data", V, "How many assets or findings a query matches.", &[("q", In::Query, "string", true, "The query.")], None, (200, Some(schema::<Count>))), get(count))
        .route(Method::GET, "/api/v1/assets", op!("listAssets", "data", V, "Assets, filtered by a query, keyset-paged.", LIST, None, (200, Some(schema::<Page>))), get(list_assets))
        .route(Method::GET, "/api/v1/assets/{id}", op!("getAsset", "data", V, "An asset with its sources and their records.", &[ID], None, (200, Some(schema::<AssetDetail>))), get(get_asset))
        .route(Method::GET, "/api/v1/findings", op!("listFindings", "data", V, "Findings, filtered by a query, keyset-paged.", LIST, None, (200, Some(schema::<Page>))), get(list_findings))
        .route(Method::GET, "/api/v1/findings/export", op!("exportFindings", "data", V, "The findings a query matches as a streamed download: SARIF 2.1.0 (code weaknesses), OCSF 1.8.0 JSON lines (classes 2002 and 2007) or CSV (formulas quoted).", &[("format", In::Query, "string", true, "sarif, ocsf or csv."), ("q", In::Query, "string", false, "The query (default: the open findings).")], None, (200, None)), get(export_findings))
        .route(Method::GET, "/api/v1/findings/{id}", op!("getFinding", "data", V, "A finding with its source record, triage and comments.", &[ID], None, (200, Some(schema::<FindingDetail>))), get(get_finding))
        .route(Method::GET, "/api/v1/findings/{id}/risk", op!("explainFinding", "data", V, "A finding's risk score (0-100), the factors that add up to it, and its CISA BOD 26-04 decision.", &[ID], None, (200, Some(schema::<tributary_app::risk::Explanation>))), get(explain_finding))
        .route(Method::GET, "/api/v1/risk/weights", op!("riskWeights", "data", V, "The weights of the risk score's factors.", &[], None, (200, Some(schema::<tributary_core::risk::RiskWeights>))), get(risk_weights))
        .route(Method::PUT, "/api/v1/risk/weights", op!("setRiskWeights", "data", N, "Set the weights of the risk score's factors (missing ones take their defaults).", &[], Some(schema::<tributary_core::risk::RiskWeights>), (200, Some(schema::<tributary_core::risk::RiskWeights>))), put(set_risk_weights))
        .route(Method::GET, "/api/v1/issues", op!("listIssues", "data", V, "Issues (findings of one problem correlated across sources), highest risk first.", &[("status", In::Query, "string", false, "open (default), closed or all."), ("multi_source", In::Query, "boolean", false, "Only issues more than one source reports."), ("q", In::Query, "string", false, "A findings query: only issues with a finding it matches."), ("cursor", In::Query, "string", false, "next_cursor of the previous page (keyset paging)."), ("limit", In::Query, "integer", false, "1-1000 (default 100).")], None, (200, Some(schema::<tributary_app::issues::IssuesPage>))), get(list_issues))
        .route(Method::GET, "/api/v1/issues/{id}", op!("getIssue", "data", V, "An issue: its stored risk score with the factors that add up to it, its BOD 26-04 decision, and its findings by source.", &[ID], None, (200, Some(schema::<tributary_app::issues::IssueDetail>))), get(get_issue))
        .route(Method::GET, "/api/v1/context/repositories", op!("repositoryContext", "data", V, "Deployment status and internet exposure of each repository (Cortex Cloud), with evidence, or why it has none.", &[], None, (200, Some(schema::<Vec<tributary_app::issues::RepoContext>>))), get(repository_context))
        .route(Method::PUT, "/api/v1/assets/{id}/criticality", op!("setCriticality", "data", N, "Set an asset's (or repository's) business criticality, 1-5, or clear it; its issues are rescored.", &[ID], Some(schema::<CriticalityInput>), (204, None)), put(set_criticality))
        .route(Method::GET, "/api/v1/coverage", op!("coverage", "data", V, "Per repository and source: Enabled, Stale (not seen for stale_days) or Disabled, with open Vulnerabilities and Code Weaknesses.", &[("stale_days", In::Query, "integer", false, "1-3650 (default 30).")], None, (200, Some(schema::<Vec<tributary_app::policies::RepoCoverage>>))), get(coverage))
        .route(Method::GET, "/api/v1/webhooks", op!("listWebhooks", "notifications", N, "Webhooks (their URLs and secrets are write-only: only a hint of the URL is shown).", &[], None, (200, Some(schema::<Vec<tributary_app::notify::Webhook>>))), get(notify::list_webhooks))
        .route(Method::POST, "/api/v1/webhooks", op!("addWebhook", "notifications", A, "Add a webhook (generic JSON, Slack or Teams) for new policy matches and new critical or internet-exposed issues; deliveries are signed with HMAC-SHA256 (X-Tributary-Signature: t=UNIX,v1=HEX over \"t.body\"). A generated secret is returned this once.", &[], Some(schema::<notify::NewWebhook>), (201, Some(schema::<tributary_app::notify::AddedWebhook>))), post(notify::add_webhook))
        .route(Method::DELETE, "/api/v1/webhooks/{name}", op!("deleteWebhook", "notifications", A, "Delete a webhook and its delivery log.", &[NAME], None, (204, None)), delete(notify::delete_webhook))
        .route(Method::POST, "/api/v1/webhooks/{name}/test", op!("testWebhook", "notifications", A, "Send a test notification now: the delivery as it ended.", &[NAME], None, (200, Some(schema::<tributary_app::notify::Delivery>))), post(notify::test_webhook))
        .route(Method::GET, "/api/v1/webhook-deliveries", op!("webhookDeliveries", "notifications", N, "The delivery log, newest first: status (pending, delivered, failed), attempts, last answer.", &[("webhook", In::Query, "string", false, "Only this webhook's."), ("limit", In::Query, "integer", false, "1-1000 (default 100).")], None, (200, Some(schema::<Vec<tributary_app::notify::Delivery>>))), get(notify::deliveries))
        .route(Method::GET, "/api/v1/policies", op!("listPolicies", "data", V, "Policies, with how many findings each matched at its last evaluation.", &[], None, (200, Some(schema::<Vec<tributary_app::policies::Policy>>))), get(list_policies))
        .route(Method::POST, "/api/v1/policies", op!("addPolicy", "data", N, "Add a policy (a findings query with an action label); evaluated at once and after every sync and import.", &[], Some(schema::<NewPolicy>), (201, Some(schema::<tributary_app::policies::Policy>))), post(add_policy))
        .route(Method::DELETE, "/api/v1/policies/{name}", op!("deletePolicy", "data", N, "Delete a policy and its results.", &[NAME], None, (204, None)), delete(delete_policy))
        .route(Method::GET, "/api/v1/policies/{name}/results", op!("policyResults", "data", V, "The findings a policy matched at its last evaluation, most severe first.", &[NAME, ("limit", In::Query, "integer", false, "1-10000 (default 100).")], None, (200, Some(schema::<Vec<tributary_app::policies::PolicyMatch>>))), get(policy_results))
        .route(Method::GET, "/api/v1/metrics", op!("metrics", "data", V, "Trends: per day, open findings by severity and source, all by status, new, fixed and the mean time to remediate.", &[("days", In::Query, "integer", false, "1-3650 (default 30).")], None, (200, Some(schema::<Vec<tributary_app::metrics::DayMetrics>>))), get(metrics))
        .route(Method::POST, "/api/v1/metrics/snapshot", op!("snapshotMetrics", "data", N, "Take today's metrics snapshot now (runs take one at most hourly).", &[], None, (200, Some(schema::<Snapshot>))), post(snapshot_metrics))
        .route(Method::GET, "/api/v1/sla", op!("sla", "data", V, "Service levels: days per severity, and the open findings past them.", &[], None, (200, Some(schema::<tributary_app::sla::SlaReport>))), get(sla))
        .route(Method::PUT, "/api/v1/sla/days", op!("setSlaDays", "data", N, "Set the days per severity (null: no deadline).", &[], Some(schema::<tributary_core::sla::SlaDays>), (200, Some(schema::<tributary_core::sla::SlaDays>))), put(set_sla_days))
        .route(Method::PUT, "/api/v1/findings/{id}/triage", op!("triageFinding", "triage", N, "Set the decision on a finding.", &[ID], Some(schema::<TriageInput>), (200, Some(schema::<FindingTriage>))), put(triage_finding))
        .route(Method::PUT, "/api/v1/findings/{id}/assignee", op!("assignFinding", "triage", N, "Assign a finding (empty: unassign).", &[ID], Some(schema::<Assignee>), (200, Some(schema::<FindingTriage>))), put(assign_finding))
        .route(Method::POST, "/api/v1/findings/{id}/comments", op!("commentFinding", "triage", N, "Comment on a finding.", &[ID], Some(schema::<NewComment>), (201, Some(schema::<Comment>))), post(comment_finding))
        .route(Method::POST, "/api/v1/findings/triage", op!("bulkTriage", "triage", N, "Apply a decision to every finding a query matches, in one transaction with one audit entry; with preview, only count them.", &[], Some(schema::<BulkTriage>), (200, Some(schema::<BulkOutcome>))), post(bulk_triage))
        .route(Method::GET, "/api/v1/triage-rules", op!("listTriageRules", "triage", V, "Standing triage rules.", &[], None, (200, Some(schema::<Vec<TriageRule>>))), get(list_triage_rules))
        .route(Method::POST, "/api/v1/triage-rules", op!("addTriageRule", "triage", N, "Keep a decision standing for findings matching a query (applied now to untriaged ones, then after every sync and import).", &[], Some(schema::<NewTriageRule>), (201, Some(schema::<AddedTriageRule>))), post(add_triage_rule))
        .route(Method::DELETE, "/api/v1/triage-rules/{name}", op!("deleteTriageRule", "triage", N, "Delete a standing rule (its decisions stay).", &[NAME], None, (204, None)), delete(delete_triage_rule))
}
