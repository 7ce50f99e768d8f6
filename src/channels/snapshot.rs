//! Published entries read in full: the ones whose files are being made,
//! and the ones those files show in full (a service page shows its
//! offices' addresses and hours). Everything else a page says of other
//! entries comes from the [`Catalogue`](super::catalogue::Catalogue).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::views::{self, OfficeView};
use crate::content::{Audience, ContentType, Locale, Registry};
use crate::store::{Localised, PublishedRevision, Store, StoreError, localise, translated_fields};

/// Entries read per round trip.
pub const BATCH: usize = 500;

/// One published entry with every published locale.
#[derive(Debug)]
pub struct SnapshotEntry {
    pub id: String,
    pub content_type: Arc<ContentType>,
    pub slug: String,
    pub source: PublishedRevision,
    /// Published translations by locale.
    pub translations: BTreeMap<Locale, PublishedRevision>,
    /// Per translation (in `Locale::ALL` order), laid over the German
    /// source when first asked for (none when it does not fit): every
    /// channel and page showing the entry shares them.
    translated: [OnceLock<Option<Value>>; 3],
    /// Per shown locale.
    html: [OnceLock<BTreeMap<String, String>>; 3],
    /// Per requested locale: the entry as other entries' pages show it (an
    /// office on the page of every service it is responsible for).
    shown: [OnceLock<Arc<OfficeView>>; 3],
}

impl SnapshotEntry {
    /// The entry as `audience` may see it: fields meant for other channels
    /// are gone before any page or file can show them.
    pub fn new(
        id: String,
        content_type: Arc<ContentType>,
        slug: String,
        mut source: PublishedRevision,
        mut translations: BTreeMap<Locale, PublishedRevision>,
        audience: Audience,
    ) -> SnapshotEntry {
        content_type.hide_from(audience, &mut source.document);
        translations.values_mut().for_each(|translation| content_type.hide_from(audience, &mut translation.document));
        SnapshotEntry { id, content_type, slug, source, translations, translated: Default::default(), html: Default::default(), shown: Default::default() }
    }

    /// The fields in `locale`, German where the translation is missing or
    /// does not fit.
    pub fn fields(&self, locale: Locale) -> &Value {
        self.translation(locale).map_or(&self.source.document, |(_, fields)| fields)
    }

    /// The locale whose text `locale` shows: itself when translated, else German.
    pub fn shown_locale(&self, locale: Locale) -> Locale {
        self.translation(locale).map_or(Locale::SOURCE, |(shown, _)| shown)
    }

    /// The fields in `locale` as the delivery API serves them: with the
    /// revision and the localised values that fell back to German.
    pub fn localised(&self, locale: Locale) -> Localised {
        localise(&self.content_type, &self.source, self.translations.get(&locale), locale)
    }

    fn translation(&self, locale: Locale) -> Option<(Locale, &Value)> {
        let translation = self.translations.get(&locale).filter(|_| !locale.is_source())?;
        let slot = Locale::ALL.iter().position(|l| *l == locale)?;
        let fields = self.translated[slot].get_or_init(|| translated_fields(&self.content_type, &self.source, translation));
        fields.as_ref().map(|fields| (locale, fields))
    }

    /// The Markdown fields in `locale` as sanitised HTML, by field name.
    pub fn html(&self, locale: Locale) -> &BTreeMap<String, String> {
        let shown = self.shown_locale(locale);
        let slot = Locale::ALL.iter().position(|l| *l == shown).unwrap_or(0);
        self.html[slot].get_or_init(|| crate::render::markdown::fields_to_html(&self.content_type, self.fields(shown)))
    }

    /// The office as service pages in `locale` show it.
    pub fn office_view(&self, locale: Locale) -> Arc<OfficeView> {
        let slot = Locale::ALL.iter().position(|l| *l == locale).unwrap_or(0);
        self.shown[slot].get_or_init(|| Arc::new(views::office_view(self, locale))).clone()
    }

    /// The German source and each published translation.
    pub fn locales(&self) -> impl Iterator<Item = Locale> + '_ {
        std::iter::once(Locale::SOURCE).chain(self.translations.keys().copied())
    }
}

/// Batches being read ahead of the one worked on: reading (a query and a
/// JSON parse per revision) runs on as many cores as the caller leaves.
const READ_AHEAD: usize = 2;

/// Reads entries batch by batch, fetching the next batches while the
/// caller works on the current one: the database and the renderer take
/// turns on different cores instead of waiting for each other.
pub struct Batches {
    store: Store,
    registry: Arc<Registry>,
    audience: Audience,
    waiting: VecDeque<Vec<String>>,
    reading: VecDeque<tokio::task::JoinHandle<Result<Vec<SnapshotEntry>, StoreError>>>,
}

impl Batches {
    pub fn new(store: &Store, registry: &Arc<Registry>, ids: &[String], audience: Audience) -> Batches {
        let waiting = ids.chunks(BATCH).map(<[String]>::to_vec).collect();
        let mut batches = Batches { store: store.clone(), registry: registry.clone(), audience, waiting, reading: VecDeque::new() };
        batches.fetch();
        batches
    }

    fn fetch(&mut self) {
        while self.reading.len() < READ_AHEAD {
            let Some(ids) = self.waiting.pop_front() else { break };
            let (store, registry, audience) = (self.store.clone(), self.registry.clone(), self.audience);
            self.reading.push_back(tokio::spawn(async move { Snapshot::read(&store, &registry, &ids, audience).await }));
        }
    }

    /// The next batch's published entries; none when all were read.
    pub async fn next(&mut self) -> Result<Option<Vec<SnapshotEntry>>, StoreError> {
        let Some(reading) = self.reading.pop_front() else { return Ok(None) };
        self.fetch();
        // The reading task never is cancelled; a panic in it goes on here.
        let entries = match reading.await {
            Ok(read) => read?,
            Err(failed) => std::panic::resume_unwind(failed.into_panic()),
        };
        Ok(Some(entries))
    }
}

/// Published entries read in full, by type and slug.
#[derive(Default)]
pub struct Snapshot {
    entries: HashMap<(String, String), Arc<SnapshotEntry>>,
}

impl Snapshot {
    /// Reads the published entries among `ids` (unpublished ones and those
    /// of a type without a schema are skipped), in id order, as `audience`
    /// may see them.
    pub async fn read(store: &Store, registry: &Registry, ids: &[String], audience: Audience) -> Result<Vec<SnapshotEntry>, StoreError> {
        let mut entries = Vec::with_capacity(ids.len());
        for batch in ids.chunks(BATCH) {
            for (published, translations) in store.published_with_translations(batch).await? {
                // Entries of a type whose schema is gone have no channel form.
                let Some(content_type) = registry.get(&published.content_type).cloned() else { continue };
                let translations = translations.into_iter().map(|t| (t.locale, t)).collect();
                entries.push(SnapshotEntry::new(published.id, content_type, published.slug, published.source, translations, audience));
            }
        }
        Ok(entries)
    }

    pub fn insert(&mut self, entry: Arc<SnapshotEntry>) {
        self.entries.insert((entry.content_type.name.clone(), entry.slug.clone()), entry);
    }

    pub fn get(&self, content_type: &str, slug: &str) -> Option<&SnapshotEntry> {
        self.entries.get(&(content_type.to_owned(), slug.to_owned())).map(Arc::as_ref)
    }

    pub fn get_arc(&self, content_type: &str, slug: &str) -> Option<Arc<SnapshotEntry>> {
        self.entries.get(&(content_type.to_owned(), slug.to_owned())).cloned()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
