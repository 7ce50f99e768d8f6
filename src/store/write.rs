//! Appending revisions, publishing them and recording the changes, in
//! batches inside one transaction.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::NotSet, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, IntoActiveModel, Iterable, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use tokio::sync::watch;

use super::atomic::Atomic;
use super::entity::{change, entry, publication, revision};
use super::locks::AdvisoryLock;
use super::publishing::LiveChange;
use super::{Store, StoreError};
use crate::content::Locale;

/// A transaction of [`Store::begin_write`]: the database's own, whose
/// commit is counted in [`Store::commits`].
pub(super) struct WriteTransaction {
    txn: DatabaseTransaction,
    commits: Arc<watch::Sender<u64>>,
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTransaction {
    pub(super) async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        self.commits.send_modify(|count| *count += 1);
        Ok(())
    }

    /// Commits bookkeeping that changes no content, without waking
    /// whoever waits for [`Store::commits`].
    pub(super) async fn commit_quietly(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub(super) async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// What the database already holds, loaded once before an import so that
/// unchanged files are recognised without a query per file.
#[derive(Debug, Default)]
pub struct ImportBaseline {
    pub entries: HashMap<(String, String), KnownEntry>,
    /// Latest revision (number, content hash) per entry id and locale.
    pub latest: HashMap<(String, Locale), (i32, String)>,
    /// The live revision per entry id and locale.
    pub published: HashMap<(String, Locale), i32>,
    /// Entries whose German source is live, by type and slug.
    pub live: HashSet<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct KnownEntry {
    pub id: String,
}

/// Rows to write together. Rows within one kind are inserted with one
/// statement per few hundred rows.
#[derive(Debug, Default)]
pub struct WriteBatch {
    pub new_entries: Vec<entry::Model>,
    /// (entry id, revisions added, time) of existing entries that got new
    /// revisions; versions are incremented, never set, so no increment is lost.
    pub version_updates: Vec<(String, i64, chrono::DateTime<chrono::Utc>)>,
    pub revisions: Vec<revision::Model>,
    /// The workflow state of locales with new revisions; what is live
    /// stays live unless `live` says otherwise.
    pub publications: Vec<publication::Model>,
    /// Revisions going live, through the one publishing step.
    pub live: Vec<LiveChange>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty() && self.new_entries.is_empty() && self.live.is_empty()
    }
}

/// Bind parameters per multi-row INSERT. Far below the databases' limits:
/// on PostgreSQL the cost per row grows with the statement's size (2,000
/// links took 450 ms in 200-row statements and 42 ms in 25-row ones).
const PARAMETERS_PER_STATEMENT: usize = 200;

/// Revisions carry whole documents: their statements are dominated by the
/// text, not the parameter count, and fewer round trips win.
const REVISIONS_PER_STATEMENT: usize = 100;

/// Rows per statement with `parameters` bind parameters per row.
pub(super) fn rows_per_statement(parameters: usize) -> usize {
    (PARAMETERS_PER_STATEMENT / parameters).max(1)
}

/// Rows per INSERT into the table of `E`.
pub(super) fn rows_per_insert<E: EntityTrait>() -> usize {
    rows_per_statement(E::Column::iter().count())
}

impl Atomic<'_> {
    /// What the database holds, to plan an import against.
    pub async fn baseline(&self) -> Result<ImportBaseline, StoreError> {
        let (store, txn) = (self.store, self.txn);
        let mut baseline = ImportBaseline::default();
        for row in txn.query_all_raw(store.statement("SELECT id, content_type, slug FROM entries", [])).await? {
            baseline.entries.insert((row.try_get("", "content_type")?, row.try_get("", "slug")?), KnownEntry { id: row.try_get("", "id")? });
        }
        let latest = "SELECT r.entry_id, r.locale, r.number, r.content_hash FROM revisions r \
            JOIN (SELECT entry_id, locale, MAX(number) AS number FROM revisions GROUP BY entry_id, locale) m \
            ON m.entry_id = r.entry_id AND m.locale = r.locale AND m.number = r.number";
        for row in txn.query_all_raw(store.statement(latest, [])).await? {
            let locale: String = row.try_get("", "locale")?;
            let Some(locale) = Locale::parse(&locale) else { continue };
            baseline.latest.insert((row.try_get("", "entry_id")?, locale), (row.try_get("", "number")?, row.try_get("", "content_hash")?));
        }
        let published = "SELECT e.id, e.content_type, e.slug, p.locale, p.published_number FROM publications p \
            JOIN entries e ON e.id = p.entry_id WHERE p.published_number IS NOT NULL";
        for row in txn.query_all_raw(store.statement(published, [])).await? {
            let locale: String = row.try_get("", "locale")?;
            let Some(locale) = Locale::parse(&locale) else { continue };
            if locale.is_source() {
                baseline.live.insert((row.try_get("", "content_type")?, row.try_get("", "slug")?));
            }
            baseline.published.insert((row.try_get("", "id")?, locale), row.try_get("", "published_number")?);
        }
        Ok(baseline)
    }

    /// Writes a batch; it takes effect when the work succeeds.
    pub async fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.store.write_batch(self.txn, batch).await
    }
}

