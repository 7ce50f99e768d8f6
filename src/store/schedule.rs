//! Scheduled publishing and withdrawal. Schedules live in the
//! publications table, so they survive restarts; applying one claims its
//! row, so with several servers on one PostgreSQL each happens once.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Value as SqlValue};

use super::audit::{AuditEvent, EntryRef};
use super::editorial::{EditError, EntryRecord, subject};
use super::publishing::{Going, LiveChange, Subject, Withdrawal};
use super::{Store, StoreError};
use crate::content::Locale;
use crate::workflow::{Approved, State};

/// A schedule whose time has come.
#[derive(Clone, Debug)]
pub struct DueSchedule {
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
    pub locale: Locale,
    pub kind: ScheduleKind,
    pub due_at: DateTime<Utc>,
}

impl DueSchedule {
    fn entry_ref(&self) -> EntryRef<'_> {
        EntryRef { content_type: &self.content_type, entry_id: &self.entry_id, slug: &self.slug }
    }
}

/// Schedules set and due, for metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScheduleCounts {
    pub pending: i64,
    pub due: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    Publish { number: i32 },
    Unpublish,
}

impl Store {
    /// Sets or clears the schedule of one locale (`None` clears).
    pub async fn set_schedule(
        &self,
        entry: &EntryRecord,
        locale: Locale,
        publish: Option<(DateTime<Utc>, i32)>,
        unpublish_at: Option<DateTime<Utc>>,
        audit: &AuditEvent,
    ) -> Result<(), EditError> {
        let txn = self.begin_write().await?;
        let values: [SqlValue; 6] =
            [publish.map(|p| p.0).into(), publish.map(|p| p.1).into(), unpublish_at.into(), Utc::now().into(), entry.id.clone().into(), locale.code().into()];
        let updated = txn
            .execute_raw(self.statement(
                "UPDATE publications SET publish_at = ?, scheduled_number = ?, unpublish_at = ?, updated_at = ? WHERE entry_id = ? AND locale = ?",
                values,
            ))
            .await?;
        if updated.rows_affected() != 1 {
            return Err(EditError::NotFound);
        }
        self.record_audit(&*txn, audit, Some(subject(entry))).await?;
        txn.commit().await?;
        Ok(())
    }

    /// How many publish or withdrawal schedules are set, and how many of
    /// them are due at `now` (waiting for the scheduler).
    pub async fn schedule_counts(&self, now: DateTime<Utc>) -> Result<ScheduleCounts, StoreError> {
        let sql = "SELECT \
             COALESCE(SUM(CASE WHEN p.publish_at IS NOT NULL THEN 1 ELSE 0 END + CASE WHEN p.unpublish_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS pending, \
             COALESCE(SUM(CASE WHEN p.publish_at <= ? THEN 1 ELSE 0 END + CASE WHEN p.unpublish_at <= ? THEN 1 ELSE 0 END), 0) AS due \
             FROM publications p JOIN entries e ON e.id = p.entry_id WHERE e.trashed_at IS NULL";
        let row = self.db.query_one_raw(self.statement(sql, [now.into(), now.into()])).await?;
        let count = |column: &str| -> Result<i64, StoreError> { Ok(row.as_ref().map(|row| row.try_get::<i64>("", column)).transpose()?.unwrap_or(0)) };
        Ok(ScheduleCounts { pending: count("pending")?, due: count("due")? })
    }

