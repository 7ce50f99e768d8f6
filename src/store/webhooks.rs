//! Webhook subscriptions and their outbox. Changes are copied from the
//! change log into per-subscription deliveries in the same transaction
//! that advances the webhook cursor, so a crash loses no event and sends
//! none twice on purpose; a delivery stays pending until its receiver
//! answers 2xx or its retry window ends.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Value as SqlValue,
};

use super::entity::{change_cursor, webhook_delivery, webhook_subscription};
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

impl Store {
    /// The last change copied into the outbox; `None` before the first copy.
    pub async fn webhook_cursor(&self) -> Result<Option<i64>, StoreError> {
        Ok(change_cursor::Entity::find_by_id(CURSOR).one(&self.db).await?.map(|cursor| cursor.seq))
    }

    /// Deliveries still to be made (first attempt or retry).
    pub async fn pending_webhook_deliveries(&self) -> Result<i64, StoreError> {
        let pending = webhook_delivery::Entity::find().filter(webhook_delivery::Column::Status.eq("pending")).count(&self.db).await?;
        Ok(i64::try_from(pending).unwrap_or(i64::MAX))
    }

    /// Adds a subscription; it receives the changes made from now on.
    pub async fn insert_subscription(&self, subscription: &Subscription) -> Result<Subscription, StoreError> {
        let subscription = Subscription { from_seq: self.latest_change_seq().await?, ..subscription.clone() };
        let row = webhook_subscription::Model {
            id: subscription.id.clone(),
            url: subscription.url.clone(),
            secret: subscription.secret.clone(),
            content_types: subscription.content_types.join(","),
            events: subscription.events.join(","),
            from_seq: subscription.from_seq,
            created_at: subscription.created_at,
            created_by: subscription.created_by.clone(),
        };
        webhook_subscription::Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(subscription)
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows = webhook_subscription::Entity::find()
            .order_by_asc(webhook_subscription::Column::CreatedAt)
            .order_by_asc(webhook_subscription::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(subscription_of).collect())
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        Ok(webhook_subscription::Entity::find_by_id(id).one(&self.db).await?.map(subscription_of))
    }

    /// Removes a subscription with its deliveries; false if there was none.
    pub async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        webhook_delivery::Entity::delete_many().filter(webhook_delivery::Column::SubscriptionId.eq(id)).exec(&*txn).await?;
        let deleted = webhook_subscription::Entity::delete_by_id(id).exec(&*txn).await?.rows_affected;
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
        // On PostgreSQL the row lock makes a second process wait, then find the changes copied.
        let cursor = change_cursor::Entity::find_by_id(CURSOR).lock_exclusive().one(&*txn).await?;
        let after = match cursor {
            Some(cursor) => cursor.seq,
            None => {
                change_cursor::Entity::insert(change_cursor::Model { name: CURSOR.to_owned(), seq: 0 }.into_active_model())
                    .exec_without_returning(&*txn)
                    .await?;
                0
            }
        };
        if after >= last {
            txn.rollback().await?;
            return Ok(after);
        }
        let subscriptions: Vec<Subscription> = webhook_subscription::Entity::find().all(&*txn).await?.into_iter().map(subscription_of).collect();
        for change in changes.iter().filter(|change| change.seq > after) {
            let Some((_, event)) = EVENTS.iter().find(|(action, _)| *action == change.action) else { continue };
            for subscription in subscriptions.iter().filter(|s| s.wants(change.seq, &change.content_type, event)) {
                self.queue_change(&txn, subscription, change, event, now, first_attempt_at).await?;
            }
        }
        change_cursor::Entity::update_many()
            .col_expr(change_cursor::Column::Seq, Expr::value(last))
            .filter(change_cursor::Column::Name.eq(CURSOR))
            .exec(&*txn)
            .await?;
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
        use webhook_delivery::Column;
        let unsent = webhook_delivery::Entity::find()
            .filter(Column::Status.eq("pending"))
            .filter(Column::SubscriptionId.eq(subscription.id.as_str()))
            .filter(Column::EntryId.eq(change.entry_id.as_str()))
            .filter(Column::Attempts.eq(0))
            .filter(Column::ClaimedUntil.is_null())
            .order_by_desc(Column::Id)
            .one(txn)
            .await?;
        if let Some(unsent) = unsent {
            let mut locales: Vec<String> = split_list(&unsent.locales);
            if !locales.contains(&locale) {
                locales.push(locale.clone());
                locales.sort();
            }
            let merged = webhook_delivery::Entity::update_many()
                .col_expr(Column::Event, Expr::value(event))
                .col_expr(Column::Slug, Expr::value(change.slug.as_str()))
                .col_expr(Column::Locales, Expr::value(locales.join(",")))
                .col_expr(Column::ChangeSeq, Expr::value(change.seq))
                .col_expr(Column::OccurredAt, Expr::value(change.created_at))
                .filter(Column::Id.eq(unsent.id))
                .filter(Column::Attempts.eq(0))
                .filter(Column::ClaimedUntil.is_null())
                .exec(txn)
                .await?;
            if merged.rows_affected == 1 {
                return Ok(());
            }
        }
        let delivery = webhook_delivery::Model {
            id: 0,
            subscription_id: subscription.id.clone(),
            entry_id: change.entry_id.clone(),
            content_type: change.content_type.clone(),
            slug: change.slug.clone(),
            event: event.to_owned(),
            locales: locale,
            change_seq: change.seq,
            occurred_at: change.created_at,
            status: "pending".to_owned(),
            attempts: 0,
            next_attempt_at: first_attempt_at,
            claimed_until: None,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            created_at: now,
            delivered_at: None,
        };
        webhook_delivery::Entity::insert(webhook_delivery::ActiveModel { id: NotSet, ..delivery.into_active_model() }).exec_without_returning(txn).await?;
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
        Ok(webhook_delivery::Entity::find_by_id(id).one(&self.db).await?.map(delivery_of))
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
        let rows = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::SubscriptionId.eq(subscription_id))
            .filter(webhook_delivery::Column::Id.lt(before.unwrap_or(i64::MAX)))
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(delivery_of).collect())
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn subscription_of(row: webhook_subscription::Model) -> Subscription {
    Subscription {
        content_types: split_list(&row.content_types),
        events: split_list(&row.events),
        id: row.id,
        url: row.url,
        secret: row.secret,
        from_seq: row.from_seq,
        created_at: row.created_at,
        created_by: row.created_by,
    }
}

fn delivery_of(row: webhook_delivery::Model) -> Delivery {
    Delivery {
        locales: split_list(&row.locales),
        id: row.id,
        subscription_id: row.subscription_id,
        entry_id: row.entry_id,
        content_type: row.content_type,
        slug: row.slug,
        event: row.event,
        change_seq: row.change_seq,
        occurred_at: row.occurred_at,
        status: row.status,
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        last_attempt_at: row.last_attempt_at,
        last_status: row.last_status,
        last_error: row.last_error,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
    }
}