impl Store {
    /// A transaction that writes from its first statement: on SQLite it
    /// takes the write lock at BEGIN, so what it reads stays true until
    /// commit (a deferred one could read, then fail to upgrade).
    pub(super) async fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        let options = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
        Ok(WriteTransaction { txn: self.db.begin_with_options(options).await?, commits: self.commits.clone() })
    }

    /// Counts the write transactions this process committed, and wakes
    /// whoever waits for the next one (the change feed): every write of
    /// content ends in one, whichever path made it.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    async fn write_batch(&self, txn: &DatabaseTransaction, batch: WriteBatch) -> Result<(), StoreError> {
        for rows in batch.new_entries.chunks(rows_per_insert::<entry::Entity>()) {
            let models = rows.iter().cloned().map(IntoActiveModel::into_active_model);
            entry::Entity::insert_many(models).exec_without_returning(txn).await?;
        }
        for (id, added, at) in batch.version_updates {
            txn.execute_raw(self.statement("UPDATE entries SET version = version + ?, updated_at = ? WHERE id = ?", [added.into(), at.into(), id.into()]))
                .await?;
        }
        for rows in batch.revisions.chunks(REVISIONS_PER_STATEMENT) {
            let models = rows.iter().cloned().map(IntoActiveModel::into_active_model);
            revision::Entity::insert_many(models).exec_without_returning(txn).await?;
        }
        for rows in batch.publications.chunks(rows_per_insert::<publication::Entity>()) {
            let models = rows.iter().cloned().map(IntoActiveModel::into_active_model);
            publication::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([publication::Column::EntryId, publication::Column::Locale])
                        .update_columns([publication::Column::State, publication::Column::UpdatedAt])
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        self.apply_live_changes(txn, batch.live).await
    }

    /// Appends to the change log. On PostgreSQL a transaction-scoped lock
    /// serialises appenders, so sequence numbers are handed out in commit
    /// order and a reader's cursor never skips a change that commits late.
    /// (SQLite has a single writer anyway.)
    pub(super) async fn append_changes(&self, txn: &DatabaseTransaction, changes: Vec<change::Model>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        if self.backend() == DbBackend::Postgres {
            txn.execute_raw(self.statement("SELECT pg_advisory_xact_lock(?)", [AdvisoryLock::ChangeLog.key().into()])).await?;
        }
        for rows in changes.chunks(rows_per_insert::<change::Entity>()) {
            // The sequence number is the database's to hand out.
            let models = rows.iter().cloned().map(|change| change::ActiveModel { seq: NotSet, ..change.into_active_model() });
            change::Entity::insert_many(models).exec_without_returning(txn).await?;
        }
        Ok(())
    }
}
