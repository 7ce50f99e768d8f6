//! Backups. `katalog backup FILE` writes a consistent snapshot of the
//! whole database while katalog keeps serving; `katalog restore FILE`
//! loads one into an empty database, SQLite or PostgreSQL alike, so a
//! city can move from the embedded database to a server.
//!
//! Decisions:
//!
//! * **One read transaction.** Every table is read in a single snapshot
//!   (PostgreSQL `REPEATABLE READ`; SQLite's WAL gives a reader its
//!   snapshot), so revisions, workflow states and the change log agree.
//!   Writers are not held up.
//! * **A logical, portable file.** Gzip'd JSON lines: a header (format,
//!   katalog version, migrations applied), then each table with its column
//!   names and row count and its rows as arrays, then an end line. Values
//!   are neutral (numbers, text, RFC 3339 times), so a SQLite backup
//!   restores into PostgreSQL. A missing end line or a short table is a
//!   truncated file and is refused.
//! * **Tables are found, not listed.** The tables, their columns and the
//!   order that puts parents before children are read from the database
//!   itself ([`tables`]), so new tables and columns are backed up without
//!   a change here. That is why backup and restore hold the store's
//!   connection and their own transactions, where everything else goes
//!   through the store's operations: they copy tables, not content.
//! * **Restore is all or nothing** into an empty database migrated to this
//!   katalog's schema; a backup from a newer schema is refused. Caches and
//!   the search index rebuild themselves from the restored change log.
//! * The backup file is written beside its final name and renamed into
//!   place, so an interrupted backup never looks like a finished one.

mod tables;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use futures_util::TryStreamExt;
use sea_orm::{AccessMode, ConnectionTrait, DbBackend, IsolationLevel, Statement, StreamTrait, TransactionTrait, Value as SqlValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Store, StoreError};
use tables::{Table, migrations};

pub const FORMAT: &str = "katalog-backup";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}, line {line}: {message}")]
    Malformed { path: String, line: usize, message: String },
    #[error("{path} is not a katalog backup")]
    NotABackup { path: String },
    #[error("{path} is a backup of format version {found}; this katalog reads up to {FORMAT_VERSION}")]
    NewerFormat { path: String, found: u32 },
    #[error("{path} ends early: {detail}; the backup was cut off and is not restored")]
    Truncated { path: String, detail: String },
    #[error("the backup comes from a newer katalog: its database has the migration {0}, which this katalog does not know")]
    NewerSchema(String),
    #[error("restore needs an empty database, but the table {0} has rows")]
    NotEmpty(String),
    #[error("the backup has the table {0}, which this database does not have")]
    UnknownTable(String),
    #[error("the backup has the column {table}.{column}, which this database does not have")]
    UnknownColumn { table: String, column: String },
    #[error("the value {value} does not fit the column {table}.{column}")]
    Value { table: String, column: String, value: String },
    #[error("the tables {0:?} refer to each other in a circle; no order inserts parents first")]
    Cycle(Vec<String>),
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    format_version: u32,
    katalog: String,
    taken_at: DateTime<Utc>,
    migrations: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct TableHeader {
    table: String,
    columns: Vec<String>,
    rows: u64,
}

#[derive(Serialize, Deserialize)]
struct End {
    end: bool,
    tables: usize,
    rows: u64,
}

/// What a backup or restore moved.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub tables: usize,
    pub rows: u64,
}

