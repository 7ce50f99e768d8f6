//! Editorial quality: what the team should fix first. Entries the 115
//! knowledge base cannot use, reviews that are overdue, references to
//! entries readers cannot see, translations behind their German source,
//! and German that is hard to read.

pub mod readability;

use std::collections::HashMap;

use chrono::{DateTime, Months, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::content::{ContentType, Registry, document};
use crate::store::{QualityRow, Store, StoreError};
use crate::workflow::State;

/// How often an entry's text must be looked at again, unless its type's
/// schema says otherwise with `x-review-months`.
pub const DEFAULT_REVIEW_MONTHS: u32 = 12;

/// The worst entries shown per finding.
const SHOWN: usize = 200;

#[derive(Debug, Default, Serialize)]
pub struct QualityReport {
    /// Fields the 115 knowledge base requires that are missing.
    pub missing_for_kb115: Vec<Finding>,
    /// Published longer ago than the type's review interval, oldest first.
    pub review_overdue: Vec<Finding>,
    /// References to entries that do not exist, are not published or are archived.
    pub broken_references: Vec<Finding>,
    pub outdated_translations: Vec<Finding>,
    /// German texts by reading ease (Amstad), hardest first.
    pub hardest_to_read: Vec<Finding>,
    pub entries_checked: usize,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub content_type: String,
    pub slug: String,
    pub title: String,
    /// What is wrong, in a few words (field names, locales, targets, a date).
    pub detail: String,
    /// The measure findings are ordered by (days overdue, reading ease).
    pub score: Option<f64>,
}

pub async fn report(store: &Store, registry: &Registry, now: DateTime<Utc>) -> Result<QualityReport, StoreError> {
    let rows = store.quality_rows().await?;
    let states: HashMap<(&str, &str), Option<State>> = rows.iter().map(|r| ((r.content_type.as_str(), r.slug.as_str()), r.state)).collect();
    let mut report = QualityReport { entries_checked: rows.len(), ..QualityReport::default() };
    for row in &rows {
        let Some(content_type) = registry.get(&row.content_type) else { continue };
        let finding = |detail: String, score: Option<f64>| Finding {
            content_type: row.content_type.clone(),
            slug: row.slug.clone(),
            title: row.source_document.get(content_type.title_field()).and_then(Value::as_str).unwrap_or(&row.slug).to_owned(),
            detail,
            score,
        };
        if row.state != Some(State::Archived) {
            let missing = content_type.missing_for("kb115", &row.source_document);
            if !missing.is_empty() {
                report.missing_for_kb115.push(finding(missing.join(", "), None));
            }
        }
        if let Some(due) = review_due(content_type, row)
            && due < now
        {
            let days = (now - due).num_days();
            report.review_overdue.push(finding(format!("{}", due.format("%Y-%m-%d")), Some(days as f64)));
        }
        let broken: Vec<String> = document::references(content_type, &row.source_document)
            .into_iter()
            .filter_map(|reference| {
                let problem = match states.get(&(reference.target_type.as_str(), reference.target_slug.as_str())) {
                    None => "missing",
                    Some(Some(State::Published)) => return None,
                    Some(Some(State::Archived)) => "archived",
                    Some(_) => "not published",
                };
                Some(format!("{}/{} ({problem})", reference.target_type, reference.target_slug))
            })
            .collect();
        if !broken.is_empty() {
            report.broken_references.push(finding(broken.join(", "), None));
        }
        if !row.outdated_locales.is_empty() {
            let locales: Vec<&str> = row.outdated_locales.iter().map(|l| l.code()).collect();
            report.outdated_translations.push(finding(locales.join(", "), None));
        }
        if let Some(score) = readability::amstad_flesch(&german_text(content_type, &row.source_document)) {
            report.hardest_to_read.push(finding(format!("{score:.0}"), Some(score)));
        }
    }
    let score = |finding: &Finding| finding.score.unwrap_or_default();
    report.review_overdue.sort_by(|a, b| score(b).total_cmp(&score(a)));
    report.hardest_to_read.sort_by(|a, b| score(a).total_cmp(&score(b)));
    for list in [
        &mut report.missing_for_kb115,
        &mut report.review_overdue,
        &mut report.broken_references,
        &mut report.outdated_translations,
        &mut report.hardest_to_read,
    ] {
        list.truncate(SHOWN);
    }
    Ok(report)
}

/// When a published entry's text is due for review: its last publication
/// plus the type's review interval.
fn review_due(content_type: &ContentType, row: &QualityRow) -> Option<DateTime<Utc>> {
    if row.state != Some(State::Published) {
        return None;
    }
    row.published_at?.checked_add_months(Months::new(review_months(content_type)))
}

fn review_months(content_type: &ContentType) -> u32 {
    content_type.schema.get("x-review-months").and_then(Value::as_u64).and_then(|m| u32::try_from(m).ok()).unwrap_or(DEFAULT_REVIEW_MONTHS)
}

/// Per type, the publication time before which a published entry is due
/// for review now: what the work list's "review overdue" filter asks for.
pub fn review_cutoffs(registry: &Registry, now: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
    registry.iter().filter_map(|content_type| Some((content_type.name.clone(), now.checked_sub_months(Months::new(review_months(content_type)))?))).collect()
}

/// The German reading text of a document: its Markdown fields and the
/// other localised texts, as plain text.
fn german_text(content_type: &ContentType, document: &Value) -> String {
    let mut text = String::new();
    for field in &content_type.markdown_fields {
        if let Some(markdown) = document.get(field).and_then(Value::as_str) {
            text.push_str(&crate::render::markdown::to_plain_text(markdown));
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    use std::path::Path;

    fn row(state: Option<State>, published_at: Option<DateTime<Utc>>) -> QualityRow {
        QualityRow { content_type: "t".into(), slug: "s".into(), state, published_at, source_document: json!({}), outdated_locales: Vec::new() }
    }

    #[test]
    fn a_published_text_is_due_for_review_after_its_types_interval() {
        let yearly = ContentType::from_schema("t", json!({"type": "object"}), Path::new("t")).unwrap();
        let quarterly = ContentType::from_schema("t", json!({"type": "object", "x-review-months": 3}), Path::new("t")).unwrap();
        let published = Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap();
        assert_eq!(review_due(&yearly, &row(Some(State::Published), Some(published))), Some(Utc.with_ymd_and_hms(2027, 1, 31, 12, 0, 0).unwrap()));
        assert_eq!(review_due(&quarterly, &row(Some(State::Published), Some(published))), Some(Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap()));
        assert_eq!(review_due(&yearly, &row(Some(State::Draft), Some(published))), None, "only what readers see is due");
        assert_eq!(review_due(&yearly, &row(Some(State::Published), None)), None);
    }
}
