//! `tributary webhook add|list|delete|test|deliveries|send`.

use std::io::Read;

use anyhow::{Context, Result, bail};
use tributary_app::notify::{AddWebhook, EventKind, WebhookKind};
use tributary_core::secret::Secret;

use super::{Ctx, runtime};
use crate::args::WebhookCommand as W;
use crate::output::Tabular;

pub fn run(ctx: &Ctx, cmd: W) -> Result<()> {
    let app = ctx.app()?;
    let who = ctx.who();
    match cmd {
        W::Add { name, url, url_stdin, kind, events } => {
            let url = match (url, url_stdin) {
                (Some(u), _) => u,
                (None, _) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s).context("cannot read the URL from standard input")?;
                    s.trim().to_string()
                }
            };
            let Some(kind) = WebhookKind::parse(&kind) else { bail!("--kind: '{kind}' is not generic, slack or teams") };
            let events = events
                .iter()
                .map(|e| {
                    EventKind::parse(e)
                        .filter(|k| *k != EventKind::Test)
                        .ok_or_else(|| anyhow::anyhow!("--events: '{e}' is not policy_matched or issues_new"))
                })
                .collect::<Result<Vec<_>>>()?;
            let added = app.add_webhook(&who, AddWebhook { name, url: Secret::new(url), kind, events, secret: None })?;
            let w = &added.webhook;
            println!("Added webhook {} ({}, {}) for {}.", w.name, w.kind, w.url_hint, w.events.join(", "));
            if let Some(s) = &added.generated_secret {
                println!("Signing secret (shown this once; receivers check X-Tributary-Signature with it):\n  {s}");
            }
        }
        W::List => {
            let mut t = Tabular::new(&["name", "kind", "url", "events", "enabled"]);
            for w in app.webhooks(&who)? {
                t.row(
                    vec![w.name.clone(), w.kind.clone(), w.url_hint.clone(), w.events.join(", "), w.enabled.to_string()],
                    serde_json::to_value(&w)?,
                );
            }
            t.print(ctx.format);
        }
        W::Delete { name } => {
            app.delete_webhook(&who, &name)?;
            println!("Deleted webhook {name} and its delivery log.");
        }
        W::Test { name } => {
            let d = runtime()?.block_on(app.test_webhook(&who, &name))?;
            match d.status.as_str() {
                "delivered" => println!("Delivered: the receiver answered HTTP {}.", d.last_code.unwrap_or_default()),
                _ => bail!(
                    "not delivered: {} (tried again later by `serve` or `webhook send`)",
                    d.last_error.unwrap_or_else(|| "no answer".into())
                ),
            }
        }
        W::Deliveries { webhook, limit } => {
            let mut t = Tabular::new(&["id", "webhook", "event", "status", "attempts", "last", "created", "next attempt"]);
            for d in app.webhook_deliveries(&who, webhook.as_deref(), limit)? {
                let last = match (&d.last_code, &d.last_error) {
                    (_, Some(e)) => e.clone(),
                    (Some(c), None) => format!("HTTP {c}"),
                    _ => String::new(),
                };
                t.row(
                    vec![
                        d.id.to_string(),
                        d.webhook.clone(),
                        d.event.clone(),
                        d.status.clone(),
                        d.attempts.to_string(),
                        last,
                        d.created_at.clone(),
                        d.next_at.clone().unwrap_or_default(),
                    ],
                    serde_json::to_value(&d)?,
                );
            }
            t.print(ctx.format);
        }
        W::Send => {
            let r = runtime()?.block_on(app.send_notifications(&who))?;
            println!("{} delivered, {} failed (retried later).", r.delivered, r.failed);
        }
    }
    Ok(())
}
