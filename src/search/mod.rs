//! Full-text search over published content: German-aware, typo-tolerant,
//! kept current from the change log (see [`index`] and [`query`]).

pub mod analysis;
mod coverage;
pub mod eval;
pub mod fields;
pub mod index;
pub mod query;
pub mod synonyms;
mod tally;

pub use index::SearchIndex;
pub use query::{FACETS, Hit, SearchRequest, SearchResults};
pub use synonyms::Synonyms;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index folder: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use {path}: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Synonyms { path: String, message: String },
    #[error("the search index {path} is in use by another process, such as a running `katalog serve` (which keeps its index up to date itself)")]
    Busy { path: String },
}
