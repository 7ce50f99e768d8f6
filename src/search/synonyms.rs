//! Synonyms: the dictionary katalog ships (`dictionary.toml` beside this
//! file: everyday ↔ official German for the services of a city, English,
//! abbreviations), and the file editors maintain (`content/synonyms.toml`),
//! which adds to it.
//!
//! ```toml
//! [synonyms]          # one way: what people type → words of the content
//! perso = ["Personalausweis"]
//! "hartz 4" = ["Bürgergeld", "Sozialamt"]
//!
//! [pairs]             # both ways: the key ↔ each value
//! "knöllchen" = ["Verwarnungsgeld"]
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::SearchError;
use super::analysis;

/// Keys of up to this many words are recognised.
const LONGEST_KEY: usize = 3;

#[derive(Debug, Default)]
pub struct Synonyms {
    /// Plain words of a key → what it expands to.
    expansions: HashMap<Vec<String>, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    synonyms: HashMap<String, Vec<String>>,
    #[serde(default)]
    pairs: HashMap<String, Vec<String>>,
}

/// The dictionary katalog ships.
const SHIPPED: &str = include_str!("dictionary.toml");

impl Synonyms {
    /// The shipped dictionary and the city's file; a missing file adds nothing.
    pub fn load(path: &Path) -> Result<Synonyms, SearchError> {
        let mut synonyms = Synonyms::shipped();
        match std::fs::read_to_string(path) {
            Ok(text) => synonyms.add(&text).map_err(|message| SearchError::Synonyms { path: path.display().to_string(), message })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SearchError::Folder { path: path.display().to_string(), source }),
        }
        Ok(synonyms)
    }

    /// The dictionary katalog ships.
    pub fn shipped() -> Synonyms {
        let mut synonyms = Synonyms::default();
        // A unit test parses it, so it cannot fail here.
        let _ = synonyms.add(SHIPPED);
        synonyms
    }

    /// Only the synonyms of `text`.
    pub fn parse(text: &str) -> Result<Synonyms, String> {
        let mut synonyms = Synonyms::default();
        synonyms.add(text)?;
        Ok(synonyms)
    }

    fn add(&mut self, text: &str) -> Result<(), String> {
        let file: File = toml::from_str(text).map_err(|error| error.to_string())?;
        let mut plain = analysis::plain();
        let mut key_of = |key: &str| -> Result<Vec<String>, String> {
            let words = analysis::terms(&mut plain, key);
            if words.is_empty() || words.len() > LONGEST_KEY {
                return Err(format!("synonym key `{key}` must have 1 to {LONGEST_KEY} words"));
            }
            Ok(words)
        };
        for (key, values) in file.synonyms {
            self.insert(key_of(&key)?, values);
        }
        for (key, values) in file.pairs {
            for value in &values {
                // A value too long to be typed as a key is reached only from its key.
                if let Ok(words) = key_of(value) {
                    self.insert(words, vec![key.clone()]);
                }
            }
            self.insert(key_of(&key)?, values);
        }
        Ok(())
    }

    fn insert(&mut self, key: Vec<String>, values: Vec<String>) {
        let known = self.expansions.entry(key).or_default();
        for value in values {
            if !known.contains(&value) {
                known.push(value);
            }
        }
    }

    /// What the keys (of one to three words) that include the word at
    /// `position` expand to: every word of "birth certificate" is covered by
    /// "Geburtsurkunde".
    pub fn expansions<'a>(&'a self, words: &[&str], position: usize) -> impl Iterator<Item = &'a str> + 'a {
        let mut keys: Vec<Vec<String>> = Vec::new();
        for length in 1..=LONGEST_KEY {
            for start in position.saturating_sub(length - 1)..=position {
                if start + length <= words.len() {
                    keys.push(words[start..start + length].iter().map(|w| w.to_string()).collect());
                }
            }
        }
        let mut seen: Vec<&'a str> = Vec::new();
        keys.into_iter().filter_map(|key| self.expansions.get(&key)).flatten().map(String::as_str).filter(move |value| {
            let new = !seen.contains(value);
            if new {
                seen.push(value);
            }
            new
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_in_any_spelling_and_across_words() {
        let synonyms = Synonyms::parse("[synonyms]\nperso = [\"Personalausweis\"]\n\"hartz 4\" = [\"Bürgergeld\"]\n\"bürgeramt\" = [\"Bürgerbüro\"]").unwrap();
        let found = |words: &[&str], at| synonyms.expansions(words, at).collect::<Vec<_>>();
        assert_eq!(found(&["perso", "verloren"], 0), ["Personalausweis"]);
        assert_eq!(found(&["hartz", "4", "antrag"], 0), ["Bürgergeld"]);
        assert_eq!(found(&["hartz", "4"], 1), ["Bürgergeld"], "every word of a key is covered");
        assert!(found(&["4", "hartz"], 0).is_empty());
        assert_eq!(found(&["burgeramt"], 0), ["Bürgerbüro"], "umlaut spellings meet");
        assert!(Synonyms::parse("[synonyms]\n\"a b c d\" = [\"x\"]").is_err());
        assert!(Synonyms::parse("[other]\n").is_err());
    }

    #[test]
    fn pairs_reach_each_other_and_the_shipped_dictionary_loads() {
        let synonyms = Synonyms::parse("[pairs]\n\"knöllchen\" = [\"Verwarnungsgeld\", \"Bußgeld\"]").unwrap();
        let found = |words: &[&str]| synonyms.expansions(words, 0).collect::<Vec<_>>();
        assert_eq!(found(&["knollchen"]), ["Verwarnungsgeld", "Bußgeld"]);
        assert_eq!(found(&["verwarnungsgeld"]), ["knöllchen"]);
        assert!(found(&["bussgeld"]).contains(&"knöllchen"));

        Synonyms::parse(SHIPPED).expect("the shipped dictionary parses");
        let shipped = Synonyms::shipped();
        assert!(shipped.expansions.len() > 600, "{}", shipped.expansions.len());
        let city = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(city.path(), "[synonyms]\nzauberwort = [\"Wohngeld\"]").unwrap();
        let loaded = Synonyms::load(city.path()).unwrap();
        assert_eq!(loaded.expansions(&["zauberwort"], 0).collect::<Vec<_>>(), ["Wohngeld"], "the city's file adds");
        assert!(loaded.expansions(&["trauschein"], 0).any(|v| v == "Eheurkunde"), "to the shipped dictionary");
    }
}
