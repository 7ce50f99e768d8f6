//! What a database holds, found at run time: its tables in an order that
//! inserts parents before children, and each column's kind of value. A
//! table or column added by a later migration is backed up without a
//! change here.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value as SqlValue};
use serde_json::Value;

use super::BackupError;

/// The kinds of value katalog's tables hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Integer,
    /// PostgreSQL's 32-bit `integer`, which its driver reads only as such.
    Integer32,
    Real,
    Boolean,
    Timestamp,
    Text,
}

impl Kind {
    /// From a column's declared type, as SQLite or PostgreSQL name it.
    fn of_declared(backend: DbBackend, declared: &str) -> Kind {
        let declared = declared.to_ascii_lowercase();
        if backend == DbBackend::Postgres && (declared == "integer" || declared == "smallint") {
            Kind::Integer32
        } else if declared.contains("timestamp") {
            Kind::Timestamp
        } else if declared.contains("int") || declared.contains("serial") {
            Kind::Integer
        } else if declared.contains("bool") {
            Kind::Boolean
        } else if ["real", "double", "float", "numeric", "decimal"].iter().any(|t| declared.contains(t)) {
            Kind::Real
        } else {
            Kind::Text
        }
    }

    /// A column of a result row as JSON: what a backup file holds.
    pub fn read(self, row: &QueryResult, column: &str) -> Result<Value, BackupError> {
        Ok(match self {
            Kind::Integer => row.try_get::<Option<i64>>("", column)?.map_or(Value::Null, Value::from),
            Kind::Integer32 => row.try_get::<Option<i32>>("", column)?.map_or(Value::Null, Value::from),
            Kind::Real => row.try_get::<Option<f64>>("", column)?.map_or(Value::Null, Value::from),
            Kind::Boolean => row.try_get::<Option<bool>>("", column)?.map_or(Value::Null, Value::from),
            Kind::Timestamp => row
                .try_get::<Option<chrono::DateTime<chrono::Utc>>>("", column)?
                .map_or(Value::Null, |at| Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))),
            Kind::Text => row.try_get::<Option<String>>("", column)?.map_or(Value::Null, Value::from),
        })
    }

    /// A value of a backup file as a parameter for this column.
    pub fn bind(self, value: &Value, table: &str, column: &str) -> Result<SqlValue, BackupError> {
        let wrong = || BackupError::Value { table: table.to_owned(), column: column.to_owned(), value: value.to_string() };
        Ok(match (self, value) {
            (Kind::Integer, Value::Null) => SqlValue::BigInt(None),
            (Kind::Integer, Value::Number(n)) => SqlValue::from(n.as_i64().ok_or_else(wrong)?),
            (Kind::Integer32, Value::Null) => SqlValue::Int(None),
            (Kind::Integer32, Value::Number(n)) => SqlValue::from(n.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(wrong)?),
            (Kind::Real, Value::Null) => SqlValue::Double(None),
            (Kind::Real, Value::Number(n)) => SqlValue::from(n.as_f64().ok_or_else(wrong)?),
            (Kind::Boolean, Value::Null) => SqlValue::Bool(None),
            (Kind::Boolean, Value::Bool(b)) => SqlValue::from(*b),
            (Kind::Timestamp, Value::Null) => SqlValue::ChronoDateTimeUtc(None),
            (Kind::Timestamp, Value::String(text)) => {
                let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| wrong())?.with_timezone(&chrono::Utc);
                SqlValue::from(at)
            }
            (Kind::Text, Value::Null) => SqlValue::String(None),
            (Kind::Text, Value::String(text)) => SqlValue::from(text.clone()),
            _ => return Err(wrong()),
        })
    }
}

/// A table and its columns, in declaration order.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<(String, Kind)>,
    /// The column PostgreSQL numbers from a sequence (identity or serial), to move on after a restore.
    pub serial: Option<String>,
}

