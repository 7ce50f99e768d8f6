//! Applying a verified bundle in one transaction: new entries, new
//! revisions of changed ones, withdrawals, and the upstream identity and
//! provenance of all of it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::bundle::{self, BundleEntry, BundleSource, VerifiedBundle};
use super::{BundleProblem, SyncError};
use crate::content::Registry;
use crate::store::entity::{change, entry, publication, revision};
use crate::store::{AuditEvent, EntryRef, ImportBaseline, Store, UpstreamEntry, UpstreamEntryRow, UpstreamRevisionRow, WriteBatch};
use crate::workflow::State;

#[derive(Clone, Copy, Debug, Default)]
pub struct SyncOptions {
    /// Publish what arrives (and unpublish what upstream withdrew);
    /// otherwise it waits as drafts for the partner's own review.
    pub publish: bool,
}

/// What a sync did; entries as `type/slug`, sorted.
#[derive(Clone, Debug, Default)]
pub struct SyncReport {
    pub partner: String,
    pub municipality: String,
    pub content_version: i64,
    pub new: Vec<String>,
    pub changed: Vec<String>,
    pub withdrawn: Vec<String>,
    pub unchanged: usize,
    pub new_revisions: usize,
    pub published: bool,
    pub elapsed: Duration,
}

impl SyncReport {
    pub fn changes(&self) -> usize {
        self.new.len() + self.changed.len() + self.withdrawn.len()
    }
}

/// Reads, verifies and applies the partner's current bundle.
pub async fn sync(store: &Store, registry: &Registry, name: &str, options: SyncOptions) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let partner = store.partners().await?.into_iter().find(|p| p.name == name).ok_or_else(|| SyncError::UnknownPartner(name.to_owned()))?;
    let bundle = bundle::load(&BundleSource::parse(&partner.source), registry).await?;

    // Under the import lock: no other import or sync writes in between.
    let txn = store.begin_import().await?;
    let partner = store.partner_in(&txn, name).await?.ok_or_else(|| SyncError::UnknownPartner(name.to_owned()))?;
    if let Some(expected) = partner.municipality.as_ref().filter(|m| **m != bundle.municipality) {
        return Err(SyncError::OtherMunicipality { partner: name.to_owned(), expected: expected.clone(), found: bundle.municipality });
    }
    if bundle.content_version < partner.content_version {
        return Err(SyncError::Older { bundle: bundle.content_version, applied: partner.content_version });
    }
    let upstream = store.upstream_entries(&txn, name).await?;
    let baseline = store.import_baseline(&txn).await?;

    let mut plan = Plan {
        bundle_keys: bundle.entries.iter().map(|e| (e.content_type.clone(), e.slug.clone())).collect(),
        local_ids: baseline.entries.values().map(|held| held.id.clone()).collect(),
        author: format!("partner:{name}"),
        bundle: &bundle,
        upstream: &upstream,
        baseline: &baseline,
        publish: options.publish,
        now: Utc::now(),
        batch: WriteBatch { publish: options.publish, ..Default::default() },
        entry_rows: Vec::new(),
        revision_rows: Vec::new(),
        renames: Vec::new(),
        withdrawals: Vec::new(),
        problems: Vec::new(),
        report: SyncReport { partner: name.to_owned(), municipality: bundle.municipality.clone(), content_version: bundle.content_version, published: options.publish, ..Default::default() },
    };
    for entry in &bundle.entries {
        plan.entry(entry);
    }
    if !plan.problems.is_empty() {
        return Err(SyncError::Rejected(plan.problems));
    }
    plan.withdrawals(partner.content_version);

    let Plan { batch, entry_rows, revision_rows, renames, withdrawals, mut report, now, author, .. } = plan;
    for (id, slug) in &renames {
        txn.execute_raw(store.statement("UPDATE entries SET slug = ?, updated_at = ? WHERE id = ?", [slug.clone().into(), now.into(), id.clone().into()])).await?;
    }
    store.write_batch(&txn, batch).await?;
    if options.publish {
        for withdrawn in &withdrawals {
            let subject = EntryRef { content_type: &withdrawn.content_type, entry_id: &withdrawn.entry_id, slug: &withdrawn.slug };
            store.unpublish_in(&txn, subject, now).await?;
        }
    }
    store.record_sync(&txn, name, &bundle.municipality, bundle.content_version, &entry_rows, &revision_rows).await?;
    if report.changes() > 0 {
        let event = AuditEvent {
            request_id: format!("partner-sync-{}", now.timestamp_millis()),
            actor: author,
            action: "partner.sync".into(),
            locale: None,
            detail: serde_json::json!({
                "partner": name,
                "municipality": bundle.municipality,
                "content_version": bundle.content_version,
                "new": report.new.len(),
                "changed": report.changed.len(),
                "withdrawn": report.withdrawn.len(),
                "published": options.publish,
            }),
        };
        store.record_audit(&txn, &event, None).await?;
    }
    txn.commit().await?;
    for list in [&mut report.new, &mut report.changed, &mut report.withdrawn] {
        list.sort();
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// An entry to withdraw here because upstream did.
struct Withdrawal {
    entry_id: String,
    content_type: String,
    slug: String,
}

/// Turns the bundle into rows to write, checking identities and references.
struct Plan<'a> {
    author: String,
    bundle: &'a VerifiedBundle,
    upstream: &'a HashMap<String, UpstreamEntry>,
    baseline: &'a ImportBaseline,
    /// (type, slug) of every entry in the bundle, and the ids of every entry here.
    bundle_keys: HashSet<(String, String)>,
    local_ids: HashSet<String>,
    publish: bool,
    now: DateTime<Utc>,
    batch: WriteBatch,
    entry_rows: Vec<UpstreamEntryRow>,
    revision_rows: Vec<UpstreamRevisionRow>,
    /// (entry id, new slug) of entries renamed upstream.
    renames: Vec<(String, String)>,
    withdrawals: Vec<Withdrawal>,
    problems: Vec<BundleProblem>,
    report: SyncReport,
}

