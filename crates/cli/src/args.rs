//! Command-line arguments (clap derive). One `Subcommand` enum per noun.

use std::net::{SocketAddr, ToSocketAddrs};

/// `HOST:PORT` to listen on: an address, or a host name (`localhost:8470`) resolved, IPv4
/// first.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{text}' ({e}); write HOST:PORT, e.g. 127.0.0.1:8470 or localhost:8470"))?
        .collect();
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied().ok_or_else(|| format!("'{text}' resolves to no address"))
}
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tributary",
    version,
    about = "Tributary: a self-hosted exposure-management hub",
    long_about = "Tributary pulls Semgrep, Cortex XDR and Cortex Cloud into one model: assets, findings and \
                  their context, matched, correlated and scored.\n\nEverything lives in one database: an embedded \
                  SQLite file in the data directory by default, or PostgreSQL for several nodes (--db)."
)]
pub struct Cli {
    /// Directory for the SQLite database and the master key file.
    #[arg(long, global = true, env = "TRIBUTARY_DATA_DIR", default_value = "tributary-data", value_name = "DIR", hide_env_values = true)]
    pub data_dir: PathBuf,

    /// Database URL: sqlite:///path/file.db or postgres://user@host:port/db [default: SQLite in the data directory].
    #[arg(long, global = true, env = "TRIBUTARY_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,

