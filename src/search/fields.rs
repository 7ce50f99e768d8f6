//! The index's fields, derived from the content types: every top-level
//! field with an `x-search-boost` becomes a stemmed field per analysis
//! language, weighted by that boost; names, keywords and synonyms (boost 3
//! or more) also feed the whole-word field (exact, prefix, fuzzy) and the
//! trigram field (compounds).

use std::collections::BTreeMap;

use serde_json::Value;
use tantivy::schema::{FAST, FacetOptions, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions};

use super::analysis;
use crate::content::{Locale, Registry};

/// Fields at or above this boost name the entry: they feed whole-word and
/// trigram matching.
pub const NAMING_BOOST: f32 = 3.0;

/// The two analysis languages: Leichte Sprache is German.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Language {
    German,
    English,
}

impl Language {
    pub fn of(locale: Locale) -> Language {
        if locale == Locale::En { Language::English } else { Language::German }
    }

    fn suffix(self) -> &'static str {
        match self {
            Language::German => "de",
            Language::English => "en",
        }
    }

    pub fn analyzer(self) -> &'static str {
        match self {
            Language::German => analysis::DE_STEM,
            Language::English => analysis::EN_STEM,
        }
    }
}

/// One searchable content field.
#[derive(Clone, Debug)]
pub struct TextField {
    pub name: String,
    pub boost: f32,
    pub german: Field,
    pub english: Field,
}

impl TextField {
    pub fn in_language(&self, language: Language) -> Field {
        match language {
            Language::German => self.german,
            Language::English => self.english,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Fields {
    pub entry_id: Field,
    pub content_type: Field,
    pub slug: Field,
    pub locale: Field,
    /// The locales the entry has published translations for (on the
    /// German document): a search in English falls back to German only
    /// for entries without English.
    pub translated: Field,
    pub title: Field,
    /// `/type/…`, `/topic/…`, `/office/…`.
    pub facets: Field,
    pub words: Field,
    pub trigrams: Field,
    pub text: Vec<TextField>,
    pub schema: Schema,
    /// Changes when the fields change: the index is then rebuilt.
    pub fingerprint: String,
}

impl Fields {
    pub fn for_registry(registry: &Registry) -> Fields {
        let mut boosts: BTreeMap<String, f32> = BTreeMap::new();
        for content_type in registry.iter() {
            let properties = content_type.schema.get("properties").and_then(Value::as_object);
            for (name, property) in properties.into_iter().flatten() {
                if let Some(boost) = property.get("x-search-boost").and_then(Value::as_f64) {
                    let known = boosts.entry(name.clone()).or_insert(0.0);
                    *known = known.max(boost as f32);
                }
            }
        }
        let mut builder = Schema::builder();
        let entry_id = builder.add_text_field("entry_id", STRING | STORED);
        let content_type = builder.add_text_field("type", STRING | STORED);
        let slug = builder.add_text_field("slug", STRING | STORED);
        let locale = builder.add_text_field("locale", STRING | STORED | FAST);
        let translated = builder.add_text_field("translated", STRING);
        let title = builder.add_text_field("title", STORED);
        let facets = builder.add_facet_field("facets", FacetOptions::default());
        let whole_words = TextOptions::default()
            .set_indexing_options(TextFieldIndexing::default().set_tokenizer(analysis::PLAIN).set_index_option(IndexRecordOption::WithFreqsAndPositions));
        let words = builder.add_text_field("words", whole_words);
        let grams = TextOptions::default()
            .set_indexing_options(TextFieldIndexing::default().set_tokenizer("whitespace").set_index_option(IndexRecordOption::WithFreqs));
        let trigrams = builder.add_text_field("trigrams", grams);
        let text = boosts
            .iter()
            .map(|(name, boost)| {
                let [german, english] = [Language::German, Language::English].map(|language| {
                    let options = TextOptions::default()
                        .set_indexing_options(
                            TextFieldIndexing::default().set_tokenizer(language.analyzer()).set_index_option(IndexRecordOption::WithFreqsAndPositions),
                        )
                        .set_stored();
                    builder.add_text_field(&format!("{name}_{}", language.suffix()), options)
                });
                TextField { name: name.clone(), boost: *boost, german, english }
            })
            .collect();
        let fingerprint = format!("v2:{}", boosts.iter().map(|(name, boost)| format!("{name}={boost}")).collect::<Vec<_>>().join(","));
        Fields { entry_id, content_type, slug, locale, translated, title, facets, words, trigrams, text, schema: builder.build(), fingerprint }
    }
}
