//! Reading published content.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Value as SqlValue};
use serde_json::Value;

use super::entity::change;
use super::{Store, StoreError};
use crate::content::{Audience, ContentType, Locale, document};

/// A published revision of one locale.
#[derive(Clone, Debug)]
pub struct PublishedRevision {
    pub locale: Locale,
    pub number: i32,
    pub document: Value,
    pub published_at: Option<DateTime<Utc>>,
}

/// A published entry: its German source and, when asked for and published,
/// one translation.
#[derive(Clone, Debug)]
pub struct PublishedEntry {
    pub id: String,
    pub content_type: String,
    pub slug: String,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    pub source: PublishedRevision,
    pub translation: Option<PublishedRevision>,
}

impl PublishedEntry {
    /// Removes the fields `audience` may not see, from the source and the translation.
    pub fn hide_from(&mut self, content_type: &ContentType, audience: Audience) {
        content_type.hide_from(audience, &mut self.source.document);
        if let Some(translation) = &mut self.translation {
            content_type.hide_from(audience, &mut translation.document);
        }
    }
}

/// An entry's fields as served in one locale.
#[derive(Clone, Debug)]
pub struct Localised {
    /// The requested locale when its translation is published, else German.
    pub locale: Locale,
    pub fields: Value,
    /// JSON pointers of localised values the translation lacks, filled from German.
    pub fallback_fields: Vec<String>,
    pub revision: i32,
    pub published_at: Option<DateTime<Utc>>,
}

/// The translation into `requested` laid over the German source when it is
/// published and fits the source; German otherwise. Applied at read time
/// only, never written back.
pub fn localise(content_type: &ContentType, source: &PublishedRevision, translation: Option<&PublishedRevision>, requested: Locale) -> Localised {
    let translation = translation.filter(|t| t.locale == requested && !requested.is_source());
    match translation.zip(translation.and_then(|t| translated_fields(content_type, source, t))) {
        Some((translation, fields)) => Localised {
            locale: requested,
            fields,
            fallback_fields: document::fallback_pointers(content_type, &source.document, &translation.document),
            revision: translation.number,
            published_at: translation.published_at,
        },
        None => Localised {
            locale: Locale::SOURCE,
            fields: source.document.clone(),
            fallback_fields: Vec::new(),
            revision: source.number,
            published_at: source.published_at,
        },
    }
}

/// A translation's fields laid over its German source; none when it no
/// longer fits the source (the schema changed): such a translation is not
/// served half-broken, German is.
pub fn translated_fields(content_type: &ContentType, source: &PublishedRevision, translation: &PublishedRevision) -> Option<Value> {
    document::overlay_translation(content_type, &source.document, &translation.document).ok()
}

/// Conditions on a list of published entries; all must hold.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Entries that refer to each of these (type, slug).
    pub links_to: Vec<(String, String)>,
    pub leika: Option<String>,
    /// Entries whose German source was published at or after this time.
    pub published_since: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct ListPage {
    pub entries: Vec<PublishedEntry>,
    /// The slug to continue after, when there are more entries.
    pub next_after: Option<String>,
}

const PUBLISHED_COLUMNS: &str = "e.id, e.content_type, e.slug, e.version, e.updated_at, \
    p.locale, p.published_number, p.published_at, r.document";
const PUBLISHED_JOIN: &str = "FROM entries e \
    JOIN publications p ON p.entry_id = e.id AND p.published_number IS NOT NULL \
    JOIN revisions r ON r.entry_id = p.entry_id AND r.locale = p.locale AND r.number = p.published_number";

impl Store {
    /// The published entry of a type by id or slug, with the translation
    /// into `locale` when that is published too.
    pub async fn published_entry(&self, content_type: &str, id_or_slug: &str, locale: Locale) -> Result<Option<PublishedEntry>, StoreError> {
        let (key, value) = Store::entry_key(id_or_slug);
        let sql = format!("SELECT {PUBLISHED_COLUMNS} {PUBLISHED_JOIN} WHERE e.content_type = ? AND {key} AND p.locale IN (?, ?)");
        let values: [SqlValue; 4] = [content_type.into(), value, Locale::SOURCE.code().into(), locale.code().into()];
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        let entries = assemble(&rows)?;
        Ok(entries.into_iter().next())
    }