/// Writes a consistent snapshot of the database to `path`.
pub async fn backup(store: &Store, path: &Path, progress: &indicatif::ProgressBar) -> Result<Summary, BackupError> {
    let db = store.connection();
    let txn = match db.get_database_backend() {
        DbBackend::Postgres => db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?,
        _ => db.begin().await?,
    };
    let backend = db.get_database_backend();
    let migrations = migrations(&txn).await?;
    let tables = tables::tables(&txn).await?;
    let mut counts = Vec::with_capacity(tables.len());
    for table in &tables {
        let row = txn.query_one_raw(Statement::from_string(backend, format!("SELECT COUNT(*) AS n FROM {}", table.name))).await?;
        counts.push(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0) as u64);
    }
    progress.set_length(counts.iter().sum());

    let partial = partial_path(path);
    let io = |source| BackupError::Io { path: partial.display().to_string(), source };
    let mut out = GzEncoder::new(BufWriter::new(File::create(&partial).map_err(io)?), Compression::default());
    let header = Header { format: FORMAT.into(), format_version: FORMAT_VERSION, katalog: env!("CARGO_PKG_VERSION").into(), taken_at: Utc::now(), migrations };
    write_line(&mut out, &header).map_err(io)?;
    let mut total = 0;
    for (table, &rows) in tables.iter().zip(&counts) {
        let names: Vec<String> = table.columns.iter().map(|(name, _)| name.clone()).collect();
        write_line(&mut out, &TableHeader { table: table.name.clone(), columns: names.clone(), rows }).map_err(io)?;
        let order: Vec<String> = (1..=names.len().min(4)).map(|i| i.to_string()).collect();
        let sql = format!("SELECT {} FROM {} ORDER BY {}", quoted(&names), table.name, order.join(", "));
        let mut stream = txn.stream_raw(Statement::from_string(backend, sql)).await?;
        let mut written = 0;
        while let Some(row) = stream.try_next().await? {
            let values = table.columns.iter().map(|(name, kind)| kind.read(&row, name)).collect::<Result<Vec<Value>, _>>()?;
            write_line(&mut out, &values).map_err(io)?;
            written += 1;
            progress.inc(1);
        }
        drop(stream);
        // Inside one snapshot the count cannot change; if it did, the snapshot was not one.
        if written != rows {
            return Err(BackupError::Truncated {
                path: partial.display().to_string(),
                detail: format!("{} had {rows} rows when counted and {written} when read", table.name),
            });
        }
        total += rows;
    }
    write_line(&mut out, &End { end: true, tables: tables.len(), rows: total }).map_err(io)?;
    let file = out.finish().map_err(io)?;
    file.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
    txn.commit().await?;
    std::fs::rename(&partial, path).map_err(|source| BackupError::Io { path: path.display().to_string(), source })?;
    Ok(Summary { tables: tables.len(), rows: total })
}

