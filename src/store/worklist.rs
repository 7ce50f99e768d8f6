//! The editors' work list: every entry that is not deleted, drafts
//! included, filtered and sorted the way an editorial team works through
//! its catalogue.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value as SqlValue};
use serde_json::Value;

use super::{Store, StoreError};
use crate::content::Locale;
use crate::workflow::State;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkListSort {
    /// Most recently changed first.
    #[default]
    Updated,
    Slug,
}

#[derive(Clone, Debug, Default)]
pub struct WorkListFilter {
    pub content_type: Option<String>,
    /// The state of the German source.
    pub state: Option<State>,
    /// Entries in the trash instead of the others.
    pub trash: bool,
    /// Words in the slug or anywhere in the newest German text.
    pub text: Option<String>,
    /// Entries the search index finds for `text` (with stemming and
    /// synonyms, among published texts): they match too.
    pub found_by_search: Vec<String>,
    /// Entries whose published text refers to this entry (type, slug): a topic or an office.
    pub refers_to: Option<(String, String)>,
    /// A translation made from an older German revision than the newest.
    pub outdated_translation: bool,
    /// A module in conflict with a partner's upstream change.
    pub upstream_conflict: bool,
    /// Published before the cutoff of its type: due for review
    /// (`quality::review_cutoffs`). Empty: no such filter.
    pub review_overdue: Vec<(String, DateTime<Utc>)>,
    pub sort: WorkListSort,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Clone, Debug)]
pub struct WorkItem {
    pub id: String,
    pub content_type: String,
    pub slug: String,
    pub updated_at: DateTime<Utc>,
    pub trashed_at: Option<DateTime<Utc>>,
    /// Every locale's state, the German source first.
    pub states: Vec<(Locale, State)>,
    /// The newest German revision's document (for its title).
    pub source_document: Value,
}

pub struct WorkList {
    pub items: Vec<WorkItem>,
    /// How many entries match, over all pages.
    pub total: u64,
}

impl Store {
    pub async fn work_list(&self, filter: &WorkListFilter) -> Result<WorkList, StoreError> {
        let mut conditions = vec![if filter.trash { "e.trashed_at IS NOT NULL" } else { "e.trashed_at IS NULL" }.to_owned()];
        let mut values: Vec<SqlValue> = Vec::new();
        if let Some(content_type) = &filter.content_type {
            conditions.push("e.content_type = ?".into());
            values.push(content_type.clone().into());
        }
        if let Some(state) = filter.state {
            conditions.push("EXISTS (SELECT 1 FROM publications p WHERE p.entry_id = e.id AND p.locale = 'de' AND p.state = ?)".into());
            values.push(state.code().into());
        }
        if let Some(text) = filter.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", like_escaped(&text.to_lowercase()));
            let found =
                if filter.found_by_search.is_empty() { String::new() } else { format!(" OR e.id IN ({})", vec!["?"; filter.found_by_search.len()].join(", ")) };
            conditions.push(format!(
                "(e.slug LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM revisions r WHERE r.entry_id = e.id AND r.locale = 'de' \
                 AND r.number = (SELECT MAX(number) FROM revisions m WHERE m.entry_id = e.id AND m.locale = 'de') \
                 AND LOWER(r.document) LIKE ? ESCAPE '\\'){found})"
            ));
            values.push(pattern.clone().into());
            values.push(pattern.into());
            values.extend(filter.found_by_search.iter().map(|id| SqlValue::from(id.clone())));
        }
        if let Some((to_type, to_slug)) = &filter.refers_to {
            conditions.push("EXISTS (SELECT 1 FROM entry_links l WHERE l.from_entry_id = e.id AND l.to_type = ? AND l.to_slug = ?)".into());
            values.push(to_type.clone().into());
            values.push(to_slug.clone().into());
        }
        if filter.outdated_translation {
            conditions.push(
                "EXISTS (SELECT 1 FROM revisions t WHERE t.entry_id = e.id AND t.locale <> 'de' \
                 AND t.number = (SELECT MAX(number) FROM revisions m WHERE m.entry_id = e.id AND m.locale = t.locale) \
                 AND t.source_number < (SELECT MAX(number) FROM revisions s WHERE s.entry_id = e.id AND s.locale = 'de'))"
                    .into(),
            );
        }
        if !filter.review_overdue.is_empty() {
            let per_type = vec![
                "(e.content_type = ? AND EXISTS (SELECT 1 FROM publications p WHERE p.entry_id = e.id AND p.locale = 'de' AND p.state = 'published' AND p.published_at < ?))";
                filter.review_overdue.len()
            ];
            conditions.push(format!("({})", per_type.join(" OR ")));
            for (content_type, cutoff) in &filter.review_overdue {
                values.push(content_type.clone().into());
                values.push((*cutoff).into());
            }
        }
        if filter.upstream_conflict {
            conditions.push("EXISTS (SELECT 1 FROM partner_conflicts c WHERE c.entry_id = e.id)".into());
        }
        let condition = conditions.join(" AND ");
        let total_row = self.db.query_one_raw(self.statement(&format!("SELECT COUNT(*) AS total FROM entries e WHERE {condition}"), values.clone())).await?;
        let total = match total_row {
            Some(row) => row.try_get::<i64>("", "total")?.max(0) as u64,
            None => 0,
        };
        let order = match filter.sort {
            WorkListSort::Updated => "e.updated_at DESC, e.slug",
            WorkListSort::Slug => "e.slug, e.content_type",
        };
        values.push((filter.limit as i64).into());
        values.push((filter.offset as i64).into());
        let rows = self
            .db
            .query_all_raw(self.statement(
                &format!(
                    "SELECT e.id, e.content_type, e.slug, e.updated_at, e.trashed_at, \
                     (SELECT r.document FROM revisions r WHERE r.entry_id = e.id AND r.locale = 'de' ORDER BY r.number DESC LIMIT 1) AS document \
                     FROM entries e WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?"
                ),
                values,
            ))
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("", "id")?;
            let text: Option<String> = row.try_get("", "document")?;
            let source_document = match text {
                Some(text) => serde_json::from_str(&text).map_err(|source| StoreError::CorruptDocument {
                    entry: id.clone(),
                    locale: Locale::SOURCE.code().into(),
                    source,
                })?,
                None => Value::Null,
            };
            items.push(WorkItem {
                content_type: row.try_get("", "content_type")?,
                slug: row.try_get("", "slug")?,
                updated_at: row.try_get("", "updated_at")?,
                trashed_at: row.try_get("", "trashed_at")?,
                states: Vec::new(),
                source_document,
                id,
            });
        }
        self.fill_states(&mut items).await?;
        Ok(WorkList { items, total })
    }

    async fn fill_states(&self, items: &mut [WorkItem]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let placeholders = vec!["?"; items.len()].join(", ");
        let rows = self
            .db
            .query_all_raw(self.statement(
                &format!("SELECT entry_id, locale, state FROM publications WHERE entry_id IN ({placeholders})"),
                items.iter().map(|i| SqlValue::from(i.id.clone())),
            ))
            .await?;
        for row in &rows {
            let entry_id: String = row.try_get("", "entry_id")?;
            let locale: String = row.try_get("", "locale")?;
            let state: String = row.try_get("", "state")?;
            if let (Some(item), Some(locale), Ok(state)) = (items.iter_mut().find(|i| i.id == entry_id), Locale::parse(&locale), state.parse::<State>()) {
                item.states.push((locale, state));
            }
        }
        for item in items {
            item.states.sort_by_key(|(locale, _)| *locale);
        }
        Ok(())
    }
}

