//! The search query parser takes whatever people type: every query is
//! answered, within its limit, never with a panic or an error.

use std::sync::{Arc, LazyLock};

use katalog::content::Locale;
use katalog::search::{SearchIndex, SearchRequest, Synonyms};
use proptest::prelude::*;

use crate::{SampleDatabase, corpus, registry, repo_path};

/// The sample content's index, built once by `katalog reindex`.
struct Sample {
    index: SearchIndex,
    synonyms: Synonyms,
    _database: SampleDatabase,
}

static SAMPLE: LazyLock<Sample> = LazyLock::new(|| {
    let database = SampleDatabase::imported();
    let folder = database.folder.path().join("search");
    database.katalog(&["reindex", "--search-index", folder.to_str().unwrap(), "--content", repo_path("content").to_str().unwrap()]);
    let index = SearchIndex::open(Some(&folder), Arc::new(registry())).unwrap();
    let synonyms = Synonyms::load(&repo_path("content/synonyms.toml")).unwrap();
    Sample { index, synonyms, _database: database }
});

fn answers(text: &str) {
    for locale in [Locale::De, Locale::En, Locale::DeEasy] {
        for content_type in [None, Some("service")] {
            let request = SearchRequest { text, locale, content_type, topic: None, office: None, limit: 5, offset: 0 };
            let results = SAMPLE.index.search(&request, &SAMPLE.synonyms).unwrap_or_else(|error| panic!("{text:?}: {error}"));
            assert!(results.hits.len() <= 5, "{text:?}: more hits than the limit");
        }
        let suggestions = SAMPLE.index.suggest(text, locale, 5, &SAMPLE.synonyms).unwrap_or_else(|error| panic!("{text:?}: {error}"));
        assert!(suggestions.len() <= 5);
    }
}

#[test]
fn the_corpus_is_answered() {
    for (name, bytes) in corpus("search_query") {
        for line in String::from_utf8(bytes).unwrap_or_else(|_| panic!("{name} is UTF-8")).lines() {
            answers(line);
        }
    }
}

/// Words of the content, query syntax other engines know, and noise.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("personalausweis".to_owned()),
        Just("Bürgerbüro".to_owned()),
        Just("ummelden".to_owned()),
        Just("trauschein".to_owned()),
        Just("\"".to_owned()),
        Just("*".to_owned()),
        Just("?".to_owned()),
        Just("-".to_owned()),
        Just("+".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(":".to_owned()),
        Just("~2".to_owned()),
        Just("^3".to_owned()),
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("NOT".to_owned()),
        Just("title:".to_owned()),
        Just("[a TO z]".to_owned()),
        Just("\\".to_owned()),
        Just(" ".to_owned()),
        Just("ß".to_owned()),
        Just("\u{0301}".to_owned()),
        "[a-zäöü]{1,12}",
        "\\PC{0,8}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn query_like_text_is_answered(text in query_like()) {
        answers(&text);
    }

    #[test]
    fn any_text_is_answered(text in "\\PC{0,200}") {
        answers(&text);
    }
}
