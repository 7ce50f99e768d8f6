//! Exporting a channel into a folder, following the change log.
//!
//! The first export reads every published entry twice: once for the
//! [`Catalogue`] (names, teasers, references), once in batches to make each
//! entry's files, so memory holds one batch, not the whole content. It
//! leaves a state file beside the channel's folder: the change-log
//! position, the catalogue, which files each entry made and the hash of
//! every file. The next export reads only the entries changed since then,
//! and remakes their files and those of the entries that show them (an
//! office's hours are on the page of every service it is responsible
//! for) and of the entries they show; the files made from all entries
//! together (indexes, sitemap) are remade when a name, a reference or a
//! file changed. Whatever invalidates the state — other templates or
//! settings, other schemas, another katalog version, another database —
//! makes the export start from the beginning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalogue::{Catalogue, Summary};
use super::history::History;
use super::output::{FileHashes, Staged, WriteSummary, Writer, write_whole};
use super::snapshot::{Batches, Snapshot, SnapshotEntry};
use super::{Channel, ChannelError};
use crate::content::{Audience, Locale, Registry, document};
use crate::store::{ChangeRow, Store};

/// Raised when the state file's shape changes.
const STATE_FORMAT: u32 = 1;
/// Entries read in full for what pages show of them, kept across batches.
const SHOWN_ENTRIES_KEPT: usize = 5_000;

/// What a channel makes of the content.
pub trait Projection: Send + Sync {
    /// Differs whenever the same content would give other files
    /// (templates, settings).
    fn fingerprint(&self) -> String;

    /// The files of one entry, in every published locale.
    fn entry_files(&self, entry: &SnapshotEntry, sources: &Sources<'_>) -> Result<EntryOutput, ChannelError>;

    /// The files made from all entries together.
    fn aggregate_files(&self, all: &Aggregates<'_>) -> Result<Vec<(String, Vec<u8>)>, ChannelError>;

    /// Whether the aggregate files list the other files (an index with
    /// their hashes), so that they change whenever any file does; else
    /// they change only with the entries' names and references.
    fn aggregates_list_files(&self) -> bool {
        false
    }

    /// Whether the files tell who wrote what ([`Sources::history`]) and
    /// which entries were withdrawn ([`Aggregates::withdrawn`]).
    fn needs_history(&self) -> bool {
        false
    }
}

/// What an entry's files may show: any entry's summary, and in full the
/// entries it refers to.
pub struct Sources<'a> {
    pub catalogue: &'a Catalogue,
    pub snapshot: &'a Snapshot,
    /// The revision history of the entries whose files are made, when the
    /// channel needs it.
    pub history: Option<&'a History>,
}

/// What an entry gave a channel.
#[derive(Debug, Default)]
pub struct EntryOutput {
    pub files: Vec<(String, Vec<u8>)>,
    /// Why the entry is left out of the channel.
    pub problem: Option<String>,
    /// What the channel's aggregate files need of the entry.
    pub digest: Option<Value>,
}

/// What the aggregate files are made from.
pub struct Aggregates<'a> {
    pub catalogue: &'a Catalogue,
    pub registry: &'a Registry,
    pub entries: &'a BTreeMap<String, EntryRecord>,
    /// The hash of every entry's file.
    pub files: &'a FileHashes,
    /// The change-log position the files reflect.
    pub change_seq: i64,
    /// Entries whose German source was withdrawn (and not published
    /// again), oldest first, when the channel needs them.
    pub withdrawn: &'a [ChangeRow],
}

/// What an entry gave a channel, as the state keeps it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct EntryRecord {
    pub files: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct State {
    format: u32,
    fingerprint: String,
    change_seq: i64,
    change_time: Option<DateTime<Utc>>,
    /// The change-log position of the catalogue file, which is written
    /// only when a name or reference changed: it is the bulk of the state.
    catalogue_seq: i64,
    entries: BTreeMap<String, EntryRecord>,
    aggregates: Vec<String>,
    files: FileHashes,
}

