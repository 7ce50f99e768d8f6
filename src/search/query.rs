//! Turning what someone typed into ranked results.
//!
//! The query is never parsed as syntax: it is cut into words, and each
//! word becomes a [`WordQuery`] of the ways it can match: an exact whole
//! word in a name or keyword (boost 5 on BM25), the stem in any searchable
//! field (BM25 weighted by the field's `x-search-boost`), a prefix of a
//! whole word for the last word (a constant 10), the word with one typo
//! (two for nine letters or more; a constant 8), and shared trigrams for
//! compounds (0.3). Synonyms (the shipped dictionary and
//! `content/synonyms.toml`) join the ways of the word (or words) they
//! expand. Entries rank by how much of the query they cover, a word in a
//! name counting more than one in running text; a word found nowhere
//! excludes nothing (see [`super::coverage`]).

use std::collections::BTreeMap;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{Facet, Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{Language as StemLanguage, LowerCaser, SimpleTokenizer, TextAnalyzer};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use super::SearchError;
use super::analysis;
use super::coverage::{Tier, WordQuery};
use super::fields::{Language, NAMING_BOOST, TextField};
use super::index::SearchIndex;
use super::synonyms::Synonyms;
use super::tally::TallyCollector;
use crate::content::Locale;

const EXACT: f32 = 5.0;
const PREFIX: f32 = 10.0;
const TYPO: f32 = 8.0;
const COMPOUND: f32 = 0.3;
/// A known part of an unknown compound.
const COMPOUND_PART: f32 = 0.6;
/// Compound parts have at least this many letters.
const MIN_PART: usize = 4;
const SYNONYM: f32 = 0.8;
/// Longer queries are cut: nobody types more, and every word costs.
const MAX_QUERY_CHARS: usize = 200;
const MAX_WORDS: usize = 12;
const SNIPPET_CHARS: usize = 160;

#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    pub text: &'a str,
    pub locale: Locale,
    pub content_type: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub office: Option<&'a str>,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
    /// The locale of the document that matched (German when the entry has
    /// no translation into the requested locale).
    pub locale: String,
    pub title: String,
    /// HTML: the matched words in `<mark>`, everything else escaped.
    pub snippet: String,
    pub score: f32,
}

#[derive(Debug, Default)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    pub total: usize,
    /// Facet (`type`, `topic`, `office`) → its most frequent values with
    /// their numbers of matching entries, most frequent first.
    pub facets: BTreeMap<String, Vec<(String, u64)>>,
}

/// The facets counted for every search.
pub const FACETS: [&str; 3] = ["type", "topic", "office"];
/// Values shown per facet, the most frequent first (as Algolia and
/// Meilisearch do by default): a list of a thousand offices helps no one.
pub const FACET_VALUES: usize = 100;

/// How a word came to be searched for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The last word, still being typed: its beginning counts.
    Typing,
    /// A whole word as typed: the content may not know it (a typo, a compound).
    Typed,
    /// A synonym, a verb joined with its particle, a known part of a
    /// compound: a word exactly as the content would use it, never a typo.
    Derived,
}

/// One word of the query, in the forms the fields hold.
struct Word {
    plain: String,
    german: Option<String>,
    english: Option<String>,
}

impl Word {
    /// A stop word of the language or a word any question has ("wie
    /// bekomme ich …"): it names no service.
    fn names_nothing(&self, language: Language) -> bool {
        let stem = if language == Language::English { &self.english } else { &self.german };
        stem.is_none() || analysis::is_question_word(&self.plain)
    }
}

impl SearchIndex {
    pub fn search(&self, request: &SearchRequest<'_>, synonyms: &Synonyms) -> Result<SearchResults, SearchError> {
        let started = std::time::Instant::now();
        let searcher = self.reader.searcher();
        let results = self.search_with(&searcher, request, synonyms)?;
        tracing::debug!(query = request.text, total = results.total, elapsed = ?started.elapsed(), "search");
        Ok(results)
    }

