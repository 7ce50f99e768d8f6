//! What every page may say of any other entry: its name and teaser in
//! each published locale, and what it refers to. A page that links to an
//! office, or lists the services of a topic, reads it here instead of
//! loading those entries; an export keeps the catalogue between runs, so
//! an incremental export knows who shows whom without reading everything.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::snapshot::SnapshotEntry;
use super::views::{EntryLink, href, lang, name_of, text};
use crate::content::{Locale, document};

/// An entry's type and slug: how pages address it.
pub type Key = (String, String);

/// One published entry as other pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    #[serde(rename = "type")]
    pub content_type: String,
    pub slug: String,
    /// One per published locale, German first.
    pub labels: Vec<Label>,
    /// The entries the German source refers to, in document order.
    pub references: Vec<Key>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub locale: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub teaser: String,
}

impl Summary {
    pub fn of(entry: &SnapshotEntry) -> Summary {
        let labels = entry
            .locales()
            .map(|locale| {
                let fields = entry.fields(locale);
                Label { locale: locale.code().to_owned(), name: name_of(entry, fields), teaser: text(fields, "teaser") }
            })
            .collect();
        let mut references: Vec<Key> = Vec::new();
        for reference in document::references(&entry.content_type, &entry.source.document) {
            let key = (reference.target_type, reference.target_slug);
            if !references.contains(&key) {
                references.push(key);
            }
        }
        Summary { id: entry.id.clone(), content_type: entry.content_type.name.clone(), slug: entry.slug.clone(), labels, references }
    }

    pub fn key(&self) -> Key {
        (self.content_type.clone(), self.slug.clone())
    }

    /// The published locales, German first.
    pub fn locales(&self) -> impl Iterator<Item = Locale> + '_ {
        self.labels.iter().filter_map(|label| Locale::parse(&label.locale))
    }

    /// The label shown in `locale`: its translation when published, else German.
    fn label(&self, locale: Locale) -> Option<(Locale, &Label)> {
        let translated = self.labels.iter().find(|l| l.locale == locale.code()).map(|l| (locale, l));
        translated.or_else(|| self.labels.first().map(|l| (Locale::SOURCE, l)))
    }
}

/// Referrer lookups answered by going through every entry before an index
/// of them is built: an incremental export asks a few times, a full one
/// thousands of times.
const LOOKUPS_BEFORE_INDEX: usize = 8;

type Referrers = HashMap<Key, BTreeSet<Key>>;

/// Every published entry's summary, by type and slug.
#[derive(Debug, Default)]
pub struct Catalogue {
    entries: BTreeMap<Key, Summary>,
    by_id: HashMap<String, Key>,
    /// For each key, the entries that refer to it, in type and slug order;
    /// built when lookups become frequent, kept up to date from then on.
    referrers: OnceLock<Referrers>,
    lookups: AtomicUsize,
}

impl Clone for Catalogue {
    fn clone(&self) -> Catalogue {
        Catalogue {
            entries: self.entries.clone(),
            by_id: self.by_id.clone(),
            referrers: self.referrers.clone(),
            lookups: AtomicUsize::new(self.lookups.load(Ordering::Relaxed)),
        }
    }
}

impl Catalogue {
    pub fn from_summaries(summaries: impl IntoIterator<Item = Summary>) -> Catalogue {
        let mut catalogue = Catalogue::default();
        for summary in summaries {
            catalogue.insert(summary);
        }
        catalogue
    }

    /// Adds or replaces an entry; returns the summary it replaced.
    pub fn insert(&mut self, summary: Summary) -> Option<Summary> {
        let previous = self.remove(&summary.id);
        let key = summary.key();
        if let Some(index) = self.referrers.get_mut() {
            for target in &summary.references {
                index.entry(target.clone()).or_default().insert(key.clone());
            }
        }
        self.by_id.insert(summary.id.clone(), key.clone());
        self.entries.insert(key, summary);
        previous
    }

    /// Takes an entry out (unpublished or deleted); returns its summary.
    pub fn remove(&mut self, id: &str) -> Option<Summary> {
        let key = self.by_id.remove(id)?;
        let summary = self.entries.remove(&key)?;
        if let Some(index) = self.referrers.get_mut() {
            for target in &summary.references {
                if let Some(referrers) = index.get_mut(target) {
                    referrers.remove(&key);
                    if referrers.is_empty() {
                        index.remove(target);
                    }
                }
            }
        }
        Some(summary)
    }

    pub fn get(&self, content_type: &str, slug: &str) -> Option<&Summary> {
        self.entries.get(&(content_type.to_owned(), slug.to_owned()))
    }

    pub fn by_id(&self, id: &str) -> Option<&Summary> {
        self.entries.get(self.by_id.get(id)?)
    }

    /// Every entry, in type and slug order.
    pub fn all(&self) -> impl Iterator<Item = &Summary> {
        self.entries.values()
    }

