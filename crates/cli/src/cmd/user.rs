//! `tributary user add|list|role|password|delete` and `tributary token create|list|revoke`.

use std::io::BufRead;

use anyhow::{Context, Result};
use tributary_core::time::to_rfc3339;

use super::Ctx;
use crate::args::{TokenCommand, UserCommand};
use crate::output::Tabular;

fn password_from_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn run(ctx: &Ctx, cmd: UserCommand) -> Result<()> {
    let app = ctx.app()?;
    let who = ctx.who();
    match cmd {
        UserCommand::Add { name, role, password_stdin } => {
            let pw = if password_stdin { Some(password_from_stdin()?) } else { None };
            let (user, generated) = app.add_user(&who, &name, role.into(), pw.as_deref())?;
            println!("Created user {} with role {}.", user.name, user.role);
            if let Some(pw) = generated {
                println!("Password (shown once, store it now): {pw}");
            }
        }
        UserCommand::List => {
            let mut t = Tabular::new(&["name", "role", "created"]);
            for u in app.users(&who)? {
                t.row(vec![u.name.clone(), u.role.to_string(), to_rfc3339(u.created_at)], serde_json::to_value(&u)?);
            }
            t.print(ctx.format);
        }
        UserCommand::Role { name, role } => {
            let u = app.set_role(&who, &name, role.into())?;
            println!("{} is now {}.", u.name, u.role);
        }
        UserCommand::Password { name } => {
            app.set_password(&who, &name, &password_from_stdin()?)?;
            println!("Password of {name} changed.");
        }
        UserCommand::Delete { name } => {
            app.delete_user(&who, &name)?;
            println!("Deleted user {name} and their tokens.");
        }
    }
    Ok(())
}

pub fn token(ctx: &Ctx, cmd: TokenCommand) -> Result<()> {
    let app = ctx.app()?;
    let who = ctx.who();
    match cmd {
        TokenCommand::Create { name, user, days } => {
            let t = app.create_token(&who, &name, Some(days), Some(&user))?;
            println!(
                "Created token {} (id {}) for {}, expires {}.",
                t.info.name,
                t.info.id,
                t.user,
                t.info.expires_at.map(to_rfc3339).unwrap_or_default()
            );
            println!("Token (shown once, store it now): {}", t.token);
        }
        TokenCommand::List => {
            let mut t = Tabular::new(&["id", "user id", "name", "created", "expires", "last used", "revoked"]);
            for k in app.tokens(&who)? {
                let fmt = |v: Option<i64>| v.map(to_rfc3339).unwrap_or_default();
                t.row(
                    vec![
                        k.id.to_string(),
                        k.user_id.to_string(),
                        k.name.clone(),
                        to_rfc3339(k.created_at),
                        fmt(k.expires_at),
                        fmt(k.last_used_at),
                        fmt(k.revoked_at),
                    ],
                    serde_json::to_value(&k)?,
                );
            }
            t.print(ctx.format);
        }
        TokenCommand::Revoke { id } => {
            let t = app.revoke_token(&who, id)?;
            println!("Revoked token {} ({}).", t.id, t.name);
        }
    }
    Ok(())
}
