//! Importing a content folder of editorial files: all-or-nothing (one bad
//! file and nothing is written, every problem listed) and idempotent
//! (unchanged files create no revision).
//!
//! Files are checked in parallel in chunks while the previous chunk is
//! written, all inside one transaction that is committed only when every
//! file was valid.

mod check;
mod problem;
mod scan;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rayon::prelude::*;

pub use problem::Problem;

use crate::content::{Locale, Registry};
use crate::digest::sha256_hex;
use crate::store::entity::{entry, publication, revision};
use crate::store::{Atomic, AuditEvent, Going, ImportBaseline, Link, LiveChange, Store, StoreError, Subject, WriteBatch};
use crate::workflow::{Publishable, State};
use check::{CheckedEntry, KnownSlugs, check_entry};
use scan::EntryFiles;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} problem(s) found; nothing was imported", .0.len())]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("checking the files failed: {0}")]
    Checker(String),
}

#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub author: String,
    /// Publish what changed; otherwise changes become drafts for review.
    pub publish: bool,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { author: "import".into(), publish: false, progress: false }
    }
}

/// What an import or validation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub entries: usize,
    pub files: usize,
    pub created_entries: usize,
    pub new_revisions: usize,
    pub unchanged: usize,
    /// Whether new revisions were published or left as drafts.
    pub published: bool,
    pub elapsed: Duration,
}

/// Entries checked and written per step; bounds memory whatever the size
/// of the folder.
const CHUNK: usize = 512;

/// Checks a folder without a database: file names, format, schemas and
/// references within the folder, and — unless only `drafts` are to be
/// imported — what publishing it would refuse (the fields each channel
/// requires), as `import --publish` would.
pub fn validate(root: &Path, registry: &Registry, drafts: bool) -> Result<ImportReport, Vec<Problem>> {
    let started = Instant::now();
    let (entries, mut problems) = scan::scan(root, registry);
    let known = known_slugs(&entries, &ImportBaseline::default());
    let live = (!drafts).then_some(&known);
    let results: Vec<Result<CheckedEntry, Vec<Problem>>> = entries.par_iter().map(|files| check_entry(files, registry, &known, live)).collect();
    for result in results {
        if let Err(found) = result {
            problems.extend(found);
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(problems);
    }
    Ok(ImportReport { entries: entries.len(), files: entries.iter().map(|e| 1 + e.translations.len()).sum(), elapsed: started.elapsed(), ..Default::default() })
}

/// Imports a folder into the store and publishes what changed; an import
/// that changed something is recorded in the audit log.
pub async fn import(store: &Store, registry: &Arc<Registry>, root: &Path, options: &ImportOptions) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let (entries, problems) = scan::scan(root, registry);
    // The baseline is read under the import lock: a concurrent import
    // waits instead of racing.
    let mut report = store
        .atomically(async |import| {
            import.exclude_other_imports().await?;
            write_folder(import, registry, entries, problems, options).await
        })
        .await?;
    report.elapsed = started.elapsed();
    if report.new_revisions > 0 {
        store.record_audit_event(&audit_event(root, options, &report)).await?;
    }
    Ok(report)
}

