//! Command dispatch: one module per noun.

mod db;
mod demo;
mod export;
mod import;
mod integration;
mod map;
mod notify;
mod profile;
mod projects;
mod query;
mod rules;
mod runs;
mod serve;
mod show;
mod sim;
mod sync;
mod triage;
mod user;

use std::path::PathBuf;

use anyhow::Result;
use tributary_app::{App, Principal, StoreOptions};

use crate::args::{Cli, Command, Format};

/// The global options every command sees.
pub struct Ctx {
    pub data_dir: PathBuf,
    pub db: Option<String>,
    pub format: Format,
}

impl Ctx {
    pub fn store_options(&self) -> StoreOptions {
        let mut o = StoreOptions::new(&self.data_dir);
        o.db = self.db.clone();
        o.master_key = std::env::var(tributary_app::admin::MASTER_KEY_ENV).ok();
        o
    }

    /// Opens (and migrates) the store, with the connectors' built-in maps installed.
    pub fn app(&self) -> Result<App> {
        Ok(App::open(&self.store_options())?)
    }

    /// Who CLI actions run as: the host's operator (`cli:$USER`), an administrator.
    pub fn who(&self) -> Principal {
        Principal::local()
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let Cli { data_dir, db, format, command, .. } = cli;
    if matches!(format, Format::Sarif | Format::Ocsf) && !matches!(command, Command::Export(_)) {
        use clap::ValueEnum;
        anyhow::bail!(
            "--format {} is for `tributary export`; lists print as table, json or csv",
            format.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
        );
    }
    let ctx = Ctx { data_dir, db, format };
    match command {
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Demo(a) => demo::run(&ctx, a),
        Command::Db(c) => db::run(&ctx, c),
        Command::User(c) => user::run(&ctx, c),
        Command::Token(c) => user::token(&ctx, c),
        Command::Triage(c) => triage::run(&ctx, c),
        Command::Show(c) => show::run(&ctx, c),
        Command::Summary => show::summary(&ctx),
        Command::Intel(c) => show::intel(&ctx, c),
        Command::Explain { id } => show::explain(&ctx, &id),
        Command::Issues(a) => show::issues(&ctx, a),
        Command::Context => show::context(&ctx),
        Command::Coverage { stale_days } => show::coverage(&ctx, stale_days),
        Command::Policy(c) => show::policy(&ctx, c),
        Command::Webhook(c) => notify::run(&ctx, c),
        Command::Metrics { days, snapshot } => show::metrics(&ctx, days, snapshot),
        Command::Criticality { asset, value } => show::criticality(&ctx, asset, &value),
        Command::Sla { file } => show::sla(&ctx, file),
        Command::RiskWeights { file } => show::risk_weights(&ctx, file),
        Command::Sim(a) => sim::run(*a),
        Command::Integration(c) => integration::run(&ctx, c),
        Command::Map(c) => map::run(&ctx, c),
        Command::Rules(c) => rules::run(&ctx, c),
        Command::Profile(c) => profile::run(&ctx, c),
        Command::Sync(a) => sync::run(&ctx, a),
        Command::Query(a) => query::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Runs(c) => runs::run(&ctx, c),
        Command::Projects(c) => projects::run(&ctx, c),
        Command::Import(c) => import::run(&ctx, c),
    }
}

/// Reads a credential from the first line of standard input.
pub fn secret_from_stdin(what: &str, flag: &str) -> Result<tributary_core::secret::Secret> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| anyhow::anyhow!("reading the {what} from standard input: {e}"))?;
    let value = line.trim();
    if value.is_empty() {
        anyhow::bail!("no {what} on standard input; pipe it in, e.g. `printf '%s\\n' \"$KEY\" | tributary … {flag}`");
    }
    Ok(tributary_core::secret::Secret::new(value))
}

/// Asks yes/no on a terminal; `false` when stdin is not a terminal.
pub fn confirm(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// A multi-threaded tokio runtime for commands that do network I/O.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
