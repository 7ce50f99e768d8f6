//! The synonym file editors maintain (`content/synonyms.toml`): words
//! people type, mapped to words the content uses.
//!
//! ```toml
//! [synonyms]
//! perso = ["Personalausweis"]
//! "hartz 4" = ["Bürgergeld", "Sozialamt"]
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
}

impl Synonyms {
    /// Reads the file; a missing file means no synonyms.
    pub fn load(path: &Path) -> Result<Synonyms, SearchError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Synonyms::default()),
            Err(source) => return Err(SearchError::Folder { path: path.display().to_string(), source }),
        };
        Synonyms::parse(&text).map_err(|message| SearchError::Synonyms { path: path.display().to_string(), message })
    }

    pub fn parse(text: &str) -> Result<Synonyms, String> {
        let file: File = toml::from_str(text).map_err(|error| error.to_string())?;
        let mut plain = analysis::plain();
        let mut expansions: HashMap<Vec<String>, Vec<String>> = HashMap::new();
        for (key, values) in file.synonyms {
            let words = analysis::terms(&mut plain, &key);
            if words.is_empty() || words.len() > LONGEST_KEY {
                return Err(format!("synonym key `{key}` must have 1 to {LONGEST_KEY} words"));
            }
            expansions.entry(words).or_default().extend(values);
        }
        Ok(Synonyms { expansions })
    }

    /// What the words starting at `position` expand to (keys of one to
    /// three words).
    pub fn expansions<'a>(&'a self, words: &[&str], position: usize) -> impl Iterator<Item = &'a str> + 'a {
        let keys: Vec<Vec<String>> =
            (1..=LONGEST_KEY).filter(|n| position + n <= words.len()).map(|n| words[position..position + n].iter().map(|w| w.to_string()).collect()).collect();
        keys.into_iter().filter_map(|key| self.expansions.get(&key)).flatten().map(String::as_str)
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
        assert!(found(&["hartz", "4"], 1).is_empty());
        assert_eq!(found(&["burgeramt"], 0), ["Bürgerbüro"], "umlaut spellings meet");
        assert!(Synonyms::parse("[synonyms]\n\"a b c d\" = [\"x\"]").is_err());
        assert!(Synonyms::parse("[other]\n").is_err());
    }
}