/// Checks and writes the scanned folder; any problem fails the whole import.
async fn write_folder(
    import: &Atomic<'_>,
    registry: &Arc<Registry>,
    entries: Vec<EntryFiles>,
    mut problems: Vec<Problem>,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let baseline = import.baseline().await?;
    let known = known_slugs(&entries, &baseline);
    // Publishing needs live references: to entries live already, or to
    // entries of the folder going live with it (checked once the folder is
    // planned: an unchanged file does not go live again).
    let live: Option<KnownSlugs> =
        options.publish.then(|| entries.iter().map(|e| (e.content_type.clone(), e.slug.clone())).chain(baseline.live.iter().cloned()).collect());
    let progress = progress_bar(entries.len(), options.progress);

    let mut report = ImportReport {
        published: options.publish,
        entries: entries.len(),
        files: entries.iter().map(|e| 1 + e.translations.len()).sum(),
        ..Default::default()
    };
    let mut planner = Planner {
        baseline: &baseline,
        author: &options.author,
        publish: options.publish,
        now: Utc::now(),
        report: &mut report,
        going_live: KnownSlugs::new(),
        needed: Vec::new(),
    };

    // Check chunk n+1 on the blocking pool while chunk n is written.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<Result<CheckedEntry, Vec<Problem>>>>(2);
    let checker = {
        let registry = Arc::clone(registry);
        let entries = entries.clone();
        tokio::task::spawn_blocking(move || {
            for chunk in entries.chunks(CHUNK) {
                let checked = chunk.par_iter().map(|files| check_entry(files, &registry, &known, live.as_ref())).collect();
                if sender.blocking_send(checked).is_err() {
                    return;
                }
            }
        })
    };
    while let Some(checked) = receiver.recv().await {
        let mut batch = WriteBatch::default();
        for result in checked {
            progress.inc(1);
            match result {
                Ok(entry) if problems.is_empty() => planner.plan(entry, &mut batch),
                Ok(_) => {}
                Err(found) => problems.extend(found),
            }
        }
        if problems.is_empty() && !batch.is_empty() {
            import.write(batch).await?;
        }
    }
    checker.await.map_err(|e| ImportError::Checker(e.to_string()))?;
    progress.finish_and_clear();
    if problems.is_empty() {
        problems.extend(planner.dangling());
    }

    if !problems.is_empty() {
        problems.sort();
        return Err(ImportError::Invalid(problems));
    }
    Ok(report)
}

/// An import that changed something, in the audit log.
fn audit_event(root: &Path, options: &ImportOptions, report: &ImportReport) -> AuditEvent {
    AuditEvent {
        request_id: format!("import-{}", Utc::now().timestamp_millis()),
        actor: options.author.clone(),
        action: "import".into(),
        locale: None,
        detail: serde_json::json!({
            "folder": root.display().to_string(),
            "entries": report.entries,
            "new_entries": report.created_entries,
            "new_revisions": report.new_revisions,
            "published": report.published,
        }),
    }
}

fn known_slugs(entries: &[EntryFiles], baseline: &ImportBaseline) -> KnownSlugs {
    entries.iter().map(|e| (e.content_type.clone(), e.slug.clone())).chain(baseline.entries.keys().cloned()).collect()
}

fn progress_bar(len: usize, wanted: bool) -> indicatif::ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} importing {bar:40} {pos}/{len} entries ({per_sec}, {eta})") {
        bar.set_style(style);
    }
    bar
}

/// Turns checked entries into the rows to write, skipping unchanged ones.
struct Planner<'a> {
    baseline: &'a ImportBaseline,
    author: &'a str,
    publish: bool,
    now: chrono::DateTime<Utc>,
    report: &'a mut ImportReport,
    /// German sources this import puts live, by type and slug.
    going_live: KnownSlugs,
    /// The links of what goes live, with the file that makes them.
    needed: Vec<(String, Link)>,
}

impl Planner<'_> {
    /// Links of what goes live to an entry of the folder that does not: its
    /// file is unchanged since it was imported as a draft or taken offline.
    fn dangling(&self) -> Vec<Problem> {
        self.needed
            .iter()
            .filter(|(_, link)| {
                let target = (link.to_type.clone(), link.to_slug.clone());
                !self.going_live.contains(&target) && !self.baseline.live.contains(&target)
            })
            .map(|(file, link)| {
                let message = format!(
                    "cannot be published: refers to the {} `{}`, which is not published (its file is unchanged, so this import does not publish it)",
                    link.to_type, link.to_slug
                );
                Problem::new(file, None, Some(format!("/{}", link.field)), message)
            })
            .collect()
    }
}

