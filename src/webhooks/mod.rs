//! Webhooks: every published change, announced to subscribed receivers.
//!
//! The [`Outbox`] copies each change from the change feed into the
//! outbox in the database (see the store); each beat sends what is due. A delivery is a signed `POST` of
//! an [`EventPayload`]; anything but 2xx is retried with exponential
//! backoff until its retry window (24 hours by default) has passed.
//! Events of one entry reach a receiver in the order they happened: a
//! later one waits while an earlier one is pending.

pub mod signature;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::feed::{Consumer, Work};
use crate::outbound::{self, Fence};
use crate::store::{AttemptOutcome, ChangeRow, Delivery, Store, StoreError, Subscription};

/// The JSON body of a delivery.
#[derive(Serialize, Debug)]
pub struct EventPayload<'a> {
    /// The delivery's id; a retry carries the same one.
    pub delivery: i64,
    /// `entry.published`, `entry.unpublished`, `entry.archived` or `entry.deleted`.
    pub event: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub entry: EventEntry<'a>,
    /// The locales the changes touched.
    pub locales: &'a [String],
    /// Position in the change log: `GET /api/v1/sync?cursor=` one less
    /// than this replays from here.
    pub change_seq: i64,
}

#[derive(Serialize, Debug)]
pub struct EventEntry<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub content_type: &'a str,
    pub slug: &'a str,
    /// Where the delivery API serves it (absent after a deletion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// How long to wait, and for how long to keep trying.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// A new event waits this long for further changes of its entry.
    pub debounce: Duration,
    /// The wait after the first failed attempt; it doubles with each.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Failed deliveries are retried until they are this old.
    pub retry_for: Duration,
    /// A receiver gets this long to answer.
    pub timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            debounce: Duration::from_secs(1),
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(30 * 60),
            retry_for: Duration::from_secs(24 * 60 * 60),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Timing {
    /// When to try again after `attempts` failed attempts, or `None` once
    /// the delivery has been retried for long enough.
    pub fn retry_at(&self, created_at: DateTime<Utc>, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if now - created_at >= delta(self.retry_for) {
            return None;
        }
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let wait = self.backoff.saturating_mul(2u32.saturating_pow(doublings)).min(self.max_backoff);
        Some(now + delta(wait))
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// How often due deliveries are sent.
pub const BEAT: Duration = Duration::from_millis(250);

/// Deliveries attempted at once.
const PARALLEL_DELIVERIES: usize = 8;

#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    client: outbound::Client,
    timing: Timing,
}

impl Dispatcher {
    /// Deliveries reach the addresses `fence` lets through; a redirect is
    /// an answer like any other (not 2xx), never followed.
    pub fn new(store: Store, timing: Timing, fence: &Fence) -> Result<Dispatcher, WebhookError> {
        let client = fence.client(0, |builder| {
            builder
                .user_agent(concat!("katalog-webhooks/", env!("CARGO_PKG_VERSION")))
                .timeout(timing.timeout)
                .connect_timeout(timing.timeout.min(Duration::from_secs(5)))
        })?;
        Ok(Dispatcher { store, client, timing })
    }

    /// One beat: attempt what is due.
    pub async fn run_once(&self) -> Result<(), WebhookError> {
        self.run(Duration::ZERO).await
    }

    /// At shutdown, once the change feed has queued every change: attempt
    /// what is due or only waiting out its debounce, so that the events of
    /// the last writes leave now rather than at the next start. (The outbox
    /// is in the database: whatever fails or is left stays queued.)
    pub async fn flush(&self) -> Result<(), WebhookError> {
        self.run(self.timing.debounce).await
    }

    /// Attempts what is due within `ahead`.
    async fn run(&self, ahead: Duration) -> Result<(), WebhookError> {
        let mut attempts = JoinSet::new();
        for id in self.store.due_deliveries(Utc::now() + delta(ahead), 100).await? {
            if attempts.len() >= PARALLEL_DELIVERIES {
                attempts.join_next().await;
            }
            let dispatcher = self.clone();
            attempts.spawn(async move {
                if let Err(error) = dispatcher.attempt(id).await {
                    tracing::warn!(%error, delivery = id, "webhook attempt not recorded");
                }
            });
        }
        while attempts.join_next().await.is_some() {}
        Ok(())
    }

    async fn attempt(&self, id: i64) -> Result<(), WebhookError> {
        let now = Utc::now();
        // A claim outlives the request, so no other process retries it meanwhile.
        let Some(delivery) = self.store.claim_delivery(id, now, now + delta(self.timing.timeout * 3)).await? else { return Ok(()) };
        let Some(subscription) = self.store.subscription(&delivery.subscription_id).await? else { return Ok(()) };
        let outcome = self.send(&subscription, &delivery).await;
        let attempted = Utc::now();
        let outcome = match outcome {
            Ok(status) if (200..300).contains(&status) => AttemptOutcome::Delivered { status },
            Ok(status) => AttemptOutcome::Failed {
                status: Some(status),
                error: format!("the receiver answered {status}"),
                retry_at: self.timing.retry_at(delivery.created_at, delivery.attempts + 1, attempted),
            },
            Err(error) => AttemptOutcome::Failed { status: None, error, retry_at: self.timing.retry_at(delivery.created_at, delivery.attempts + 1, attempted) },
        };
        if let AttemptOutcome::Failed { error, retry_at, .. } = &outcome {
            tracing::info!(delivery = id, url = %subscription.url, %error, ?retry_at, "webhook delivery failed");
        }
        self.store.record_attempt(id, attempted, &outcome).await?;
        Ok(())
    }

    /// The status the receiver answered, or why there is none.
    async fn send(&self, subscription: &Subscription, delivery: &Delivery) -> Result<u16, String> {
        let url = reqwest::Url::parse(&subscription.url).map_err(|_| outbound::Refused::NotHttp.to_string())?;
        let body = serde_json::to_vec(&payload(delivery)).unwrap_or_default();
        let signature = signature::sign(&subscription.secret, Utc::now().timestamp(), &body);
        let response = self
            .client
            .request(reqwest::Method::POST, &url)
            .map_err(|refused| refused.to_string())?
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, signature)
            .header("Katalog-Event", &delivery.event)
            .header("Katalog-Delivery", delivery.id.to_string())
            .body(body)
            .send()
            .await
            .map_err(|error| outbound::cause(&error))?;
        Ok(response.status().as_u16())
    }
}