#[derive(Serialize, Deserialize)]
struct SavedCatalogue<S> {
    seq: i64,
    summaries: Vec<S>,
}

/// What an export did for one channel.
#[derive(Debug)]
pub struct ChannelReport {
    pub channel: Channel,
    pub summary: WriteSummary,
    /// Entries left out, and why.
    pub problems: Vec<String>,
    /// Entries whose files were made.
    pub rendered: usize,
}

/// One export of several channels into one folder.
pub struct ExportRun<'a> {
    pub store: &'a Store,
    pub registry: &'a Arc<Registry>,
    pub out: &'a Path,
    pub bar: indicatif::ProgressBar,
    /// Where the change log stood when the export began.
    pub change_seq: i64,
    pub change_time: Option<DateTime<Utc>>,
    /// Read once, for every channel that starts from the beginning.
    pub full_catalogue: Option<Catalogue>,
}

impl ExportRun<'_> {
    /// Exports one channel into `out/<channel>/`.
    pub async fn channel(&mut self, channel: Channel, projection: &dyn Projection) -> Result<ChannelReport, ChannelError> {
        let (store, registry, bar) = (self.store, self.registry, self.bar.clone());
        let folder = self.out.join(channel.name());
        let state_path = self.out.join(format!(".{}.state.json", channel.name()));
        let catalogue_path = self.out.join(format!(".{}.catalogue.json", channel.name()));
        let fingerprint = format!("{STATE_FORMAT}:{}:{}:{}", env!("CARGO_PKG_VERSION"), registry_fingerprint(registry), projection.fingerprint());
        // The catalogue is the bulk of the state: read on a thread of its
        // own while the rest is read and checked.
        let catalogue_reading = {
            let path = catalogue_path.clone();
            std::thread::spawn(move || read_json::<SavedCatalogue<Summary>>(&path))
        };
        let reading = std::time::Instant::now();
        let mut state = read_json::<State>(&state_path).filter(|state| state.format == STATE_FORMAT && folder.is_dir());
        tracing::debug!(channel = channel.name(), seconds = reading.elapsed().as_secs_f64(), "state read");
        let known_files = state.as_mut().map(|state| std::mem::take(&mut state.files));
        let state = match state {
            Some(state) if state.fingerprint == fingerprint && state.change_seq > 0 && store.change_time(state.change_seq).await? == state.change_time => {
                Some(state)
            }
            _ => None,
        };
        let mut plan = match state {
            Some(state) => {
                let changed = changed_since(store, state.change_seq).await?;
                if changed.is_empty() {
                    let unchanged = known_files.map_or(0, |files| files.len());
                    return Ok(ChannelReport {
                        channel,
                        summary: WriteSummary { unchanged, ..WriteSummary::default() },
                        problems: problems(&state.entries),
                        rendered: 0,
                    });
                }
                let saved = catalogue_reading.join().ok().flatten().filter(|saved| saved.seq == state.catalogue_seq);
                tracing::debug!(channel = channel.name(), seconds = reading.elapsed().as_secs_f64(), "catalogue file read");
                match saved {
                    Some(saved) => Plan::incremental(store, registry, state, saved.summaries, &changed).await?,
                    None => Plan::full(store, registry, &mut self.full_catalogue, &bar).await?,
                }
            }
            None => Plan::full(store, registry, &mut self.full_catalogue, &bar).await?,
        };
        let started = std::time::Instant::now();
        tracing::debug!(channel = channel.name(), entries = plan.render.len(), "planned");
        let mut writer = Writer::open(&folder, known_files, plan.full)?;

        for id in &plan.removed {
            if let Some(record) = plan.entries.remove(id) {
                record.files.iter().for_each(|path| writer.remove(path));
            }
        }
        bar.set_message(format!("{}: making files", channel.name()));
        bar.set_position(0);
        bar.set_length(plan.render.len() as u64);
        let mut shown = Snapshot::default();
        let mut files_changed = !plan.removed.is_empty();
        // Whether what the aggregate files say of an entry changed.
        let mut digests_changed = !plan.removed.is_empty();
        let audience = channel.audience();
        let mut batches = Batches::new(store, registry, &plan.render, audience);
        while let Some(entries) = batches.next().await? {
            let entries: Vec<Arc<SnapshotEntry>> = entries.into_iter().map(Arc::new).collect();
            let snapshot = with_shown_entries(store, registry, &plan.catalogue, &entries, &mut shown, audience).await?;
            let history = if projection.needs_history() { Some(History::load(store, &entries, self.change_seq).await?) } else { None };
            let sources = Sources { catalogue: &plan.catalogue, snapshot: &snapshot, history: history.as_ref() };
            let made: Vec<(EntryOutput, Vec<Staged>)> = entries
                .par_iter()
                .map(|entry| {
                    let mut output = projection.entry_files(entry, &sources)?;
                    let staged = output.files.drain(..).map(|(path, bytes)| writer.stage(path, &bytes)).collect::<Result<_, _>>()?;
                    Ok((output, staged))
                })
                .collect::<Result<_, ChannelError>>()?;
            for (entry, (output, staged)) in entries.iter().zip(made) {
                let files: Vec<String> = staged.iter().map(|s| s.path.clone()).collect();
                files_changed |= staged.iter().any(|s| s.written);
                staged.into_iter().for_each(|s| writer.record(s));
                let record = EntryRecord { files: files.clone(), problem: output.problem, digest: output.digest };
                let previous = plan.entries.insert(entry.id.clone(), record.clone());
                digests_changed |= previous.as_ref().is_none_or(|p| p.digest != record.digest || p.problem != record.problem);
                for path in previous.into_iter().flat_map(|r| r.files).filter(|p| !files.contains(p)) {
                    writer.remove(&path);
                    files_changed = true;
                }
            }
            bar.inc(entries.len() as u64);
        }

        tracing::debug!(channel = channel.name(), seconds = started.elapsed().as_secs_f64(), "entry files made");
        if plan.full || plan.summaries_changed || digests_changed || (files_changed && projection.aggregates_list_files()) {
            let withdrawn = if projection.needs_history() { withdrawn(store, &plan.catalogue, self.change_seq).await? } else { Vec::new() };
            let all = Aggregates {
                catalogue: &plan.catalogue,
                registry,
                entries: &plan.entries,
                files: writer.hashes(),
                change_seq: self.change_seq,
                withdrawn: &withdrawn,
            };
            let aggregates = projection.aggregate_files(&all)?;
            let paths: Vec<String> = aggregates.iter().map(|(path, _)| path.clone()).collect();
            for (path, bytes) in aggregates {
                writer.put(&path, &bytes)?;
            }
            for path in plan.aggregates.iter().filter(|p| !paths.contains(p)) {
                writer.remove(path);
            }
            plan.aggregates = paths;
        }
        tracing::debug!(channel = channel.name(), seconds = started.elapsed().as_secs_f64(), "aggregate files made");
        let (summary, files) = writer.commit()?;
        tracing::debug!(channel = channel.name(), seconds = started.elapsed().as_secs_f64(), "committed");
        let problems = problems(&plan.entries);
        let rendered = plan.render.len();
        // The catalogue first: a state that names it is never older than it.
        let catalogue_seq = if plan.full || plan.summaries_changed {
            let saved = SavedCatalogue { seq: self.change_seq, summaries: plan.catalogue.all().collect() };
            write_whole(&catalogue_path, &saved)?;
            self.change_seq
        } else {
            plan.catalogue_seq
        };
        let state = State {
            format: STATE_FORMAT,
            fingerprint,
            change_seq: self.change_seq,
            change_time: self.change_time,
            catalogue_seq,
            entries: plan.entries,
            aggregates: plan.aggregates,
            files,
        };
        write_whole(&state_path, &state)?;
        tracing::debug!(channel = channel.name(), seconds = started.elapsed().as_secs_f64(), "state written");
        Ok(ChannelReport { channel, summary, problems, rendered })
    }
}

