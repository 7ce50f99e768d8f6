//! Retention: audit events and superseded revisions older than a
//! configured age are deleted, so the history does not grow forever.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Store, StoreError};

/// How long history is kept; `None` keeps it forever (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Audit events older than this many days go.
    pub audit_days: Option<u32>,
    /// Revisions superseded by a newer one of their locale more than this
    /// many days ago go, unless something still points to them.
    pub revision_days: Option<u32>,
}

impl Retention {
    pub fn keeps_everything(&self) -> bool {
        self.audit_days.is_none() && self.revision_days.is_none()
    }
}

/// What one pruning removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub revisions: u64,
    pub audit_events: u64,
}

/// A revision goes only when a newer revision of its entry and locale was
/// made before the cutoff (so the newest always stays) and nothing points
/// to it: not the published or scheduled revision of its publication, not
/// the source a translation was made from (`source_number` names a number
/// of another locale of the same entry), not the local revision partner
/// bookkeeping compares upstream changes against. The change log's
/// `revision_number` is history only: nothing reads a revision through it.
const PRUNE_REVISIONS: &str = "DELETE FROM revisions \
     WHERE EXISTS (SELECT 1 FROM revisions newer WHERE newer.entry_id = revisions.entry_id AND newer.locale = revisions.locale \
                   AND newer.number > revisions.number AND newer.created_at < ?) \
     AND NOT EXISTS (SELECT 1 FROM publications p WHERE p.entry_id = revisions.entry_id AND p.locale = revisions.locale \
                     AND (p.published_number = revisions.number OR p.scheduled_number = revisions.number)) \
     AND NOT EXISTS (SELECT 1 FROM revisions t WHERE t.entry_id = revisions.entry_id AND t.locale <> revisions.locale \
                     AND t.source_number = revisions.number) \
     AND NOT EXISTS (SELECT 1 FROM upstream_revisions u WHERE u.entry_id = revisions.entry_id AND u.locale = revisions.locale \
                     AND u.number = revisions.number)";

impl Store {
    /// Deletes what `retention` no longer keeps, as of `now`, in one
    /// transaction.
    pub async fn prune(&self, retention: Retention, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        let cutoff = |days: u32| now - Duration::days(i64::from(days));
        let transaction = self.db.begin().await?;
        let mut pruned = Pruned::default();
        if let Some(days) = retention.revision_days {
            pruned.revisions = transaction.execute_raw(self.statement(PRUNE_REVISIONS, [cutoff(days).into()])).await?.rows_affected();
        }
        if let Some(days) = retention.audit_days {
            pruned.audit_events =
                transaction.execute_raw(self.statement("DELETE FROM audit_events WHERE at < ?", [cutoff(days).into()])).await?.rows_affected();
        }
        transaction.commit().await?;
        Ok(pruned)
    }
}
