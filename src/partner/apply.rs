//! Applying a verified bundle in one transaction: new entries, new
//! revisions of changed ones, withdrawals, and the upstream identity and
//! provenance of all of it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::bundle::{self, BundleEntry, BundleLocale, BundleSource, VerifiedBundle};
use super::merge::merge;
use super::{BundleProblem, FetchSettings, SyncError};
use crate::content::{Locale, Registry, Violation};
use crate::digest::sha256_hex;
use crate::store::entity::{entry, publication, revision};
use crate::store::{
    Atomic, AuditEvent, ConflictRow, EntryRef, Going, ImportBaseline, LiveChange, Store, StoreError, Subject, SyncRecord, UpstreamEntry, UpstreamEntryRow,
    UpstreamRevisionRow, WriteBatch,
};
use crate::workflow::State;

#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// Publish what arrives (and unpublish what upstream withdrew) even
    /// when the subscription does not auto-publish; otherwise it waits as
    /// drafts for the partner's own review.
    pub publish: bool,
    pub fetch: FetchSettings,
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
    /// `type/slug (locale)` that `--publish` left as drafts: in the trash,
    /// not live, or with a revision of the partner's own waiting for review.
    pub held_back: Vec<String>,
    /// `type/slug module (locale)` of modules upstream changed that are overridden here.
    pub conflicts: Vec<String>,
    /// `type/slug /pointer → type/slug` of references to entries neither
    /// in the bundle nor here: taken as they are (see `Plan::entry`).
    pub unresolved: Vec<String>,
    pub unchanged: usize,
    pub new_revisions: usize,
    /// Bundle files fetched and verified besides the manifest: those whose
    /// checksum changed since the bundle applied last.
    pub files_read: usize,
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
    let (applied, held) = (store.partner_files(name).await?, store.upstream_ids(name).await?);
    let bundle = bundle::load(&BundleSource::parse(&partner.source), registry, &applied, &held, &options.fetch).await?;

    // Under the import lock: no other import or sync writes in between.
    let mut report = store
        .atomically(async |import| {
            import.exclude_other_imports().await?;
            apply(import, registry, name, bundle, options.publish).await
        })
        .await?;
    for list in [&mut report.new, &mut report.changed, &mut report.withdrawn, &mut report.held_back, &mut report.conflicts, &mut report.unresolved] {
        list.sort();
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Applies the bundle: what it changed, what upstream withdrew, and the
/// upstream identity and provenance of all of it.
async fn apply(import: &Atomic<'_>, registry: &Registry, name: &str, bundle: VerifiedBundle, publish: bool) -> Result<SyncReport, SyncError> {
    let partner = import.partner(name).await?.ok_or_else(|| SyncError::UnknownPartner(name.to_owned()))?;
    if let Some(expected) = partner.municipality.as_ref().filter(|m| **m != bundle.municipality) {
        return Err(SyncError::OtherMunicipality { partner: name.to_owned(), expected: expected.clone(), found: bundle.municipality });
    }
    if bundle.content_version < partner.content_version {
        return Err(SyncError::Older { bundle: bundle.content_version, applied: partner.content_version });
    }
    let publish = publish || partner.auto_publish;
    let upstream = import.upstream_entries(name).await?;
    let baseline = import.baseline().await?;
    let overridden = overridden_documents(import, &bundle, &upstream, &baseline).await?;
    let held_back = if publish { import.held_back(name).await? } else { HashSet::new() };

    let mut plan = Plan {
        bundle_keys: bundle.index.iter().map(|e| (e.content_type.clone(), e.slug.clone())).collect(),
        local_ids: baseline.entries.values().map(|held| held.id.clone()).collect(),
        author: format!("partner:{name}"),
        bundle: &bundle,
        upstream: &upstream,
        baseline: &baseline,
        overridden: &overridden,
        held_back: &held_back,
        registry,
        publish,
        now: Utc::now(),
        live_keys: bundle.index.iter().map(|e| (e.content_type.clone(), e.slug.clone())).chain(baseline.live.iter().cloned()).collect(),
        batch: WriteBatch::default(),
        entry_rows: Vec::new(),
        revision_rows: Vec::new(),
        conflict_rows: Vec::new(),
        renames: Vec::new(),
        withdrawals: Vec::new(),
        problems: Vec::new(),
        report: SyncReport {
            partner: name.to_owned(),
            municipality: bundle.municipality.clone(),
            content_version: bundle.content_version,
            published: publish,
            files_read: bundle.changed_files.len(),
            ..Default::default()
        },
    };
    for entry in &bundle.entries {
        plan.entry(entry);
    }
    // Entries whose file was not read: the same as applied last time.
    plan.report.unchanged += bundle.index.len() - bundle.entries.len();
    if !plan.problems.is_empty() {
        return Err(SyncError::Rejected(plan.problems));
    }
    plan.withdrawals(partner.content_version);
    plan.hold_back_dangling();

    let Plan { batch, entry_rows, revision_rows, conflict_rows, renames, withdrawals, report, now, author, .. } = plan;
    for (id, slug) in &renames {
        import.rename(id, slug, now).await?;
    }
    import.write(batch).await?;
    if publish {
        for withdrawn in &withdrawals {
            let subject = EntryRef { content_type: &withdrawn.content_type, entry_id: &withdrawn.entry_id, slug: &withdrawn.slug };
            import.unpublish(subject).await?;
        }
    }
    let record = SyncRecord {
        municipality: bundle.municipality.clone(),
        content_version: bundle.content_version,
        entries: entry_rows,
        revisions: revision_rows,
        conflicts: conflict_rows,
        changed_files: bundle.changed_files.clone(),
        dropped_files: bundle.dropped_files.clone(),
    };
    import.record_sync(name, &record).await?;
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
                "conflicts": report.conflicts.len(),
                "published": publish,
            }),
        };
        import.record_audit(&event).await?;
    }
    Ok(report)
}

