//! Subscriptions to partner bundles and the upstream identity of the
//! entries they brought: which partner, which upstream id and version,
//! which local revision holds which upstream revision, and the provenance
//! of every module.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult, Value as SqlValue};

use super::audit::EntryRef;
use super::publishing::{Going, LiveChange, Subject, Withdrawal};
use super::write::rows_per_statement;
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

/// An open conflict with the entry it is in.
#[derive(Clone, Debug)]
pub struct Conflict {
    pub partner: String,
    pub content_type: String,
    pub slug: String,
    pub row: ConflictRow,
}

impl Store {
    /// Subscribes to a partner; false when the name is taken.
    pub async fn add_partner(&self, name: &str, source: &str, auto_publish: bool) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let taken = txn.query_one_raw(self.statement("SELECT 1 AS taken FROM partners WHERE name = ?", [name.into()])).await?;
        if taken.is_some() {
            return Ok(false);
        }
        txn.execute_raw(self.statement(
            "INSERT INTO partners (name, source, auto_publish, content_version, created_at) VALUES (?, ?, ?, 0, ?)",
            [name.into(), source.into(), auto_publish.into(), Utc::now().into()],
        ))
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    pub async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        let rows = self.db.query_all_raw(self.statement(&format!("SELECT {PARTNER_COLUMNS} FROM partners ORDER BY name"), [])).await?;
        rows.iter().map(partner_of).collect()
    }

    /// A partner, read inside a sync's transaction.
    pub async fn partner_in(&self, txn: &DatabaseTransaction, name: &str) -> Result<Option<PartnerRecord>, StoreError> {
        let row = txn.query_one_raw(self.statement(&format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE name = ?"), [name.into()])).await?;
        row.as_ref().map(partner_of).transpose()
    }

    /// Every entry that came from `partner`, by upstream id.
    pub async fn upstream_entries(&self, db: &impl ConnectionTrait, partner: &str) -> Result<HashMap<String, UpstreamEntry>, StoreError> {
        let rows = db
            .query_all_raw(self.statement(
                "SELECT u.entry_id, e.content_type, e.slug, u.upstream_id, u.upstream_version, u.arrived_in, u.changed_in, u.withdrawn_in, u.withdrawn_action \
                 FROM upstream_entries u JOIN entries e ON e.id = u.entry_id WHERE u.partner = ?",
                [partner.into()],
            ))
            .await?;
        let mut entries = HashMap::with_capacity(rows.len());
        let mut by_entry_id = HashMap::with_capacity(rows.len());
        for row in &rows {
            let entry = UpstreamEntry {
                entry_id: row.try_get("", "entry_id")?,
                content_type: row.try_get("", "content_type")?,
                slug: row.try_get("", "slug")?,
                upstream_id: row.try_get("", "upstream_id")?,
                upstream_version: row.try_get("", "upstream_version")?,
                arrived_in: row.try_get("", "arrived_in")?,
                changed_in: row.try_get("", "changed_in")?,
                withdrawn_in: row.try_get("", "withdrawn_in")?,
                withdrawn_action: row.try_get("", "withdrawn_action")?,
                revisions: Vec::new(),
            };
            by_entry_id.insert(entry.entry_id.clone(), entry.upstream_id.clone());
            entries.insert(entry.upstream_id.clone(), entry);
        }
        let revisions = db
            .query_all_raw(self.statement(
                "SELECT ur.entry_id, ur.locale, ur.upstream_revision, ur.number, ur.content_hash \
                 FROM upstream_revisions ur JOIN upstream_entries u ON u.entry_id = ur.entry_id \
                 WHERE u.partner = ? ORDER BY ur.entry_id, ur.locale, ur.upstream_revision",
                [partner.into()],
            ))
            .await?;
        for row in &revisions {
            let entry_id: String = row.try_get("", "entry_id")?;
            let locale: String = row.try_get("", "locale")?;
            let (Some(upstream_id), Some(locale)) = (by_entry_id.get(&entry_id), Locale::parse(&locale)) else { continue };
            if let Some(entry) = entries.get_mut(upstream_id) {
                entry.revisions.push(UpstreamRevision {
                    locale,
                    upstream_revision: row.try_get("", "upstream_revision")?,
                    number: row.try_get("", "number")?,
                    content_hash: row.try_get("", "content_hash")?,
                });
            }
        }
        Ok(entries)
    }

    /// Records what a sync did: upstream identities (inserted or updated),
    /// the upstream revisions received, conflicts raised, and the content
    /// version it reached.
    pub async fn record_sync(&self, txn: &DatabaseTransaction, partner: &str, record: &SyncRecord) -> Result<(), StoreError> {
        let SyncRecord { municipality, content_version, entries, revisions, conflicts, changed_files, dropped_files } = record;
        for chunk in entries.chunks(rows_per_statement(9)) {
            let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let values = chunk.iter().flat_map(|row| {
                [
                    SqlValue::from(row.entry_id.clone()),
                    partner.into(),
                    row.municipality.clone().into(),
                    row.upstream_id.clone().into(),
                    row.upstream_version.into(),
                    row.arrived_in.into(),
                    row.changed_in.into(),
                    row.withdrawn_in.into(),
                    row.withdrawn_action.clone().into(),
                ]
            });
            txn.execute_raw(self.statement(
                &format!(
                    "INSERT INTO upstream_entries (entry_id, partner, municipality, upstream_id, upstream_version, arrived_in, changed_in, withdrawn_in, withdrawn_action) \
                     VALUES {placeholders} ON CONFLICT (entry_id) DO UPDATE SET municipality = excluded.municipality, upstream_version = excluded.upstream_version, \
                     changed_in = excluded.changed_in, withdrawn_in = excluded.withdrawn_in, withdrawn_action = excluded.withdrawn_action"
                ),
                values,
            ))
            .await?;
        }
        for chunk in revisions.chunks(rows_per_statement(9)) {
            let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let values = chunk.iter().flat_map(|row| {
                [
                    SqlValue::from(row.entry_id.clone()),
                    row.locale.code().into(),
                    row.upstream_revision.into(),
                    row.number.into(),
                    row.document.clone().into(),
                    row.content_hash.clone().into(),
                    row.translated_from.into(),
                    row.provenance.clone().into(),
                    row.received_in.into(),
                ]
            });
            // A revision received again (upstream restored it) keeps its first record.
            txn.execute_raw(self.statement(
                &format!(
                    "INSERT INTO upstream_revisions (entry_id, locale, upstream_revision, number, document, content_hash, translated_from, provenance, received_in) \
                     VALUES {placeholders} ON CONFLICT (entry_id, locale, upstream_revision) DO NOTHING"
                ),
                values,
            ))
            .await?;
        }
        for row in conflicts {
            let values: [SqlValue; 9] = [
                row.entry_id.clone().into(),
                row.locale.code().into(),
                row.module.clone().into(),
                partner.into(),
                row.upstream_revision.into(),
                row.base_value.clone().into(),
                row.upstream_value.clone().into(),
                row.local_value.clone().into(),
                row.raised_in.into(),
            ];
            // A further upstream change to a module still in conflict updates it.
            txn.execute_raw(self.statement(
                "INSERT INTO partner_conflicts (entry_id, locale, module, partner, upstream_revision, base_value, upstream_value, local_value, raised_in) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id, locale, module) DO UPDATE SET upstream_revision = excluded.upstream_revision, \
                 upstream_value = excluded.upstream_value, local_value = excluded.local_value, raised_in = excluded.raised_in",
                values,
            ))
            .await?;
        }
        for chunk in changed_files.chunks(rows_per_statement(3)) {
            let placeholders = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let values = chunk.iter().flat_map(|(path, sha256)| [SqlValue::from(partner), path.clone().into(), sha256.clone().into()]);
            txn.execute_raw(self.statement(
                &format!(
                    "INSERT INTO partner_files (partner, path, sha256) VALUES {placeholders} ON CONFLICT (partner, path) DO UPDATE SET sha256 = excluded.sha256"
                ),
                values,
            ))
            .await?;
        }
        for chunk in dropped_files.chunks(rows_per_statement(2)) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let values = std::iter::once(SqlValue::from(partner)).chain(chunk.iter().map(|path| path.clone().into()));
            txn.execute_raw(self.statement(&format!("DELETE FROM partner_files WHERE partner = ? AND path IN ({placeholders})"), values)).await?;
        }
        txn.execute_raw(self.statement(
            "UPDATE partners SET municipality = ?, content_version = ?, synced_at = ? WHERE name = ?",
            [municipality.clone().into(), (*content_version).into(), Utc::now().into(), partner.into()],
        ))
        .await?;
        Ok(())
    }
}