    fn search_with(&self, searcher: &Searcher, request: &SearchRequest<'_>, synonyms: &Synonyms) -> Result<SearchResults, SearchError> {
        let Some(Typed { query: text, words }) = self.text_query(searcher, request.text, request.locale, synonyms) else {
            return Ok(SearchResults::default());
        };
        let query = self.filtered(text, request);
        let top = TopDocs::with_limit(request.limit.max(1)).and_offset(request.offset).order_by_score();
        let (top, tally) = searcher.search(&query, &(top, TallyCollector::new("facets", &self.facet_names)))?;
        let mut facets = BTreeMap::new();
        for name in FACETS {
            let mut values: Vec<(String, u64)> =
                tally.facets.get(name).map(|values| values.iter().map(|(value, count)| (value.to_string(), *count)).collect()).unwrap_or_default();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            values.truncate(FACET_VALUES);
            facets.insert(name.to_owned(), values);
        }
        let total = tally.total;
        let snippets = Snippets::new(self.snippet_generators(searcher, &*query, Language::of(request.locale))?, &words);
        let hits = top.into_iter().map(|(score, address)| self.hit(searcher, address, score, Some(&snippets))).collect::<Result<_, _>>()?;
        Ok(SearchResults { hits, total, facets })
    }

    /// Entries whose names complete what was typed so far, best first.
    pub fn suggest(&self, text: &str, locale: Locale, limit: usize, synonyms: &Synonyms) -> Result<Vec<Hit>, SearchError> {
        let request = SearchRequest { text, locale, content_type: None, topic: None, office: None, limit, offset: 0 };
        let searcher = self.reader.searcher();
        let Some(Typed { query, .. }) = self.text_query(&searcher, text, locale, synonyms) else { return Ok(Vec::new()) };
        let query = self.filtered(query, &request);
        let top = searcher.search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        top.into_iter().map(|(score, address)| self.hit(&searcher, address, score, None)).collect()
    }

    fn hit(&self, searcher: &Searcher, address: DocAddress, score: f32, snippets: Option<&Snippets>) -> Result<Hit, SearchError> {
        let document: TantivyDocument = searcher.doc(address)?;
        let f = &self.fields;
        let text = |field| document.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let snippet = snippets.map(|snippets| snippets.of(&document)).unwrap_or_default();
        Ok(Hit {
            entry_id: text(f.entry_id),
            content_type: text(f.content_type),
            slug: text(f.slug),
            locale: text(f.locale),
            title: text(f.title),
            snippet,
            score,
        })
    }

    /// Running-text fields of the language, most important first.
    fn snippet_generators(&self, searcher: &Searcher, query: &dyn Query, language: Language) -> Result<Vec<(Field, SnippetGenerator)>, SearchError> {
        let mut fields: Vec<_> = self.fields.text.iter().filter(|t| t.boost < NAMING_BOOST).collect();
        fields.sort_by(|a, b| b.boost.total_cmp(&a.boost));
        let mut generators = Vec::new();
        for text_field in fields {
            let field = text_field.in_language(language);
            let mut generator = SnippetGenerator::create(searcher, query, field)?;
            generator.set_max_num_chars(SNIPPET_CHARS);
            generators.push((field, generator));
        }
        Ok(generators)
    }