/// For each entry and locale that upstream changed and the partner edited
/// since the last upstream revision: that upstream revision's document (the
/// base) and the partner's newest one.
type Overridden = HashMap<(String, Locale), (Value, Value)>;

async fn overridden_documents(
    import: &Atomic<'_>,
    bundle: &VerifiedBundle,
    upstream: &HashMap<String, UpstreamEntry>,
    baseline: &ImportBaseline,
) -> Result<Overridden, SyncError> {
    let mut documents = HashMap::new();
    for entry in &bundle.entries {
        let Some(previous) = upstream.get(&entry.id) else { continue };
        for locale in &entry.locales {
            let Some(base) = previous.newest(locale.locale).filter(|base| base.content_hash != locale.hash) else { continue };
            let Some((latest, latest_hash)) = baseline.latest.get(&(entry.id.clone(), locale.locale)) else { continue };
            if *latest_hash == base.content_hash {
                continue;
            }
            let base_text = import.upstream_document(&entry.id, locale.locale, base.upstream_revision).await?;
            let local_text = import.revision_document(&entry.id, locale.locale, *latest).await?;
            if let (Some(base_text), Some(local_text)) = (base_text, local_text) {
                let parse = |text: &str| {
                    serde_json::from_str::<Value>(text).map_err(|source| StoreError::CorruptDocument {
                        entry: entry.id.clone(),
                        locale: locale.locale.code().to_owned(),
                        source,
                    })
                };
                documents.insert((entry.id.clone(), locale.locale), (parse(&base_text)?, parse(&local_text)?));
            }
        }
    }
    Ok(documents)
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
    overridden: &'a Overridden,
    held_back: &'a HashSet<(String, Locale)>,
    registry: &'a Registry,
    /// (type, slug) of every entry in the bundle, and the ids of every entry here.
    bundle_keys: HashSet<(String, String)>,
    local_ids: HashSet<String>,
    publish: bool,
    now: DateTime<Utc>,
    /// (type, slug) of the entries references may point to when publishing:
    /// live here, or arriving in the bundle.
    live_keys: HashSet<(String, String)>,
    /// What is written; with `--publish`, what passes the publishing check goes live.
    batch: WriteBatch,
    entry_rows: Vec<UpstreamEntryRow>,
    revision_rows: Vec<UpstreamRevisionRow>,
    conflict_rows: Vec<ConflictRow>,
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
                let clash = if self.baseline.entries.contains_key(&(entry.content_type.clone(), entry.slug.clone())) {
                    Some(format!(
                        "the {} `{}` exists here as a local entry, which a sync never changes; rename or remove it to receive the upstream one",
                        entry.content_type, entry.slug
                    ))
                } else if self.local_ids.contains(&entry.id) {
                    Some(format!("its id {} is held here by another entry, which a sync never changes", entry.id))
                } else {
                    None
                };
                if let Some(message) = clash {
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
        // A reference to an entry neither in the bundle nor here is taken
        // as it is and reported, not refused. Upstream publishes it so: the
        // entry it names was unpublished or trashed there after the
        // reference was published, and every channel shows a reference to
        // an entry that is not published as upstream's own channels do
        // (left out). Refusing it would make the bundle unsyncable for
        // every new partner until upstream edits the referring entry,
        // while partners that received the entry earlier sync on; dropping
        // it in the export instead would change upstream's documents (and
        // could make them invalid, as a service needs an office) and churn
        // revisions and conflicts each time the entry comes and goes. When
        // the entry is published again, the next sync brings it and the
        // reference holds.
        for reference in &entry.references {
            let target = (reference.target_type.clone(), reference.target_slug.clone());
            if !self.bundle_keys.contains(&target) && !self.baseline.entries.contains_key(&target) {
                self.report.unresolved.push(format!("{key} {} → {}/{}", reference.pointer, target.0, target.1));
            }
        }

        // Upstream German revision → local revision, for translations' origins.
        let mut german: Vec<(i32, i32)> =
            previous.into_iter().flat_map(|p| &p.revisions).filter(|r| r.locale.is_source()).filter_map(|r| Some((r.upstream_revision, r.number?))).collect();
        let (mut made, mut received) = (0, 0);
        // What the German source says after this sync, for translations laid over it.
        let mut german_source: Option<Value> = entry.locales.iter().find(|l| l.locale.is_source()).map(|l| l.document.clone());
        for locale in &entry.locales {
            if previous.and_then(|p| p.newest(locale.locale)).is_some_and(|newest| newest.content_hash == locale.hash) {
                continue;
            }
            received += 1;
            let latest = self.baseline.latest.get(&(entry.id.clone(), locale.locale));
            let merged = self.overridden.get(&(entry.id.clone(), locale.locale)).map(|(base, local)| self.merge_overrides(entry, locale, base, local));
            let text = merged.as_ref().map_or_else(|| locale.text.clone(), |document| serde_json::to_string(document).unwrap_or_default());
            let hash = if merged.is_some() { sha256_hex(&text) } else { locale.hash.clone() };
            let number = if latest.is_some_and(|(_, latest_hash)| *latest_hash == hash) { None } else { Some(latest.map_or(1, |(newest, _)| newest + 1)) };
            let source_number = if locale.locale.is_source() {
                if let Some(holder) = number.or(latest.map(|(newest, _)| *newest)) {
                    german.push((locale.revision, holder));
                }
                None
            } else {
                // 0 when made from a German revision older than any received here: outdated.
                locale.translated_from.map(|from| german.iter().filter(|(upstream, _)| *upstream <= from).map(|(_, local)| *local).max().unwrap_or(0))
            };
            if let (Some(document), true) = (&merged, locale.locale.is_source()) {
                german_source = Some(document.clone());
            }
            if let Some(number) = number {
                let document = merged.as_ref().unwrap_or(&locale.document);
                let served = if locale.locale.is_source() {
                    Ok(document.clone())
                } else {
                    match (self.registry.get(&entry.content_type), &german_source) {
                        (Some(content_type), Some(source)) => crate::workflow::served_translation(content_type, source, document),
                        _ => Ok(document.clone()),
                    }
                };
                self.push_revision(entry, locale, number, source_number, (text, hash), served);
                made += 1;
            }
            self.revision_rows.push(UpstreamRevisionRow {
                entry_id: entry.id.clone(),
                locale: locale.locale,
                upstream_revision: locale.revision,
                number,
                document: locale.text.clone(),
                content_hash: locale.hash.clone(),
                translated_from: locale.translated_from,
                provenance: locale.provenance.clone(),
                received_in: self.bundle.content_version,
            });
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
            Some(known) if received > 0 || returned || renamed => {
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

    /// The partner's newest document with upstream's changes to the modules
    /// it has not overridden; overridden modules upstream changed too are
    /// recorded as conflicts.
    fn merge_overrides(&mut self, entry: &BundleEntry, locale: &BundleLocale, base: &Value, local: &Value) -> Value {
        let merged = merge(base, local, &locale.document);
        let json = |value: Option<Value>| value.map(|v| v.to_string());
        for conflict in merged.conflicts {
            self.report.conflicts.push(format!("{}/{} {} ({})", entry.content_type, entry.slug, conflict.module, locale.locale.code()));
            self.conflict_rows.push(ConflictRow {
                entry_id: entry.id.clone(),
                locale: locale.locale,
                module: conflict.module,
                upstream_revision: locale.revision,
                base_value: json(conflict.base),
                upstream_value: json(conflict.upstream),
                local_value: json(conflict.local),
                raised_in: self.bundle.content_version,
            });
        }
        if locale.locale.is_source()
            && let Some(content_type) = self.registry.get(&entry.content_type)
        {
            for violation in content_type.validate(&merged.document) {
                let message = format!("de: {}: with the overrides here, upstream's changes give an invalid document: {}", violation.pointer, violation.message);
                self.problem(entry, message);
            }
        }
        merged.document
    }

    /// Appends a revision with `document` (text and hash); with `--publish`
    /// it goes live when `served` (what readers would get: a translation
    /// laid over its source) passes the publishing check.
    fn push_revision(
        &mut self,
        entry: &BundleEntry,
        locale: &BundleLocale,
        number: i32,
        source_number: Option<i32>,
        document: (String, String),
        served: Result<Value, Vec<Violation>>,
    ) {
        let (text, hash) = document;
        let code = locale.locale.code();
        let revision = revision::Model {
            entry_id: entry.id.clone(),
            locale: code.to_owned(),
            number,
            document: text,
            content_hash: hash,
            source_number,
            author: self.author.clone(),
            message: format!("from {} (upstream revision {})", self.bundle.municipality, locale.revision),
            created_at: self.now,
        };
        let held_back = self.held_back.contains(&(entry.id.clone(), locale.locale));
        let approval = match (self.publish && !held_back, self.registry.get(&entry.content_type)) {
            (true, Some(content_type)) => {
                let live_keys = &self.live_keys;
                let checked = served.and_then(|served| {
                    crate::workflow::approve(content_type, locale.locale, &served, |t, s| live_keys.contains(&(t.to_owned(), s.to_owned())))
                });
                match checked {
                    Ok(publishable) => Some(publishable.revision(&entry.id, number)),
                    Err(problems) => {
                        let reasons: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.pointer, p.message)).collect();
                        self.report.held_back.push(format!("{}/{} ({code}): cannot be published: {}", entry.content_type, entry.slug, reasons.join("; ")));
                        None
                    }
                }
            }
            _ => None,
        };
        if self.publish && held_back {
            self.report.held_back.push(format!("{}/{} ({code})", entry.content_type, entry.slug));
        }
        self.batch.revisions.push(revision);
        let state = if approval.is_some() { State::Published } else { State::Draft };
        self.batch.publications.push(publication::Model {
            entry_id: entry.id.clone(),
            locale: code.to_owned(),
            state: state.code().into(),
            published_number: None,
            published_at: None,
            publish_at: None,
            unpublish_at: None,
            updated_at: self.now,
            review_comment: None,
            scheduled_number: None,
        });
        if let Some(approved) = approval {
            let subject = Subject { entry_id: entry.id.clone(), content_type: entry.content_type.clone(), slug: entry.slug.clone() };
            self.batch.live.push(LiveChange { subject, state: State::Published, going: Going::Live(approved) });
        }
    }

    /// Keeps as drafts what would go live referring to an entry that does
    /// not (it arrived but was held back), and translations whose German
    /// source does not go live: in turn, until nothing else depends on them.
    fn hold_back_dangling(&mut self) {
        loop {
            let going_live: HashSet<(String, Locale)> = self.batch.live.iter().filter_map(live_locale).map(|(id, locale)| (id.to_owned(), locale)).collect();
            let live_sources: HashSet<(String, String)> = self
                .batch
                .live
                .iter()
                .filter(|c| live_locale(c).is_some_and(|(_, locale)| locale.is_source()))
                .map(|c| (c.subject.content_type.clone(), c.subject.slug.clone()))
                .chain(self.baseline.live.iter().cloned())
                .collect();
            // Why a change cannot go live after all, if it cannot.
            let dangling = |change: &LiveChange| -> Option<String> {
                match &change.going {
                    Going::Live(approved) if approved.locale().is_source() => approved
                        .links()
                        .iter()
                        .find(|l| !live_sources.contains(&(l.to_type.clone(), l.to_slug.clone())))
                        .map(|l| format!("{}: refers to the {} `{}`, which stays unpublished", l.field, l.to_type, l.to_slug)),
                    Going::Live(approved) => {
                        let source = (approved.entry_id().to_owned(), Locale::SOURCE);
                        (!going_live.contains(&source) && !self.baseline.published.contains_key(&source))
                            .then(|| "its German source stays unpublished".to_owned())
                    }
                    Going::Off { .. } => None,
                }
            };
            let mut dropped = Vec::new();
            for change in std::mem::take(&mut self.batch.live) {
                match dangling(&change) {
                    Some(why) => dropped.push((change, why)),
                    None => self.batch.live.push(change),
                }
            }
            if dropped.is_empty() {
                return;
            }
            for (change, why) in dropped {
                let Going::Live(approved) = change.going else { continue };
                let code = approved.locale().code();
                self.report.held_back.push(format!("{}/{} ({code}): cannot be published: {why}", change.subject.content_type, change.subject.slug));
                if let Some(row) = self.batch.publications.iter_mut().find(|p| p.entry_id == approved.entry_id() && p.locale == code) {
                    row.state = State::Draft.code().into();
                }
            }
        }
    }

    /// Marks entries that upstream withdrew since the last applied bundle;
    /// ids never received here are ignored.
    fn withdrawals(&mut self, applied: i64) {
        let in_bundle: HashSet<&str> = self.bundle.index.iter().map(|e| e.id.as_str()).collect();
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

/// The entry and locale a change puts live.
fn live_locale(change: &LiveChange) -> Option<(&str, Locale)> {
    match &change.going {
        Going::Live(approved) => Some((approved.entry_id(), approved.locale())),
        Going::Off { .. } => None,
    }
}