    /// Output format: table, json or csv for lists; sarif, ocsf or csv for `export`.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Log progress details to stderr (TRIBUTARY_LOG=debug for more).
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// SARIF 2.1.0 (`export` only).
    Sarif,
    /// OCSF 1.8.0 JSON lines (`export` only).
    Ocsf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// A populated instance in one command: the simulators, Cortex XDR, Cortex Cloud and
    /// Semgrep integrations synced from them (into the data directory), then the server.
    Demo(DemoArgs),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Triage findings: decisions, assignees, comments, bulk by query, standing rules.
    #[command(subcommand)]
    Triage(TriageCommand),
    /// One finding or asset in full.
    #[command(subcommand)]
    Show(ShowCommand),
    /// Open findings by severity, source and kind; all findings by status.
    Summary,
    /// The risk score of an issue or a finding, the factors that add up to it, and its
    /// BOD 26-04 decision. ID is an issue id (from `tributary issues`) or a finding id;
    /// write issue:ID or finding:ID to say which.
    Explain { id: String },
    /// Issues: findings of one problem correlated across sources (same CVE on the same
    /// package in a repository, or on the same host; same rule at the same place), highest
    /// risk first. `tributary issues ID` shows one with its findings by source.
    Issues(IssuesArgs),
    /// Deployment status and internet exposure of repositories (from Cortex Cloud), or why
    /// a repository has none.
    Context,
    /// Which scanner covers which repository: Enabled, Stale (not seen for --stale-days)
    /// or Disabled per source, with open Vulnerabilities and Code Weaknesses.
    Coverage {
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        stale_days: i64,
    },
    /// Export findings a query matches: SARIF 2.1.0 (code weaknesses), OCSF 1.8.0 JSON
    /// lines (Vulnerability Finding 2002 / Application Security Posture Finding 2007) or
    /// CSV (cells a spreadsheet would run as formulas are quoted), chosen with --format.
    /// Streams any size; with --out the file appears only once complete.
    Export(ExportArgs),
    /// Trends: per day, open findings by severity and source, all by status, new, fixed
    /// and the mean time to remediate (a snapshot is taken after every run).
    Metrics {
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        days: i64,
        /// Take today's snapshot now first (runs take one at most hourly).
        #[arg(long)]
        snapshot: bool,
    },
    /// Policies: queries with an action label, evaluated after every sync and import.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Webhooks: notifications of new policy matches and new critical or internet-exposed
    /// issues (generic JSON, Slack, Teams), HMAC-signed, retried with backoff. `serve`
    /// sends them; `webhook send` sends what is due now.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Business criticality of an asset or repository, 1 (lowest) to 5 (highest); `none`
    /// clears it (counts as 3). Its issues are rescored.
    Criticality { asset: i64, value: String },
    /// Risk weights: print them, or set them from a JSON file (`--file`).
    RiskWeights {
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Service levels: days per severity and the open findings past them; `--file` sets
    /// the days from JSON, e.g. {"critical": 7, "high": 30, "medium": 90, "low": 180, "info": null}.
    Sla {
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Exploit intelligence: EPSS scores and the CISA KEV catalog, from their files.
    #[command(subcommand)]
    Intel(IntelCommand),
    /// Run the vendor simulators (Semgrep, Cortex XDR, Cortex Cloud) on one port.
    Sim(Box<SimArgs>),
    /// Connections to vendor tenants.
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Transform maps: how vendor fields become Tributary fields.
    #[command(subcommand)]
    Map(MapCommand),
    /// Identification rules: which identifiers decide that two records are one asset.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Profiles: which integration runs with which maps, when.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Run a profile (or an integration's own profile) now.
    Sync(SyncArgs),
    /// Query assets and findings.
    #[command(long_about = QUERY_HELP)]
    Query(QueryArgs),
    /// Sync runs and their counts.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Projects of an integration (Semgrep) and the repositories they map to.
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Import a scan report into one repository's findings. Importing the same file again
    /// changes nothing; a later scan of the same repository and tool closes findings that
    /// are gone and reopens those that came back. A bad file changes nothing.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// `semgrep --json` output.
    SemgrepJson {
        /// The report file.
        file: std::path::PathBuf,
        /// The repository that was scanned (any URL spelling).
        #[arg(long, value_name = "URL")]
        repo: String,
        #[command(flatten)]
        fuses: FuseArgs,
    },
    /// SARIF 2.1.0 from any tool (semgrep --sarif, CodeQL, …).
    Sarif {
        /// The SARIF log (version 2.1.0).
        file: std::path::PathBuf,
        /// The repository that was scanned (any URL spelling).
        #[arg(long, value_name = "URL")]
        repo: String,
        /// File findings under this tool name (default: the tool named in the file).
        #[arg(long, value_name = "NAME")]
        tool: Option<String>,
        #[command(flatten)]
        fuses: FuseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// List projects with their detected repository, mapping and open findings. Asks the
    /// vendor for its current projects first (unless --cached).
    List {
        #[arg(long, value_name = "NAME")]
        integration: String,
        /// Show what was recorded at the last sync, without asking the vendor.
        #[arg(long)]
        cached: bool,
    },
    /// Map a project to a repository by hand (overrides detection). Its findings move to
    /// that repository now; the next sync fetches its history in full.
    Map {
        /// Project name (e.g. acme/payments-api).
        project: String,
        #[arg(long, value_name = "NAME")]
        integration: String,
        /// Repository URL in any spelling (https, ssh, git@host:org/repo.git).
        #[arg(long, value_name = "URL")]
        repo: String,
    },
    /// Stop ingesting a project: its findings are removed and it is not mapped again
    /// automatically (map it again by hand to undo).
    Unmap {
        project: String,
        #[arg(long, value_name = "NAME")]
        integration: String,
    },
}

pub const QUERY_HELP: &str = "Query assets and findings.

A query is field:value terms combined with AND (or just spaces), OR, NOT and parentheses:

  asset.inventory:(source:`Cortex XDR`)          assets a source reports
  finding.vendorProductName:`Cortex XDR`         findings of a product
  finding.severity>=high finding.kind:vulnerability
  asset.hostName:web-*                           wildcards with *
  finding.status:fixed finding.lastSeen<7d       times: RFC 3339, dates, or ages (7d, 24h)

Findings queries match open findings unless they name finding.status (finding.status:* for all).
Fields: asset.type, asset.name, asset.identity, asset.matchedRule, asset.firstSeen, asset.lastSeen,
asset.inventory/asset.source, finding.vendorProductName, finding.kind, finding.severity,
finding.status, finding.cve, finding.title, finding.externalId, finding.cvssScore,
finding.sourceRiskScore, finding.firstSeen, finding.lastSeen, and any target-model attribute
(asset.hostName, asset.operatingSystem.name, finding.findingType.vulnerability.cveId, …).";

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Add an integration (its credentials are tested first, then stored encrypted).
    #[command(subcommand)]
    Add(IntegrationKindArgs),
    /// List integrations with their status.
    List,
    /// Test an integration's credentials and reachability now.
    Test { name: String },
    /// Delete an integration with everything it brought in.
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Add a policy; it is evaluated at once and after every sync and import.
    Add {
        name: String,
        /// A findings query, e.g. 'finding.severity:critical finding.kev:true'.
        #[arg(short, long)]
        query: String,
        /// What a match means, e.g. "block release".
        #[arg(long)]
        action: String,
    },
    /// Policies with how many findings each matches.
    List,
    /// The findings a policy matched at its last evaluation.
    Results {
        name: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Delete a policy (and its results).
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a webhook; its signing secret is generated and printed this once.
    Add {
        name: String,
        /// The receiver's URL (a Slack or Teams URL is a credential: prefer --url-stdin).
        #[arg(long, required_unless_present = "url_stdin", conflicts_with = "url_stdin")]
        url: Option<String>,
        /// Read the URL from standard input.
        #[arg(long)]
        url_stdin: bool,
        /// generic, slack or teams.
        #[arg(long, default_value = "generic")]
        kind: String,
        /// What to send, comma-separated: policy_matched, issues_new (default: both).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
    },
    /// Webhooks (URLs shown as hints only).
    List,
    /// Delete a webhook and its delivery log.
    Delete { name: String },
    /// Send a test notification now and show how it went.
    Test { name: String },
    /// The delivery log, newest first.
    Deliveries {
        /// Only this webhook's.
        #[arg(long)]
        webhook: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Send the deliveries that are due now (new ones, and retries whose wait is over).
    Send,
}

#[derive(Debug, Args)]
pub struct IssuesArgs {
    /// Show this issue in full.
    pub id: Option<i64>,
    /// Closed issues too.
    #[arg(long)]
    pub all: bool,
    /// Only issues more than one source reports.
    #[arg(long)]
    pub multi_source: bool,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum IntegrationKindArgs {
    /// Cortex XDR: endpoints and their vulnerabilities (API key + key ID).
    CortexXdr(XdrAddArgs),
    /// Semgrep: Code (SAST) and Supply Chain (SCA) findings per project (API token with
    /// the Web API scope).
    Semgrep(SemgrepAddArgs),
    /// Cortex Cloud: deployment status and internet exposure of code repositories (API
    /// key + key ID). One per Tributary: it is the view of where code runs. Its profile
    /// syncs every 24 hours under `tributary serve`.
    CortexCloud(CloudAddArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("tenant").required(true).args(["fqdn", "api_url"])))]
pub struct CloudAddArgs {
    #[command(flatten)]
    pub common: CommonAddArgs,
    /// The tenant as the Cortex console shows it, e.g. acme.xdr.us.paloaltonetworks.com
    /// (the API is https://api-<FQDN>).
    #[arg(long, value_name = "FQDN")]
    pub fqdn: Option<String>,
    /// The API's base URL itself, instead of --fqdn (e.g. a simulator's).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    #[command(flatten)]
    pub key: CortexKeyArgs,
}

/// A Cortex API key (XDR and Cloud share the platform's keys).
#[derive(Debug, Args)]
pub struct CortexKeyArgs {
    /// The API key ID (Settings → API Keys, column ID).
    #[arg(long, value_name = "ID")]
    pub key_id: String,
    /// Read the API key from the first line of standard input.
    #[arg(long, required = true)]
    pub key_stdin: bool,
    /// The key's security level.
    #[arg(long, value_enum, default_value_t = SecurityArg::Standard)]
    pub security: SecurityArg,
}

#[derive(Debug, clap::Args)]
pub struct SemgrepAddArgs {
    #[command(flatten)]
    pub common: CommonAddArgs,
    /// Read the API token from the first line of standard input. Create it under
    /// Settings → Tokens with the Web API scope (Agent (CI) tokens cannot read findings).
    #[arg(long, required = true)]
    pub token_stdin: bool,
    /// Base URL of the Semgrep platform.
    #[arg(long, value_name = "URL", default_value = "https://semgrep.dev")]
    pub base_url: String,
    /// What to ingest: sast, sca (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "sast,sca")]
    pub scan: Vec<String>,
    /// Map projects whose repository has no asset yet to a new repository asset (now and
    /// for projects created later). Without it, projects map only to repositories that
    /// already exist (e.g. from Cortex Cloud) or by hand.
    #[arg(long)]
    pub auto_map_future: bool,
    /// Write Cortex Cloud's context back as project tags (tributary:deployed,
    /// tributary:internet-exposed) after every run, so developers see it in Semgrep.
    #[arg(long)]
    pub write_back_tags: bool,
}

#[derive(Debug, Args)]
pub struct CommonAddArgs {
    /// A name for this integration (one word).
    #[arg(long)]
    pub name: String,
    /// Requests per second at most (default: unlimited).
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<f64>,
    /// Save without testing the connection first.
    #[arg(long)]
    pub skip_test: bool,
}

#[derive(Debug, Args)]
pub struct XdrAddArgs {
    #[command(flatten)]
    pub common: CommonAddArgs,
    /// Base URL of the tenant's API, e.g. https://api-acme.xdr.us.paloaltonetworks.com
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    #[command(flatten)]
    pub key: CortexKeyArgs,
    /// What to ingest: vulnerability, host-asset, internet-exposure (attack-surface records: which hosts the internet reaches; comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "vulnerability,host-asset,internet-exposure")]
    pub types: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// List transform maps.
    List,
    /// Show a map's rules (--format json prints the editable definition).
    Show { name: String },
    /// Copy a map under a new name (built-in maps are edited through copies).
    Clone { name: String, new_name: String },
    /// Replace a map's rules from a JSON or YAML file (validated first; nothing changes if invalid).
    Edit {
        name: String,
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
    },
    /// Check a JSON or YAML map file without saving it.
    Validate { file: std::path::PathBuf },
    /// Run a map on a few stored (or freshly fetched) records and show input beside output.
    Preview {
        name: String,
        #[arg(long, value_name = "NAME")]
        integration: String,
        #[arg(long, default_value_t = 3, value_name = "N")]
        sample: usize,
    },
    /// Re-run a map over an integration's stored raw records (no refetch) and use it from now on.
    Apply {
        name: String,
        #[arg(long, value_name = "NAME")]
        integration: String,
        #[command(flatten)]
        fuses: FuseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List identification rules by asset kind, in precedence order.
    List,
    /// Set the precedence for an asset kind, strongest first, e.g.
    /// `rules set host agent_id,cloud_instance_id,mac,fqdn,hostname_ip`. Kinds left out are off.
    Set {
        /// host, repository, package or cloud_resource.
        kind: String,
        /// Identifier kinds in order: agent_id, cloud_instance_id, mac, fqdn, hostname_ip, repo_url, purl, source_id.
        #[arg(value_delimiter = ',')]
        order: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Add a profile.
    Add(ProfileAddArgs),
    /// List profiles with their schedules and next runs.
    List,
    /// Activate a profile (it runs on its schedule).
    Enable { name: String },
    /// Deactivate a profile (it keeps its settings).
    Disable { name: String },
    /// Delete a profile.
    Delete { name: String },
}

#[derive(Debug, Args)]
pub struct ProfileAddArgs {
    pub name: String,
    #[arg(long, value_name = "NAME")]
    pub integration: String,
    /// Transform map to use (repeat for several streams); other streams use the defaults.
    #[arg(long = "map", value_name = "MAP")]
    pub maps: Vec<String>,
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Create it inactive.
    #[arg(long)]
    pub inactive: bool,
    /// Run once at this time (RFC 3339, e.g. 2026-12-01T10:00Z).
    #[arg(long, value_name = "TIME", conflicts_with_all = ["every", "cron"])]
    pub once: Option<String>,
    /// Run every interval, e.g. 24h, 30m, 7d.
    #[arg(long, value_name = "INTERVAL", conflicts_with = "cron")]
    pub every: Option<String>,
    /// Run on a cron expression (5 or 6 fields, UTC), e.g. "0 3 * * *".
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// First run of a recurring schedule (default: now).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// No runs from this time on.
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Profile name, or integration name (runs its own profile).
    pub name: String,
    /// Fetch everything and close what is gone (instead of a delta).
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub fuses: FuseArgs,
}

/// The fuse against silent mass changes, for every command whose run can close findings.
#[derive(Debug, Clone, Copy, Args)]
pub struct FuseArgs {
    /// Go ahead even if the run would close or retire more than half of what it covers
    /// (a fuse stops such runs before anything is closed).
    #[arg(long)]
    pub allow_mass_close: bool,
}

impl FuseArgs {
    pub fn fuses(self) -> tributary_app::Fuses {
        tributary_app::Fuses { allow_mass_close: self.allow_mass_close, ..Default::default() }
    }
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query, e.g. 'finding.vendorProductName:`Cortex XDR`' (see --fields).
    #[arg(required_unless_present = "fields")]
    pub query: Option<String>,
    /// Rows to print at most (1–1000).
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Print only the number of matches.
    #[arg(long)]
    pub count: bool,
    /// Sort by a field (findings: severity, id, first_seen, last_seen; assets: id, name,
    /// first_seen, last_seen); prefix - for descending.
    #[arg(long, value_name = "FIELD", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Continue after a previous page (the cursor it printed).
    #[arg(long)]
    pub cursor: Option<String>,
    /// List the query fields: name, type, operators, description.
    #[arg(long, conflicts_with_all = ["count", "sort", "cursor"])]
    pub fields: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Which findings (the query language; default: the open ones).
    #[arg(long, short, value_name = "QUERY", default_value = "")]
    pub query: String,
    /// Write to this file (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recent sync runs.
    List {
        /// Only this integration's runs.
        #[arg(long, value_name = "NAME")]
        integration: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: Option<SimCommand>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8471", value_name = "ADDR", value_parser = parse_listen)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub world: SimWorldArgs,
    /// Bearer token the Semgrep tenant accepts (Web API scope).
    #[arg(long, value_name = "TOKEN")]
    pub semgrep_token: Option<String>,
    /// Cortex XDR API key id.
    #[arg(long, value_name = "ID")]
    pub xdr_key_id: Option<String>,
    /// Cortex XDR API key.
    #[arg(long, value_name = "KEY")]
    pub xdr_key: Option<String>,
    /// Security level of the Cortex XDR key.
    #[arg(long, value_enum, default_value_t = SecurityArg::Standard)]
    pub xdr_security: SecurityArg,
    /// Cortex Cloud API key id.
    #[arg(long, value_name = "ID")]
    pub cloud_key_id: Option<String>,
    /// Cortex Cloud API key.
    #[arg(long, value_name = "KEY")]
    pub cloud_key: Option<String>,
    /// Inject faults per request, deterministically from the seed, e.g.
    /// 429=0.05,500=0.02,slow=0.01,reset=0.01,truncate=0.005
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Delay added to every vendor request, e.g. 100ms or 1s.
    #[arg(long, value_name = "DURATION")]
    pub latency: Option<String>,
    /// Answer 429 above this many requests per second.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
}

/// What the simulated tenants hold (shared by `sim` and `sim truth`).
#[derive(Debug, Args)]
pub struct SimWorldArgs {
    /// Seed: the same seed serves byte-identical data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Tenant size: small (the demo), medium, reference (the benchmark).
    #[arg(long, value_enum, default_value_t = ScaleArg::Small)]
    pub scale: ScaleArg,
    /// Simulated days already elapsed (each day brings churn).
    #[arg(long, default_value_t = 0, value_name = "DAYS")]
    pub advance_days: u32,
    /// Override: Cortex XDR endpoints.
    #[arg(long, value_name = "N")]
    pub xdr_endpoints: Option<u64>,
    /// Override: average CVEs per endpoint.
    #[arg(long, value_name = "N")]
    pub cves_per_endpoint: Option<u64>,
    /// Override: Semgrep projects.
    #[arg(long, value_name = "N")]
    pub semgrep_projects: Option<u64>,
    /// Override: Semgrep SAST findings.
    #[arg(long, value_name = "N")]
    pub sast_findings: Option<u64>,
    /// Override: Semgrep Supply Chain findings.
    #[arg(long, value_name = "N")]
    pub sca_findings: Option<u64>,
    /// Override: Cortex Cloud repositories.
    #[arg(long, value_name = "N")]
    pub cloud_repositories: Option<u64>,
    /// Share of endpoints whose CVEs change per day (default 0.01).
    #[arg(long, value_name = "RATE")]
    pub churn: Option<f64>,
    /// Share of Semgrep projects scanned per day (default 0.02); only a scan changes a
    /// project's findings.
    #[arg(long, value_name = "RATE")]
    pub project_scan: Option<f64>,
    /// The Cortex XDR tenant has no Host Insights: no vulnerability data through XQL.
    #[arg(long)]
    pub no_host_insights: bool,
    /// get_endpoint replies leave out total_count (as many real ones do).
    #[arg(long)]
    pub no_total_count: bool,
    /// Semgrep findings listings stop at N results (older deployments: 50000).
    #[arg(long, value_name = "N")]
    pub listing_cap: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Print the exact counts a correct full sync must end up with, as JSON.
    Truth(SimWorldArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScaleArg {
    Small,
    Medium,
    Reference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityArg {
    Standard,
    Advanced,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// How often to look for profiles that are due (active profiles run at their times;
    /// several nodes on one PostgreSQL database never start the same run twice).
    #[arg(long, default_value = "15s", value_name = "DURATION")]
    pub scheduler_tick: String,
    /// Serve only: run no scheduled profiles on this node.
    #[arg(long)]
    pub no_scheduler: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address the server listens on.
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Address of the vendor simulators (a small, seeded tenant).
    #[arg(long, default_value = "127.0.0.1:8471", value_name = "ADDR", value_parser = parse_listen)]
    pub sim_listen: SocketAddr,
    /// Simulator seed: the same seed gives the same tenant.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Sync the demo integrations, then stop (no server).
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create or upgrade the schema (refuses a schema newer than this binary).
    Migrate,
    /// Show the database, schema version and master-key source.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from stdin with --password-stdin, otherwise
    /// generated and printed once.
    Add {
        /// User name (no spaces).
        name: String,
        /// What the user may do.
        #[arg(long, value_enum, default_value_t = RoleArg::Viewer)]
        role: RoleArg,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Change a user's role.
    Role {
        name: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Set a user's password (read from the first line of standard input).
    Password { name: String },
    /// Delete a user and their tokens.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token (printed once: store it now). Use it as `Authorization: Bearer TOKEN`.
    Create {
        /// What the token is for, e.g. ci-export.
        name: String,
        /// The user it acts as (it has that user's role).
        #[arg(long, value_name = "USER")]
        user: String,
        /// Days until it expires (1–366).
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token: it stops working at once.
    Revoke { id: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TriageStatusArg {
    Open,
    InProgress,
    Fixed,
    RiskAccepted,
    FalsePositive,
}

impl From<TriageStatusArg> for tributary_core::model::TriageStatus {
    fn from(s: TriageStatusArg) -> Self {
        match s {
            TriageStatusArg::Open => Self::Open,
            TriageStatusArg::InProgress => Self::InProgress,
            TriageStatusArg::Fixed => Self::Fixed,
            TriageStatusArg::RiskAccepted => Self::RiskAccepted,
            TriageStatusArg::FalsePositive => Self::FalsePositive,
        }
    }
}

/// A triage decision.
#[derive(Debug, Clone, Args)]
pub struct DecisionArgs {
    /// The decision.
    #[arg(long, value_enum)]
    pub status: TriageStatusArg,
    /// Why (required for risk-accepted and false-positive).
    #[arg(long)]
    pub reason: Option<String>,
    /// When a risk acceptance ends (RFC 3339 or a date; required for risk-accepted).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Assign as well ("" unassigns).
    #[arg(long, value_name = "USER")]
    pub assignee: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TriageCommand {
    /// Set the decision on one finding.
    Set {
        finding: i64,
        #[command(flatten)]
        decision: DecisionArgs,
    },
    /// Assign a finding ("" unassigns).
    Assign { finding: i64, assignee: String },
    /// Comment on a finding.
    Comment { finding: i64, text: String },
    /// Apply a decision to every finding a query matches: shows how many first, then
    /// applies it in one transaction with one audit entry (confirm with --yes).
    Bulk {
        /// e.g. 'finding.cve:CVE-2024-3094'
        #[arg(long, short)]
        query: String,
        #[command(flatten)]
        decision: DecisionArgs,
        /// Apply without asking.
        #[arg(long)]
        yes: bool,
        /// Only say how many findings it would touch.
        #[arg(long, conflicts_with = "yes")]
        dry_run: bool,
    },
    /// Standing rules: findings that arrive later matching the query get the decision.
    #[command(subcommand)]
    Rule(TriageRuleCommand),
}

#[derive(Debug, Subcommand)]
pub enum TriageRuleCommand {
    /// Add a rule (also applied at once to untriaged findings it matches).
    Add {
        name: String,
        #[arg(long, short)]
        query: String,
        #[command(flatten)]
        decision: DecisionArgs,
    },
    /// List rules.
    List,
    /// Delete a rule (decisions it made stay).
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum IntelCommand {
    /// Load a feed file, replacing the last load of that feed (nothing changes if the file is bad).
    #[command(subcommand)]
    Load(IntelLoad),
    /// What is loaded: rows, versions, dates.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum IntelLoad {
    /// FIRST's daily EPSS CSV (epss_scores-YYYY-MM-DD.csv or .csv.gz).
    Epss { file: PathBuf },
    /// CISA's Known Exploited Vulnerabilities catalog (known_exploited_vulnerabilities.json, or .gz).
    Kev { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum ShowCommand {
    /// A finding: attributes, source record, triage, comments.
    Finding { id: i64 },
    /// An asset: attributes, sources and their records.
    Asset { id: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Analyst,
    Viewer,
}

impl From<RoleArg> for tributary_core::model::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Self::Admin,
            RoleArg::Analyst => Self::Analyst,
            RoleArg::Viewer => Self::Viewer,
        }
    }
}

#[cfg(test)]
mod listen_tests {
    #[test]
    fn host_names_resolve_and_bad_ones_say_how_to_write_it() {
        assert_eq!(super::parse_listen("127.0.0.1:8470").unwrap().port(), 8470);
        let local = super::parse_listen("localhost:8470").unwrap();
        assert!(local.ip().is_loopback() && local.port() == 8470, "{local}");
        assert!(super::parse_listen("localhost").unwrap_err().contains("write HOST:PORT"));
    }
}
