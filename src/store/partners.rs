//! Subscriptions to partner bundles and the upstream identity of the
//! entries they brought: which partner, which upstream id and version,
//! which local revision holds which upstream revision, and the provenance
//! of every module.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};

use super::atomic::Atomic;
use super::audit::EntryRef;
use super::entity::{entry, partner, partner_conflict, partner_file, publication, revision, upstream_entry, upstream_revision};
use super::publishing::{Going, LiveChange, Subject, Withdrawal};
use super::write::{rows_per_insert, rows_per_statement};
use super::{Store, StoreError};
use crate::content::Locale;
use crate::workflow::State;

/// A subscription to a partner's bundles.
#[derive(Clone, Debug)]
pub struct PartnerRecord {
    pub name: String,
    pub source: String,
    pub municipality: Option<String>,
    /// The content version of the last bundle applied; 0 before the first sync.
    pub content_version: i64,
    pub synced_at: Option<DateTime<Utc>>,
    /// Syncs publish what arrives unless told otherwise.
    pub auto_publish: bool,
}

/// An entry that came from a partner, as the last sync left it.
#[derive(Clone, Debug)]
pub struct UpstreamEntry {
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
    pub upstream_id: String,
    pub upstream_version: i64,
    pub arrived_in: i64,
    pub changed_in: i64,
    pub withdrawn_in: Option<i64>,
    pub withdrawn_action: Option<String>,
    /// Upstream revisions received, oldest first.
    pub revisions: Vec<UpstreamRevision>,
}

impl UpstreamEntry {
    /// The newest upstream revision of `locale` received.
    pub fn newest(&self, locale: Locale) -> Option<&UpstreamRevision> {
        self.revisions.iter().filter(|r| r.locale == locale).max_by_key(|r| r.upstream_revision)
    }
}

#[derive(Clone, Debug)]
pub struct UpstreamRevision {
    pub locale: Locale,
    pub upstream_revision: i32,
    /// The local revision made from it, if one was.
    pub number: Option<i32>,
    /// Hash of the upstream document as received.
    pub content_hash: String,
}

/// What a sync records about one entry (inserted or updated).
#[derive(Clone, Debug)]
pub struct UpstreamEntryRow {
    pub entry_id: String,
    pub municipality: String,
    pub upstream_id: String,
    pub upstream_version: i64,
    pub arrived_in: i64,
    pub changed_in: i64,
    pub withdrawn_in: Option<i64>,
    pub withdrawn_action: Option<String>,
}

/// An upstream revision received, and the local revision made from it.
#[derive(Clone, Debug)]
pub struct UpstreamRevisionRow {
    pub entry_id: String,
    pub locale: Locale,
    pub upstream_revision: i32,
    pub number: Option<i32>,
    /// The upstream document as received, and its hash.
    pub document: String,
    pub content_hash: String,
    pub translated_from: Option<i32>,
    /// The bundle's provenance of each module, as JSON.
    pub provenance: String,
    pub received_in: i64,
}

/// Everything one sync records besides entries and revisions.
#[derive(Clone, Debug, Default)]
pub struct SyncRecord {
    pub municipality: String,
    pub content_version: i64,
    pub entries: Vec<UpstreamEntryRow>,
    pub revisions: Vec<UpstreamRevisionRow>,
    pub conflicts: Vec<ConflictRow>,
    /// Bundle files (path, SHA-256) new or changed since the last bundle
    /// applied, and paths it no longer lists.
    pub changed_files: Vec<(String, String)>,
    pub dropped_files: Vec<String>,
}

/// A module the partner overrode and upstream changed since: both versions
/// kept until someone decides.
#[derive(Clone, Debug)]
pub struct ConflictRow {
    pub entry_id: String,
    pub locale: Locale,
    pub module: String,
    pub upstream_revision: i32,
    /// JSON of the module as upstream had it before, as it has it now, and as
    /// the partner has it; `None` where the module is absent.
    pub base_value: Option<String>,
    pub upstream_value: Option<String>,
    pub local_value: Option<String>,
    pub raised_in: i64,
}