    /// The query for the words, or `None` when nothing searchable was typed.
    fn text_query(&self, searcher: &Searcher, text: &str, locale: Locale, synonyms: &Synonyms) -> Option<Typed> {
        let text: String = text.chars().take(MAX_QUERY_CHARS).collect();
        let language = Language::of(locale);
        let raw = analysis::terms(&mut TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).build(), &text);
        let raw: Vec<String> = raw.into_iter().take(MAX_WORDS).collect();
        let analyzers = Analyzers::new();
        let words: Vec<Word> = raw.iter().map(|w| analyzers.word(w)).collect();
        let last_open = !text.ends_with(char::is_whitespace);
        let mut groups: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut plain_words: Vec<String> = words.iter().map(|w| w.plain.clone()).collect();
        let plain: Vec<&str> = words.iter().map(|w| w.plain.as_str()).collect();
        // "wie melde ich mein auto ab": the verb is "abmelden".
        let particle = plain.last().filter(|last| words.len() > 1 && analysis::is_separable_particle(last));
        for (position, word) in words.iter().enumerate() {
            let expansions: Vec<&str> = synonyms.expansions(&plain, position).collect();
            let separated = particle.is_some() && position + 1 == words.len();
            if separated || (expansions.is_empty() && word.names_nothing(language)) {
                continue;
            }
            let mut alternatives = self.word_alternatives(
                searcher,
                &analyzers,
                word,
                language,
                if position + 1 == words.len() && last_open { Form::Typing } else { Form::Typed },
                1.0,
            );
            if let Some(particle) = particle {
                alternatives.extend(self.word_alternatives(
                    searcher,
                    &analyzers,
                    &analyzers.word(&format!("{particle}{}", raw[position])),
                    language,
                    Form::Derived,
                    1.0,
                ));
            }
            for expansion in expansions {
                for synonym_word in analysis::terms(&mut TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).build(), expansion) {
                    let synonym = analyzers.word(&synonym_word);
                    let covered = self.word_alternatives(searcher, &analyzers, &synonym, language, Form::Derived, SYNONYM);
                    // The word as typed covers it better than its synonym does.
                    alternatives.extend(covered.into_iter().map(|(tier, query)| (tier.through_synonym(), query)));
                    plain_words.push(synonym.plain);
                }
            }
            if !alternatives.is_empty() {
                groups.push((Occur::Should, Box::new(WordQuery::new(alternatives))));
            }
        }
        if groups.is_empty() {
            // Only stop words and question words ("wie", "the"): match them as whole words.
            for word in &words {
                let alternatives = self.word_alternatives(searcher, &analyzers, word, language, Form::Typed, 1.0);
                if !alternatives.is_empty() {
                    groups.push((Occur::Should, Box::new(WordQuery::new(alternatives))));
                }
            }
        }
        plain_words.retain(|w| !w.is_empty());
        (!groups.is_empty()).then(|| Typed { query: Box::new(BooleanQuery::new(groups)), words: plain_words })
    }

    /// The stem of the word in each searchable field of the languages searched.
    fn stem_terms<'w>(&'w self, word: &'w Word, language: Language) -> impl Iterator<Item = (&'w TextField, Term)> + 'w {
        let languages: &[Language] = if language == Language::English { &[Language::English, Language::German] } else { &[Language::German] };
        languages.iter().flat_map(move |&lang| {
            let stem = if lang == Language::English { &word.english } else { &word.german };
            stem.iter()
                .flat_map(move |stem| self.fields.text.iter().map(move |text_field| (text_field, Term::from_field_text(text_field.in_language(lang), stem))))
        })
    }

    /// Whether the content uses the word, whole in a name or stemmed anywhere.
    fn is_known(&self, searcher: &Searcher, word: &Word, language: Language) -> bool {
        let occurs = |term: &Term| searcher.doc_freq(term).is_ok_and(|count| count > 0);
        occurs(&Term::from_field_text(self.fields.words, &word.plain)) || self.stem_terms(word, language).any(|(_, term)| occurs(&term))
    }

    /// The parts of a compound the content does not use whole but knows as
    /// words: the longest known head ("heiratsurkunde": "urkunde") and what
    /// is left before it, with or without a joining s ("heirat").
    fn compound_parts(&self, searcher: &Searcher, analyzers: &Analyzers, plain: &str, language: Language) -> Vec<Word> {
        let chars: Vec<char> = plain.chars().collect();
        if chars.len() < 2 * MIN_PART {
            return Vec::new();
        }
        let known = |part: &[char]| -> Option<Word> {
            let word = analyzers.word(&part.iter().collect::<String>());
            self.is_known(searcher, &word, language).then_some(word)
        };
        for split in MIN_PART..=chars.len() - MIN_PART {
            let Some(head) = known(&chars[split..]) else { continue };
            let modifier = &chars[..split];
            let unjoined = modifier.strip_suffix(&['s']).filter(|rest| rest.len() >= MIN_PART);
            let modifier = known(modifier).or_else(|| unjoined.and_then(known));
            return [Some(head), modifier].into_iter().flatten().collect();
        }
        Vec::new()
    }

    fn word_alternatives(
        &self,
        searcher: &Searcher,
        analyzers: &Analyzers,
        word: &Word,
        language: Language,
        form: Form,
        weight: f32,
    ) -> Vec<(Tier, Box<dyn Query>)> {
        let f = &self.fields;
        let mut alternatives: Vec<(Tier, Box<dyn Query>)> = Vec::new();
        let add = |alternatives: &mut Vec<(Tier, Box<dyn Query>)>, tier: Tier, query: Box<dyn Query>, boost: f32| {
            alternatives.push((tier, Box::new(BoostQuery::new(query, boost * weight))))
        };
        if word.plain.is_empty() {
            return Vec::new();
        }
        let whole = Term::from_field_text(f.words, &word.plain);
        add(&mut alternatives, Tier::NAME, Box::new(TermQuery::new(whole.clone(), IndexRecordOption::WithFreqs)), EXACT);
        for (text_field, term) in self.stem_terms(word, language) {
            add(&mut alternatives, Tier::of_field(text_field.boost), Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)), text_field.boost);
        }
        let letters = word.plain.chars().count();
        let open = form == Form::Typing;
        if open && letters >= 3 {
            add(&mut alternatives, Tier::NEAR_NAME, Box::new(FuzzyTermQuery::new_prefix(whole.clone(), 0, false)), PREFIX);
        }
        // A word the content uses is taken as typed; only unknown words are
        // typos or compounds worth the costlier matching.
        if form == Form::Derived || self.is_known(searcher, word, language) {
            return alternatives;
        }
        for part in self.compound_parts(searcher, analyzers, &word.plain, language) {
            let covered = self.word_alternatives(searcher, analyzers, &part, language, Form::Derived, weight * COMPOUND_PART);
            // A part of the word does not name the entry as the whole word would.
            alternatives.extend(covered.into_iter().map(|(tier, query)| (Tier(tier.0.min(Tier::NEAR_NAME.0)), query)));
        }
        if letters >= 5 {
            let distance = if letters >= 9 { 2 } else { 1 };
            add(&mut alternatives, Tier::NEAR_NAME, Box::new(FuzzyTermQuery::new(whole, distance, true)), TYPO);
            if open {
                add(
                    &mut alternatives,
                    Tier::SHORT_TEXT,
                    Box::new(FuzzyTermQuery::new_prefix(Term::from_field_text(f.words, &word.plain), 1, true)),
                    TYPO * 0.5,
                );
            }
        }
        let grams = analysis::trigrams(&word.plain);
        if !grams.is_empty() {
            let pieces: Vec<(Occur, Box<dyn Query>)> = grams
                .iter()
                .map(|g| (Occur::Should, Box::new(TermQuery::new(Term::from_field_text(f.trigrams, g), IndexRecordOption::WithFreqs)) as Box<dyn Query>))
                .collect();
            // A third of the pieces in common: a shared part of a compound,
            // not a few letters any long word has.
            let required = (pieces.len() / 3).max(2);
            add(&mut alternatives, Tier::COMPOUND_PART, Box::new(BooleanQuery::with_minimum_required_clauses(pieces, required)), COMPOUND);
        }
        alternatives
    }

    /// Restricts to the locale (with fallback), type, topic and office,
    /// without changing the ranking.
    fn filtered(&self, text: Box<dyn Query>, request: &SearchRequest<'_>) -> Box<dyn Query> {
        let f = &self.fields;
        let term = |field, value: &str| -> Box<dyn Query> { Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic)) };
        let locale: Box<dyn Query> = if request.locale.is_source() {
            term(f.locale, Locale::SOURCE.code())
        } else {
            // The translation, or German for entries without one.
            let fallback =
                BooleanQuery::new(vec![(Occur::Must, term(f.locale, Locale::SOURCE.code())), (Occur::MustNot, term(f.translated, request.locale.code()))]);
            Box::new(BooleanQuery::new(vec![(Occur::Should, term(f.locale, request.locale.code())), (Occur::Should, Box::new(fallback))]))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text), (Occur::Must, Box::new(ConstScoreQuery::new(locale, 0.0)))];
        if let Some(content_type) = request.content_type {
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(term(f.content_type, content_type), 0.0))));
        }
        for (name, value) in [("topic", request.topic), ("office", request.office)] {
            if let Some(value) = value {
                let facet = Term::from_facet(f.facets, &Facet::from_path([name, value]));
                clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(Box::new(TermQuery::new(facet, IndexRecordOption::Basic)), 0.0))));
            }
        }
        Box::new(BooleanQuery::new(clauses))
    }
}