impl Plan<'_> {
    fn problem(&mut self, entry: &BundleEntry, message: String) {
        self.problems.push(BundleProblem { file: entry.file.clone(), message });
    }

    /// The local entry holding `type/slug`, unless it is `id` itself.
    fn held_by_other(&self, content_type: &str, slug: &str, id: &str) -> Option<String> {
        self.baseline.entries.get(&(content_type.to_owned(), slug.to_owned())).filter(|held| held.id != id).map(|held| held.id.clone())
    }

    fn entry(&mut self, entry: &BundleEntry) {
        let previous = self.upstream.get(&entry.id);
        let key = format!("{}/{}", entry.content_type, entry.slug);
        match previous {
            None => {
                let id_taken = self.local_ids.contains(&entry.id);
                if self.held_by_other(&entry.content_type, &entry.slug, "").is_some() || id_taken {
                    let message = format!("the {} `{}` exists here as a local entry, which a sync never changes; rename or remove it to receive the upstream one", entry.content_type, entry.slug);
                    self.problem(entry, message);
                    return;
                }
            }
            Some(known) if known.content_type != entry.content_type => {
                let message = format!("was a {} and is now a {}; an entry cannot change its type", known.content_type, entry.content_type);
                self.problem(entry, message);
                return;
            }
            Some(known) if known.slug != entry.slug => {
                if let Some(holder) = self.held_by_other(&entry.content_type, &entry.slug, &entry.id) {
                    let message = format!("was renamed upstream to `{}`, which the local entry {holder} holds", entry.slug);
                    self.problem(entry, message);
                    return;
                }
                self.renames.push((entry.id.clone(), entry.slug.clone()));
            }
            Some(_) => {}
        }
        for reference in &entry.references {
            let target = (reference.target_type.clone(), reference.target_slug.clone());
            if !self.bundle_keys.contains(&target) && !self.baseline.entries.contains_key(&target) {
                let message = format!("de: {}: refers to the {} `{}`, which is neither in the bundle nor here", reference.pointer, target.0, target.1);
                self.problem(entry, message);
            }
        }

        // Upstream German revision → local revision, for translations' origins.
        let mut german: Vec<(i32, i32)> =
            previous.into_iter().flat_map(|p| &p.revisions).filter(|r| r.locale.is_source()).map(|r| (r.upstream_revision, r.number)).collect();
        let mut made = 0;
        for locale in &entry.locales {
            if previous.and_then(|p| p.newest(locale.locale)).is_some_and(|newest| newest.content_hash == locale.hash) {
                continue;
            }
            let number = self.baseline.latest.get(&(entry.id.clone(), locale.locale)).map_or(1, |(newest, _)| newest + 1);
            let source_number = if locale.locale.is_source() {
                german.push((locale.revision, number));
                None
            } else {
                // 0 when made from a German revision older than any received here: outdated.
                locale.translated_from.map(|from| german.iter().filter(|(upstream, _)| *upstream <= from).map(|(_, local)| *local).max().unwrap_or(0))
            };
            self.push_revision(entry, locale, number, source_number);
            made += 1;
        }
        self.report.new_revisions += made;
        let returned = previous.is_some_and(|p| p.withdrawn_in.is_some());
        let renamed = previous.is_some_and(|p| p.slug != entry.slug);
        let cv = self.bundle.content_version;
        match previous {
            None => {
                self.report.new.push(key);
                self.batch.new_entries.push(entry::Model {
                    id: entry.id.clone(),
                    content_type: entry.content_type.clone(),
                    slug: entry.slug.clone(),
                    leika: entry.leika.clone(),
                    version: made as i64,
                    created_at: self.now,
                    updated_at: self.now,
                    trashed_at: None,
                });
                self.entry_rows.push(self.identity(entry, cv, cv));
            }
            Some(known) if made > 0 || returned || renamed => {
                self.report.changed.push(key);
                if made > 0 {
                    self.batch.version_updates.push((entry.id.clone(), made as i64, self.now));
                }
                self.entry_rows.push(self.identity(entry, known.arrived_in, cv));
            }
            Some(known) => {
                self.report.unchanged += 1;
                if known.upstream_version != entry.version {
                    self.entry_rows.push(self.identity(entry, known.arrived_in, known.changed_in));
                }
            }
        }
    }

    fn identity(&self, entry: &BundleEntry, arrived_in: i64, changed_in: i64) -> UpstreamEntryRow {
        UpstreamEntryRow {
            entry_id: entry.id.clone(),
            municipality: self.bundle.municipality.clone(),
            upstream_id: entry.id.clone(),
            upstream_version: entry.version,
            arrived_in,
            changed_in,
            withdrawn_in: None,
            withdrawn_action: None,
        }
    }

    fn push_revision(&mut self, entry: &BundleEntry, locale: &bundle::BundleLocale, number: i32, source_number: Option<i32>) {
        let code = locale.locale.code();
        self.batch.revisions.push(revision::Model {
            entry_id: entry.id.clone(),
            locale: code.to_owned(),
            number,
            document: locale.text.clone(),
            content_hash: locale.hash.clone(),
            source_number,
            author: self.author.clone(),
            message: format!("from {} (upstream revision {})", self.bundle.municipality, locale.revision),
            created_at: self.now,
        });
        let state = if self.publish { State::Published } else { State::Draft };
        self.batch.publications.push(publication::Model {
            entry_id: entry.id.clone(),
            locale: code.to_owned(),
            state: state.code().into(),
            published_number: self.publish.then_some(number),
            published_at: self.publish.then_some(self.now),
            publish_at: None,
            unpublish_at: None,
            updated_at: self.now,
            review_comment: None,
            scheduled_number: None,
        });
        if self.publish {
            if locale.locale.is_source() {
                self.batch.links.push((entry.id.clone(), entry.links.clone()));
            }
            self.batch.changes.push(change::Model {
                seq: 0,
                entry_id: entry.id.clone(),
                content_type: entry.content_type.clone(),
                slug: entry.slug.clone(),
                locale: code.to_owned(),
                action: "publish".into(),
                revision_number: Some(number),
                created_at: self.now,
            });
        }
        self.revision_rows.push(UpstreamRevisionRow {
            entry_id: entry.id.clone(),
            locale: locale.locale,
            number,
            upstream_revision: locale.revision,
            translated_from: locale.translated_from,
            provenance: locale.provenance.clone(),
        });
    }

    /// Marks entries that upstream withdrew since the last applied bundle;
    /// ids never received here are ignored.
    fn withdrawals(&mut self, applied: i64) {
        let in_bundle: HashSet<&str> = self.bundle.entries.iter().map(|e| e.id.as_str()).collect();
        for deletion in self.bundle.deletions.iter().filter(|d| d.version > applied) {
            let Some(known) = self.upstream.get(&deletion.id) else { continue };
            if known.withdrawn_in.is_some() || in_bundle.contains(deletion.id.as_str()) {
                continue;
            }
            self.report.withdrawn.push(format!("{}/{}", known.content_type, known.slug));
            self.entry_rows.push(UpstreamEntryRow {
                entry_id: known.entry_id.clone(),
                municipality: self.bundle.municipality.clone(),
                upstream_id: known.upstream_id.clone(),
                upstream_version: deletion.version,
                arrived_in: known.arrived_in,
                changed_in: known.changed_in,
                withdrawn_in: Some(self.bundle.content_version),
                withdrawn_action: Some(deletion.action.clone()),
            });
            self.withdrawals.push(Withdrawal { entry_id: known.entry_id.clone(), content_type: known.content_type.clone(), slug: known.slug.clone() });
        }
    }
}

