//! Command-line arguments (clap derive). One `Subcommand` enum per noun.

use std::net::SocketAddr;
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
    #[arg(long, global = true, env = "TRIBUTARY_DATA_DIR", default_value = "tributary-data", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// Database URL: sqlite:///path/file.db or postgres://user@host:port/db [default: SQLite in the data directory].
    #[arg(long, global = true, env = "TRIBUTARY_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,

    /// Output format of tabular results.
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Run the vendor simulators (Semgrep, Cortex XDR, Cortex Cloud) on one port.
    Sim(Box<SimArgs>),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: Option<SimCommand>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8471", value_name = "ADDR")]
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
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR")]
    pub listen: SocketAddr,
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
