//! The audit log: who did what, when, in which request. Events are written
//! in the same transaction as the change they describe.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value as SqlValue};
use serde_json::Value;

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
    pub(crate) async fn record_audit(&self, db: &impl ConnectionTrait, event: &AuditEvent, subject: Option<EntryRef<'_>>) -> Result<(), StoreError> {
        let values: [SqlValue; 9] = [
            event.request_id.clone().into(),
            Utc::now().into(),
            event.actor.clone().into(),
            event.action.clone().into(),
            subject.as_ref().map(|s| s.content_type.to_owned()).into(),
            subject.as_ref().map(|s| s.entry_id.to_owned()).into(),
            subject.as_ref().map(|s| s.slug.to_owned()).into(),
            event.locale.clone().into(),
            event.detail.to_string().into(),
        ];
        db.execute_raw(self.statement(
            "INSERT INTO audit_events (request_id, at, actor, action, content_type, entry_id, slug, locale, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        ))
        .await?;
        Ok(())
    }

    /// Records an event that belongs to no transaction of its own (imports).
    pub async fn record_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.record_audit(&self.db, event, None).await
    }

    /// Events newest first, of one entry or of everything, before an id
    /// (keyset pagination).
    pub async fn audit_events(&self, entry_id: Option<&str>, before: Option<i64>, limit: u64) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = String::from("SELECT id, request_id, at, actor, action, content_type, entry_id, slug, locale, detail FROM audit_events WHERE id < ?");
        let mut values: Vec<SqlValue> = vec![before.unwrap_or(i64::MAX).into()];
        if let Some(entry_id) = entry_id {
            sql.push_str(" AND entry_id = ?");
            values.push(entry_id.into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        values.push((limit as i64).into());
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("", "detail")?;
                Ok(AuditRecord {
                    id: row.try_get("", "id")?,
                    request_id: row.try_get("", "request_id")?,
                    at: row.try_get("", "at")?,
                    actor: row.try_get("", "actor")?,
                    action: row.try_get("", "action")?,
                    content_type: row.try_get("", "content_type")?,
                    entry_id: row.try_get("", "entry_id")?,
                    slug: row.try_get("", "slug")?,
                    locale: row.try_get("", "locale")?,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
                })
            })
            .collect()
    }
}
