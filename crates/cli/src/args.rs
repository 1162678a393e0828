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
