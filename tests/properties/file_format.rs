//! The editorial file parser answers every input with a file or with
//! problems, never a panic.

use katalog::content::{Locale, Registry, file_format};
use proptest::prelude::*;

use crate::{corpus, registry};

fn parses_without_panic(registry: &Registry, bytes: &[u8]) {
    for name in ["service", "office", "article"] {
        let content_type = registry.get(name).unwrap();
        for locale in [Locale::De, Locale::En, Locale::DeEasy] {
            if let Err(problems) = file_format::parse(bytes, content_type, locale) {
                assert!(!problems.is_empty(), "a refusal names at least one problem");
            }
        }
    }
}

#[test]
fn the_corpus_parses_without_panic() {
    let registry = registry();
    for (_, bytes) in corpus("file_format") {
        parses_without_panic(&registry, &bytes);
    }
}

/// Front matter fences, TOML punctuation and Markdown, shuffled.
fn file_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("+++\n".to_owned()),
        Just("+++".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("name = \"Bürgerbüro\"\n".to_owned()),
        Just("[address]\n".to_owned()),
        Just("[[opening_hours]]\n".to_owned()),
        Just("keywords = [\"a\", \n".to_owned()),
        Just("slug = 'x'\n".to_owned()),
        Just("= = =\n".to_owned()),
        Just("\"\"\"\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("# Überschrift\n".to_owned()),
        "[a-z_]{1,8} = [0-9]{1,20}\n",
        "\\PC{0,40}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_parse_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        parses_without_panic(&registry(), &bytes);
    }

    #[test]
    fn file_like_text_parses_without_panic(bytes in file_like()) {
        parses_without_panic(&registry(), &bytes);
    }

    #[test]
    fn a_real_file_with_bytes_changed_parses_without_panic(changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = std::fs::read(crate::repo_path("content/office/fundbuero.md")).unwrap();
        for (at, byte) in changes {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        parses_without_panic(&registry(), &bytes);
    }
}