/// The tables katalog made (not the migration bookkeeping), parents first.
pub async fn tables(db: &impl ConnectionTrait) -> Result<Vec<Table>, BackupError> {
    let backend = db.get_database_backend();
    let names: Vec<String> = match backend {
        DbBackend::Postgres => {
            strings(db, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'", "name")
                .await?
        }
        _ => strings(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", "name").await?,
    };
    let names: BTreeSet<String> = names.into_iter().filter(|n| n != "seaql_migrations").collect();
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut described = BTreeMap::new();
    for name in &names {
        let (columns, serial) = columns(db, name).await?;
        let referenced = match backend {
            DbBackend::Postgres => {
                let sql = format!(
                    "SELECT DISTINCT ccu.table_name AS parent FROM information_schema.table_constraints tc \
                     JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name AND tc.table_schema = ccu.table_schema \
                     WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() AND tc.table_name = '{name}'"
                );
                strings(db, &sql, "parent").await?
            }
            _ => strings(db, &format!("SELECT DISTINCT \"table\" AS parent FROM pragma_foreign_key_list('{name}')"), "parent").await?,
        };
        parents.insert(name.clone(), referenced.into_iter().filter(|p| p != name).collect());
        described.insert(name.clone(), Table { name: name.clone(), columns, serial });
    }
    // Parents first; among equals, by name, so that every backup of the same data is the same.
    let mut ordered = Vec::new();
    let mut placed = BTreeSet::new();
    while placed.len() < names.len() {
        let ready: Vec<String> =
            names.iter().filter(|n| !placed.contains(*n) && parents[*n].iter().all(|p| placed.contains(p) || !names.contains(p))).cloned().collect();
        if ready.is_empty() {
            return Err(BackupError::Cycle(names.difference(&placed).cloned().collect()));
        }
        for name in ready {
            placed.insert(name.clone());
            ordered.push(described.remove(&name).expect("described above"));
        }
    }
    Ok(ordered)
}

async fn columns(db: &impl ConnectionTrait, table: &str) -> Result<(Vec<(String, Kind)>, Option<String>), BackupError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT column_name AS name, data_type AS declared, \
             CASE WHEN is_identity = 'YES' OR column_default LIKE 'nextval(%' THEN 'numbered' END AS numbered FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
        ),
        _ => format!("SELECT name, type AS declared, NULL AS numbered FROM pragma_table_info('{table}') ORDER BY cid"),
    };
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await?;
    let mut columns = Vec::new();
    let mut serial = None;
    for row in &rows {
        let name: String = row.try_get("", "name")?;
        let declared: String = row.try_get("", "declared")?;
        let numbered: Option<String> = row.try_get("", "numbered")?;
        if numbered.is_some() {
            serial = Some(name.clone());
        }
        columns.push((name, Kind::of_declared(backend, &declared)));
    }
    Ok((columns, serial))
}

async fn strings(db: &impl ConnectionTrait, sql: &str, column: &str) -> Result<Vec<String>, BackupError> {
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await?;
    rows.iter().map(|row| Ok(row.try_get::<String>("", column)?)).collect()
}

/// The migrations applied to a database, oldest first.
pub async fn migrations(db: &impl ConnectionTrait) -> Result<Vec<String>, BackupError> {
    strings(db, "SELECT version FROM seaql_migrations ORDER BY version", "version").await
}

#[cfg(test)]
mod tests {
    use super::Kind;
    const POSTGRES: sea_orm::DbBackend = sea_orm::DbBackend::Postgres;
    const SQLITE: sea_orm::DbBackend = sea_orm::DbBackend::Sqlite;

    #[test]
    fn declared_types_of_both_databases_have_kinds() {
        assert_eq!(Kind::of_declared(SQLITE, "timestamp_with_timezone_text"), Kind::Timestamp);
        assert_eq!(Kind::of_declared(POSTGRES, "timestamp with time zone"), Kind::Timestamp);
        assert_eq!(Kind::of_declared(SQLITE, "INTEGER"), Kind::Integer);
        assert_eq!(Kind::of_declared(POSTGRES, "integer"), Kind::Integer32);
        assert_eq!(Kind::of_declared(POSTGRES, "bigint"), Kind::Integer);
        assert_eq!(Kind::of_declared(POSTGRES, "character varying"), Kind::Text);
        assert_eq!(Kind::of_declared(SQLITE, "varchar"), Kind::Text);
        assert_eq!(Kind::of_declared(POSTGRES, "boolean"), Kind::Boolean);
        assert_eq!(Kind::of_declared(POSTGRES, "double precision"), Kind::Real);
    }
}