/// A new revision read from a file: its locale, its number, the document
/// as stored and its hash, and the German revision a translation follows.
struct FileRevision {
    locale: Locale,
    number: i32,
    document: String,
    hash: String,
    source_number: Option<i32>,
}

impl Planner<'_> {
    fn plan(&mut self, checked: CheckedEntry, batch: &mut WriteBatch) {
        let key = (checked.content_type.clone(), checked.slug.clone());
        let existing = self.baseline.entries.get(&key);
        let id = existing.map_or_else(|| crate::content::slug::entry_id(&checked.content_type, &checked.slug).to_string(), |e| e.id.clone());
        let mut source_number = None;
        let mut new_revisions = 0;
        let mut approvals = checked.publishable.iter().cloned();
        for (locale, document) in &checked.documents {
            let approval = approvals.next();
            let text = serde_json::to_string(document).unwrap_or_default();
            let hash = sha256_hex(&text);
            let latest = self.baseline.latest.get(&(id.clone(), *locale));
            let number = match latest {
                Some((number, latest_hash)) if *latest_hash == hash => {
                    if locale.is_source() {
                        source_number = Some(*number);
                    }
                    self.report.unchanged += 1;
                    continue;
                }
                Some((number, _)) => number + 1,
                None => 1,
            };
            if locale.is_source() {
                source_number = Some(number);
            }
            new_revisions += 1;
            self.push_revision(batch, &id, &checked, FileRevision { locale: *locale, number, document: text, hash, source_number });
            self.go_live(batch, &id, &checked, approval, number);
        }
        if new_revisions == 0 {
            return;
        }
        self.report.new_revisions += new_revisions;
        match existing {
            Some(_) => batch.version_updates.push((id, new_revisions as i64, self.now)),
            None => {
                self.report.created_entries += 1;
                batch.new_entries.push(entry::Model {
                    id,
                    content_type: checked.content_type,
                    slug: checked.slug,
                    leika: checked.leika,
                    version: new_revisions as i64,
                    created_at: self.now,
                    updated_at: self.now,
                    trashed_at: None,
                });
            }
        }
    }

    fn push_revision(&self, batch: &mut WriteBatch, id: &str, checked: &CheckedEntry, revision: FileRevision) {
        let FileRevision { locale, number, document, hash, source_number } = revision;
        let file = if locale.is_source() { format!("{}.md", checked.slug) } else { format!("{}.{locale}.md", checked.slug) };
        batch.revisions.push(revision::Model {
            entry_id: id.to_owned(),
            locale: locale.code().to_owned(),
            number,
            document,
            content_hash: hash,
            source_number: if locale.is_source() { None } else { source_number },
            author: self.author.to_owned(),
            message: format!("imported from {}/{file}", checked.content_type),
            created_at: self.now,
        });
        let state = if self.publish { State::Published } else { State::Draft };
        batch.publications.push(publication::Model {
            entry_id: id.to_owned(),
            locale: locale.code().to_owned(),
            state: state.code().into(),
            published_number: None,
            published_at: None,
            publish_at: None,
            unpublish_at: None,
            updated_at: self.now,
            review_comment: None,
            scheduled_number: None,
        });
    }

    /// Puts a revision live, when publishing (`approval` is there exactly then).
    fn go_live(&mut self, batch: &mut WriteBatch, id: &str, checked: &CheckedEntry, approval: Option<Publishable>, number: i32) {
        let Some(approval) = approval.filter(|_| self.publish) else { return };
        let subject = Subject { entry_id: id.to_owned(), content_type: checked.content_type.clone(), slug: checked.slug.clone() };
        if approval.is_source() {
            self.going_live.insert((checked.content_type.clone(), checked.slug.clone()));
            let file = format!("{}/{}.md", checked.content_type, checked.slug);
            self.needed.extend(approval.links().iter().map(|link| (file.clone(), link.clone())));
        }
        batch.live.push(LiveChange { subject, state: State::Published, going: Going::Live(approval.revision(id, number)) });
    }
}
