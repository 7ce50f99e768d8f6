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
    /// Kind → (found in the top three, queries).
    pub by_kind: BTreeMap<String, (usize, usize)>,
    pub misses: Vec<Miss>,
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
        kind.1 += 1;
        if in_top_three {
            found += 1;
            kind.0 += 1;
        } else {
            report.misses.push(Miss { q: case.q.clone(), kind: case.kind.clone(), expect: case.expect.clone(), got: hits.into_iter().take(3).collect() });
        }
        reciprocal += rank.map_or(0.0, |r| 1.0 / (r + 1) as f64);
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
        for (kind, (found, total)) in &self.by_kind {
            writeln!(f, "  {kind:<16} {found:>3}/{total:<3} in the top three")?;
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
