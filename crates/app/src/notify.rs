//! Notifications: webhooks (generic JSON, Slack, Teams), HMAC-signed, fired by new policy
//! matches and by new critical or internet-exposed issues after every sync and import;
//! sent by the scheduler under `serve` (or `webhook send`), retried with backoff, with a
//! delivery log. A webhook's URL and secret are write-only: stored sealed, never returned
//! (the secret is shown once when generated).

use serde::Serialize;
use tributary_core::notify::{Event, Item};
pub use tributary_core::notify::{EventKind, WebhookKind};
use tributary_core::secret::Secret;
use tributary_core::time::{now_ms, to_rfc3339};
pub use tributary_engine::notify::DeliveryRound;
use tributary_store::repo::webhooks::{self, NewWebhook};
pub use tributary_store::repo::webhooks::{Delivery, Webhook};

use crate::{App, AppError, Principal, Result, Role};

/// A webhook as a user adds it.
#[derive(Debug, Clone)]
pub struct AddWebhook {
    pub name: String,
    /// http(s) URL of the receiver (a Slack or Teams incoming-webhook URL for those kinds).
    pub url: Secret,
    pub kind: WebhookKind,
    /// What to send (empty: policy_matched and issues_new).
    pub events: Vec<EventKind>,
    /// The HMAC signing secret (none: generated and returned once).
    pub secret: Option<Secret>,
}

/// An added webhook, with its signing secret when it was generated (shown this once).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AddedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_secret: Option<String>,
}

const MAX_NAME: usize = 64;

fn check_url(url: &str) -> Result<()> {
    let bad = |why: &str| AppError::invalid("url", why.to_string());
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or_else(|| bad("use an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad("the URL has no host"));
    }
    if url.len() > 2048 {
        return Err(bad("the URL is longer than 2048 characters"));
    }
    Ok(())
}

impl App {
    /// Adds a webhook (admin: its URL and secret are credentials).
    pub fn add_webhook(&self, who: &Principal, add: AddWebhook) -> Result<AddedWebhook> {
        who.require(Role::Admin, "adding a webhook (it stores a credential)")?;
        let name = add.name.trim();
        if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(AppError::invalid("name", format!("1-{MAX_NAME} letters, digits, '-', '_' or '.'")));
        }
        check_url(add.url.expose())?;
        let events = if add.events.is_empty() { vec![EventKind::PolicyMatched, EventKind::IssuesNew] } else { add.events };
        if events.contains(&EventKind::Test) {
            return Err(AppError::invalid("events", "choose from policy_matched and issues_new (test events are sent by `webhook test`)"));
        }
        let (secret, generated) = match add.secret {
            Some(s) if s.expose().len() >= 16 => (s, None),
            Some(_) => return Err(AppError::invalid("secret", "at least 16 characters")),
            None => {
                let s = tributary_core::password::generate(40);
                (Secret::new(s.clone()), Some(s))
            }
        };
        let key = self.store().key().clone();
        let webhook = self.change(who, "webhook.add", name, |c| {
            let w = webhooks::create(c, &key, NewWebhook { name, kind: add.kind, url: &add.url, secret: &secret, events: &events })?;
            let detail = serde_json::json!({"kind": w.kind, "url": w.url_hint, "events": w.events});
            Ok((w, detail))
        })?;
        Ok(AddedWebhook { webhook, generated_secret: generated })
    }

    pub fn webhooks(&self, who: &Principal) -> Result<Vec<Webhook>> {
        who.require(Role::Analyst, "listing webhooks")?;
        Ok(self.store().read(webhooks::list)?)
    }

    pub fn delete_webhook(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Admin, "deleting a webhook")?;
        self.change(who, "webhook.delete", name, |c| Ok((webhooks::delete(c, name)?, serde_json::json!({}))))
    }

    /// Queues a test event for a webhook and sends what is due now: the test's delivery
    /// as it ended.
    pub async fn test_webhook(&self, who: &Principal, name: &str) -> Result<Delivery> {
        who.require(Role::Admin, "testing a webhook")?;
        let n = name.to_string();
        let id = self
            .blocking(move |a| {
                Ok(a.store().write(|c| {
                    let w = webhooks::get(c, &n)?;
                    let e = Event {
                        event: EventKind::Test,
                        at: to_rfc3339(now_ms()),
                        summary: format!("Test notification for webhook '{}'", w.name),
                        count: 1,
                        items: vec![Item {
                            id: "test".into(),
                            title: "Tributary can reach this receiver".into(),
                            severity: "info".into(),
                            score: None,
                        }],
                        detail: serde_json::Value::Null,
                    };
                    webhooks::enqueue(c, &w, &e)
                })?)
            })
            .await?;
        self.engine.deliver_notifications(now_ms()).await?;
        let n = name.to_string();
        self.blocking(move |a| {
            a.store()
                .read(|c| webhooks::deliveries(c, Some(&n), 1000))?
                .into_iter()
                .find(|d| d.id == id)
                .ok_or_else(|| AppError::Internal("the test delivery disappeared".into()))
        })
        .await
    }

    /// The delivery log, newest first.
    pub fn webhook_deliveries(&self, who: &Principal, name: Option<&str>, limit: i64) -> Result<Vec<Delivery>> {
        who.require(Role::Analyst, "reading webhook deliveries")?;
        Ok(self.store().read(|c| webhooks::deliveries(c, name, limit))?)
    }

    /// Sends the deliveries due now (what the scheduler does every tick under `serve`).
    pub async fn send_notifications(&self, who: &Principal) -> Result<DeliveryRound> {
        self.send_notifications_at(who, now_ms()).await
    }

    /// [`App::send_notifications`] as if at `at` (ms): retries whose backoff has passed by
    /// then go out (tests and `webhook send --at`).
    pub async fn send_notifications_at(&self, who: &Principal, at: i64) -> Result<DeliveryRound> {
        who.require(Role::Analyst, "sending notifications")?;
        Ok(self.engine.deliver_notifications(at).await?)
    }
}
