//! Relevance evaluation: a file of realistic queries with the entries they
//! should find (`tests/relevance/queries.toml`), scored as Recall@3 (the
//! share of queries with an expected entry in the top three) and MRR (the
//! mean of 1/rank of the first expected entry, within the top ten).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{SearchError, SearchIndex, SearchRequest, Synonyms};
use crate::content::Locale;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct QueryFile {
    pub query: Vec<Case>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub q: String,
    #[serde(default = "source_locale")]
    pub locale: String,
    pub kind: String,
    /// `type/slug` of the entries any of which is a right answer.
    pub expect: Vec<String>,
}

fn source_locale() -> String {
    Locale::SOURCE.code().to_owned()
}

#[derive(Debug)]
pub struct Miss {
    pub q: String,
    pub kind: String,
    pub expect: Vec<String>,
    /// The top three actually returned.
    pub got: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub queries: usize,
    pub recall_at_3: f64,
    pub mrr: f64,
    pub by_kind: BTreeMap<String, KindScore>,
    pub misses: Vec<Miss>,
}

/// The scores of the queries of one kind.
#[derive(Debug, Default)]
pub struct KindScore {
    pub queries: usize,
    /// Queries with an expected entry in the top three.
    pub found: usize,
    /// The sum of 1/rank of the first expected entry.
    pub reciprocal: f64,
}

impl KindScore {
    pub fn recall_at_3(&self) -> f64 {
        self.found as f64 / self.queries.max(1) as f64
    }

    pub fn mrr(&self) -> f64 {
        self.reciprocal / self.queries.max(1) as f64
    }
}

pub fn evaluate(index: &SearchIndex, synonyms: &Synonyms, cases: &[Case]) -> Result<Report, SearchError> {
    let mut report = Report { queries: cases.len(), ..Default::default() };
    let (mut found, mut reciprocal) = (0usize, 0f64);
    for case in cases {
        let locale = Locale::parse(&case.locale).unwrap_or(Locale::SOURCE);
        let request = SearchRequest { text: &case.q, locale, content_type: None, topic: None, office: None, limit: 10, offset: 0 };
        let hits: Vec<String> = index.search(&request, synonyms)?.hits.iter().map(|h| format!("{}/{}", h.content_type, h.slug)).collect();
        let rank = hits.iter().position(|hit| case.expect.contains(hit));
        let in_top_three = rank.is_some_and(|r| r < 3);
        let kind = report.by_kind.entry(case.kind.clone()).or_default();
        let reciprocal_rank = rank.map_or(0.0, |r| 1.0 / (r + 1) as f64);
        kind.queries += 1;
        kind.reciprocal += reciprocal_rank;
        reciprocal += reciprocal_rank;
        if in_top_three {
            found += 1;
            kind.found += 1;
        } else {
            report.misses.push(Miss { q: case.q.clone(), kind: case.kind.clone(), expect: case.expect.clone(), got: hits.into_iter().take(3).collect() });
        }
    }
    if !cases.is_empty() {
        report.recall_at_3 = found as f64 / cases.len() as f64;
        report.mrr = reciprocal / cases.len() as f64;
    }
    Ok(report)
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} queries: Recall@3 {:.3}, MRR {:.3}", self.queries, self.recall_at_3, self.mrr)?;
        for (kind, score) in &self.by_kind {
            writeln!(f, "  {kind:<16} {:>3}/{:<3} in the top three: Recall@3 {:.3}, MRR {:.3}", score.found, score.queries, score.recall_at_3(), score.mrr())?;
        }
        for miss in &self.misses {
            writeln!(
                f,
                "miss [{}] {:?}: expected {} — got {}",
                miss.kind,
                miss.q,
                miss.expect.join(" or "),
                if miss.got.is_empty() { "nothing".into() } else { miss.got.join(", ") }
            )?;
        }
        Ok(())
    }
}
