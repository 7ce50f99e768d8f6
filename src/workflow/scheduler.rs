//! Applies due schedules: `katalog serve` does so every [`TICK`]. Every process
//! may run it; the store's claim makes each due transition happen once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::publishing::{self, Approved, PublishError};
use crate::content::Registry;
use crate::store::{AuditEvent, DueSchedule, ScheduleKind, Store, StoreError};

/// How often due schedules are looked for: well within the promised second.
pub const TICK: Duration = Duration::from_millis(250);

const ACTOR: &str = "scheduler";

/// Applies every schedule due by `now` (the server's clock); returns how
/// many this process applied.
pub async fn apply_due(store: &Store, registry: &Registry, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut applied = 0;
    for due in store.due_schedules(now, 100).await? {
        let event = |action: &str, detail| AuditEvent {
            request_id: format!("schedule-{}-{}", due.entry_id, due.due_at.timestamp()),
            actor: ACTOR.into(),
            action: action.into(),
            locale: Some(due.locale.code().into()),
            detail,
        };
        // What was valid when scheduled may not be any more (a referenced
        // office withdrawn): the check of a manual publish, again.
        let approved = match due.kind {
            ScheduleKind::Publish { number } => match still_publishable(store, registry, &due, number).await? {
                Ok(approved) => Some(approved),
                Err(problems) => {
                    tracing::warn!(entry = %due.slug, locale = %due.locale, ?problems, "scheduled publish dropped: the revision cannot be published");
                    store.drop_schedule(&due, &event("schedule.failed", json!({"problems": problems}))).await?;
                    continue;
                }
            },
            ScheduleKind::Unpublish => None,
        };
        let action = match due.kind {
            ScheduleKind::Publish { .. } => "entry.publish",
            ScheduleKind::Unpublish => "entry.unpublish",
        };
        if store.apply_schedule(&due, approved, &event(action, json!({"scheduled_for": due.due_at}))).await? {
            tracing::info!(entry = %due.slug, locale = %due.locale, action, "schedule applied");
            applied += 1;
        }
    }
    Ok(applied)
}

/// The publishing check of a due revision; its problems in words.
async fn still_publishable(store: &Store, registry: &Registry, due: &DueSchedule, number: i32) -> Result<Result<Approved, Vec<String>>, StoreError> {
    let Some(content_type) = registry.get(&due.content_type) else {
        return Ok(Err(vec![format!("no content type `{}`", due.content_type)]));
    };
    let Some(entry) = store.entry_record(&due.content_type, &due.entry_id).await? else { return Ok(Err(vec!["the entry is gone".into()])) };
    match publishing::check(store, content_type, &entry, due.locale, Some(number)).await {
        Ok(approved) => Ok(Ok(approved)),
        Err(PublishError::Store(error)) => Err(error),
        Err(PublishError::Invalid(violations)) => Ok(Err(violations.into_iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect())),
        Err(other) => Ok(Err(vec![other.to_string()])),
    }
}
