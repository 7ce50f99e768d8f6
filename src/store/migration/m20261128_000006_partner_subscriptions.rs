use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The bundles this katalog subscribes to, and how far each was applied.
#[derive(DeriveIden)]
enum Partners {
    Table,
    Name,
    /// A bundle folder or an http(s) URL.
    Source,
    /// The municipality the bundles come from, learnt at the first sync.
    Municipality,
    /// The content version of the last bundle applied (0: never synced).
    ContentVersion,
    SyncedAt,
    CreatedAt,
}

/// Entries that came from a partner: their upstream identity and what
/// the syncs did to them.
#[derive(DeriveIden)]
enum UpstreamEntries {
    Table,
    EntryId,
    Partner,
    Municipality,
    UpstreamId,
    UpstreamVersion,
    /// Content versions of the syncs that created, last changed and
    /// withdrew the entry.
    ArrivedIn,
    ChangedIn,
    WithdrawnIn,
    /// `unpublish`, `archive` or `delete`, as upstream said.
    WithdrawnAction,
}

/// Every upstream revision received, as received (the base that local
/// overrides are told apart from), the local revision that took it, and
/// the provenance of each module. Append-only, like revisions.
#[derive(DeriveIden)]
enum UpstreamRevisions {
    Table,
    EntryId,
    Locale,
    UpstreamRevision,
    /// The local revision made from it; none when every module it changed
    /// was overridden here (and raised a conflict instead).
    Number,
    Document,
    ContentHash,
    TranslatedFrom,
    Provenance,
    ReceivedIn,
}

/// A module changed upstream that the partner had overridden: both
/// versions wait for "take upstream" or "keep mine".
#[derive(DeriveIden)]
enum PartnerConflicts {
    Table,
    EntryId,
    Locale,
    Module,
    Partner,
    UpstreamRevision,
    /// JSON of the module before and after the upstream change, and the
    /// partner's own value; absent values are NULL.
    BaseValue,
    UpstreamValue,
    LocalValue,
    RaisedIn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Partners::Table)
                    .col(string(Partners::Name).primary_key())
                    .col(text(Partners::Source))
                    .col(string_null(Partners::Municipality))
                    .col(big_integer(Partners::ContentVersion))
                    .col(timestamp_with_time_zone_null(Partners::SyncedAt))
                    .col(timestamp_with_time_zone(Partners::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UpstreamEntries::Table)
                    .col(string(UpstreamEntries::EntryId).primary_key())
                    .col(string(UpstreamEntries::Partner))
                    .col(string(UpstreamEntries::Municipality))
                    .col(string(UpstreamEntries::UpstreamId))
                    .col(big_integer(UpstreamEntries::UpstreamVersion))
                    .col(big_integer(UpstreamEntries::ArrivedIn))
                    .col(big_integer(UpstreamEntries::ChangedIn))
                    .col(big_integer_null(UpstreamEntries::WithdrawnIn))
                    .col(string_null(UpstreamEntries::WithdrawnAction))
                    .foreign_key(ForeignKey::create().from(UpstreamEntries::Table, UpstreamEntries::Partner).to(Partners::Table, Partners::Name))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("upstream_entries_partner_upstream_id")
                    .table(UpstreamEntries::Table)
                    .col(UpstreamEntries::Partner)
                    .col(UpstreamEntries::UpstreamId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UpstreamRevisions::Table)
                    .col(string(UpstreamRevisions::EntryId))
                    .col(string(UpstreamRevisions::Locale))
                    .col(integer(UpstreamRevisions::UpstreamRevision))
                    .col(integer_null(UpstreamRevisions::Number))
                    .col(text(UpstreamRevisions::Document))
                    .col(string(UpstreamRevisions::ContentHash))
                    .col(integer_null(UpstreamRevisions::TranslatedFrom))
                    .col(text(UpstreamRevisions::Provenance))
                    .col(big_integer(UpstreamRevisions::ReceivedIn))
                    .primary_key(Index::create().col(UpstreamRevisions::EntryId).col(UpstreamRevisions::Locale).col(UpstreamRevisions::UpstreamRevision))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PartnerConflicts::Table)
                    .col(string(PartnerConflicts::EntryId))
                    .col(string(PartnerConflicts::Locale))
                    .col(string(PartnerConflicts::Module))
                    .col(string(PartnerConflicts::Partner))
                    .col(integer(PartnerConflicts::UpstreamRevision))
                    .col(text_null(PartnerConflicts::BaseValue))
                    .col(text_null(PartnerConflicts::UpstreamValue))
                    .col(text_null(PartnerConflicts::LocalValue))
                    .col(big_integer(PartnerConflicts::RaisedIn))
                    .primary_key(Index::create().col(PartnerConflicts::EntryId).col(PartnerConflicts::Locale).col(PartnerConflicts::Module))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            [PartnerConflicts::Table.into_iden(), UpstreamRevisions::Table.into_iden(), UpstreamEntries::Table.into_iden(), Partners::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