/// What an export remakes.
struct Plan {
    full: bool,
    catalogue: Catalogue,
    entries: BTreeMap<String, EntryRecord>,
    aggregates: Vec<String>,
    /// Entries whose files are made, in id order.
    render: Vec<String>,
    /// Entries no longer published.
    removed: Vec<String>,
    summaries_changed: bool,
    /// Where the catalogue file read stood.
    catalogue_seq: i64,
}

impl Plan {
    async fn full(store: &Store, registry: &Arc<Registry>, full_catalogue: &mut Option<Catalogue>, bar: &indicatif::ProgressBar) -> Result<Plan, ChannelError> {
        if full_catalogue.is_none() {
            *full_catalogue = Some(read_catalogue(store, registry, bar).await?);
        }
        let catalogue = full_catalogue.clone().unwrap_or_default();
        let mut render: Vec<String> = catalogue.all().map(|s| s.id.clone()).collect();
        render.sort();
        Ok(Plan {
            full: true,
            catalogue,
            entries: BTreeMap::new(),
            aggregates: Vec::new(),
            render,
            removed: Vec::new(),
            summaries_changed: true,
            catalogue_seq: 0,
        })
    }

    async fn incremental(store: &Store, registry: &Registry, state: State, summaries: Vec<Summary>, changed: &[String]) -> Result<Plan, ChannelError> {
        let building = std::time::Instant::now();
        let mut catalogue = Catalogue::from_summaries(summaries);
        tracing::debug!(seconds = building.elapsed().as_secs_f64(), "catalogue built");
        let (before, after) = apply_changes(store, registry, &mut catalogue, changed).await?;
        let summaries_changed = before.len() != after.len() || after.iter().any(|summary| !before.contains(summary));
        // Whose files show a changed entry, or are shown by one.
        let mut affected: BTreeSet<String> = changed.iter().cloned().collect();
        for summary in before.iter().chain(&after) {
            affected.extend(summary.references.iter().filter_map(|(t, s)| catalogue.get(t, s)).map(|s| s.id.clone()));
            affected.extend(catalogue.referrers(&summary.key()).map(|s| s.id.clone()));
        }
        let removed: Vec<String> = changed.iter().filter(|id| catalogue.by_id(id).is_none()).cloned().collect();
        let render: Vec<String> = affected.into_iter().filter(|id| catalogue.by_id(id).is_some()).collect();
        Ok(Plan {
            full: false,
            catalogue,
            entries: state.entries,
            aggregates: state.aggregates,
            render,
            removed,
            summaries_changed,
            catalogue_seq: state.catalogue_seq,
        })
    }
}

