//! The tantivy index of published content: one document per entry and
//! published locale, kept current from the change log.
//!
//! Each commit records, as its payload, the change-log position it
//! reflects and the time of that change. The change feed starts it from
//! there; when that change is not in the database as recorded (the
//! database was restored or replaced) or the fields changed, it is rebuilt.
//! tantivy commits are atomic, so after a crash the index is at its last
//! commit and catches up like after any restart.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tantivy::schema::Facet;
use tantivy::tokenizer::Language as StemLanguage;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::SearchError;
use super::analysis;
use super::fields::{Fields, Language, NAMING_BOOST};
use super::query::FACETS;
use super::tally::FacetNameCache;
use crate::content::{Audience, ContentType, Locale, Registry, document};
use crate::feed::{Consumer, Work};
use crate::store::{ChangeRow, PublishedEntry, Store, links_of};

/// Memory for the index writer's buffer.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;
/// Entries read from the database per round trip.
const BATCH: usize = 500;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Position {
    fingerprint: String,
    seq: i64,
    seq_at: Option<DateTime<Utc>>,
}

pub struct SearchIndex {
    pub(super) index: Index,
    pub(super) reader: IndexReader,
    writer: Mutex<IndexWriter>,
    pub(super) fields: Fields,
    pub(super) facet_names: FacetNameCache,
    registry: std::sync::Arc<Registry>,
}

impl SearchIndex {
    /// Opens the index in `directory` (created if missing), or in memory
    /// when `directory` is `None`.
    pub fn open(directory: Option<&Path>, registry: std::sync::Arc<Registry>) -> Result<SearchIndex, SearchError> {
        let fields = Fields::for_registry(&registry);
        let index = match directory {
            Some(directory) => {
                std::fs::create_dir_all(directory).map_err(|source| SearchError::Folder { path: directory.display().to_string(), source })?;
                let mmap = tantivy::directory::MmapDirectory::open(directory)?;
                // A process that writes the index (a running `serve`) holds
                // this lock: its folder is neither replaced nor written here.
                match tantivy::Directory::acquire_lock(&mmap, &tantivy::directory::INDEX_WRITER_LOCK) {
                    Ok(probe) => drop(probe),
                    Err(tantivy::directory::error::LockError::LockBusy) => return Err(SearchError::Busy { path: directory.display().to_string() }),
                    Err(error) => return Err(tantivy::TantivyError::from(error).into()),
                }
                let existing = Index::exists(&mmap).map_err(tantivy::TantivyError::from)?;
                let reusable = existing && Index::open(mmap.clone()).is_ok_and(|index| index.schema() == fields.schema);
                if reusable {
                    Index::open(mmap)?
                } else {
                    if existing {
                        // Another field set: start over (the catch-up rebuilds it).
                        std::fs::remove_dir_all(directory).map_err(|source| SearchError::Folder { path: directory.display().to_string(), source })?;
                        std::fs::create_dir_all(directory).map_err(|source| SearchError::Folder { path: directory.display().to_string(), source })?;
                    }
                    Index::create_in_dir(directory, fields.schema.clone())?
                }
            }
            None => Index::create_in_ram(fields.schema.clone()),
        };
        let tokenizers = index.tokenizers();
        tokenizers.register(analysis::DE_STEM, analysis::stemming(StemLanguage::German));
        tokenizers.register(analysis::EN_STEM, analysis::stemming(StemLanguage::English));
        tokenizers.register(analysis::PLAIN, analysis::plain());
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(SearchIndex { index, reader, writer: Mutex::new(writer), fields, facet_names: FacetNameCache::default(), registry })
    }

    /// Where the index stands in the database's change log: the position
    /// of its last commit, or, when that does not belong to this database
    /// or these fields, the head of the log after a rebuild.
    async fn start(&self, store: &Store) -> Result<i64, SearchError> {
        let recorded: Option<Position> = self.index.load_metas()?.payload.and_then(|p| serde_json::from_str(&p).ok());
        if let Some(position) = recorded.filter(|position| position.fingerprint == self.fields.fingerprint) {
            let at = store.change_time(position.seq).await?;
            if at == position.seq_at && store.latest_change_seq().await? >= position.seq {
                return Ok(position.seq);
            }
        }
        let seq = self.build(store, true).await?;
        tracing::info!("search index built");
        Ok(seq)
    }

    /// Rebuilds the index from every published entry.
    pub async fn rebuild(&self, store: &Store, progress: bool) -> Result<usize, SearchError> {
        self.build(store, progress).await?;
        Ok(self.reader.searcher().num_docs() as usize)
    }

    /// Makes the documents of the entries that `changes` touched again.
    async fn apply(&self, store: &Store, changes: &[ChangeRow]) -> Result<i64, SearchError> {
        let Some(last) = changes.last() else { return Ok(0) };
        let mut ids: Vec<String> = changes.iter().map(|c| c.entry_id.clone()).collect();
        ids.sort();
        ids.dedup();
        self.replace_entries(store, &ids).await?;
        self.commit(last.seq, Some(last.created_at))?;
        Ok(last.seq)
    }