impl ConflictRow {
    /// The module as upstream had it before, as it has it now, and as the
    /// partner has it (`None` where absent).
    pub fn values(&self) -> [Option<serde_json::Value>; 3] {
        [&self.base_value, &self.upstream_value, &self.local_value].map(|value| value.as_deref().and_then(|v| serde_json::from_str(v).ok()))
    }

    /// What taking upstream's value would change here, field by field.
    pub fn changes(&self) -> Vec<crate::content::diff::FieldChange> {
        let [_, upstream, here] = self.values();
        crate::content::diff::diff(&here.unwrap_or_default(), &upstream.unwrap_or_default())
    }
}

/// An open conflict with the entry it is in.
#[derive(Clone, Debug)]
pub struct Conflict {
    pub partner: String,
    pub content_type: String,
    pub slug: String,
    pub row: ConflictRow,
}

impl From<partner::Model> for PartnerRecord {
    fn from(row: partner::Model) -> Self {
        PartnerRecord {
            name: row.name,
            source: row.source,
            municipality: row.municipality,
            content_version: row.content_version,
            synced_at: row.synced_at,
            auto_publish: row.auto_publish,
        }
    }
}

impl Store {
    /// Subscribes to a partner; false when the name is taken.
    pub async fn add_partner(&self, name: &str, source: &str, auto_publish: bool) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        if partner::Entity::find_by_id(name).one(&*txn).await?.is_some() {
            return Ok(false);
        }
        let row = partner::Model {
            name: name.to_owned(),
            source: source.to_owned(),
            municipality: None,
            content_version: 0,
            synced_at: None,
            created_at: Utc::now(),
            auto_publish,
        };
        partner::Entity::insert(row.into_active_model()).exec_without_returning(&*txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    pub async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        let rows = partner::Entity::find().order_by_asc(partner::Column::Name).all(&self.db).await?;
        Ok(rows.into_iter().map(PartnerRecord::from).collect())
    }

    /// Every entry that came from `partner`, by upstream id.
    pub async fn upstream_entries(&self, partner: &str) -> Result<HashMap<String, UpstreamEntry>, StoreError> {
        upstream_entries(&self.db, partner).await
    }
}