/// Brings the catalogue up to date with the entries `changed`; returns
/// their summaries before and after. The catalogue is shared by every
/// channel, so it summarises what the public sees.
pub(super) async fn apply_changes(
    store: &Store,
    registry: &Registry,
    catalogue: &mut Catalogue,
    changed: &[String],
) -> Result<(Vec<Summary>, Vec<Summary>), ChannelError> {
    let before: Vec<Summary> = changed.iter().filter_map(|id| catalogue.remove(id)).collect();
    let after: Vec<Summary> = Snapshot::read(store, registry, changed, Audience::Public).await?.iter().map(Summary::of).collect();
    for summary in &after {
        catalogue.insert(summary.clone());
    }
    Ok((before, after))
}

/// Every published entry's summary.
pub(super) async fn read_catalogue(store: &Store, registry: &Arc<Registry>, bar: &indicatif::ProgressBar) -> Result<Catalogue, ChannelError> {
    let started = std::time::Instant::now();
    let ids = store.published_entry_ids().await?;
    bar.set_message("reading entries");
    bar.set_length(ids.len() as u64);
    let mut catalogue = Catalogue::default();
    let mut batches = Batches::new(store, registry, &ids, Audience::Public);
    while let Some(entries) = batches.next().await? {
        bar.inc(entries.len() as u64);
        let summaries: Vec<Summary> = entries.par_iter().map(Summary::of).collect();
        summaries.into_iter().for_each(|summary| _ = catalogue.insert(summary));
        rayon::spawn(move || drop(entries));
    }
    tracing::debug!(entries = ids.len(), seconds = started.elapsed().as_secs_f64(), "catalogue read");
    Ok(catalogue)
}

