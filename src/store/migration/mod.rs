//! Database migrations. One file per migration: sea-orm names a migration
//! after its file.

use sea_orm_migration::prelude::*;

mod m20261127_000001_create_content_tables;
mod m20261127_000002_tokens_reviews_trash;
mod m20261127_000003_audit_events;
mod m20261127_000004_entry_links;
mod m20261127_000005_webhooks;
mod m20261128_000006_partner_subscriptions;
mod m20261128_000007_partner_auto_publish;
mod m20261128_000008_partner_files;
mod m20261128_000009_editor_sessions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_content_tables::Migration),
            Box::new(m20261127_000002_tokens_reviews_trash::Migration),
            Box::new(m20261127_000003_audit_events::Migration),
            Box::new(m20261127_000004_entry_links::Migration),
            Box::new(m20261127_000005_webhooks::Migration),
            Box::new(m20261128_000006_partner_subscriptions::Migration),
            Box::new(m20261128_000007_partner_auto_publish::Migration),
            Box::new(m20261128_000008_partner_files::Migration),
            Box::new(m20261128_000009_editor_sessions::Migration),
        ]
    }
}
