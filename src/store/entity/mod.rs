//! sea-orm entities, one per table: the one place a table's columns are
//! listed. The schema itself is defined by the migrations in
//! `store::migration`.

pub mod audit_event;
pub mod change;
pub mod change_cursor;
pub mod editor_session;
pub mod entry;
pub mod entry_link;
pub mod partner;
pub mod partner_conflict;
pub mod partner_file;
pub mod publication;
pub mod revision;
pub mod token;
pub mod upstream_entry;
pub mod upstream_revision;
pub mod webhook_delivery;
pub mod webhook_subscription;
