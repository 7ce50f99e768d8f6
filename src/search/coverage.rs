//! Ranking by how much of the query an entry covers.
//!
//! Each word of a query is one [`WordQuery`]: the ways the word can match
//! (whole word, stem per field, prefix, typo, compound, synonyms), each
//! with a [`Tier`] saying how strongly a match that way covers the word.
//! A document's score for the word is the best tier among the ways it
//! matches, times [`TIER_SCALE`], plus the summed BM25 strength of those
//! ways squashed below one. The words are summed, so an entry covering
//! more of the query (or covering it in stronger fields) always ranks
//! above one covering less, and among equal coverage the stronger matches
//! come first. A word that matches nothing adds nothing and excludes
//! nothing.

use std::fmt;

use tantivy::query::{BooleanQuery, EnableScoring, Explanation, Occur, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

use super::fields::NAMING_BOOST;

/// How strongly a way of matching covers a word: in a field that names
/// the entry, in its short text, in running text; a typo or prefix of a
/// name; a part of a compound.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Tier(pub f32);

impl Tier {
    pub const NAME: Tier = Tier(4.0);
    pub const NEAR_NAME: Tier = Tier(3.0);
    pub const SHORT_TEXT: Tier = Tier(2.0);
    pub const RUNNING_TEXT: Tier = Tier(1.0);
    pub const COMPOUND_PART: Tier = Tier(1.0);

    /// Half a step below: a synonym of the word matched.
    pub fn through_synonym(self) -> Tier {
        Tier(self.0 - 0.5)
    }

    /// The tier of a match in a field of this `x-search-boost`.
    pub fn of_field(boost: f32) -> Tier {
        if boost >= NAMING_BOOST {
            Tier::NAME
        } else if boost >= 1.5 {
            Tier::SHORT_TEXT
        } else {
            Tier::RUNNING_TEXT
        }
    }
}

/// More than the strength of all words together (each below one), so half
/// a step of coverage outweighs any difference in strength.
const TIER_SCALE: Score = 32.0;
/// The strength at which a word's squashed strength is one half.
const HALF_STRENGTH: Score = 20.0;

/// The ways one word of the query can match.
pub struct WordQuery {
    ways: Vec<(Tier, Box<dyn Query>)>,
}

impl WordQuery {
    pub fn new(ways: Vec<(Tier, Box<dyn Query>)>) -> WordQuery {
        WordQuery { ways }
    }
}

impl Clone for WordQuery {
    fn clone(&self) -> Self {
        WordQuery { ways: self.ways.iter().map(|(tier, query)| (*tier, query.box_clone())).collect() }
    }
}

impl fmt::Debug for WordQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ways.iter().map(|(tier, query)| (tier.0, query))).finish()
    }
}

impl Query for WordQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        if !enable_scoring.is_scoring_enabled() {
            // Only which documents match: any way of matching.
            let any = BooleanQuery::new(self.ways.iter().map(|(_, query)| (Occur::Should, query.box_clone())).collect());
            return any.weight(enable_scoring);
        }
        let ways = self.ways.iter().map(|(tier, query)| Ok((*tier, query.weight(enable_scoring)?))).collect::<tantivy::Result<_>>()?;
        Ok(Box::new(WordWeight { ways }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for (_, query) in &self.ways {
            query.query_terms(visitor);
        }
    }
}

struct WordWeight {
    ways: Vec<(Tier, Box<dyn Weight>)>,
}

impl Weight for WordWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let ways: Vec<(Tier, Box<dyn Scorer>)> = self
            .ways
            .iter()
            .map(|(tier, weight)| Ok((*tier, weight.scorer(reader, 1.0)?)))
            .filter(|way: &tantivy::Result<(Tier, Box<dyn Scorer>)>| way.as_ref().map_or(true, |(_, scorer)| scorer.doc() != TERMINATED))
            .collect::<tantivy::Result<_>>()?;
        let doc = ways.iter().map(|(_, scorer)| scorer.doc()).min().unwrap_or(TERMINATED);
        Ok(Box::new(WordScorer { ways, doc, boost }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!("document {doc} does not match")));
        }
        Ok(Explanation::new("best tier of the word × scale + squashed strength", scorer.score()))
    }
}

/// The documents any way of matching finds, in order.
struct WordScorer {
    ways: Vec<(Tier, Box<dyn Scorer>)>,
    doc: DocId,
    boost: Score,
}

impl WordScorer {
    fn settle(&mut self) -> DocId {
        self.doc = self.ways.iter().map(|(_, scorer)| scorer.doc()).min().unwrap_or(TERMINATED);
        self.doc
    }
}

impl DocSet for WordScorer {
    fn advance(&mut self) -> DocId {
        let doc = self.doc;
        for (_, scorer) in &mut self.ways {
            if scorer.doc() == doc {
                scorer.advance();
            }
        }
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        for (_, scorer) in &mut self.ways {
            if scorer.doc() < target {
                scorer.seek(target);
            }
        }
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.ways.iter().map(|(_, scorer)| scorer.size_hint()).max().unwrap_or(0)
    }
}

impl Scorer for WordScorer {
    fn score(&mut self) -> Score {
        let doc = self.doc;
        let (mut best, mut strength) = (0.0f32, 0.0f32);
        for (tier, scorer) in &mut self.ways {
            if scorer.doc() == doc {
                best = best.max(tier.0);
                strength += scorer.score();
            }
        }
        self.boost * (best * TIER_SCALE + strength / (strength + HALF_STRENGTH))
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::TopDocs;
    use tantivy::query::TermQuery;
    use tantivy::schema::{IndexRecordOption, STORED, STRING, Schema, TEXT, Value};
    use tantivy::{Index, TantivyDocument, doc};

    use super::*;

    /// Two words, one of them found nowhere: the entry covering the other
    /// word in its name ranks above those that have it only in running
    /// text, and none is left out; covering both words beats covering one.
    #[test]
    fn coverage_then_strength() {
        let mut schema = Schema::builder();
        let id = schema.add_text_field("id", STRING | STORED);
        let name = schema.add_text_field("name", TEXT);
        let body = schema.add_text_field("body", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.add_document(doc!(id => "in-body", name => "other", body => "ausweis ausweis ausweis ausweis")).unwrap();
        writer.add_document(doc!(id => "in-name", name => "ausweis", body => "nothing")).unwrap();
        writer.add_document(doc!(id => "both", name => "pass verloren", body => "ausweis")).unwrap();
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let word = |text: &str| -> Box<dyn Query> {
            let term = |field| Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs)) as Box<dyn Query>;
            Box::new(WordQuery::new(vec![(Tier::NAME, term(name)), (Tier::RUNNING_TEXT, term(body))]))
        };
        let ranked = |words: &[&str]| -> Vec<String> {
            let query = BooleanQuery::new(words.iter().map(|w| (Occur::Should, word(w))).collect());
            let top = searcher.search(&query, &TopDocs::with_limit(10).order_by_score()).unwrap();
            top.iter()
                .map(|(_, address)| searcher.doc::<TantivyDocument>(*address).unwrap().get_first(id).and_then(|v| v.as_str()).unwrap().to_owned())
                .collect()
        };
        let one_word_known = ranked(&["ausweis", "unbekannt"]);
        assert_eq!(one_word_known[0], "in-name", "strongest field first");
        assert_eq!(one_word_known.len(), 3, "the unknown word excludes nothing");
        assert_eq!(ranked(&["ausweis", "verloren"])[0], "both", "more of the query covered");
        assert!(ranked(&["unbekannt"]).is_empty());
    }
}
