//! The audit log: who did what, when, in which request. Events are written
//! in the same transaction as the change they describe.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use super::atomic::Atomic;
use super::entity::audit_event;
use super::{Store, StoreError};

/// An event to record.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub request_id: String,
    pub actor: String,
    /// What was done: `entry.create`, `entry.update`, `entry.publish`, …
    pub action: String,
    pub locale: Option<String>,
    /// Particulars: new version, revision numbers, comment, counts.
    pub detail: Value,
}

/// A recorded event.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: i64,
    pub request_id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub content_type: Option<String>,
    pub entry_id: Option<String>,
    pub slug: Option<String>,
    pub locale: Option<String>,
    pub detail: Value,
}

/// Which entry a change-log row or audit event is about.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub content_type: &'a str,
    pub entry_id: &'a str,
    pub slug: &'a str,
}

impl Store {
    pub(super) async fn record_audit(&self, db: &impl ConnectionTrait, event: &AuditEvent, subject: Option<EntryRef<'_>>) -> Result<(), StoreError> {
        let row = audit_event::Model {
            id: 0,
            request_id: event.request_id.clone(),
            at: Utc::now(),
            actor: event.actor.clone(),
            action: event.action.clone(),
            content_type: subject.as_ref().map(|s| s.content_type.to_owned()),
            entry_id: subject.as_ref().map(|s| s.entry_id.to_owned()),
            slug: subject.as_ref().map(|s| s.slug.to_owned()),
            locale: event.locale.clone(),
            detail: event.detail.to_string(),
        };
        let mut row = row.into_active_model();
        row.id = NotSet;
        audit_event::Entity::insert(row).exec_without_returning(db).await?;
        Ok(())
    }

    /// Records an event about no entry in particular.
    pub async fn record_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.record_audit(&self.db, event, None).await
    }

    /// Events newest first, of one entry or of everything, before an id
    /// (keyset pagination).
    pub async fn audit_events(&self, entry_id: Option<&str>, before: Option<i64>, limit: u64) -> Result<Vec<AuditRecord>, StoreError> {
        let mut query = audit_event::Entity::find().filter(audit_event::Column::Id.lt(before.unwrap_or(i64::MAX)));
        if let Some(entry_id) = entry_id {
            query = query.filter(audit_event::Column::EntryId.eq(entry_id));
        }
        let rows = query.order_by_desc(audit_event::Column::Id).limit(limit).all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|row| AuditRecord {
                detail: serde_json::from_str(&row.detail).unwrap_or(Value::String(row.detail)),
                id: row.id,
                request_id: row.request_id,
                at: row.at,
                actor: row.actor,
                action: row.action,
                content_type: row.content_type,
                entry_id: row.entry_id,
                slug: row.slug,
                locale: row.locale,
            })
            .collect())
    }
}

impl Atomic<'_> {
    /// Records an event about the work as a whole.
    pub async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.store.record_audit(self.txn, event, None).await
    }
}