    async fn build(&self, store: &Store, progress: bool) -> Result<i64, SearchError> {
        // Changes after this point are applied by the next catch-up.
        let seq = store.latest_change_seq().await?;
        let ids = store.published_entry_ids().await?;
        let bar = if progress { indicatif::ProgressBar::new(ids.len() as u64) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(
            indicatif::ProgressStyle::with_template("indexing {bar:40} {pos}/{len} entries, {per_sec}, {eta} left")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        self.lock_writer().delete_all_documents()?;
        for batch in ids.chunks(BATCH) {
            self.add_entries(store, batch).await?;
            bar.inc(batch.len() as u64);
        }
        self.commit(seq, store.change_time(seq).await?)?;
        bar.finish_and_clear();
        Ok(seq)
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn replace_entries(&self, store: &Store, ids: &[String]) -> Result<(), SearchError> {
        {
            let writer = self.lock_writer();
            for id in ids {
                writer.delete_term(Term::from_field_text(self.fields.entry_id, id));
            }
        }
        for batch in ids.chunks(BATCH) {
            self.add_entries(store, batch).await?;
        }
        Ok(())
    }

    /// Adds the documents of published entries (German, and each published translation).
    async fn add_entries(&self, store: &Store, ids: &[String]) -> Result<(), SearchError> {
        let mut documents = Vec::new();
        let mut translations: Vec<PublishedEntry> = Vec::new();
        for locale in Locale::ALL.into_iter().filter(|l| !l.is_source()) {
            translations.extend(store.published_entries(ids, locale).await?.into_iter().filter(|e| e.translation.is_some()));
        }
        // The index serves public search: internal fields are not in it.
        for entry in &mut translations {
            if let Some(content_type) = self.registry.get(&entry.content_type) {
                entry.hide_from(content_type, Audience::Public);
            }
        }
        for mut entry in store.published_entries(ids, Locale::SOURCE).await? {
            let Some(content_type) = self.registry.get(&entry.content_type).cloned() else { continue };
            entry.hide_from(&content_type, Audience::Public);
            let translated: Vec<Locale> = translations.iter().filter(|t| t.id == entry.id).filter_map(|t| t.translation.as_ref().map(|r| r.locale)).collect();
            documents.push(self.document(&content_type, &entry, Locale::SOURCE, &entry.source.document, &translated));
        }
        for entry in &translations {
            let (Some(content_type), Some(translation)) = (self.registry.get(&entry.content_type).cloned(), entry.translation.as_ref()) else { continue };
            // A translation that no longer fits its source is not served, so not found either.
            if let Ok(merged) = document::overlay_translation(&content_type, &entry.source.document, &translation.document) {
                documents.push(self.document(&content_type, entry, translation.locale, &merged, &[]));
            }
        }
        let writer = self.lock_writer();
        for document in documents {
            writer.add_document(document)?;
        }
        Ok(())
    }

    fn document(&self, content_type: &ContentType, entry: &PublishedEntry, locale: Locale, fields: &Value, translated: &[Locale]) -> TantivyDocument {
        let f = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_text(f.entry_id, &entry.id);
        document.add_text(f.content_type, &entry.content_type);
        document.add_text(f.slug, &entry.slug);
        document.add_text(f.locale, locale.code());
        for other in translated {
            document.add_text(f.translated, other.code());
        }
        document.add_text(f.title, fields.get(content_type.title_field()).and_then(Value::as_str).unwrap_or(&entry.slug));
        document.add_facet(f.facets, Facet::from_path(["type", entry.content_type.as_str()]));
        let mut linked = BTreeSet::new();
        for link in links_of(content_type, fields) {
            // Only what is counted and filtered by: a facet per related
            // service would only make counting slower.
            if FACETS.contains(&link.to_type.as_str()) && linked.insert((link.to_type.clone(), link.to_slug.clone())) {
                document.add_facet(f.facets, Facet::from_path([link.to_type.as_str(), link.to_slug.as_str()]));
            }
        }
        let language = Language::of(locale);
        let mut naming = String::new();
        for text_field in &f.text {
            let Some(value) = fields.get(&text_field.name) else { continue };
            let text = text_of(value);
            if text.is_empty() {
                continue;
            }
            if text_field.boost >= NAMING_BOOST {
                naming.push_str(&text);
                naming.push('\n');
            }
            document.add_text(text_field.in_language(language), &text);
        }
        document.add_text(f.words, &naming);
        let mut plain = analysis::plain();
        let grams: Vec<String> = analysis::terms(&mut plain, &naming).iter().flat_map(|word| analysis::trigrams(word)).collect();
        document.add_text(f.trigrams, grams.join(" "));
        document
    }

    fn commit(&self, seq: i64, seq_at: Option<DateTime<Utc>>) -> Result<(), SearchError> {
        let position = Position { fingerprint: self.fields.fingerprint.clone(), seq, seq_at };
        {
            let mut writer = self.lock_writer();
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&serde_json::to_string(&position).unwrap_or_default());
            prepared.commit()?;
        }
        self.reader.reload()?;
        Ok(())
    }
}

/// The index follows the change log from its last commit, which outlives
/// a restart.
impl Consumer for SearchIndex {
    fn name(&self) -> &'static str {
        "search"
    }

    fn start<'a>(&'a self, store: &'a Store, _: i64) -> Work<'a, i64> {
        Box::pin(async move { Ok(SearchIndex::start(self, store).await?) })
    }

    fn apply<'a>(&'a self, store: &'a Store, changes: &'a [ChangeRow]) -> Work<'a, i64> {
        Box::pin(async move { Ok(SearchIndex::apply(self, store, changes).await?) })
    }
}

/// The text of a field value: a string, or the strings in a list.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(text_of).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}