    /// One page of published entries of a type in slug order, after the
    /// given slug (keyset pagination: no offsets, no total count).
    pub async fn list_published(
        &self,
        content_type: &str,
        after: Option<&str>,
        limit: u64,
        locale: Locale,
        filter: &ListFilter,
    ) -> Result<ListPage, StoreError> {
        let order = self.byte_order();
        let mut conditions = String::new();
        let mut values: Vec<SqlValue> = vec![content_type.into(), Locale::SOURCE.code().into(), after.unwrap_or("").into()];
        for (to_type, to_slug) in &filter.links_to {
            conditions.push_str(" AND e.id IN (SELECT from_entry_id FROM entry_links WHERE to_type = ? AND to_slug = ?)");
            values.extend([SqlValue::from(to_type.clone()), SqlValue::from(to_slug.clone())]);
        }
        if let Some(leika) = &filter.leika {
            conditions.push_str(" AND e.leika = ?");
            values.push(leika.clone().into());
        }
        if let Some(since) = filter.published_since {
            conditions.push_str(" AND p.published_at >= ?");
            values.push(since.into());
        }
        values.push(((limit + 1) as i64).into());
        let sql = format!(
            "SELECT {PUBLISHED_COLUMNS} {PUBLISHED_JOIN} \
             WHERE e.content_type = ? AND p.locale = ? AND e.slug{order} > ?{conditions} ORDER BY e.slug{order} LIMIT ?"
        );
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        let mut entries = assemble(&rows)?;
        let next_after = if entries.len() as u64 > limit {
            entries.truncate(limit as usize);
            entries.last().map(|e| e.slug.clone())
        } else {
            None
        };
        if !locale.is_source() && !entries.is_empty() {
            let placeholders = vec!["?"; entries.len()].join(", ");
            let sql = format!("SELECT {PUBLISHED_COLUMNS} {PUBLISHED_JOIN} WHERE p.locale = ? AND e.id IN ({placeholders})");
            let values = std::iter::once(SqlValue::from(locale.code())).chain(entries.iter().map(|e| SqlValue::from(e.id.clone())));
            let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
            for row in &rows {
                let id: String = row.try_get("", "id")?;
                if let Some(entry) = entries.iter_mut().find(|e| e.id == id) {
                    entry.translation = Some(revision_of(row, &id)?);
                }
            }
        }
        Ok(ListPage { entries, next_after })
    }

    /// When each published entry of a type was published (its German
    /// source), earliest first.
    pub async fn publication_times(&self, content_type: &str) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let sql = "SELECT p.published_at FROM publications p JOIN entries e ON e.id = p.entry_id \
            WHERE e.content_type = ? AND p.locale = ? AND p.published_number IS NOT NULL AND p.published_at IS NOT NULL";
        let rows = self.db.query_all_raw(self.statement(sql, [content_type.into(), Locale::SOURCE.code().into()])).await?;
        let mut times = rows.iter().map(|row| row.try_get("", "published_at")).collect::<Result<Vec<DateTime<Utc>>, _>>()?;
        times.sort_unstable();
        Ok(times)
    }
}

/// One row of the change log.
#[derive(Clone, Debug)]
pub struct ChangeRow {
    pub seq: i64,
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
    pub locale: Locale,
    pub action: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Changes after a sequence number, in order, optionally of one type,
    /// of the given locales.
    pub async fn changes_after(&self, after: i64, content_type: Option<&str>, locales: &[Locale], limit: u64) -> Result<Vec<ChangeRow>, StoreError> {
        let mut query =
            change::Entity::find().filter(change::Column::Seq.gt(after)).filter(change::Column::Locale.is_in(locales.iter().map(|locale| locale.code())));
        if let Some(content_type) = content_type {
            query = query.filter(change::Column::ContentType.eq(content_type));
        }
        let rows = query.order_by_asc(change::Column::Seq).limit(limit).all(&self.db).await?;
        Ok(rows.into_iter().map(ChangeRow::from).collect())
    }

