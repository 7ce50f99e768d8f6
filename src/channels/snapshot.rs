//! Published entries read in full: the ones whose files are being made,
//! and the ones those files show in full (a service page shows its
//! offices' addresses and hours). Everything else a page says of other
//! entries comes from the [`Catalogue`](super::catalogue::Catalogue).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use crate::content::{ContentType, Locale, Registry};
use crate::store::{Localised, PublishedRevision, Store, StoreError, localise};

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
    /// Per locale (in `Locale::ALL` order), made when first asked for:
    /// every channel and page showing the entry shares them.
    localised: [OnceLock<Localised>; 3],
    html: [OnceLock<BTreeMap<String, String>>; 3],
}

impl SnapshotEntry {
    pub fn new(id: String, content_type: Arc<ContentType>, slug: String, source: PublishedRevision, translations: BTreeMap<Locale, PublishedRevision>) -> SnapshotEntry {
        SnapshotEntry { id, content_type, slug, source, translations, localised: Default::default(), html: Default::default() }
    }

    /// The fields in `locale`, German where the translation is missing.
    pub fn in_locale(&self, locale: Locale) -> &Localised {
        let (locale, slot) = self.slot(locale);
        self.localised[slot].get_or_init(|| localise(&self.content_type, &self.source, self.translations.get(&locale), locale))
    }

    /// The Markdown fields in `locale` as sanitised HTML, by field name.
    pub fn html(&self, locale: Locale) -> &BTreeMap<String, String> {
        let (shown, slot) = self.slot(locale);
        self.html[slot].get_or_init(|| crate::render::markdown::fields_to_html(&self.content_type, &self.in_locale(shown).fields))
    }

    /// Without a translation a locale shows what German shows.
    fn slot(&self, locale: Locale) -> (Locale, usize) {
        let locale = if self.translations.contains_key(&locale) { locale } else { Locale::SOURCE };
        (locale, Locale::ALL.iter().position(|l| *l == locale).unwrap_or(0))
    }

    /// The German source and each published translation.
    pub fn locales(&self) -> impl Iterator<Item = Locale> + '_ {
        std::iter::once(Locale::SOURCE).chain(self.translations.keys().copied())
    }
}

/// Reads entries batch by batch, fetching the next batch while the caller
/// works on the current one: the database and the renderer take turns on
/// different cores instead of waiting for each other.
pub struct Batches {
    store: Store,
    registry: Arc<Registry>,
    waiting: VecDeque<Vec<String>>,
    next: Option<tokio::task::JoinHandle<Result<Vec<SnapshotEntry>, StoreError>>>,
}

impl Batches {
    pub fn new(store: &Store, registry: &Arc<Registry>, ids: &[String]) -> Batches {
        let waiting = ids.chunks(BATCH).map(<[String]>::to_vec).collect();
        let mut batches = Batches { store: store.clone(), registry: registry.clone(), waiting, next: None };
        batches.fetch();
        batches
    }

    fn fetch(&mut self) {
        self.next = self.waiting.pop_front().map(|ids| {
            let (store, registry) = (self.store.clone(), self.registry.clone());
            tokio::spawn(async move { Snapshot::read(&store, &registry, &ids).await })
        });
    }

    /// The next batch's published entries; none when all were read.
    pub async fn next(&mut self) -> Result<Option<Vec<SnapshotEntry>>, StoreError> {
        let Some(reading) = self.next.take() else { return Ok(None) };
        // The reading task never is cancelled; a panic in it goes on here.
        let entries = match reading.await {
            Ok(read) => read?,
            Err(failed) => std::panic::resume_unwind(failed.into_panic()),
        };
        self.fetch();
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
    /// of a type without a schema are skipped), in id order.
    pub async fn read(store: &Store, registry: &Registry, ids: &[String]) -> Result<Vec<SnapshotEntry>, StoreError> {
        let mut entries = Vec::with_capacity(ids.len());
        for batch in ids.chunks(BATCH) {
            for (published, translations) in store.published_with_translations(batch).await? {
                // Entries of a type whose schema is gone have no channel form.
                let Some(content_type) = registry.get(&published.content_type).cloned() else { continue };
                let translations = translations.into_iter().map(|t| (t.locale, t)).collect();
                entries.push(SnapshotEntry::new(published.id, content_type, published.slug, published.source, translations));
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
