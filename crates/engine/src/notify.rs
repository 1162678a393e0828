//! Sending webhook notifications: the deliveries that are due, signed (`core::notify`),
//! POSTed with a timeout, each attempt recorded (`store::repo::webhooks`): delivered on a
//! 2xx, otherwise tried again with backoff. The scheduler's tick calls this under `serve`.
//! Errors never show the URL (a Slack or Teams URL is a credential).

use std::time::Duration;

use tributary_core::notify::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign};
use tributary_core::time::Millis;
use tributary_store::repo::webhooks;

use crate::{Engine, EngineError, Result};

/// Deliveries sent per round.
const ROUND: i64 = 50;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct DeliveryRound {
    pub delivered: usize,
    /// Attempts that failed (to be tried again, or given up).
    pub failed: usize,
}

impl Engine {
    /// Sends the deliveries due at `now` (a round of at most 50).
    pub async fn deliver_notifications(&self, now: Millis) -> Result<DeliveryRound> {
        let due = self.blocking(move |s| Ok(s.read(|c| webhooks::due(c, now, ROUND))?)).await?;
        let mut round = DeliveryRound::default();
        if due.is_empty() {
            return Ok(round);
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EngineError::Internal(format!("HTTP client: {e}")))?;
        for d in due {
            let hook = d.webhook_id;
            let (url, secret) = self.blocking(move |s| Ok(s.read(|c| webhooks::open_target(c, s.key(), hook))?)).await?;
            let signature = sign(secret.expose().as_bytes(), now / 1000, d.body.as_bytes());
            let sent = client
                .post(url.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::USER_AGENT, concat!("Tributary/", env!("CARGO_PKG_VERSION")))
                .header(SIGNATURE_HEADER, signature)
                .header(EVENT_HEADER, d.event.as_str())
                .header(DELIVERY_HEADER, d.id.to_string())
                .body(d.body.clone())
                .send()
                .await;
            let (id, attempts) = (d.id, d.attempts);
            match sent {
                Ok(r) if r.status().is_success() => {
                    let code = i64::from(r.status().as_u16());
                    self.blocking(move |s| Ok(s.write(|c| webhooks::delivered(c, id, code, now))?)).await?;
                    round.delivered += 1;
                }
                outcome => {
                    let (code, error) = match outcome {
                        Ok(r) => (Some(i64::from(r.status().as_u16())), format!("the receiver answered HTTP {}", r.status())),
                        Err(e) => (None, e.without_url().to_string()),
                    };
                    tracing::warn!(message = "Webhook delivery failed.", delivery = id, attempt = attempts + 1, error = %error);
                    self.blocking(move |s| Ok(s.write(|c| webhooks::attempt_failed(c, id, attempts, code, &error, now))?)).await?;
                    round.failed += 1;
                }
            }
        }
        Ok(round)
    }
}