/// A query made of what was typed, and the words it was made of (plain
/// forms, with synonyms).
struct Typed {
    query: Box<dyn Query>,
    words: Vec<String>,
}

/// Highlighted excerpts of the running text of hits.
struct Snippets {
    /// Running-text fields of the language, most important first.
    generators: Vec<(Field, SnippetGenerator)>,
    /// The beginnings of what was typed: where in a text to look.
    beginnings: Vec<Beginning>,
}

impl Snippets {
    fn new(generators: Vec<(Field, SnippetGenerator)>, words: &[String]) -> Snippets {
        Snippets { generators, beginnings: words.iter().map(|w| Beginning::of(w)).filter(|b| b.length > 0).collect() }
    }

    fn of(&self, document: &TantivyDocument) -> String {
        let texts = || self.generators.iter().filter_map(|(field, generator)| Some((document.get_first(*field)?.as_str()?, generator)));
        for (text, generator) in texts() {
            let Some(window) = self.window(text) else { continue };
            let mut found = generator.snippet(window);
            if !found.is_empty() {
                found.set_snippet_prefix_postfix("<mark>", "</mark>");
                return found.to_html();
            }
        }
        // Nothing matched in the running text (a name or keyword did): its start.
        let start = texts().map(|(text, _)| text).find(|text| !text.is_empty()).unwrap_or_default();
        crate::render::escape::escape(&start.chars().take(SNIPPET_CHARS).collect::<String>())
    }