    /// The entries of one type, in slug order.
    pub fn of_type<'a>(&'a self, content_type: &'a str) -> impl Iterator<Item = &'a Summary> + 'a {
        let start = (content_type.to_owned(), String::new());
        self.entries.range(start..).map(|(_, summary)| summary).take_while(move |s| s.content_type == content_type)
    }

    /// The entries that refer to `key`, in type and slug order.
    pub fn referrers(&self, key: &Key) -> impl Iterator<Item = &Summary> {
        let index = match self.referrers.get() {
            Some(index) => Some(index),
            None if self.lookups.fetch_add(1, Ordering::Relaxed) < LOOKUPS_BEFORE_INDEX => None,
            None => Some(self.referrers.get_or_init(|| self.index_referrers())),
        };
        let found: Vec<&Summary> = match index {
            Some(index) => index.get(key).into_iter().flatten().filter_map(|k| self.entries.get(k)).collect(),
            None => self.entries.values().filter(|summary| summary.references.contains(key)).collect(),
        };
        found.into_iter()
    }

    fn index_referrers(&self) -> Referrers {
        let mut index = Referrers::new();
        for (key, summary) in &self.entries {
            for target in &summary.references {
                index.entry(target.clone()).or_default().insert(key.clone());
            }
        }
        index
    }

    /// The locales with at least one published page: German, and each
    /// translation some entry has.
    pub fn locales(&self) -> Vec<Locale> {
        let mut found: BTreeSet<Locale> = BTreeSet::from([Locale::SOURCE]);
        for summary in self.entries.values() {
            found.extend(summary.locales());
        }
        Locale::ALL.into_iter().filter(|l| found.contains(l)).collect()
    }

    /// A link to `type/slug` from a page in `locale`: to its page in that
    /// locale when translated, else to the German page.
    pub fn link(&self, locale: Locale, content_type: &str, slug: &str) -> Option<EntryLink> {
        let (shown, label) = self.get(content_type, slug)?.label(locale)?;
        Some(EntryLink { href: href(shown, content_type, slug), name: label.name.clone(), lang: lang(shown).to_owned(), teaser: label.teaser.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, content_type: &str, slug: &str, references: &[(&str, &str)]) -> Summary {
        Summary {
            id: id.into(),
            content_type: content_type.into(),
            slug: slug.into(),
            labels: vec![Label { locale: "de".into(), name: format!("Name {slug}"), teaser: String::new() }],
            references: references.iter().map(|(t, s)| (t.to_string(), s.to_string())).collect(),
        }
    }

    #[test]
    fn referrers_follow_inserts_replacements_and_removals() {
        // Answered by going through the entries, then from the index.
        for lookups_first in [0, LOOKUPS_BEFORE_INDEX + 1] {
            let mut catalogue = Catalogue::from_summaries([
                summary("1", "service", "b", &[("office", "x")]),
                summary("2", "service", "a", &[("office", "x"), ("topic", "t")]),
                summary("3", "office", "x", &[]),
            ]);
            let office = ("office".to_owned(), "x".to_owned());
            let slugs = |c: &Catalogue| c.referrers(&office).map(|s| s.slug.clone()).collect::<Vec<_>>();
            for _ in 0..lookups_first {
                assert_eq!(slugs(&catalogue), ["a", "b"]);
            }
            assert_eq!(catalogue.referrers.get().is_some(), lookups_first > LOOKUPS_BEFORE_INDEX);
            assert_eq!(slugs(&catalogue), ["a", "b"]);
            let replaced = catalogue.insert(summary("1", "service", "b", &[("office", "y")]));
            assert_eq!(replaced.map(|s| s.references), Some(vec![office.clone()]));
            assert_eq!(slugs(&catalogue), ["a"]);
            catalogue.remove("2");
            assert!(slugs(&catalogue).is_empty());
            assert_eq!(catalogue.of_type("service").count(), 1);
            assert_eq!(catalogue.of_type("office").count(), 1);
        }
    }

    #[test]
    fn links_fall_back_to_german() {
        let mut entry = summary("1", "service", "pass", &[]);
        entry.labels.push(Label { locale: "en".into(), name: "Passport".into(), teaser: "Apply".into() });
        let catalogue = Catalogue::from_summaries([entry]);
        let english = catalogue.link(Locale::En, "service", "pass").unwrap();
        assert_eq!((english.href.as_str(), english.name.as_str(), english.lang.as_str()), ("/en/service/pass/", "Passport", "en"));
        let easy = catalogue.link(Locale::DeEasy, "service", "pass").unwrap();
        assert_eq!((easy.href.as_str(), easy.name.as_str()), ("/de/service/pass/", "Name pass"));
        assert!(catalogue.link(Locale::De, "service", "missing").is_none());
    }
}
