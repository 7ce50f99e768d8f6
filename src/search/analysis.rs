//! How text becomes search terms.
//!
//! * `de_stem` / `en_stem`: lower-cased, stop words dropped, stemmed
//!   (Snowball), then folded. The German stemmer already treats ä, ae and a
//!   alike, so "Führerschein", "fuehrerschein" and "fuhrerschein" meet.
//! * `plain`: lower-cased, umlauts normalised (ä/ae → a, ö/oe → o,
//!   ü/ue → u, ß → ss), folded, not stemmed: exact matches, prefixes for
//!   autocomplete and typo tolerance work on these whole words.
//! * trigrams of plain words catch compounds written differently
//!   ("Wohnungsanmeldung" shares most of its trigrams with "Wohnung" and
//!   "Anmeldung").

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};

pub const DE_STEM: &str = "german";
pub const EN_STEM: &str = "english";
pub const PLAIN: &str = "plain";

/// Words longer than this are not words (hashes, URLs) and not indexed.
const LONGEST_WORD: usize = 40;

pub fn stemming(language: Language) -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default()).filter(RemoveLongFilter::limit(LONGEST_WORD)).filter(LowerCaser);
    match StopWordFilter::new(language) {
        Some(stop_words) => builder.filter(stop_words).filter(Stemmer::new(language)).filter(AsciiFoldingFilter).build(),
        None => builder.filter(Stemmer::new(language)).filter(AsciiFoldingFilter).build(),
    }
}

pub fn plain() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_WORD))
        .filter(LowerCaser)
        .filter(GermanNormalizer)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The terms an analyzer makes of a text.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    while stream.advance() {
        terms.push(stream.token().text.clone());
    }
    terms
}

/// ä/ae → a, ö/oe → o, ü/ue → u (not in "qu…"), ß → ss, on lower-case text.
pub fn german_normalize(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut previous = '\0';
    for c in word.chars() {
        match c {
            'ä' => out.push('a'),
            'ö' => out.push('o'),
            'ü' => out.push('u'),
            'ß' => out.push_str("ss"),
            'e' if matches!(previous, 'a' | 'o') || (previous == 'u' && !out.ends_with("qu")) => {}
            _ => out.push(c),
        }
        previous = c;
    }
    out
}

/// Three-letter pieces of a plain word, for words long enough to be
/// compounds.
pub fn trigrams(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < MIN_COMPOUND_LENGTH {
        return Vec::new();
    }
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

/// Words of a question that name no service ("wo bekomme ich …", "I need
/// …"), in their plain forms; the stop word lists of the stemmers already
/// leave out "wie", "ich", "the" and the like.
const QUESTION_WORDS: [&str; 30] = [
    "bekomme",
    "bekommen",
    "bekommt",
    "kriege",
    "kriegen",
    "brauche",
    "brauchen",
    "braucht",
    "benotige",
    "benotigen",
    "mochte",
    "mochten",
    "will",
    "wollen",
    "tun",
    "mache",
    "machen",
    "gibt",
    "bitte",
    "hallo",
    "frage",
    "infos",
    "wohin",
    "wann",
    "welche",
    "need",
    "want",
    "get",
    "please",
    "hello",
];

pub fn is_question_word(plain: &str) -> bool {
    QUESTION_WORDS.contains(&plain)
}

/// The particles of separable verbs that end a German sentence ("ich melde
/// mich an" for "anmelden").
const SEPARABLE_PARTICLES: [&str; 7] = ["an", "ab", "um", "aus", "ein", "auf", "zu"];

pub fn is_separable_particle(plain: &str) -> bool {
    SEPARABLE_PARTICLES.contains(&plain)
}

/// Shorter words are matched whole.
pub const MIN_COMPOUND_LENGTH: usize = 6;

#[derive(Clone)]
pub struct GermanNormalizer;

impl TokenFilter for GermanNormalizer {
    type Tokenizer<T: Tokenizer> = GermanNormalizerFilter<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> GermanNormalizerFilter<T> {
        GermanNormalizerFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub struct GermanNormalizerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for GermanNormalizerFilter<T> {
    type TokenStream<'a> = GermanNormalizerStream<T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        GermanNormalizerStream { tail: self.inner.token_stream(text) }
    }
}

pub struct GermanNormalizerStream<S> {
    tail: S,
}

impl<S: TokenStream> TokenStream for GermanNormalizerStream<S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        token.text = german_normalize(&token.text);
        true
    }
    fn token(&self) -> &Token {
        self.tail.token()
    }
    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umlaut_spellings_meet() {
        let mut plain = plain();
        for spelling in ["Führerschein", "Fuehrerschein", "fuhrerschein", "FÜHRERSCHEIN"] {
            assert_eq!(terms(&mut plain, spelling), ["fuhrerschein"], "{spelling}");
        }
        assert_eq!(terms(&mut plain, "Straße Strasse"), ["strasse", "strasse"]);
        assert_eq!(terms(&mut plain, "Quelle Steuer"), ["quelle", "steur"], "qu keeps its e; others fold alike at index and query time");
        let mut stem = stemming(Language::German);
        assert_eq!(terms(&mut stem, "Führerscheine"), terms(&mut stem, "fuehrerschein"));
    }

    #[test]
    fn stop_words_go_and_stems_meet() {
        let mut stem = stemming(Language::German);
        assert_eq!(terms(&mut stem, "wo melde ich mich an"), terms(&mut stem, "melden"));
        let mut english = stemming(Language::English);
        assert_eq!(terms(&mut english, "applying for the licences"), ["appli", "licenc"]);
    }

    #[test]
    fn compounds_share_trigrams() {
        let query = trigrams("wohnungsanmeldung");
        let shared = ["wohnung", "anmeldung"].iter().flat_map(|w| trigrams(w)).filter(|g| query.contains(g)).count();
        assert!(shared >= 10, "{shared}");
        assert!(trigrams("amt").is_empty());
    }
}
