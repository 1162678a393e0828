//! Command dispatch: one module per noun.

mod db;
mod serve;
mod sim;
mod user;

use std::path::PathBuf;

use anyhow::Result;
use tributary_store::{Store, StoreOptions};

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
        o.master_key = std::env::var(tributary_store::keyring::KEY_ENV).ok();
        o
    }

    /// Opens (and migrates) the store.
    pub fn store(&self) -> Result<Store> {
        Ok(Store::open(&self.store_options())?)
    }

    /// Who to record in the audit trail for CLI actions.
    pub fn actor(&self) -> String {
        format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let Cli { data_dir, db, format, command, .. } = cli;
    let ctx = Ctx { data_dir, db, format };
    match command {
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Db(c) => db::run(&ctx, c),
        Command::User(c) => user::run(&ctx, c),
        Command::Sim(a) => sim::run(*a),
    }
}

/// A multi-threaded tokio runtime for commands that do network I/O.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
