//! Storage on SQLite (the embedded default) or PostgreSQL, through sea-orm.
//!
//! Tables: `entries` (identity), `revisions` (immutable, append-only),
//! `publications` (workflow state per entry and locale) and `changes` (the
//! ordered change log every consumer reads with a cursor), and the webhook
//! outbox fed from it; `partners` and `upstream_*` hold partner
//! subscriptions and the upstream identity of what they brought.
//! Every difference between the two databases lives in this module.
//! Each operation owns its transaction; work that composes several steps
//! into one (an import, a partner sync) goes through [`Store::atomically`].

mod atomic;
mod audit;
mod editorial;
pub mod entity;
mod links;
mod locks;
pub mod migration;
mod partners;
mod publishing;
mod read;
mod retention;
mod schedule;
mod sessions;
mod tokens;
mod webhooks;
mod worklist;
mod write;

use std::path::Path;
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    Value as SqlValue,
};
use sea_orm_migration::MigratorTrait;

pub use atomic::Atomic;
pub use audit::{AuditEvent, AuditRecord, EntryRef};
pub use editorial::{EditError, EntryRecord, LocaleRecord, NewRevision, RevisionRecord, Step};
pub use links::{Link, links_of};
pub use partners::{Conflict, ConflictRow, PartnerRecord, SyncRecord, UpstreamEntry, UpstreamEntryRow, UpstreamRevision, UpstreamRevisionRow};
pub use publishing::{Going, LiveChange, Subject, Withdrawal};
pub use read::{ChangeRow, ListFilter, ListPage, Localised, PublishedEntry, PublishedRevision, localise, translated_fields};
pub use retention::{Pruned, Retention};
pub use schedule::{DueSchedule, ScheduleCounts, ScheduleKind};
pub use sessions::EditorSession;
pub use tokens::{StoredToken, TokenInfo};
pub use webhooks::{AttemptOutcome, Delivery, EVENTS as WEBHOOK_EVENTS, Subscription};
pub use worklist::{QualityRow, WorkItem, WorkList, WorkListFilter, WorkListSort};
pub use write::{ImportBaseline, KnownEntry, WriteBatch};

/// The database used when none is configured: one file, zero set-up.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/katalog.db";

/// Whether [`Store::connect`] can open `url`.
pub fn is_supported_url(url: &str) -> bool {
    ["sqlite:", "postgres://", "postgresql://"].iter().any(|scheme| url.starts_with(scheme))
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot create the database folder {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored document of {entry} ({locale}) is not valid JSON: {source}")]
    CorruptDocument { entry: String, locale: String, source: serde_json::Error },
    #[error("a revision was to go live without passing the publishing check")]
    Unchecked,
}

#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// Write transactions this process committed; see [`Store::commits`].
    commits: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Store {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let mut options = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            let in_memory = path.is_empty() || path == ":memory:";
            if !in_memory && let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder { path: parent.display().to_string(), source })?;
            }
            let mut options = ConnectOptions::new(if in_memory { "sqlite::memory:".to_owned() } else { format!("sqlite://{path}?mode=rwc") });
            // Every connection of an in-memory pool would see its own empty database.
            options.max_connections(if in_memory { 1 } else { 8 });
            options.map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                o.journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Normal).foreign_keys(true).busy_timeout(Duration::from_secs(10))
            });
            options
        } else if is_supported_url(url) {
            let mut options = ConnectOptions::new(url.to_owned());
            options.max_connections(16);
            options
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        options.sqlx_logging(false).connect_timeout(Duration::from_secs(10));
        let db = Database::connect(options).await?;
        Ok(Store { db, commits: std::sync::Arc::new(tokio::sync::watch::channel(0).0) })
    }

    /// Brings the schema up to date; safe to run on every start, and by
    /// several instances at once: the migrations run in one transaction
    /// that first takes the database's write lock, so a second instance
    /// waits and then finds nothing left to do instead of racing to create
    /// the same tables. Migrations only go forward: there is no way down.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let transaction = match self.backend() {
            DbBackend::Sqlite => {
                // IMMEDIATE takes the write lock at BEGIN; a second process
                // waits for it within the busy timeout.
                let options = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
                self.db.begin_with_options(options).await?
            }
            _ => {
                let transaction = self.db.begin().await?;
                // PostgreSQL DDL is transactional; the advisory lock is
                // released with the transaction, whatever happens to it.
                transaction
                    .execute_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT pg_advisory_xact_lock($1)",
                        [locks::AdvisoryLock::Migration.key().into()],
                    ))
                    .await?;
                transaction
            }
        };
        migration::Migrator::up(&transaction, None).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Migrations this binary knows that the database has not applied.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(migration::Migrator::get_pending_migrations(&self.db).await?.len())
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The connection itself, for backup and restore only: they copy every
    /// table generically, whatever it holds. Everything else goes through
    /// the store's operations.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// Number of entries per content type (for reports and health).
    pub async fn count_entries(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            self.db.query_all_raw(self.statement("SELECT content_type, COUNT(*) AS n FROM entries GROUP BY content_type ORDER BY content_type", [])).await?;
        rows.iter().map(|row| Ok((row.try_get("", "content_type")?, row.try_get("", "n")?))).collect()
    }

    /// A statement written with `?` placeholders (outside quoted literals),
    /// numbered `$1, $2, …` for PostgreSQL.
    pub(super) fn statement(&self, sql: &str, values: impl IntoIterator<Item = SqlValue>) -> Statement {
        let backend = self.backend();
        let sql = if backend == DbBackend::Postgres { number_placeholders(sql) } else { sql.to_owned() };
        Statement::from_sql_and_values(backend, sql, values)
    }

    /// The condition that finds an entry of `e` by id or slug. Slugs are
    /// never shaped like ids, so the key says which it is, and each form
    /// uses its own index (an `OR` of both would scan the table).
    pub(super) fn entry_key(id_or_slug: &str) -> (&'static str, SqlValue) {
        if uuid::Uuid::try_parse(id_or_slug).is_ok() { ("e.id = ?", id_or_slug.into()) } else { ("e.slug = ?", id_or_slug.into()) }
    }

    /// `ORDER BY`/comparison suffix that makes slug order plain byte order
    /// on both databases (PostgreSQL would otherwise use the locale's
    /// collation, which ignores hyphens).
    pub(super) fn byte_order(&self) -> &'static str {
        if self.backend() == DbBackend::Postgres { " COLLATE \"C\"" } else { "" }
    }
}

fn number_placeholders(sql: &str) -> String {
    let mut numbered = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted: Option<char> = None;
    for c in sql.chars() {
        match (quoted, c) {
            (None, '\'' | '"') => quoted = Some(c),
            (Some(q), _) if c == q => quoted = None,
            (None, '?') => {
                n += 1;
                numbered.push_str(&format!("${n}"));
                continue;
            }
            _ => {}
        }
        numbered.push(c);
    }
    numbered
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(super::number_placeholders("a = ? AND b = '?' AND c = ?"), "a = $1 AND b = '?' AND c = $2");
        assert_eq!(super::number_placeholders(r#"x COLLATE "C" > ?"#), r#"x COLLATE "C" > $1"#);
    }
}
