//! Notifications: what a webhook is told, in the three bodies receivers understand
//! (generic JSON, Slack, Microsoft Teams), and how the body is signed.
//!
//! Signing follows the common `t=…,v1=…` scheme: `X-Tributary-Signature: t=UNIX,v1=HEX`
//! where HEX is HMAC-SHA256 over `"{t}.{body}"` with the webhook's secret. Receivers check
//! the HMAC and that `t` is recent (replays of old deliveries then fail).

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Tributary-Signature";
/// The event name header.
pub const EVENT_HEADER: &str = "X-Tributary-Event";
/// The delivery id header (a receiver can drop repeats of one delivery).
pub const DELIVERY_HEADER: &str = "X-Tributary-Delivery";

/// How many issues or findings one notification lists (the count says how many in all).
pub const LISTED: usize = 20;

/// The body shape a receiver takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// `{"event", "at", "summary", …}` — for anything that reads JSON.
    Generic,
    /// A Slack incoming webhook (`text` and `blocks`).
    Slack,
    /// A Microsoft Teams workflow webhook (an Adaptive Card message).
    Teams,
}

impl WebhookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Generic => "generic",
            WebhookKind::Slack => "slack",
            WebhookKind::Teams => "teams",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookKind> {
        [WebhookKind::Generic, WebhookKind::Slack, WebhookKind::Teams].into_iter().find(|k| k.as_str() == s.trim().to_ascii_lowercase())
    }
}

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A policy matched findings it did not match before.
    PolicyMatched,
    /// Open issues that are critical or internet-exposed appeared (each issue once).
    IssuesNew,
    /// `webhook test`.
    Test,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PolicyMatched => "policy_matched",
            EventKind::IssuesNew => "issues_new",
            EventKind::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        [EventKind::PolicyMatched, EventKind::IssuesNew, EventKind::Test].into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// One line of a notification: an issue or a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub severity: String,
    /// The issue's risk score, when it is an issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// A notification, before it takes a receiver's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event: EventKind,
    /// RFC 3339.
    pub at: String,
    /// One sentence.
    pub summary: String,
    /// How many issues or findings it is about.
    pub count: i64,
    /// The first [`LISTED`] of them.
    pub items: Vec<Item>,
    /// Event details (the policy, its action).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

fn lines(e: &Event, bullet: &str) -> String {
    let mut out = e
        .items
        .iter()
        .map(|i| match i.score {
            Some(s) => format!("{bullet}[{}] {} (risk {s:.1}) — {}", i.severity, i.title, i.id),
            None => format!("{bullet}[{}] {} — {}", i.severity, i.title, i.id),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let more = e.count - e.items.len() as i64;
    if more > 0 {
        out.push_str(&format!("\n…and {more} more"));
    }
    out
}

/// The body for a receiver of `kind`.
pub fn body(kind: WebhookKind, e: &Event) -> Value {
    match kind {
        WebhookKind::Generic => json!(e),
        WebhookKind::Slack => json!({
            "text": e.summary,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*Tributary:* {}", e.summary)}},
                {"type": "section", "text": {"type": "mrkdwn", "text": if e.items.is_empty() { "—".to_string() } else { lines(e, "• ") }}},
            ],
        }),
        WebhookKind::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": "Tributary", "weight": "Bolder", "size": "Medium"},
                        {"type": "TextBlock", "text": e.summary, "wrap": true},
                        {"type": "TextBlock", "text": lines(e, "- "), "wrap": true, "isSubtle": true},
                    ],
                },
            }],
        }),
    }
}

/// The signature header's value for `body` sent at `unix_secs`.
pub fn sign(secret: &[u8], unix_secs: i64, body: &[u8]) -> String {
    format!("t={unix_secs},v1={}", hex::encode(mac(secret, unix_secs, body)))
}

fn mac(secret: &[u8], unix_secs: i64, body: &[u8]) -> Vec<u8> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(unix_secs.to_string().as_bytes());
            m.update(b".");
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length: this arm cannot run.
        Err(_) => Vec::new(),
    }
}

/// Checks a signature header (what a receiver does; the tests use it).
pub fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = hex::decode(x).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    let mut m = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return false,
    };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&v1).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            event: EventKind::IssuesNew,
            at: "2026-11-26T00:00:00Z".into(),
            summary: "3 new critical or internet-exposed issues".into(),
            count: 3,
            items: vec![Item { id: "issue:1".into(), title: "CVE-2024-3094".into(), severity: "critical".into(), score: Some(91.5) }],
            detail: Value::Null,
        }
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let h = sign(b"s3cret", 1_700_000_000, b"{}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify(b"s3cret", &h, b"{}"));
        assert!(!verify(b"other", &h, b"{}"));
        assert!(!verify(b"s3cret", &h, b"{ }"));
        assert!(!verify(b"s3cret", "t=1,v1=zz", b"{}"));
    }

    #[test]
    fn bodies_for_each_receiver() {
        let e = event();
        assert_eq!(body(WebhookKind::Generic, &e)["event"], "issues_new");
        let slack = body(WebhookKind::Slack, &e);
        assert_eq!(slack["text"], e.summary);
        assert!(slack["blocks"][1]["text"]["text"].as_str().unwrap().contains("…and 2 more"));
        let teams = body(WebhookKind::Teams, &e);
        assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
    }
}
