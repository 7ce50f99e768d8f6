//! sea-orm entities, one per table. The schema itself is defined by the
//! migrations in `store::migration`.

pub mod change;
pub mod entry;
pub mod publication;
pub mod revision;
