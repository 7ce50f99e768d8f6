//! Subscriptions to partner bundles and the upstream identity of the
//! entries they brought: which partner, which upstream id and version,
//! which local revision holds which upstream revision, and the provenance
//! of every module.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult, Value as SqlValue};

use super::audit::EntryRef;
use super::write::rows_per_statement;
use super::{Store, StoreError};
use crate::content::Locale;

/// A subscription to a partner's bundles.
#[derive(Clone, Debug)]
pub struct PartnerRecord {
    pub name: String,
    pub source: String,
    pub municipality: Option<String>,
    /// The content version of the last bundle applied; 0 before the first sync.
    pub content_version: i64,
    pub synced_at: Option<DateTime<Utc>>,
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
    /// Local revisions made from upstream revisions, oldest first.
    pub revisions: Vec<UpstreamRevision>,
}

impl UpstreamEntry {
    /// The newest local revision of `locale` made from an upstream one.
    pub fn newest(&self, locale: Locale) -> Option<&UpstreamRevision> {
        self.revisions.iter().filter(|r| r.locale == locale).max_by_key(|r| r.number)
    }
}

#[derive(Clone, Debug)]
pub struct UpstreamRevision {
    pub locale: Locale,
    /// The local revision number.
    pub number: i32,
    pub upstream_revision: i32,
    /// Hash of the local revision's document, to recognise unchanged upstream content.
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

/// A local revision made from an upstream one.
#[derive(Clone, Debug)]
pub struct UpstreamRevisionRow {
    pub entry_id: String,
    pub locale: Locale,
    pub number: i32,
    pub upstream_revision: i32,
    pub translated_from: Option<i32>,
    /// The bundle's provenance of each module, as JSON.
    pub provenance: String,
}

impl Store {
    /// Subscribes to a partner; false when the name is taken.
    pub async fn add_partner(&self, name: &str, source: &str) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let taken = txn.query_one_raw(self.statement("SELECT 1 AS taken FROM partners WHERE name = ?", [name.into()])).await?;
        if taken.is_some() {
            return Ok(false);
        }
        txn.execute_raw(self.statement(
            "INSERT INTO partners (name, source, content_version, created_at) VALUES (?, ?, 0, ?)",
            [name.into(), source.into(), Utc::now().into()],
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
                "SELECT ur.entry_id, ur.locale, ur.number, ur.upstream_revision, r.content_hash \
                 FROM upstream_revisions ur JOIN upstream_entries u ON u.entry_id = ur.entry_id \
                 JOIN revisions r ON r.entry_id = ur.entry_id AND r.locale = ur.locale AND r.number = ur.number \
                 WHERE u.partner = ? ORDER BY ur.entry_id, ur.locale, ur.number",
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
                    number: row.try_get("", "number")?,
                    upstream_revision: row.try_get("", "upstream_revision")?,
                    content_hash: row.try_get("", "content_hash")?,
                });
            }
        }
        Ok(entries)
    }

    /// Records what a sync did: upstream identities (inserted or updated),
    /// the revisions it made, and the content version it reached.
    pub async fn record_sync(
        &self,
        txn: &DatabaseTransaction,
        partner: &str,
        municipality: &str,
        content_version: i64,
        entries: &[UpstreamEntryRow],
        revisions: &[UpstreamRevisionRow],
    ) -> Result<(), StoreError> {
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
        for chunk in revisions.chunks(rows_per_statement(6)) {
            let placeholders = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let values = chunk.iter().flat_map(|row| {
                [
                    SqlValue::from(row.entry_id.clone()),
                    row.locale.code().into(),
                    row.number.into(),
                    row.upstream_revision.into(),
                    row.translated_from.into(),
                    row.provenance.clone().into(),
                ]
            });
            txn.execute_raw(self.statement(
                &format!("INSERT INTO upstream_revisions (entry_id, locale, number, upstream_revision, translated_from, provenance) VALUES {placeholders}"),
                values,
            ))
            .await?;
        }
        txn.execute_raw(self.statement(
            "UPDATE partners SET municipality = ?, content_version = ?, synced_at = ? WHERE name = ?",
            [municipality.into(), content_version.into(), Utc::now().into(), partner.into()],
        ))
        .await?;
        Ok(())
    }
}

impl Store {
    /// Takes every published locale of an entry off the channels inside the
    /// caller's transaction, as `unpublish` does; revisions stay.
    pub async fn unpublish_in(&self, txn: &DatabaseTransaction, entry: EntryRef<'_>, now: DateTime<Utc>) -> Result<(), StoreError> {
        let rows = txn
            .query_all_raw(self.statement(
                "SELECT locale, published_number FROM publications WHERE entry_id = ? AND published_number IS NOT NULL",
                [entry.entry_id.into()],
            ))
            .await?;
        for row in &rows {
            let code: String = row.try_get("", "locale")?;
            let Some(locale) = Locale::parse(&code) else { continue };
            txn.execute_raw(self.statement(
                "UPDATE publications SET published_number = NULL, published_at = NULL, state = 'draft', updated_at = ? WHERE entry_id = ? AND locale = ?",
                [now.into(), entry.entry_id.into(), code.into()],
            ))
            .await?;
            self.append_change(txn, entry, locale, "unpublish", row.try_get("", "published_number")?, now).await?;
        }
        self.set_links(txn, entry.entry_id, None).await
    }
}

const PARTNER_COLUMNS: &str = "name, source, municipality, content_version, synced_at";

fn partner_of(row: &QueryResult) -> Result<PartnerRecord, StoreError> {
    Ok(PartnerRecord {
        name: row.try_get("", "name")?,
        source: row.try_get("", "source")?,
        municipality: row.try_get("", "municipality")?,
        content_version: row.try_get("", "content_version")?,
        synced_at: row.try_get("", "synced_at")?,
    })
}
