//! The link index: which published entry refers to which, by field. It
//! answers reverse links ("services this office is responsible for"),
//! filters by a referenced entry, and which entries depend on a change.
//! Maintained wherever a German source is published or withdrawn.

use sea_orm::{ConnectionTrait, DatabaseTransaction, Value as SqlValue};
use serde_json::Value;

use super::{Store, StoreError};
use crate::content::{ContentType, document};

/// One reference of a published entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The top-level field that holds it (`responsible_offices`).
    pub field: String,
    pub to_type: String,
    pub to_slug: String,
}

/// The links of a document, as its schema's `x-reference` sites say.
pub fn links_of(content_type: &ContentType, document: &Value) -> Vec<Link> {
    let mut links: Vec<Link> = document::references(content_type, document)
        .into_iter()
        .map(|r| Link {
            field: r.pointer.trim_start_matches('/').split('/').next().unwrap_or_default().to_owned(),
            to_type: r.target_type,
            to_slug: r.target_slug,
        })
        .collect();
    links.sort_by(|a, b| (&a.field, &a.to_type, &a.to_slug).cmp(&(&b.field, &b.to_type, &b.to_slug)));
    links.dedup();
    links
}

impl Store {
    /// Replaces the links of an entry (`None`: it is no longer published).
    pub async fn set_links(&self, txn: &DatabaseTransaction, entry_id: &str, links: Option<&[Link]>) -> Result<(), StoreError> {
        self.set_links_many(txn, &[(entry_id.to_owned(), links.unwrap_or_default().to_vec())]).await
    }

    /// Replaces the links of many entries at once (imports).
    pub async fn set_links_many(&self, txn: &DatabaseTransaction, entries: &[(String, Vec<Link>)]) -> Result<(), StoreError> {
        for chunk in entries.chunks(super::write::rows_per_statement(1)) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let ids = chunk.iter().map(|(id, _)| SqlValue::from(id.clone()));
            txn.execute_raw(self.statement(&format!("DELETE FROM entry_links WHERE from_entry_id IN ({placeholders})"), ids)).await?;
        }
        let rows: Vec<(&String, &Link)> = entries.iter().flat_map(|(id, links)| links.iter().map(move |l| (id, l))).collect();
        for chunk in rows.chunks(super::write::rows_per_statement(4)) {
            let placeholders = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let values = chunk
                .iter()
                .flat_map(|(id, link)| [SqlValue::from((*id).clone()), link.field.clone().into(), link.to_type.clone().into(), link.to_slug.clone().into()]);
            txn.execute_raw(self.statement(&format!("INSERT INTO entry_links (from_entry_id, field, to_type, to_slug) VALUES {placeholders}"), values)).await?;
        }
        Ok(())
    }

    /// The `type/slug` keys an entry refers to now.
    pub async fn link_targets(&self, entry_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            self.db.query_all_raw(self.statement("SELECT DISTINCT to_type, to_slug FROM entry_links WHERE from_entry_id = ?", [entry_id.into()])).await?;
        rows.iter().map(|r| Ok((r.try_get("", "to_type")?, r.try_get("", "to_slug")?))).collect()
    }

    /// Ids of published entries of `from_type` that refer to `to_type/to_slug`.
    pub async fn linking_entries(&self, from_type: &str, to_type: &str, to_slug: &str) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT DISTINCT l.from_entry_id FROM entry_links l JOIN entries e ON e.id = l.from_entry_id \
                 WHERE e.content_type = ? AND l.to_type = ? AND l.to_slug = ?",
                [from_type.into(), to_type.into(), to_slug.into()],
            ))
            .await?;
        rows.iter().map(|r| Ok(r.try_get("", "from_entry_id")?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn links_name_their_top_level_field() {
        let schema = json!({"type": "object", "properties": {
            "offices": {"type": "array", "items": {"type": "object", "properties": {"office": {"type": "string", "x-reference": "office"}}}},
            "topics": {"type": "array", "items": {"type": "string", "x-reference": "topic"}}}});
        let ct = ContentType::from_schema("service", schema, Path::new("s")).unwrap();
        let links = links_of(&ct, &json!({"offices": [{"office": "mitte"}, {"office": "mitte"}], "topics": ["umzug"]}));
        assert_eq!(
            links,
            vec![
                Link { field: "offices".into(), to_type: "office".into(), to_slug: "mitte".into() },
                Link { field: "topics".into(), to_type: "topic".into(), to_slug: "umzug".into() },
            ]
        );
    }
}
