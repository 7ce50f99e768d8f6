//! The one door for work that stands or falls as a whole: an import or a
//! partner sync reads what the database holds, decides, and writes many
//! steps, all in one transaction. Every other operation of the store owns
//! its transaction; callers never hold one.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend};

use super::locks::AdvisoryLock;
use super::{Store, StoreError};

/// The steps work inside [`Store::atomically`] can take; they take effect
/// together when the work succeeds.
pub struct Atomic<'a> {
    pub(super) store: &'a Store,
    pub(super) txn: &'a DatabaseTransaction,
}

impl Store {
    /// Runs `work` in one write transaction, committed when it returns
    /// `Ok` and rolled back when it returns `Err`.
    pub async fn atomically<T, E>(&self, work: impl AsyncFnOnce(&Atomic<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let txn = self.begin_write().await?;
        let outcome = work(&Atomic { store: self, txn: &txn }).await;
        match outcome {
            Ok(value) => {
                txn.commit().await.map_err(StoreError::from)?;
                Ok(value)
            }
            Err(error) => {
                // The work's error says what went wrong; a rollback that
                // fails too (the connection is gone) would only hide it.
                txn.rollback().await.ok();
                Err(error)
            }
        }
    }
}

impl Atomic<'_> {
    /// Makes other imports and syncs wait until this work is done, so what
    /// it read stays true: SQLite has the write lock from the start anyway,
    /// PostgreSQL takes a transaction-scoped advisory lock.
    pub async fn exclude_other_imports(&self) -> Result<(), StoreError> {
        if self.store.backend() == DbBackend::Postgres {
            self.txn.execute_raw(self.store.statement("SELECT pg_advisory_xact_lock(?)", [AdvisoryLock::Import.key().into()])).await?;
        }
        Ok(())
    }
}