impl Store {
    /// Takes every published locale of an entry off the channels inside the
    /// caller's transaction, as `unpublish` does; revisions stay.
    pub async fn unpublish_in(&self, txn: &DatabaseTransaction, entry: EntryRef<'_>) -> Result<(), StoreError> {
        let rows = txn
            .query_all_raw(
                self.statement(
                    "SELECT locale, published_number FROM publications WHERE entry_id = ? AND published_number IS NOT NULL",
                    [entry.entry_id.into()],
                ),
            )
            .await?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            let code: String = row.try_get("", "locale")?;
            let Some(locale) = Locale::parse(&code) else { continue };
            let going = Going::Off { locale, was: row.try_get("", "published_number")?, why: Withdrawal::Unpublish };
            changes.push(LiveChange { subject: Subject::of_ref(entry), state: State::Draft, going });
        }
        self.apply_live_changes(txn, changes).await
    }
}

impl Store {
    /// The SHA-256 of every file of the bundle last applied from `partner`, by path.
    pub async fn partner_files(&self, partner: &str) -> Result<HashMap<String, String>, StoreError> {
        let rows = self.db.query_all_raw(self.statement("SELECT path, sha256 FROM partner_files WHERE partner = ?", [partner.into()])).await?;
        rows.iter().map(|row| Ok((row.try_get("", "path")?, row.try_get("", "sha256")?))).collect()
    }