/// Loads a backup into an empty database, all or nothing.
pub async fn restore(store: &Store, path: &Path, progress: &indicatif::ProgressBar) -> Result<Summary, BackupError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| BackupError::Io { path: shown.clone(), source })?;
    let mut lines = BufReader::new(GzDecoder::new(file)).lines().enumerate();
    let mut next_line = |expected: &str| -> Result<(usize, String), BackupError> {
        match lines.next() {
            Some((index, Ok(line))) => Ok((index + 1, line)),
            Some((0, Err(source))) => Err(BackupError::NotABackup { path: format!("{shown} ({source})") }),
            Some((_, Err(source))) if source.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(BackupError::Truncated { path: shown.clone(), detail: format!("the compressed data stops before {expected}") })
            }
            Some((_, Err(source))) => Err(BackupError::Io { path: shown.clone(), source }),
            None => Err(BackupError::Truncated { path: shown.clone(), detail: format!("expected {expected}") }),
        }
    };
    let (_, first) = next_line("the header")?;
    let header: Header =
        serde_json::from_str(&first).ok().filter(|h: &Header| h.format == FORMAT).ok_or_else(|| BackupError::NotABackup { path: shown.clone() })?;
    if header.format_version > FORMAT_VERSION {
        return Err(BackupError::NewerFormat { path: shown.clone(), found: header.format_version });
    }

    store.migrate().await?;
    let db = store.connection();
    let ours = migrations(db).await?;
    if let Some(unknown) = header.migrations.iter().find(|m| !ours.contains(m)) {
        return Err(BackupError::NewerSchema(unknown.clone()));
    }
    let tables = tables::tables(db).await?;
    for table in &tables {
        let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), format!("SELECT 1 AS found FROM {} LIMIT 1", table.name))).await?;
        if row.is_some() {
            return Err(BackupError::NotEmpty(table.name.clone()));
        }
    }

    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let mut restored = Summary { tables: 0, rows: 0 };
    loop {
        let (number, line) = next_line("the next table or the end")?;
        let malformed = |message: String| BackupError::Malformed { path: shown.clone(), line: number, message };
        if let Ok(end) = serde_json::from_str::<End>(&line) {
            if !end.end || end.tables != restored.tables || end.rows != restored.rows {
                return Err(malformed(format!(
                    "the end line counts {} tables and {} rows; the file held {} and {}",
                    end.tables, end.rows, restored.tables, restored.rows
                )));
            }
            break;
        }
        let section: TableHeader = serde_json::from_str(&line).map_err(|e| malformed(format!("expected a table header: {e}")))?;
        let table = tables.iter().find(|t| t.name == section.table).ok_or_else(|| BackupError::UnknownTable(section.table.clone()))?;
        let kinds = section
            .columns
            .iter()
            .map(|column| {
                table
                    .columns
                    .iter()
                    .find(|(name, _)| name == column)
                    .map(|(_, kind)| *kind)
                    .ok_or_else(|| BackupError::UnknownColumn { table: table.name.clone(), column: column.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Statements stay well below both databases' limits on parameters.
        let batch = (30_000 / section.columns.len().max(1)).clamp(1, 500);
        let mut rows: Vec<Vec<SqlValue>> = Vec::with_capacity(batch);
        for _ in 0..section.rows {
            let (number, line) = next_line(&format!("{} rows of {}", section.rows, section.table))?;
            let values: Vec<Value> = serde_json::from_str(&line).map_err(|e| BackupError::Malformed {
                path: shown.clone(),
                line: number,
                message: format!("expected a row of {}: {e}", section.table),
            })?;
            if values.len() != kinds.len() {
                return Err(BackupError::Malformed {
                    path: shown.clone(),
                    line: number,
                    message: format!("a row of {} has {} values for {} columns", section.table, values.len(), kinds.len()),
                });
            }
            rows.push(
                values
                    .iter()
                    .zip(&kinds)
                    .zip(&section.columns)
                    .map(|((value, kind), column)| kind.bind(value, &table.name, column))
                    .collect::<Result<_, _>>()?,
            );
            if rows.len() == batch {
                insert(&txn, table, &section.columns, std::mem::take(&mut rows)).await?;
            }
            progress.inc(1);
        }
        insert(&txn, table, &section.columns, rows).await?;
        restored.tables += 1;
        restored.rows += section.rows;
    }
    if backend == DbBackend::Postgres {
        for table in &tables {
            if let Some(column) = &table.serial {
                // The next row numbers on from the restored ones.
                let sql =
                    format!("SELECT setval(pg_get_serial_sequence('{0}', '{1}'), COALESCE(MAX({1}), 1), MAX({1}) IS NOT NULL) FROM {0}", table.name, column);
                txn.execute_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
            }
        }
    }
    txn.commit().await?;
    Ok(restored)
}

async fn insert(txn: &sea_orm::DatabaseTransaction, table: &Table, columns: &[String], rows: Vec<Vec<SqlValue>>) -> Result<(), BackupError> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = ConnectionTrait::get_database_backend(txn);
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", table.name, quoted(columns));
    let mut values = Vec::with_capacity(rows.len() * columns.len());
    for (index, row) in rows.into_iter().enumerate() {
        if index > 0 {
            sql.push_str(", ");
        }
        let placeholders: Vec<String> =
            (0..row.len()).map(|i| if backend == DbBackend::Postgres { format!("${}", values.len() + i + 1) } else { "?".to_owned() }).collect();
        sql.push_str(&format!("({})", placeholders.join(", ")));
        values.extend(row);
    }
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

/// Column names quoted, so that names like `table` or `end` are columns.
fn quoted(columns: &[String]) -> String {
    columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}
