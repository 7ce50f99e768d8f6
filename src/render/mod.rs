//! Rendering content for people: Markdown to safe HTML (and, later, the
//! web channel's templates).

pub mod escape;
pub mod facts;
pub mod markdown;