    /// The upstream ids of the entries from `partner` that are here.
    pub async fn upstream_ids(&self, partner: &str) -> Result<HashSet<String>, StoreError> {
        let rows = self.db.query_all_raw(self.statement("SELECT upstream_id FROM upstream_entries WHERE partner = ?", [partner.into()])).await?;
        rows.iter().map(|row| Ok(row.try_get("", "upstream_id")?)).collect()
    }

    /// The upstream document received as `upstream_revision`, inside a sync.
    pub async fn upstream_document_in(
        &self,
        txn: &DatabaseTransaction,
        entry_id: &str,
        locale: Locale,
        upstream_revision: i32,
    ) -> Result<Option<String>, StoreError> {
        let row = txn
            .query_one_raw(self.statement(
                "SELECT document FROM upstream_revisions WHERE entry_id = ? AND locale = ? AND upstream_revision = ?",
                [entry_id.into(), locale.code().into(), upstream_revision.into()],
            ))
            .await?;
        row.map(|row| row.try_get("", "document")).transpose().map_err(Into::into)
    }

    /// A local revision's document, inside a sync.
    pub async fn revision_document_in(&self, txn: &DatabaseTransaction, entry_id: &str, locale: Locale, number: i32) -> Result<Option<String>, StoreError> {
        let row = txn
            .query_one_raw(self.statement(
                "SELECT document FROM revisions WHERE entry_id = ? AND locale = ? AND number = ?",
                [entry_id.into(), locale.code().into(), number.into()],
            ))
            .await?;
        row.map(|row| row.try_get("", "document")).transpose().map_err(Into::into)
    }

    /// Locales of the partner's entries that publishing a sync must not
    /// touch: the entry is in the trash, the locale is not live, or the
    /// partner has a newer revision of its own waiting for review.
    pub async fn held_back_in(&self, txn: &DatabaseTransaction, partner: &str) -> Result<HashSet<(String, Locale)>, StoreError> {
        let rows = txn
            .query_all_raw(self.statement(
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

    /// Open conflicts, of one partner or all, by entry and module.
    pub async fn conflicts(&self, partner: Option<&str>) -> Result<Vec<Conflict>, StoreError> {
        let (condition, values): (&str, Vec<SqlValue>) = match partner {
            Some(partner) => (" WHERE c.partner = ?", vec![partner.into()]),
            None => ("", Vec::new()),
        };
        let rows = self
            .db
            .query_all_raw(self.statement(
                &format!(
                    "SELECT c.entry_id, c.locale, c.module, c.partner, c.upstream_revision, c.base_value, c.upstream_value, c.local_value, c.raised_in, \
                     e.content_type, e.slug FROM partner_conflicts c JOIN entries e ON e.id = c.entry_id{condition} \
                     ORDER BY e.content_type, e.slug, c.locale, c.module"
                ),
                values,
            ))
            .await?;
        let mut conflicts = Vec::with_capacity(rows.len());
        for row in &rows {
            let locale: String = row.try_get("", "locale")?;
            conflicts.push(Conflict {
                partner: row.try_get("", "partner")?,
                content_type: row.try_get("", "content_type")?,
                slug: row.try_get("", "slug")?,
                row: ConflictRow {
                    entry_id: row.try_get("", "entry_id")?,
                    locale: Locale::parse(&locale).unwrap_or(Locale::SOURCE),
                    module: row.try_get("", "module")?,
                    upstream_revision: row.try_get("", "upstream_revision")?,
                    base_value: row.try_get("", "base_value")?,
                    upstream_value: row.try_get("", "upstream_value")?,
                    local_value: row.try_get("", "local_value")?,
                    raised_in: row.try_get("", "raised_in")?,
                },
            });
        }
        Ok(conflicts)
    }

    /// Closes a conflict; false when it was not open.
    pub async fn remove_conflict(&self, entry_id: &str, locale: Locale, module: &str) -> Result<bool, StoreError> {
        let removed = self
            .db
            .execute_raw(self.statement(
                "DELETE FROM partner_conflicts WHERE entry_id = ? AND locale = ? AND module = ?",
                [entry_id.into(), locale.code().into(), module.into()],
            ))
            .await?;
        Ok(removed.rows_affected() == 1)
    }
}

const PARTNER_COLUMNS: &str = "name, source, municipality, content_version, synced_at, auto_publish";

fn partner_of(row: &QueryResult) -> Result<PartnerRecord, StoreError> {
    Ok(PartnerRecord {
        name: row.try_get("", "name")?,
        source: row.try_get("", "source")?,
        municipality: row.try_get("", "municipality")?,
        content_version: row.try_get("", "content_version")?,
        synced_at: row.try_get("", "synced_at")?,
        auto_publish: row.try_get("", "auto_publish")?,
    })
}