/// Fills the outbox from the change log. Its position is the webhook
/// cursor in the database, which every process on it shares.
pub struct Outbox {
    /// A new event waits this long for further changes of its entry.
    debounce: Duration,
}

impl Outbox {
    pub fn new(timing: Timing) -> Outbox {
        Outbox { debounce: timing.debounce }
    }
}

impl Consumer for Outbox {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn start<'a>(&'a self, store: &'a Store, _: i64) -> Work<'a, i64> {
        Box::pin(async move { Ok(store.webhook_cursor().await?.unwrap_or(0)) })
    }

    fn apply<'a>(&'a self, store: &'a Store, changes: &'a [ChangeRow]) -> Work<'a, i64> {
        Box::pin(async move {
            let now = Utc::now();
            Ok(store.queue_webhook_deliveries(changes, now, now + delta(self.debounce)).await?)
        })
    }
}

/// What a delivery sends.
pub fn payload(delivery: &Delivery) -> EventPayload<'_> {
    EventPayload {
        delivery: delivery.id,
        event: &delivery.event,
        occurred_at: delivery.occurred_at,
        entry: EventEntry {
            id: &delivery.entry_id,
            content_type: &delivery.content_type,
            slug: &delivery.slug,
            href: (delivery.event != "entry.deleted").then(|| format!("/api/v1/{}/{}", delivery.content_type, delivery.entry_id)),
        },
        locales: &delivery.locales,
        change_seq: delivery.change_seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_for_at_least_a_day() {
        let timing = Timing::default();
        let created = Utc::now();
        let mut now = created;
        let mut attempts = 0;
        let mut waits = Vec::new();
        while let Some(next) = timing.retry_at(created, attempts + 1, now) {
            waits.push((next - now).num_seconds());
            now = next;
            attempts += 1;
        }
        assert_eq!(&waits[..4], &[10, 20, 40, 80]);
        assert_eq!(*waits.last().unwrap(), 30 * 60, "capped");
        assert!(now - created >= TimeDelta::hours(24), "retried for {}", now - created);
        assert!(now - created < TimeDelta::hours(25));
    }
}