/// The ids of the entries with a change after `seq`, in id order.
async fn changed_since(store: &Store, mut seq: i64) -> Result<Vec<String>, ChannelError> {
    const PAGE: u64 = 10_000;
    let mut changed = BTreeSet::new();
    loop {
        let rows = store.changes_after(seq, None, &Locale::ALL, PAGE).await?;
        let Some(last) = rows.last() else { break };
        seq = last.seq;
        let complete = (rows.len() as u64) < PAGE;
        changed.extend(rows.into_iter().map(|row| row.entry_id));
        if complete {
            break;
        }
    }
    Ok(changed.into_iter().collect())
}

/// The batch, and the published entries it refers to read in full (kept
/// for the next batches: many services show the same few offices).
pub(super) async fn with_shown_entries(
    store: &Store,
    registry: &Registry,
    catalogue: &Catalogue,
    batch: &[Arc<SnapshotEntry>],
    shown: &mut Snapshot,
    audience: Audience,
) -> Result<Snapshot, ChannelError> {
    let mut snapshot = Snapshot::default();
    batch.iter().for_each(|entry| snapshot.insert(entry.clone()));
    let referenced: BTreeMap<&str, &Summary> = batch
        .iter()
        .flat_map(|entry| document::references(&entry.content_type, &entry.source.document))
        .filter_map(|reference| catalogue.get(&reference.target_type, &reference.target_slug))
        .filter(|target| snapshot.get(&target.content_type, &target.slug).is_none())
        .map(|target| (target.id.as_str(), target))
        .collect();
    let referenced: Vec<&Summary> = referenced.into_values().collect();
    let missing: Vec<String> = referenced.iter().filter(|t| shown.get(&t.content_type, &t.slug).is_none()).map(|t| t.id.clone()).collect();
    if shown.len() + missing.len() > SHOWN_ENTRIES_KEPT {
        *shown = Snapshot::default();
    }
    let still_missing: Vec<String> = referenced.iter().filter(|t| shown.get(&t.content_type, &t.slug).is_none()).map(|t| t.id.clone()).collect();
    for entry in Snapshot::read(store, registry, &still_missing, audience).await? {
        shown.insert(Arc::new(entry));
    }
    for target in referenced {
        if let Some(entry) = shown.get_arc(&target.content_type, &target.slug) {
            snapshot.insert(entry);
        }
    }
    Ok(snapshot)
}

/// The entries withdrawn by `up_to` and not published now.
async fn withdrawn(store: &Store, catalogue: &Catalogue, up_to: i64) -> Result<Vec<ChangeRow>, ChannelError> {
    Ok(store.withdrawn_entries(up_to).await?.into_iter().filter(|change| catalogue.by_id(&change.entry_id).is_none()).collect())
}

/// Why entries are left out, in order.
fn problems(entries: &BTreeMap<String, EntryRecord>) -> Vec<String> {
    let mut problems: Vec<String> = entries.values().filter_map(|record| record.problem.clone()).collect();
    problems.sort();
    problems
}

/// A file of the export's state; none when it is missing or unreadable
/// (the export then starts from the beginning).
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).inspect_err(|error| tracing::warn!("ignoring the export state {}: {error}", path.display())).ok()
}

/// Changes whenever a schema does.
fn registry_fingerprint(registry: &Registry) -> String {
    let schemas: Vec<String> = registry.iter().map(|t| format!("{}={}", t.name, t.schema)).collect();
    crate::digest::sha256_hex(schemas.join("\n"))[..16].to_owned()
}
