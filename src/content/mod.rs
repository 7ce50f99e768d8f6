//! The content model: content types (JSON Schemas with `x-` annotations),
//! locales, and the editorial file format editors write.

pub mod audience;
pub mod diff;
pub mod document;
pub mod file_format;
pub mod key_order;
pub mod known_fields;
mod locale;
pub mod schema;
pub mod slug;

pub use audience::Audience;
pub use locale::Locale;
pub use schema::{ContentType, Registry, SchemaError, Violation};