impl Atomic<'_> {
    pub async fn partner(&self, name: &str) -> Result<Option<PartnerRecord>, StoreError> {
        Ok(partner::Entity::find_by_id(name).one(self.txn).await?.map(PartnerRecord::from))
    }

    /// Every entry that came from `partner`, by upstream id.
    pub async fn upstream_entries(&self, partner: &str) -> Result<HashMap<String, UpstreamEntry>, StoreError> {
        upstream_entries(self.txn, partner).await
    }

    /// Records what a sync did: upstream identities (inserted or updated),
    /// the upstream revisions received, conflicts raised, and the content
    /// version it reached.
    pub async fn record_sync(&self, partner: &str, record: &SyncRecord) -> Result<(), StoreError> {
        let txn = self.txn;
        let SyncRecord { municipality, content_version, entries, revisions, conflicts, changed_files, dropped_files } = record;
        for chunk in entries.chunks(rows_per_insert::<upstream_entry::Entity>()) {
            let rows = chunk.iter().map(|row| {
                upstream_entry::Model {
                    entry_id: row.entry_id.clone(),
                    partner: partner.to_owned(),
                    municipality: row.municipality.clone(),
                    upstream_id: row.upstream_id.clone(),
                    upstream_version: row.upstream_version,
                    arrived_in: row.arrived_in,
                    changed_in: row.changed_in,
                    withdrawn_in: row.withdrawn_in,
                    withdrawn_action: row.withdrawn_action.clone(),
                }
                .into_active_model()
            });
            use upstream_entry::Column;
            let updated = [Column::Municipality, Column::UpstreamVersion, Column::ChangedIn, Column::WithdrawnIn, Column::WithdrawnAction];
            upstream_entry::Entity::insert_many(rows)
                .on_conflict(OnConflict::column(Column::EntryId).update_columns(updated).to_owned())
                .exec_without_returning(txn)
                .await?;
        }
        for chunk in revisions.chunks(rows_per_insert::<upstream_revision::Entity>()) {
            let rows = chunk.iter().map(|row| {
                upstream_revision::Model {
                    entry_id: row.entry_id.clone(),
                    locale: row.locale.code().to_owned(),
                    upstream_revision: row.upstream_revision,
                    number: row.number,
                    document: row.document.clone(),
                    content_hash: row.content_hash.clone(),
                    translated_from: row.translated_from,
                    provenance: row.provenance.clone(),
                    received_in: row.received_in,
                }
                .into_active_model()
            });
            use upstream_revision::Column;
            // A revision received again (upstream restored it) keeps its first record.
            upstream_revision::Entity::insert_many(rows)
                .on_conflict(OnConflict::columns([Column::EntryId, Column::Locale, Column::UpstreamRevision]).do_nothing().to_owned())
                .exec_without_returning(txn)
                .await?;
        }
        for row in conflicts {
            let conflict = partner_conflict::Model {
                entry_id: row.entry_id.clone(),
                locale: row.locale.code().to_owned(),
                module: row.module.clone(),
                partner: partner.to_owned(),
                upstream_revision: row.upstream_revision,
                base_value: row.base_value.clone(),
                upstream_value: row.upstream_value.clone(),
                local_value: row.local_value.clone(),
                raised_in: row.raised_in,
            };
            use partner_conflict::Column;
            // A further upstream change to a module still in conflict updates it.
            partner_conflict::Entity::insert(conflict.into_active_model())
                .on_conflict(
                    OnConflict::columns([Column::EntryId, Column::Locale, Column::Module])
                        .update_columns([Column::UpstreamRevision, Column::UpstreamValue, Column::LocalValue, Column::RaisedIn])
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        for chunk in changed_files.chunks(rows_per_insert::<partner_file::Entity>()) {
            let rows = chunk
                .iter()
                .map(|(path, sha256)| partner_file::Model { partner: partner.to_owned(), path: path.clone(), sha256: sha256.clone() }.into_active_model());
            use partner_file::Column;
            partner_file::Entity::insert_many(rows)
                .on_conflict(OnConflict::columns([Column::Partner, Column::Path]).update_column(Column::Sha256).to_owned())
                .exec_without_returning(txn)
                .await?;
        }
        for chunk in dropped_files.chunks(rows_per_statement(1)) {
            partner_file::Entity::delete_many()
                .filter(partner_file::Column::Partner.eq(partner))
                .filter(partner_file::Column::Path.is_in(chunk.iter().cloned()))
                .exec(txn)
                .await?;
        }
        partner::Entity::update_many()
            .col_expr(partner::Column::Municipality, Expr::value(municipality.clone()))
            .col_expr(partner::Column::ContentVersion, Expr::value(*content_version))
            .col_expr(partner::Column::SyncedAt, Expr::value(Utc::now()))
            .filter(partner::Column::Name.eq(partner))
            .exec(txn)
            .await?;
        Ok(())
    }

    /// Gives an entry the slug upstream renamed it to.
    pub async fn rename(&self, entry_id: &str, slug: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        entry::Entity::update_many()
            .col_expr(entry::Column::Slug, Expr::value(slug))
            .col_expr(entry::Column::UpdatedAt, Expr::value(at))
            .filter(entry::Column::Id.eq(entry_id))
            .exec(self.txn)
            .await?;
        Ok(())
    }

    /// Takes every published locale of an entry off the channels, as `unpublish` does; revisions stay.
    pub async fn unpublish(&self, entry: EntryRef<'_>) -> Result<(), StoreError> {
        self.store.unpublish_in(self.txn, entry).await
    }

    /// The upstream document received as `upstream_revision`.
    pub async fn upstream_document(&self, entry_id: &str, locale: Locale, upstream_revision: i32) -> Result<Option<String>, StoreError> {
        Ok(upstream_revision::Entity::find_by_id((entry_id.to_owned(), locale.code().to_owned(), upstream_revision))
            .select_only()
            .column(upstream_revision::Column::Document)
            .into_tuple()
            .one(self.txn)
            .await?)
    }

    /// A local revision's document.
    pub async fn revision_document(&self, entry_id: &str, locale: Locale, number: i32) -> Result<Option<String>, StoreError> {
        Ok(revision::Entity::find_by_id((entry_id.to_owned(), locale.code().to_owned(), number))
            .select_only()
            .column(revision::Column::Document)
            .into_tuple()
            .one(self.txn)
            .await?)
    }

    /// Locales of the partner's entries that publishing a sync must not
    /// touch: the entry is in the trash, the locale is not live, or the
    /// partner has a newer revision of its own waiting for review.
    pub async fn held_back(&self, partner: &str) -> Result<HashSet<(String, Locale)>, StoreError> {
        let rows = self
            .txn
            .query_all_raw(self.store.statement(
                "SELECT p.entry_id, p.locale, p.published_number, e.trashed_at, \
                 (SELECT MAX(number) FROM revisions r WHERE r.entry_id = p.entry_id AND r.locale = p.locale) AS latest \
                 FROM publications p JOIN upstream_entries u ON u.entry_id = p.entry_id JOIN entries e ON e.id = p.entry_id WHERE u.partner = ?",
                [partner.into()],
            ))
            .await?;
        let mut held = HashSet::new();
        for row in &rows {
            let published: Option<i32> = row.try_get("", "published_number")?;
            let latest: Option<i32> = row.try_get("", "latest")?;
            let trashed: Option<DateTime<Utc>> = row.try_get("", "trashed_at")?;
            let locale: String = row.try_get("", "locale")?;
            if (trashed.is_some() || published.is_none() || published < latest)
                && let Some(locale) = Locale::parse(&locale)
            {
                held.insert((row.try_get("", "entry_id")?, locale));
            }
        }
        Ok(held)
    }
}

async fn upstream_entries(db: &impl ConnectionTrait, partner: &str) -> Result<HashMap<String, UpstreamEntry>, StoreError> {
    let rows = upstream_entry::Entity::find().filter(upstream_entry::Column::Partner.eq(partner)).find_also_related(entry::Entity).all(db).await?;
    let mut entries = HashMap::with_capacity(rows.len());
    let mut by_entry_id = HashMap::with_capacity(rows.len());
    for (upstream, local) in rows {
        let Some(local) = local else { continue };
        by_entry_id.insert(upstream.entry_id.clone(), upstream.upstream_id.clone());
        let entry = UpstreamEntry {
            entry_id: upstream.entry_id,
            content_type: local.content_type,
            slug: local.slug,
            upstream_id: upstream.upstream_id,
            upstream_version: upstream.upstream_version,
            arrived_in: upstream.arrived_in,
            changed_in: upstream.changed_in,
            withdrawn_in: upstream.withdrawn_in,
            withdrawn_action: upstream.withdrawn_action,
            revisions: Vec::new(),
        };
        entries.insert(entry.upstream_id.clone(), entry);
    }
    let of_partner =
        Query::select().column(upstream_entry::Column::EntryId).from(upstream_entry::Entity).and_where(upstream_entry::Column::Partner.eq(partner)).to_owned();
    // Without the documents: a sync compares hashes.
    let revisions: Vec<(String, String, i32, Option<i32>, String)> = upstream_revision::Entity::find()
        .select_only()
        .columns([
            upstream_revision::Column::EntryId,
            upstream_revision::Column::Locale,
            upstream_revision::Column::UpstreamRevision,
            upstream_revision::Column::Number,
            upstream_revision::Column::ContentHash,
        ])
        .filter(upstream_revision::Column::EntryId.in_subquery(of_partner))
        .order_by_asc(upstream_revision::Column::EntryId)
        .order_by_asc(upstream_revision::Column::Locale)
        .order_by_asc(upstream_revision::Column::UpstreamRevision)
        .into_tuple()
        .all(db)
        .await?;
    for (entry_id, locale, upstream_revision, number, content_hash) in revisions {
        let (Some(upstream_id), Some(locale)) = (by_entry_id.get(&entry_id), Locale::parse(&locale)) else { continue };
        if let Some(entry) = entries.get_mut(upstream_id) {
            entry.revisions.push(UpstreamRevision { locale, upstream_revision, number, content_hash });
        }
    }
    Ok(entries)
}

impl Store {
    /// Takes every published locale of an entry off the channels inside
    /// `txn`, as `unpublish` does; revisions stay.
    pub(super) async fn unpublish_in(&self, txn: &DatabaseTransaction, entry: EntryRef<'_>) -> Result<(), StoreError> {
        let live = publication::Entity::find()
            .filter(publication::Column::EntryId.eq(entry.entry_id))
            .filter(publication::Column::PublishedNumber.is_not_null())
            .all(txn)
            .await?;
        let changes = live
            .into_iter()
            .filter_map(|row| {
                let going = Going::Off { locale: Locale::parse(&row.locale)?, was: row.published_number?, why: Withdrawal::Unpublish };
                Some(LiveChange { subject: Subject::of_ref(entry), state: State::Draft, going })
            })
            .collect();
        self.apply_live_changes(txn, changes).await
    }
}

impl Store {
    /// The SHA-256 of every file of the bundle last applied from `partner`, by path.
    pub async fn partner_files(&self, partner: &str) -> Result<HashMap<String, String>, StoreError> {
        let rows = partner_file::Entity::find().filter(partner_file::Column::Partner.eq(partner)).all(&self.db).await?;
        Ok(rows.into_iter().map(|row| (row.path, row.sha256)).collect())
    }

    /// The upstream ids of the entries from `partner` that are here.
    pub async fn upstream_ids(&self, partner: &str) -> Result<HashSet<String>, StoreError> {
        let ids: Vec<String> = upstream_entry::Entity::find()
            .select_only()
            .column(upstream_entry::Column::UpstreamId)
            .filter(upstream_entry::Column::Partner.eq(partner))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ids.into_iter().collect())
    }

    /// Open conflicts, of one partner or all, by entry and module.
    pub async fn conflicts(&self, partner: Option<&str>) -> Result<Vec<Conflict>, StoreError> {
        let mut query = partner_conflict::Entity::find();
        if let Some(partner) = partner {
            query = query.filter(partner_conflict::Column::Partner.eq(partner));
        }
        let rows = query.find_also_related(entry::Entity).all(&self.db).await?;
        let mut conflicts: Vec<Conflict> = rows
            .into_iter()
            .filter_map(|(row, entry)| {
                let entry = entry?;
                Some(Conflict {
                    partner: row.partner,
                    content_type: entry.content_type,
                    slug: entry.slug,
                    row: ConflictRow {
                        entry_id: row.entry_id,
                        locale: Locale::parse(&row.locale).unwrap_or(Locale::SOURCE),
                        module: row.module,
                        upstream_revision: row.upstream_revision,
                        base_value: row.base_value,
                        upstream_value: row.upstream_value,
                        local_value: row.local_value,
                        raised_in: row.raised_in,
                    },
                })
            })
            .collect();
        conflicts.sort_by(|a, b| {
            (&a.content_type, &a.slug, a.row.locale.code(), &a.row.module).cmp(&(&b.content_type, &b.slug, b.row.locale.code(), &b.row.module))
        });
        Ok(conflicts)
    }

    /// Closes a conflict; false when it was not open.
    pub async fn remove_conflict(&self, entry_id: &str, locale: Locale, module: &str) -> Result<bool, StoreError> {
        let removed = partner_conflict::Entity::delete_by_id((entry_id.to_owned(), locale.code().to_owned(), module.to_owned())).exec(&self.db).await?;
        Ok(removed.rows_affected == 1)
    }
}
