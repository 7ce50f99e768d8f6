//! The link index: which published entry refers to which, by field. It
//! answers reverse links ("services this office is responsible for"),
//! filters by a referenced entry, and which entries depend on a change.
//! Maintained wherever a German source is published or withdrawn.

use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::Value;

use super::entity::entry_link;
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
    /// Replaces the links of many entries at once (imports).
    pub(super) async fn set_links_many(&self, txn: &DatabaseTransaction, entries: &[(String, Vec<Link>)]) -> Result<(), StoreError> {
        for chunk in entries.chunks(super::write::rows_per_statement(1)) {
            entry_link::Entity::delete_many().filter(entry_link::Column::FromEntryId.is_in(chunk.iter().map(|(id, _)| id.clone()))).exec(txn).await?;
        }
        let rows: Vec<entry_link::ActiveModel> = entries
            .iter()
            .flat_map(|(id, links)| {
                links.iter().map(move |link| {
                    entry_link::Model { from_entry_id: id.clone(), field: link.field.clone(), to_type: link.to_type.clone(), to_slug: link.to_slug.clone() }
                        .into_active_model()
                })
            })
            .collect();
        for chunk in rows.chunks(super::write::rows_per_insert::<entry_link::Entity>()) {
            entry_link::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
        }
        Ok(())
    }

    /// The `type/slug` keys an entry refers to now.
    pub async fn link_targets(&self, entry_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows =
            self.db.query_all_raw(self.statement("SELECT DISTINCT to_type, to_slug FROM entry_links WHERE from_entry_id = ?", [entry_id.into()])).await?;
        rows.iter().map(|r| Ok((r.try_get("", "to_type")?, r.try_get("", "to_slug")?))).collect()
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
