//! Applies due schedules: `katalog serve` does so every [`TICK`]. Every process
//! may run it; the store's claim makes each due transition happen once.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::publishing_problems;
use crate::content::{Locale, Registry, document};
use crate::store::{AuditEvent, DueSchedule, Link, ScheduleKind, Store, StoreError, links_of};

/// How often due schedules are looked for: well within the promised second.
pub const TICK: Duration = Duration::from_millis(250);

const ACTOR: &str = "scheduler";

/// Applies every schedule due now; returns how many this process applied.
pub async fn apply_due(store: &Store, registry: &Registry) -> Result<usize, StoreError> {
    let mut applied = 0;
    for due in store.due_schedules(Utc::now(), 100).await? {
        let (problems, links) = match due.kind {
            ScheduleKind::Publish { number } => still_publishable(store, registry, &due, number).await?,
            ScheduleKind::Unpublish => (Vec::new(), Vec::new()),
        };
        let event = |action: &str, detail| AuditEvent {
            request_id: format!("schedule-{}-{}", due.entry_id, due.due_at.timestamp()),
            actor: ACTOR.into(),
            action: action.into(),
            locale: Some(due.locale.code().into()),
            detail,
        };
        if !problems.is_empty() {
            tracing::warn!(entry = %due.slug, locale = %due.locale, ?problems, "scheduled publish dropped: the revision cannot be published");
            store.drop_schedule(&due, &event("schedule.failed", json!({"problems": problems}))).await?;
            continue;
        }
        let action = match due.kind {
            ScheduleKind::Publish { .. } => "entry.publish",
            ScheduleKind::Unpublish => "entry.unpublish",
        };
        if store.apply_schedule(&due, Some(&links), &event(action, json!({"scheduled_for": due.due_at}))).await? {
            tracing::info!(entry = %due.slug, locale = %due.locale, action, "schedule applied");
            applied += 1;
        }
    }
    Ok(applied)
}

/// The checks of a manual publish, repeated at the due time: what was
/// valid when scheduled may not be any more (a referenced office withdrawn).
/// Returns the problems and, when there are none, the document's links.
async fn still_publishable(store: &Store, registry: &Registry, due: &DueSchedule, number: i32) -> Result<(Vec<String>, Vec<Link>), StoreError> {
    let problems = |list: Vec<String>| Ok((list, Vec::new()));
    let Some(content_type) = registry.get(&due.content_type) else {
        return problems(vec![format!("no content type `{}`", due.content_type)]);
    };
    let Some(revision) = store.revision(&due.entry_id, due.locale, number).await? else {
        return problems(vec![format!("revision {number} is gone")]);
    };
    let document = if due.locale.is_source() {
        revision.document
    } else {
        let Some(entry) = store.entry_record(&due.content_type, &due.entry_id).await? else { return problems(vec!["the entry is gone".into()]) };
        let Some(source) = entry.locale(Locale::SOURCE).and_then(|l| l.published_number) else {
            return problems(vec!["the German source is not published".into()]);
        };
        let Some(source) = store.revision(&due.entry_id, Locale::SOURCE, source).await? else {
            return problems(vec!["the source revision is gone".into()]);
        };
        match document::overlay_translation(content_type, &source.document, &revision.document) {
            Ok(merged) => merged,
            Err(violations) => return problems(violations.into_iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect()),
        }
    };
    let found = publishing_problems(store, content_type, &document).await?;
    Ok((found.into_iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect(), links_of(content_type, &document)))
}
