//! `tributary user add|list`.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use serde_json::json;
use tributary_core::model::Role;
use tributary_core::password;
use tributary_core::time::to_rfc3339;
use tributary_store::repo::{audit, users};

use super::Ctx;
use crate::args::UserCommand;
use crate::output::Tabular;

const MIN_PASSWORD: usize = 12;

pub fn run(ctx: &Ctx, cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add { name, role, password_stdin } => {
            let role: Role = role.into();
            let (pw, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
                let pw = line.trim_end_matches(['\n', '\r']).to_string();
                if pw.chars().count() < MIN_PASSWORD {
                    bail!("the password must be at least {MIN_PASSWORD} characters");
                }
                (pw, false)
            } else {
                (password::generate(20), true)
            };
            let hash = password::hash_password(&pw)?;
            let store = ctx.store()?;
            let user = store.write(|c| {
                let u = users::create(c, &name, role, &hash)?;
                audit::record(c, &ctx.actor(), "user.add", &u.name, json!({"role": role.as_str()}))?;
                Ok(u)
            })?;
            println!("Created user {} with role {}.", user.name, user.role);
            if generated {
                println!("Password (shown once, store it now): {pw}");
            }
        }
        UserCommand::List => {
            let store = ctx.store()?;
            let mut t = Tabular::new(&["name", "role", "created"]);
            for u in store.read(users::list)? {
                t.row(vec![u.name.clone(), u.role.to_string(), to_rfc3339(u.created_at)], serde_json::to_value(&u)?);
            }
            t.print(ctx.format);
        }
    }
    Ok(())
}
