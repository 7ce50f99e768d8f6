//! Counting the matches and their facets in one pass.
//!
//! Every facet of a document is a two-level path (`/type/service`,
//! `/topic/ausweise`, `/office/buergerbuero-mitte`), so one counter per
//! facet ordinal of the segment covers all facets at once. (Three of
//! tantivy's `FacetCollector`s, one per facet, each walk every match
//! again.) The names behind a segment's ordinals never change, so they are
//! read from its dictionary once and kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::fastfield::FacetReader;
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// How many entries matched, and per facet, how many of them carry each value.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub total: usize,
    /// Facet → value → count.
    pub facets: HashMap<Arc<str>, HashMap<Arc<str>, u64>>,
}

/// `(facet, value)` of each ordinal of one segment's facet column.
type FacetNames = Vec<Option<(Arc<str>, Arc<str>)>>;

/// The facet names of the segments searched recently.
#[derive(Default)]
pub struct FacetNameCache {
    segments: Mutex<HashMap<SegmentId, Arc<FacetNames>>>,
}

/// Segments kept beyond those of the current searcher (merged-away ones
/// are dropped when the cache grows past this).
const SPARE_SEGMENTS: usize = 32;

impl FacetNameCache {
    fn names(&self, segment: &SegmentReader, reader: &FacetReader) -> tantivy::Result<Arc<FacetNames>> {
        let id = segment.segment_id();
        if let Some(names) = self.segments.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&id) {
            return Ok(names.clone());
        }
        let mut names: FacetNames = Vec::with_capacity(reader.num_facets());
        let ords: Vec<u64> = (0..reader.num_facets() as u64).collect();
        reader.facet_dict().sorted_ords_to_term_cb(&ords, |encoded| {
            let mut parts = encoded.split(|&byte| byte == FACET_SEPARATOR);
            names.push(match (parts.next(), parts.next(), parts.next()) {
                (Some(name), Some(value), None) => Some((String::from_utf8_lossy(name).into(), String::from_utf8_lossy(value).into())),
                _ => None,
            });
        })?;
        let names = Arc::new(names);
        let mut segments = self.segments.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if segments.len() > SPARE_SEGMENTS {
            segments.clear();
        }
        segments.insert(id, names.clone());
        Ok(names)
    }
}

/// Separates the levels of a facet path in its encoded form.
const FACET_SEPARATOR: u8 = 0;

pub struct TallyCollector<'a> {
    field: &'a str,
    names: &'a FacetNameCache,
}

impl<'a> TallyCollector<'a> {
    pub fn new(field: &'a str, names: &'a FacetNameCache) -> TallyCollector<'a> {
        TallyCollector { field, names }
    }
}

impl Collector for TallyCollector<'_> {
    type Fruit = Tally;
    type Child = SegmentTally;

    fn for_segment(&self, _: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentTally> {
        let reader = segment.facet_reader(self.field)?;
        let names = self.names.names(segment, &reader)?;
        Ok(SegmentTally { counts: vec![0; reader.num_facets()], reader, names, total: 0 })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, mut segments: Vec<Tally>) -> tantivy::Result<Tally> {
        if segments.len() == 1 {
            return Ok(segments.pop().unwrap_or_default());
        }
        let mut merged = Tally::default();
        for segment in segments {
            merged.total += segment.total;
            for (facet, values) in segment.facets {
                let counts = merged.facets.entry(facet).or_default();
                for (value, count) in values {
                    *counts.entry(value).or_default() += count;
                }
            }
        }
        Ok(merged)
    }
}

pub struct SegmentTally {
    reader: FacetReader,
    names: Arc<FacetNames>,
    counts: Vec<u32>,
    total: usize,
}

impl SegmentCollector for SegmentTally {
    type Fruit = Tally;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.total += 1;
        for ord in self.reader.facet_ords(doc) {
            self.counts[ord as usize] += 1;
        }
    }

    fn harvest(self) -> Tally {
        let mut tally = Tally { total: self.total, facets: HashMap::new() };
        for (ord, &count) in self.counts.iter().enumerate().filter(|(_, count)| **count > 0) {
            if let Some(Some((name, value))) = self.names.get(ord) {
                tally.facets.entry(name.clone()).or_default().insert(value.clone(), u64::from(count));
            }
        }
        tally
    }
}
