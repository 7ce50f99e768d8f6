//! The published content, read once for all channels of an export.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::content::{ContentType, Locale, Registry};
use crate::store::{Localised, PublishedRevision, Store, StoreError, localise};

/// Entries read per round trip.
const BATCH: usize = 500;

/// One published entry with every published locale.
#[derive(Debug)]
pub struct SnapshotEntry {
    pub id: String,
    pub content_type: Arc<ContentType>,
    pub slug: String,
    pub source: PublishedRevision,
    /// Published translations by locale.
    pub translations: BTreeMap<Locale, PublishedRevision>,
    /// Per locale (in `Locale::ALL` order), made when first asked for: every
    /// channel and page showing the entry shares it.
    renditions: [OnceLock<Rendition>; 3],
}

/// An entry in one locale: its fields and its Markdown rendered.
#[derive(Debug)]
struct Rendition {
    localised: Localised,
    html: BTreeMap<String, String>,
}

impl SnapshotEntry {
    /// The fields in `locale`, German where the translation is missing.
    pub fn in_locale(&self, locale: Locale) -> &Localised {
        &self.rendition(locale).localised
    }

    /// The Markdown fields in `locale` as sanitised HTML, by field name.
    pub fn html(&self, locale: Locale) -> &BTreeMap<String, String> {
        &self.rendition(locale).html
    }

    fn rendition(&self, locale: Locale) -> &Rendition {
        // Without a translation the locale shows what German shows.
        let locale = if self.translations.contains_key(&locale) { locale } else { Locale::SOURCE };
        let slot = Locale::ALL.iter().position(|l| *l == locale).unwrap_or(0);
        self.renditions[slot].get_or_init(|| {
            let localised = localise(&self.content_type, &self.source, self.translations.get(&locale), locale);
            let html = crate::render::markdown::fields_to_html(&self.content_type, &localised.fields);
            Rendition { localised, html }
        })
    }

    /// The German source and each published translation.
    pub fn locales(&self) -> impl Iterator<Item = Locale> + '_ {
        std::iter::once(Locale::SOURCE).chain(self.translations.keys().copied())
    }
}

/// Every published entry, by type and slug.
pub struct Snapshot {
    entries: BTreeMap<String, BTreeMap<String, SnapshotEntry>>,
    /// The change-log position read before the entries: every change up to
    /// it is in the snapshot (a change that came while it was read may be
    /// too, so a consumer resuming from here sees that one again).
    pub content_version: i64,
    /// Every content type, in name order, whether it has entries or not.
    pub content_types: Vec<Arc<ContentType>>,
}

impl Snapshot {
    pub async fn load(store: &Store, registry: &Registry, progress: &indicatif::ProgressBar) -> Result<Snapshot, StoreError> {
        let content_version = store.latest_change_seq().await?;
        let ids = store.published_entry_ids().await?;
        progress.set_length(ids.len() as u64);
        let mut entries: BTreeMap<String, BTreeMap<String, SnapshotEntry>> = BTreeMap::new();
        for batch in ids.chunks(BATCH) {
            let mut by_id: BTreeMap<String, SnapshotEntry> = BTreeMap::new();
            for published in store.published_entries(batch, Locale::SOURCE).await? {
                // Entries of a type whose schema is gone have no channel form.
                let Some(content_type) = registry.get(&published.content_type).cloned() else { continue };
                by_id.insert(
                    published.id.clone(),
                    SnapshotEntry {
                        id: published.id,
                        content_type,
                        slug: published.slug,
                        source: published.source,
                        translations: BTreeMap::new(),
                        renditions: Default::default(),
                    },
                );
            }
            for locale in Locale::ALL.into_iter().filter(|l| !l.is_source()) {
                for published in store.published_entries(batch, locale).await? {
                    if let (Some(entry), Some(translation)) = (by_id.get_mut(&published.id), published.translation) {
                        entry.translations.insert(locale, translation);
                    }
                }
            }
            for entry in by_id.into_values() {
                entries.entry(entry.content_type.name.clone()).or_default().insert(entry.slug.clone(), entry);
            }
            progress.inc(batch.len() as u64);
        }
        Ok(Snapshot { entries, content_version, content_types: registry.iter().cloned().collect() })
    }

    /// Published entries of a type, in slug order.
    pub fn of_type(&self, content_type: &str) -> impl Iterator<Item = &SnapshotEntry> {
        self.entries.get(content_type).into_iter().flat_map(|entries| entries.values())
    }

    /// Every published entry, by type and slug.
    pub fn all(&self) -> impl Iterator<Item = &SnapshotEntry> {
        self.entries.values().flat_map(|entries| entries.values())
    }

    pub fn get(&self, content_type: &str, slug: &str) -> Option<&SnapshotEntry> {
        self.entries.get(content_type)?.get(slug)
    }
}
