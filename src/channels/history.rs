//! What the store knows beyond the published documents, read for the
//! bundle: where in the change log each entry last changed, and who wrote
//! each module of what is published.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::channels::snapshot::SnapshotEntry;
use crate::content::Locale;
use crate::store::{RevisionRecord, Store, StoreError};

/// Who wrote what is published, for a batch of entries.
#[derive(Default)]
pub struct History {
    entries: HashMap<String, EntryHistory>,
}

#[derive(Default)]
pub struct EntryHistory {
    /// The change-log position of the entry's newest change at or before
    /// the export's position (0 if it has none there).
    pub version: i64,
    pub locales: BTreeMap<Locale, LocaleHistory>,
}

#[derive(Default)]
pub struct LocaleHistory {
    /// For a translation: the German revision it was made from.
    pub translated_from: Option<i32>,
    /// Per top-level field of the published revision: the revision that
    /// gave the field its published value.
    pub modules: BTreeMap<String, Origin>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub revision: i32,
    pub author: String,
}

impl History {
    /// Reads the history of the entries up to the change-log position
    /// `up_to` of the export.
    pub async fn load(store: &Store, entries: &[Arc<SnapshotEntry>], up_to: i64) -> Result<History, StoreError> {
        let published: HashMap<&str, &SnapshotEntry> = entries.iter().map(|entry| (entry.id.as_str(), entry.as_ref())).collect();
        let ids: Vec<String> = entries.iter().map(|entry| entry.id.clone()).collect();
        let versions = store.newest_changes(&ids, up_to).await?;
        let mut revisions: BTreeMap<(String, Locale), Vec<RevisionRecord>> = BTreeMap::new();
        for (id, revision) in store.revisions_of_entries(&ids).await? {
            revisions.entry((id, revision.locale)).or_default().push(revision);
        }
        let mut history = History::default();
        for ((id, locale), mut revisions) in revisions {
            let entry = published[id.as_str()];
            let published_revision = if locale.is_source() { Some(&entry.source) } else { entry.translations.get(&locale) };
            let Some(published_revision) = published_revision else { continue };
            // Drafts newer than what is published are not part of it.
            revisions.retain(|r| r.number <= published_revision.number);
            revisions.sort_by_key(|r| r.number);
            let entry_history: &mut EntryHistory = history.entries.entry(id.clone()).or_default();
            entry_history.version = versions.get(&id).copied().unwrap_or(0);
            entry_history
                .locales
                .insert(locale, LocaleHistory { translated_from: revisions.last().and_then(|r| r.source_number), modules: module_origins(&revisions) });
        }
        Ok(history)
    }

    pub fn of(&self, entry_id: &str) -> Option<&EntryHistory> {
        self.entries.get(entry_id)
    }
}

/// For each top-level field of the last revision, the revision (of those
/// given, oldest first) where it last took a new value.
fn module_origins(revisions: &[RevisionRecord]) -> BTreeMap<String, Origin> {
    let mut origins = BTreeMap::new();
    let mut previous: Option<&Value> = None;
    for revision in revisions {
        let Some(fields) = revision.document.as_object() else { continue };
        for (name, value) in fields {
            if previous.and_then(|p| p.get(name)) != Some(value) {
                origins.insert(name.clone(), Origin { revision: revision.number, author: revision.author.clone() });
            }
        }
        previous = Some(&revision.document);
    }
    let last = previous.and_then(Value::as_object);
    origins.retain(|name, _| last.is_some_and(|fields| fields.contains_key(name)));
    origins
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn revision(number: i32, author: &str, document: Value) -> RevisionRecord {
        RevisionRecord {
            locale: Locale::SOURCE,
            number,
            document,
            source_number: None,
            author: author.into(),
            message: String::new(),
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_module_comes_from_the_revision_that_last_changed_it() {
        let revisions = [
            revision(1, "anna", json!({"name": "A", "fees": [1], "hints": "x"})),
            revision(2, "ben", json!({"name": "A", "fees": [2], "hints": "x"})),
            revision(3, "cem", json!({"name": "A", "fees": [2]})),
            revision(4, "dora", json!({"name": "A", "fees": [2], "hints": "x"})),
        ];
        let origins = module_origins(&revisions);
        let origin = |revision, author: &str| Origin { revision, author: author.into() };
        assert_eq!(origins["name"], origin(1, "anna"));
        assert_eq!(origins["fees"], origin(2, "ben"));
        assert_eq!(origins["hints"], origin(4, "dora"), "removed and written again: the new writer");
        let without_hints = module_origins(&revisions[..3]);
        assert!(!without_hints.contains_key("hints"), "a removed module has no origin");
    }
}