    /// The sequence number of the newest change (0 for an empty log).
    pub async fn latest_change_seq(&self) -> Result<i64, StoreError> {
        let row = self.db.query_one_raw(self.statement("SELECT COALESCE(MAX(seq), 0) AS seq FROM changes", [])).await?;
        Ok(match row {
            Some(row) => row.try_get("", "seq")?,
            None => 0,
        })
    }

    /// When the change `seq` was written; `None` when there is no such change.
    pub async fn change_time(&self, seq: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = self.db.query_one_raw(self.statement("SELECT created_at FROM changes WHERE seq = ?", [seq.into()])).await?;
        row.map(|row| row.try_get("", "created_at")).transpose().map_err(Into::into)
    }

    /// For each of the entries, the position of its newest change at or
    /// before `up_to` (none for an entry without one).
    pub async fn newest_changes(&self, ids: &[String], up_to: i64) -> Result<HashMap<String, i64>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!("SELECT entry_id, MAX(seq) AS seq FROM changes WHERE seq <= ? AND entry_id IN ({placeholders}) GROUP BY entry_id");
        let values = std::iter::once(SqlValue::from(up_to)).chain(ids.iter().map(|id| SqlValue::from(id.clone())));
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        rows.iter().map(|row| Ok((row.try_get("", "entry_id")?, row.try_get("", "seq")?))).collect()
    }

    /// The entries whose German source was last unpublished, archived or
    /// deleted (not published again) at or before `up_to`, with that
    /// change, in change-log order.
    pub async fn withdrawn_entries(&self, up_to: i64) -> Result<Vec<ChangeRow>, StoreError> {
        let newest = Query::select()
            .expr(change::Column::Seq.max())
            .from(change::Entity)
            .and_where(change::Column::Locale.eq(Locale::SOURCE.code()))
            .and_where(change::Column::Seq.lte(up_to))
            .group_by_col(change::Column::EntryId)
            .to_owned();
        let rows = change::Entity::find()
            .filter(change::Column::Seq.in_subquery(newest))
            .filter(change::Column::Action.ne("publish"))
            .order_by_asc(change::Column::Seq)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(ChangeRow::from).collect())
    }

    /// Ids of every entry with a published German source.
    pub async fn published_entry_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT entry_id FROM publications WHERE locale = ? AND published_number IS NOT NULL ORDER BY entry_id",
                [Locale::SOURCE.code().into()],
            ))
            .await?;
        rows.iter().map(|row| Ok(row.try_get("", "entry_id")?)).collect()
    }

    /// Published entries that refer to `to_type/to_slug`, with the field
    /// that does, in type and slug order.
    pub async fn referring_entries(&self, to_type: &str, to_slug: &str, locale: Locale) -> Result<Vec<(String, PublishedEntry)>, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT from_entry_id, field FROM entry_links WHERE to_type = ? AND to_slug = ? ORDER BY from_entry_id, field",
                [to_type.into(), to_slug.into()],
            ))
            .await?;
        let mut fields: Vec<(String, String)> = Vec::new();
        for row in &rows {
            fields.push((row.try_get("", "from_entry_id")?, row.try_get("", "field")?));
        }
        let mut ids: Vec<String> = fields.iter().map(|(id, _)| id.clone()).collect();
        ids.dedup();
        let mut entries = self.published_entries(&ids, locale).await?;
        entries.sort_by(|a, b| (&a.content_type, &a.slug).cmp(&(&b.content_type, &b.slug)));
        Ok(entries
            .into_iter()
            .map(|entry| {
                let field = fields.iter().find(|(id, _)| *id == entry.id).map(|(_, f)| f.clone()).unwrap_or_default();
                (field, entry)
            })
            .collect())
    }

    /// Published entries by (type, slug), with `locale` translations.
    pub async fn published_by_slugs(&self, keys: &[(String, String)], locale: Locale) -> Result<Vec<PublishedEntry>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["(e.content_type = ? AND e.slug = ?)"; keys.len()].join(" OR ");
        let sql = format!("SELECT {PUBLISHED_COLUMNS} {PUBLISHED_JOIN} WHERE p.locale IN (?, ?) AND ({placeholders})");
        let values = [SqlValue::from(Locale::SOURCE.code()), SqlValue::from(locale.code())]
            .into_iter()
            .chain(keys.iter().flat_map(|(t, s)| [SqlValue::from(t.clone()), SqlValue::from(s.clone())]));
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        assemble(&rows)
    }

    /// The published state of the given entries: their German source and,
    /// when published, the translation into `locale`.
    pub async fn published_entries(&self, ids: &[String], locale: Locale) -> Result<Vec<PublishedEntry>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!("SELECT {PUBLISHED_COLUMNS} {PUBLISHED_JOIN} WHERE p.locale IN (?, ?) AND e.id IN ({placeholders})");
        let values = [SqlValue::from(Locale::SOURCE.code()), SqlValue::from(locale.code())].into_iter().chain(ids.iter().map(|id| SqlValue::from(id.clone())));
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        assemble(&rows)
    }
}