    /// Schedules due at `now`, oldest first.
    pub async fn due_schedules(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<DueSchedule>, StoreError> {
        let sql = "SELECT p.entry_id, e.content_type, e.slug, p.locale, p.publish_at, p.scheduled_number, p.unpublish_at \
             FROM publications p JOIN entries e ON e.id = p.entry_id \
             WHERE e.trashed_at IS NULL AND ((p.publish_at IS NOT NULL AND p.publish_at <= ?) OR (p.unpublish_at IS NOT NULL AND p.unpublish_at <= ?)) \
             LIMIT ?";
        let rows = self.db.query_all_raw(self.statement(sql, [now.into(), now.into(), (limit as i64).into()])).await?;
        let mut due = Vec::new();
        for row in rows {
            let locale: String = row.try_get("", "locale")?;
            let Some(locale) = Locale::parse(&locale) else { continue };
            let base = |kind, due_at| -> Result<DueSchedule, StoreError> {
                Ok(DueSchedule {
                    entry_id: row.try_get("", "entry_id")?,
                    content_type: row.try_get("", "content_type")?,
                    slug: row.try_get("", "slug")?,
                    locale,
                    kind,
                    due_at,
                })
            };
            let publish_at: Option<DateTime<Utc>> = row.try_get("", "publish_at")?;
            let number: Option<i32> = row.try_get("", "scheduled_number")?;
            if let (Some(at), Some(number)) = (publish_at.filter(|at| *at <= now), number) {
                due.push(base(ScheduleKind::Publish { number }, at)?);
            }
            let unpublish_at: Option<DateTime<Utc>> = row.try_get("", "unpublish_at")?;
            if let Some(at) = unpublish_at.filter(|at| *at <= now) {
                due.push(base(ScheduleKind::Unpublish, at)?);
            }
        }
        due.sort_by_key(|d| d.due_at);
        Ok(due)
    }

    /// Applies a due schedule if it is still set (nobody applied, changed
    /// or cleared it meanwhile). Returns whether this call applied it. A
    /// due publish takes the revision the check approved at the due time.
    pub async fn apply_schedule(&self, due: &DueSchedule, approved: Option<Approved>, audit: &AuditEvent) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let column = match due.kind {
            ScheduleKind::Publish { .. } => "publish_at",
            ScheduleKind::Unpublish => "unpublish_at",
        };
        // The claim: the row still carries this schedule. On PostgreSQL the
        // row lock makes a second server wait, re-check and find nothing.
        let lock = if self.backend() == DbBackend::Postgres { " FOR UPDATE" } else { "" };
        let claimed = txn
            .query_one_raw(self.statement(
                &format!(
                    "SELECT state, published_number, \
                     (SELECT MAX(number) FROM revisions r WHERE r.entry_id = p.entry_id AND r.locale = p.locale) AS latest_number \
                     FROM publications p WHERE entry_id = ? AND locale = ? AND {column} = ?{lock}"
                ),
                [due.entry_id.clone().into(), due.locale.code().into(), due.due_at.into()],
            ))
            .await?;
        let Some(claimed) = claimed else { return Ok(false) };
        let live: Option<i32> = claimed.try_get("", "published_number")?;
        let latest: Option<i32> = claimed.try_get("", "latest_number")?;
        let state: State = claimed.try_get::<String>("", "state")?.parse().unwrap_or(State::Draft);
        let now = Utc::now();
        let subject = Subject::of_ref(due.entry_ref());
        let change = match (due.kind, approved) {
            (ScheduleKind::Publish { number }, Some(approved))
                if approved.number() == number && approved.entry_id() == due.entry_id && approved.locale() == due.locale =>
            {
                // Publishing the newest revision ends its review; an older one leaves the newer draft as it is.
                let state = if latest == Some(number) { State::Published } else { state };
                Some(LiveChange { subject, state, going: Going::Live(approved) })
            }
            (ScheduleKind::Publish { .. }, _) => return Err(StoreError::Unchecked),
            (ScheduleKind::Unpublish, _) => {
                let state = if state == State::Published { State::Draft } else { state };
                live.map(|was| LiveChange { subject, state, going: Going::Off { locale: due.locale, was, why: Withdrawal::Unpublish } })
            }
        };
        txn.execute_raw(self.statement(
            &format!(
                "UPDATE publications SET {column} = NULL{}, updated_at = ? WHERE entry_id = ? AND locale = ?",
                if column == "publish_at" { ", scheduled_number = NULL" } else { "" }
            ),
            [now.into(), due.entry_id.clone().into(), due.locale.code().into()],
        ))
        .await?;
        if let Some(change) = change {
            self.apply_live_changes(&txn, vec![change]).await?;
        }
        self.record_audit(&*txn, audit, Some(due.entry_ref())).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Drops a due publish that can no longer go live (its document or
    /// references fail the checks), recording why.
    pub async fn drop_schedule(&self, due: &DueSchedule, audit: &AuditEvent) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        txn.execute_raw(self.statement(
            "UPDATE publications SET publish_at = NULL, scheduled_number = NULL, updated_at = ? WHERE entry_id = ? AND locale = ? AND publish_at = ?",
            [Utc::now().into(), due.entry_id.clone().into(), due.locale.code().into(), due.due_at.into()],
        ))
        .await?;
        self.record_audit(&*txn, audit, Some(due.entry_ref())).await?;
        txn.commit().await?;
        Ok(())
    }
}
