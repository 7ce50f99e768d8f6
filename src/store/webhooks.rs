//! Webhook subscriptions and their outbox. Changes are copied from the
//! change log into per-subscription deliveries in the same transaction
//! that advances the webhook cursor, so a crash loses no event and sends
//! none twice on purpose; a delivery stays pending until its receiver
//! answers 2xx or its retry window ends.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult, Value as SqlValue};

use super::{ChangeRow, Store, StoreError};

/// The change log's actions and the events they fire.
pub const EVENTS: [(&str, &str); 4] =
    [("publish", "entry.published"), ("unpublish", "entry.unpublished"), ("archive", "entry.archived"), ("delete", "entry.deleted")];

#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// Empty: every type.
    pub content_types: Vec<String>,
    /// Empty: every event.
    pub events: Vec<String>,
    pub from_seq: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl Subscription {
    fn wants(&self, seq: i64, content_type: &str, event: &str) -> bool {
        seq > self.from_seq
            && (self.content_types.is_empty() || self.content_types.iter().any(|t| t == content_type))
            && (self.events.is_empty() || self.events.iter().any(|e| e == event))
    }
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: String,
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
    pub event: String,
    pub locales: Vec<String>,
    pub change_seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub enum AttemptOutcome {
    Delivered {
        status: u16,
    },
    /// Try again at `retry_at`, or give up when it is `None`.
    Failed {
        status: Option<u16>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

const CURSOR: &str = "webhooks";
const DELIVERY_COLUMNS: &str = "id, subscription_id, entry_id, content_type, slug, event, locales, change_seq, occurred_at, status, attempts, \
     next_attempt_at, last_attempt_at, last_status, last_error, created_at, delivered_at";
const SUBSCRIPTION_COLUMNS: &str = "id, url, secret, content_types, events, from_seq, created_at, created_by";

impl Store {
    /// The last change copied into the outbox; `None` before the first copy.
    pub async fn webhook_cursor(&self) -> Result<Option<i64>, StoreError> {
        let row = self.db.query_one_raw(self.statement("SELECT seq FROM change_cursors WHERE name = ?", [CURSOR.into()])).await?;
        Ok(row.map(|row| row.try_get("", "seq")).transpose()?)
    }

    /// Deliveries still to be made (first attempt or retry).
    pub async fn pending_webhook_deliveries(&self) -> Result<i64, StoreError> {
        let row = self.db.query_one_raw(self.statement("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'", [])).await?;
        Ok(row.map(|row| row.try_get("", "n")).transpose()?.unwrap_or(0))
    }

    /// Adds a subscription; it receives the changes made from now on.
    pub async fn insert_subscription(&self, subscription: &Subscription) -> Result<Subscription, StoreError> {
        let from_seq = self.latest_change_seq().await?;
        let values: [SqlValue; 8] = [
            subscription.id.clone().into(),
            subscription.url.clone().into(),
            subscription.secret.clone().into(),
            subscription.content_types.join(",").into(),
            subscription.events.join(",").into(),
            from_seq.into(),
            subscription.created_at.into(),
            subscription.created_by.clone().into(),
        ];
        self.db
            .execute_raw(self.statement(&format!("INSERT INTO webhook_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"), values))
            .await?;
        Ok(Subscription { from_seq, ..subscription.clone() })
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows =
            self.db.query_all_raw(self.statement(&format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id"), [])).await?;
        rows.iter().map(subscription_of).collect()
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let row = self.db.query_one_raw(self.statement(&format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ?"), [id.into()])).await?;
        row.as_ref().map(subscription_of).transpose()
    }

    /// Removes a subscription with its deliveries; false if there was none.
    pub async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        txn.execute_raw(self.statement("DELETE FROM webhook_deliveries WHERE subscription_id = ?", [id.into()])).await?;
        let deleted = txn.execute_raw(self.statement("DELETE FROM webhook_subscriptions WHERE id = ?", [id.into()])).await?.rows_affected();
        txn.commit().await?;
        Ok(deleted == 1)
    }

    /// Copies changes into the outbox, one delivery per subscription and
    /// entry: while a delivery has not been attempted, later changes of
    /// its entry merge into it (latest event, union of locales), so a
    /// burst of revisions fires one event. New deliveries wait until
    /// `first_attempt_at`. `changes` continue the log from where this
    /// process last left it; those another process already copied are
    /// skipped. Returns the cursor: the last change copied.
    pub async fn queue_webhook_deliveries(&self, changes: &[ChangeRow], now: DateTime<Utc>, first_attempt_at: DateTime<Utc>) -> Result<i64, StoreError> {
        let cursor = self.webhook_cursor().await?;
        let Some(last) = changes.last().map(|change| change.seq).filter(|last| cursor.is_none_or(|cursor| cursor < *last)) else {
            // Nothing new, or another process copied it first: no write lock needed.
            return Ok(cursor.unwrap_or(0));
        };
        let txn = self.begin_write().await?;
        let lock = if self.backend() == DbBackend::Postgres { " FOR UPDATE" } else { "" };
        let cursor = txn.query_one_raw(self.statement(&format!("SELECT seq FROM change_cursors WHERE name = ?{lock}"), [CURSOR.into()])).await?;
        let after: i64 = match &cursor {
            Some(row) => row.try_get("", "seq")?,
            None => {
                txn.execute_raw(self.statement("INSERT INTO change_cursors (name, seq) VALUES (?, 0)", [CURSOR.into()])).await?;
                0
            }
        };
        if after >= last {
            txn.rollback().await?;
            return Ok(after);
        }
        let subscriptions: Vec<Subscription> = txn
            .query_all_raw(self.statement(&format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions"), []))
            .await?
            .iter()
            .map(subscription_of)
            .collect::<Result<_, _>>()?;
        for change in changes.iter().filter(|change| change.seq > after) {
            let Some((_, event)) = EVENTS.iter().find(|(action, _)| *action == change.action) else { continue };
            for subscription in subscriptions.iter().filter(|s| s.wants(change.seq, &change.content_type, event)) {
                self.queue_change(&txn, subscription, change, event, now, first_attempt_at).await?;
            }
        }
        txn.execute_raw(self.statement("UPDATE change_cursors SET seq = ? WHERE name = ?", [last.into(), CURSOR.into()])).await?;
        // The outbox is no change of content: its commit wakes no follower of the log.
        txn.commit_quietly().await?;
        Ok(last)
    }

    async fn queue_change(
        &self,
        txn: &DatabaseTransaction,
        subscription: &Subscription,
        change: &ChangeRow,
        event: &str,
        now: DateTime<Utc>,
        first_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let locale = change.locale.code().to_owned();
        let unsent = txn
            .query_one_raw(self.statement(
                "SELECT id, locales FROM webhook_deliveries WHERE status = 'pending' AND subscription_id = ? AND entry_id = ? \
                 AND attempts = 0 AND claimed_until IS NULL ORDER BY id DESC LIMIT 1",
                [subscription.id.clone().into(), change.entry_id.clone().into()],
            ))
            .await?;
        if let Some(unsent) = unsent {
            let id: i64 = unsent.try_get("", "id")?;
            let mut locales: Vec<String> = split_list(&unsent.try_get::<String>("", "locales")?);
            if !locales.contains(&locale) {
                locales.push(locale.clone());
                locales.sort();
            }
            let merged = txn
                .execute_raw(self.statement(
                    "UPDATE webhook_deliveries SET event = ?, slug = ?, locales = ?, change_seq = ?, occurred_at = ? \
                     WHERE id = ? AND attempts = 0 AND claimed_until IS NULL",
                    [event.into(), change.slug.clone().into(), locales.join(",").into(), change.seq.into(), change.created_at.into(), id.into()],
                ))
                .await?;
            if merged.rows_affected() == 1 {
                return Ok(());
            }
        }
        let values: [SqlValue; 12] = [
            subscription.id.clone().into(),
            change.entry_id.clone().into(),
            change.content_type.clone().into(),
            change.slug.clone().into(),
            event.into(),
            locale.into(),
            change.seq.into(),
            change.created_at.into(),
            "pending".into(),
            0i32.into(),
            first_attempt_at.into(),
            now.into(),
        ];
        txn.execute_raw(self.statement(
            "INSERT INTO webhook_deliveries (subscription_id, entry_id, content_type, slug, event, locales, change_seq, occurred_at, status, attempts, \
             next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        ))
        .await?;
        Ok(())
    }

    /// Pending deliveries due now that are first in line for their
    /// subscription and entry (events of one entry go out in order).
    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<i64>, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT d.id FROM webhook_deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
                 AND (d.claimed_until IS NULL OR d.claimed_until < ?) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.status = 'pending' AND e.subscription_id = d.subscription_id \
                 AND e.entry_id = d.entry_id AND e.id < d.id) ORDER BY d.id LIMIT ?",
                [now.into(), now.into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter().map(|row| Ok(row.try_get("", "id")?)).collect()
    }

    /// Takes a due delivery for one attempt, until `until`; `None` if
    /// another process took it first. The delivery as claimed is what gets
    /// sent: nothing merges into it any more.
    pub async fn claim_delivery(&self, id: i64, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Option<Delivery>, StoreError> {
        let claimed = self
            .db
            .execute_raw(self.statement(
                "UPDATE webhook_deliveries SET claimed_until = ? WHERE id = ? AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)",
                [until.into(), id.into(), now.into()],
            ))
            .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        let row = self.db.query_one_raw(self.statement(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?"), [id.into()])).await?;
        row.as_ref().map(delivery_of).transpose()
    }

    pub async fn record_attempt(&self, id: i64, at: DateTime<Utc>, outcome: &AttemptOutcome) -> Result<(), StoreError> {
        let (sql, values): (&str, Vec<SqlValue>) = match outcome {
            AttemptOutcome::Delivered { status } => (
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = ?, last_status = ?, \
                 last_error = NULL, delivered_at = ?, claimed_until = NULL WHERE id = ?",
                vec![at.into(), i32::from(*status).into(), at.into(), id.into()],
            ),
            AttemptOutcome::Failed { status, error, retry_at } => (
                "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_attempt_at = ?, last_status = ?, \
                 last_error = ?, next_attempt_at = ?, claimed_until = NULL WHERE id = ?",
                vec![
                    if retry_at.is_some() { "pending" } else { "failed" }.into(),
                    at.into(),
                    status.map(i32::from).into(),
                    error.clone().into(),
                    retry_at.unwrap_or(at).into(),
                    id.into(),
                ],
            ),
        };
        self.db.execute_raw(self.statement(sql, values)).await?;
        Ok(())
    }

    /// A subscription's deliveries, newest first, before `before` (an id).
    pub async fn deliveries(&self, subscription_id: &str, before: Option<i64>, limit: u64) -> Result<Vec<Delivery>, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE subscription_id = ? AND id < ? ORDER BY id DESC LIMIT ?"),
                [subscription_id.into(), before.unwrap_or(i64::MAX).into(), (limit as i64).into()],
            ))
            .await?;
        rows.iter().map(delivery_of).collect()
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn subscription_of(row: &QueryResult) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: row.try_get("", "id")?,
        url: row.try_get("", "url")?,
        secret: row.try_get("", "secret")?,
        content_types: split_list(&row.try_get::<String>("", "content_types")?),
        events: split_list(&row.try_get::<String>("", "events")?),
        from_seq: row.try_get("", "from_seq")?,
        created_at: row.try_get("", "created_at")?,
        created_by: row.try_get("", "created_by")?,
    })
}

fn delivery_of(row: &QueryResult) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: row.try_get("", "id")?,
        subscription_id: row.try_get("", "subscription_id")?,
        entry_id: row.try_get("", "entry_id")?,
        content_type: row.try_get("", "content_type")?,
        slug: row.try_get("", "slug")?,
        event: row.try_get("", "event")?,
        locales: split_list(&row.try_get::<String>("", "locales")?),
        change_seq: row.try_get("", "change_seq")?,
        occurred_at: row.try_get("", "occurred_at")?,
        status: row.try_get("", "status")?,
        attempts: row.try_get("", "attempts")?,
        next_attempt_at: row.try_get("", "next_attempt_at")?,
        last_attempt_at: row.try_get("", "last_attempt_at")?,
        last_status: row.try_get("", "last_status")?,
        last_error: row.try_get("", "last_error")?,
        created_at: row.try_get("", "created_at")?,
        delivered_at: row.try_get("", "delivered_at")?,
    })
}