/// `%`, `_` and `\` match themselves in a LIKE pattern with `ESCAPE '\'`.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One entry as the quality checks see it.
#[derive(Clone, Debug)]
pub struct QualityRow {
    pub content_type: String,
    pub slug: String,
    /// The German source's state and when it was last published.
    pub state: Option<State>,
    pub published_at: Option<DateTime<Utc>>,
    pub source_document: Value,
    /// Translations made from an older German revision than the newest.
    pub outdated_locales: Vec<Locale>,
}

impl Store {
    /// Every entry not in the trash, with its newest German text.
    pub async fn quality_rows(&self) -> Result<Vec<QualityRow>, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT e.id, e.content_type, e.slug, p.state, p.published_at, \
                 (SELECT r.document FROM revisions r WHERE r.entry_id = e.id AND r.locale = 'de' ORDER BY r.number DESC LIMIT 1) AS document \
                 FROM entries e LEFT JOIN publications p ON p.entry_id = e.id AND p.locale = 'de' \
                 WHERE e.trashed_at IS NULL ORDER BY e.content_type, e.slug",
                [],
            ))
            .await?;
        let outdated = self
            .db
            .query_all_raw(self.statement(
                "SELECT t.entry_id, t.locale FROM revisions t WHERE t.locale <> 'de' \
                 AND t.number = (SELECT MAX(number) FROM revisions m WHERE m.entry_id = t.entry_id AND m.locale = t.locale) \
                 AND t.source_number < (SELECT MAX(number) FROM revisions s WHERE s.entry_id = t.entry_id AND s.locale = 'de')",
                [],
            ))
            .await?;
        let mut outdated_by_entry: std::collections::HashMap<String, Vec<Locale>> = std::collections::HashMap::new();
        for row in &outdated {
            let locale: String = row.try_get("", "locale")?;
            if let Some(locale) = Locale::parse(&locale) {
                outdated_by_entry.entry(row.try_get("", "entry_id")?).or_default().push(locale);
            }
        }
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("", "id")?;
                let text: Option<String> = row.try_get("", "document")?;
                let source_document = match text {
                    Some(text) => serde_json::from_str(&text).map_err(|source| StoreError::CorruptDocument {
                        entry: id.clone(),
                        locale: Locale::SOURCE.code().into(),
                        source,
                    })?,
                    None => Value::Null,
                };
                let state: Option<String> = row.try_get("", "state")?;
                let mut outdated_locales = outdated_by_entry.remove(&id).unwrap_or_default();
                outdated_locales.sort();
                Ok(QualityRow {
                    content_type: row.try_get("", "content_type")?,
                    slug: row.try_get("", "slug")?,
                    state: state.and_then(|s| s.parse().ok()),
                    published_at: row.try_get("", "published_at")?,
                    source_document,
                    outdated_locales,
                })
            })
            .collect()
    }
}
