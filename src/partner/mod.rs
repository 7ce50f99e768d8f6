//! Partner municipalities: subscribing to another katalog's partner
//! bundles and keeping its content in step.
//!
//! `katalog partner add NAME --source PATH-or-URL` subscribes,
//! `katalog partner sync NAME` applies the newest bundle, and
//! `katalog partner status [NAME]` says what the last sync brought and
//! what is in conflict, `katalog partner resolve` decides a conflict.
//!
//! Decisions:
//!
//! * **Verify, then apply, all at once.** A bundle is read and checked
//!   before the database is touched: format and version (a newer
//!   `format_version` is refused), the SHA-256 of every listed file read,
//!   no listed file missing, no unlisted file in a bundle folder, every
//!   entry named by the rules of the editorial import (type, slug, locale,
//!   and its file where the export puts it) and every entry read valid.
//!   Then everything is written in one transaction, so an interrupted sync
//!   leaves nothing behind and simply runs again.
//! * **Fenced and bounded.** Over HTTP, a bundle is fetched only from
//!   public addresses unless a host is allowed by name (see
//!   [`crate::outbound`]), no file larger than the configured limit is
//!   read, and reading a bundle ends at a deadline.
//! * **Read only what changed.** The checksums of the files applied are
//!   kept per subscription (in the same transaction); a file whose
//!   checksum in the new manifest is the same was applied as it is and is
//!   neither fetched nor verified again.
//! * **Schemas are compatible when every entry validates against ours.**
//!   Our schema is the one that serves the content, so it is the one that
//!   must accept it; a bundle schema may differ (an optional field we do
//!   not use yet) as long as no entry needs the difference. A content type
//!   we do not have at all is refused.
//! * **Identity.** An imported entry keeps its upstream id as its local id
//!   (ids are derived from type and slug, so a shared catalogue agrees on
//!   them), its type and its slug, so references between imported entries
//!   hold as they are. `upstream_entries` records the partner, the source
//!   municipality, the upstream id and version; `upstream_revisions` which
//!   local revision holds which upstream revision, with the provenance of
//!   each module. An upstream entry whose id or slug is held here by a
//!   local entry stops the sync: local entries are never touched by one.
//! * **Overrides per module.** The partner edits imported entries like any
//!   other (management API). A module (top-level field) whose value here
//!   differs from the upstream revision last received is an override, and
//!   a module only here is the partner's own; both survive syncs, while
//!   untouched modules follow upstream. When upstream changes an
//!   overridden module, the partner's value stays and the module is in
//!   conflict (both versions kept, `status` shows them with a diff) until
//!   `partner resolve` takes upstream's value or keeps the partner's.
//! * **Drafts by default.** New and changed upstream content becomes a new
//!   revision authored `partner:NAME`, left as a draft for the partner's own
//!   review while what is published stays live. `--publish` publishes it at
//!   once, except where the partner has work of its own: an entry in the
//!   trash, a locale it does not publish, or a newer revision of its own
//!   waiting for review keep the new revision as a draft.
//! * **Withdrawals.** An entry in the bundle's deletions with a version
//!   above the content version last applied, which came from this partner,
//!   is marked withdrawn upstream and kept with all its revisions; with
//!   `--publish` it is also unpublished here. Ids never received are
//!   ignored. An entry that reappears in a bundle is no longer withdrawn.
//! * **Idempotent.** Unchanged documents (same hash as the revision made
//!   from upstream last time) write nothing; syncing the same bundle again
//!   reports no changes. A bundle older than the one applied is refused.

mod apply;
mod bundle;
mod merge;
mod resolve;

use std::path::PathBuf;
use std::time::Duration;

pub use apply::{SyncOptions, SyncReport, sync};
pub use bundle::{AppliedFiles, BundleSource, VerifiedBundle, load as load_bundle};
pub use resolve::{ConflictKey, Decider, Resolution, resolve};

use crate::outbound::{Fence, Refused};
use crate::store::{Conflict, EditError, PartnerRecord, Store, StoreError, UpstreamEntry};

/// Bytes in a MiB, the unit of the file size setting.
pub const MIB: u64 = 1024 * 1024;

/// How bundles are read: which addresses the fence lets through, and the
/// bounds a partner's server cannot stretch — a file no larger than
/// `max_file_bytes`, a whole bundle read and verified within `deadline`.
#[derive(Clone, Debug)]
pub struct FetchSettings {
    pub fence: Fence,
    pub max_file_bytes: u64,
    pub deadline: Duration,
}