    /// The stretch of `text` around the first word that begins like a
    /// typed word, or `None` when there is none. Stemming a whole text for
    /// every hit costs more than the search; comparing beginnings is cheap.
    fn window<'t>(&self, text: &'t str) -> Option<&'t str> {
        let at = text
            .split(|c: char| !c.is_alphanumeric())
            .find(|word| !word.is_empty() && self.beginnings.contains(&Beginning::of(word)))
            .map(|word| word.as_ptr() as usize - text.as_ptr() as usize)?;
        let start = floor_char_boundary(text, at.saturating_sub(SNIPPET_CHARS / 2));
        let end = floor_char_boundary(text, start + 3 * SNIPPET_CHARS);
        Some(&text[start..end])
    }
}

/// The first four letters of a word as the plain analyzer folds them
/// (lower case; ä/ae → a, ö/oe → o, ü/ue → u, ß → ss), without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Beginning {
    letters: [char; 4],
    length: usize,
}

impl Beginning {
    fn of(word: &str) -> Beginning {
        let mut beginning = Beginning { letters: ['\0'; 4], length: 0 };
        let mut previous = '\0';
        for c in word.chars().flat_map(char::to_lowercase) {
            let after_q = beginning.letters[..beginning.length].ends_with(&['q', 'u']);
            let folded: &[char] = match c {
                'ä' => &['a'],
                'ö' => &['o'],
                'ü' => &['u'],
                'ß' => &['s', 's'],
                'e' if matches!(previous, 'a' | 'o') || (previous == 'u' && !after_q) => &[],
                _ => std::slice::from_ref(&c),
            };
            for &letter in folded {
                if beginning.length == 4 {
                    return beginning;
                }
                beginning.letters[beginning.length] = letter;
                beginning.length += 1;
            }
            previous = c;
        }
        beginning
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

struct Analyzers {
    plain: std::cell::RefCell<TextAnalyzer>,
    german: std::cell::RefCell<TextAnalyzer>,
    english: std::cell::RefCell<TextAnalyzer>,
}

impl Analyzers {
    fn new() -> Analyzers {
        Analyzers {
            plain: analysis::plain().into(),
            german: analysis::stemming(StemLanguage::German).into(),
            english: analysis::stemming(StemLanguage::English).into(),
        }
    }

    fn word(&self, raw: &str) -> Word {
        let first = |analyzer: &std::cell::RefCell<TextAnalyzer>| analysis::terms(&mut analyzer.borrow_mut(), raw).into_iter().next();
        Word { plain: first(&self.plain).unwrap_or_default(), german: first(&self.german), english: first(&self.english) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever is typed, a search answers (empty or not) and never fails.
    #[test]
    fn any_input_is_searchable() {
        let registry = std::sync::Arc::new(crate::content::Registry::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")).unwrap());
        let index = SearchIndex::open(None, registry).unwrap();
        let synonyms = Synonyms::parse("[synonyms]\nperso = [\"Personalausweis\"]\n\"a b\" = [\"c\"]").unwrap();
        let alphabet: Vec<char> = "aäeoöuüßqQZ09 \t\n\"*:()-+^~!?.,;/\\'`<>&|{}[]🦀é\u{0}\u{200b}ﬁ".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..1500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 80) as usize;
            let text: String = (0..length).map(|i| alphabet[((state >> (i % 50)) as usize + i * 7) % alphabet.len()]).collect();
            for locale in Locale::ALL {
                let request = SearchRequest { text: &text, locale, content_type: Some("service"), topic: Some("x"), office: None, limit: 5, offset: 3 };
                index.search(&request, &synonyms).unwrap_or_else(|e| panic!("{text:?}: {e}"));
                index.suggest(&text, locale, 5, &synonyms).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            }
        }
    }

    #[test]
    fn beginnings_fold_as_the_plain_analyzer_does() {
        let mut plain = analysis::plain();
        for word in ["Führerschein", "fuehrerschein", "Straße", "Quelle", "Steuer", "ÄRGER", "Aerger", "Ab", "Öl", "Zuerst", "Dauer"] {
            let folded = analysis::terms(&mut plain, word).remove(0);
            assert_eq!(Beginning::of(word), Beginning::of(&folded), "{word} / {folded}");
            let expected: Vec<char> = folded.chars().take(4).collect();
            assert_eq!(&Beginning::of(word).letters[..Beginning::of(word).length], &expected[..], "{word}");
        }
    }
}