impl Store {
    /// The published state of the given entries with every published
    /// translation, in id order.
    pub async fn published_with_translations(&self, ids: &[String]) -> Result<Vec<(PublishedEntry, Vec<PublishedRevision>)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!("SELECT {PUBLISHED_COLUMNS} {PUBLISHED_JOIN} WHERE e.id IN ({placeholders}) ORDER BY e.id, p.locale");
        let rows = self.db.query_all_raw(self.statement(&sql, ids.iter().map(|id| SqlValue::from(id.clone())))).await?;
        // Sorted by id and locale, an entry's rows are adjacent with the
        // German source (`de`) first.
        let mut entries: Vec<(PublishedEntry, Vec<PublishedRevision>)> = Vec::new();
        for row in &rows {
            let id: String = row.try_get("", "id")?;
            let revision = revision_of(row, &id)?;
            if revision.locale.is_source() {
                entries.push((published_entry(row, id, revision)?, Vec::new()));
            } else if let Some((_, translations)) = entries.last_mut().filter(|(entry, _)| entry.id == id) {
                translations.push(revision);
            }
        }
        Ok(entries)
    }
}

fn published_entry(row: &QueryResult, id: String, source: PublishedRevision) -> Result<PublishedEntry, StoreError> {
    Ok(PublishedEntry {
        content_type: row.try_get("", "content_type")?,
        slug: row.try_get("", "slug")?,
        version: row.try_get("", "version")?,
        updated_at: row.try_get("", "updated_at")?,
        source,
        translation: None,
        id,
    })
}

impl From<change::Model> for ChangeRow {
    fn from(row: change::Model) -> Self {
        ChangeRow {
            locale: Locale::parse(&row.locale).unwrap_or(Locale::SOURCE),
            seq: row.seq,
            entry_id: row.entry_id,
            content_type: row.content_type,
            slug: row.slug,
            action: row.action,
            created_at: row.created_at,
        }
    }
}

fn revision_of(row: &QueryResult, id: &str) -> Result<PublishedRevision, StoreError> {
    let locale: String = row.try_get("", "locale")?;
    let text: String = row.try_get("", "document")?;
    let document = serde_json::from_str(&text).map_err(|source| StoreError::CorruptDocument { entry: id.to_owned(), locale: locale.clone(), source })?;
    Ok(PublishedRevision {
        locale: Locale::parse(&locale).unwrap_or(Locale::SOURCE),
        number: row.try_get("", "published_number")?,
        document,
        published_at: row.try_get("", "published_at")?,
    })
}

/// Groups rows (one per published locale) into entries, keeping row order.
fn assemble(rows: &[QueryResult]) -> Result<Vec<PublishedEntry>, StoreError> {
    let mut entries: Vec<PublishedEntry> = Vec::new();
    let mut translations = Vec::new();
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let revision = revision_of(row, &id)?;
        if !revision.locale.is_source() {
            translations.push((id, revision));
            continue;
        }
        entries.push(published_entry(row, id, revision)?);
    }
    for (id, revision) in translations {
        if let Some(entry) = entries.iter_mut().find(|e| e.id == id) {
            entry.translation = Some(revision);
        }
    }
    Ok(entries)
}