impl FetchSettings {
    pub const DEFAULT_MAX_FILE_MB: u64 = 64;
    pub const DEFAULT_DEADLINE_SECS: u64 = 300;
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings { fence: Fence::default(), max_file_bytes: Self::DEFAULT_MAX_FILE_MB * MIB, deadline: Duration::from_secs(Self::DEFAULT_DEADLINE_SECS) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("`{0}` is not a valid partner name: lower-case letters and digits joined by hyphens")]
    InvalidName(String),
    #[error("a partner `{0}` exists already")]
    Exists(String),
    #[error("no partner `{0}`; add it with `katalog partner add`")]
    UnknownPartner(String),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("the source {url} is refused: {refused}")]
    Refused { url: String, refused: Refused },
    #[error("{file} is larger than the {} MiB a bundle file may have; nothing was applied", .limit / MIB)]
    TooLarge { file: String, limit: u64 },
    #[error("reading the bundle from {from} took longer than {} s; nothing was applied", .deadline.as_secs())]
    Deadline { from: String, deadline: Duration },
    #[error(
        "manifest.json: the bundle has format version {found}, newer than the {supported} this katalog reads; nothing was applied (update katalog to read it)"
    )]
    NewerFormat { found: u64, supported: u32 },
    #[error("the bundle was rejected, nothing was applied: {}", problems_text(.0))]
    Rejected(Vec<BundleProblem>),
    #[error("the bundle comes from {found}, but partner `{partner}` has synced from {expected}; nothing was applied")]
    OtherMunicipality { partner: String, expected: String, found: String },
    #[error("the bundle has content version {bundle}, older than the {applied} already applied; nothing was applied")]
    Older { bundle: i64, applied: i64 },
    #[error("no open conflict of {module} ({locale}) in {entry}")]
    NoConflict { entry: String, module: String, locale: String },
    #[error("cannot save the entry: {0}")]
    Edit(#[from] EditError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for SyncError {
    fn from(error: sea_orm::DbErr) -> Self {
        SyncError::Store(StoreError::Database(error))
    }
}

/// Something wrong with one file of a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleProblem {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for BundleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

fn problems_text(problems: &[BundleProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Subscribes to a partner's bundles; `auto_publish`: syncs publish what
/// arrives unless told otherwise. Nothing is read until the first sync,
/// but a URL the fence refuses as it stands is refused at once.
pub async fn add(store: &Store, name: &str, source: &str, auto_publish: bool, fence: &Fence) -> Result<(), SyncError> {
    if !crate::content::slug::is_valid(name) {
        return Err(SyncError::InvalidName(name.to_owned()));
    }
    if let BundleSource::Http(text) = BundleSource::parse(source) {
        let url = reqwest::Url::parse(&text).map_err(|_| SyncError::Refused { url: text.clone(), refused: Refused::NotHttp })?;
        fence.check(&url).map_err(|refused| SyncError::Refused { url: crate::outbound::shown(&url), refused })?;
    }
    if store.add_partner(name, source, auto_publish).await? { Ok(()) } else { Err(SyncError::Exists(name.to_owned())) }
}

/// A partner and what came from it.
#[derive(Debug)]
pub struct PartnerStatus {
    pub partner: PartnerRecord,
    pub entries: Vec<UpstreamEntry>,
    /// Open conflicts: overridden modules that upstream changed.
    pub conflicts: Vec<Conflict>,
}

impl PartnerStatus {
    /// Entries the last sync created, changed or withdrew.
    pub fn new_in_last_sync(&self) -> impl Iterator<Item = &UpstreamEntry> {
        self.entries.iter().filter(|e| self.partner.content_version > 0 && e.arrived_in == self.partner.content_version)
    }

    pub fn changed_in_last_sync(&self) -> impl Iterator<Item = &UpstreamEntry> {
        self.entries.iter().filter(|e| e.changed_in == self.partner.content_version && e.arrived_in != e.changed_in)
    }

    /// Every entry withdrawn upstream, newest withdrawal first.
    pub fn withdrawn(&self) -> Vec<&UpstreamEntry> {
        let mut withdrawn: Vec<&UpstreamEntry> = self.entries.iter().filter(|e| e.withdrawn_in.is_some()).collect();
        withdrawn.sort_by(|a, b| b.withdrawn_in.cmp(&a.withdrawn_in).then_with(|| (&a.content_type, &a.slug).cmp(&(&b.content_type, &b.slug))));
        withdrawn
    }
}

/// The status of one partner, or of every partner.
pub async fn status(store: &Store, name: Option<&str>) -> Result<Vec<PartnerStatus>, SyncError> {
    let partners = store.partners().await?;
    if let Some(name) = name
        && !partners.iter().any(|p| p.name == name)
    {
        return Err(SyncError::UnknownPartner(name.to_owned()));
    }
    let mut statuses = Vec::new();
    for partner in partners.into_iter().filter(|p| name.is_none_or(|n| n == p.name)) {
        let mut entries: Vec<UpstreamEntry> = store.upstream_entries(&partner.name).await?.into_values().collect();
        entries.sort_by(|a, b| (&a.content_type, &a.slug).cmp(&(&b.content_type, &b.slug)));
        let conflicts = store.conflicts(Some(&partner.name)).await?;
        statuses.push(PartnerStatus { partner, entries, conflicts });
    }
    Ok(statuses)
}
