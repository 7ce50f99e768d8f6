//! The web site served from the live content by `katalog serve`: the same
//! templates and pages as the `web` export, made on request. The change
//! feed hands the site every change, and a request has the feed catch up
//! first, so a page reflects a publish at once; the catalogue takes the
//! changed entries in when a page is asked for, and the pages made from
//! all entries (start, A–Z, sitemap) are made again after a change.
//! Holders of a token see an entry's newest drafts under `/preview/`,
//! rendered the same way.
//!
//! The partner bundle is served under `/partner/` as well, so that a
//! partner's source can be this server's URL. Unlike a page, a bundle file
//! cannot be made on its own: the manifest holds the hash of every other
//! file. So the bundle is the `partner` export itself, kept in a folder of
//! its own and brought up to date by the incremental exporter when a file
//! is asked for and the change feed handed over a change since; files are
//! read from there. It is not made at start: most katalogs have no partners, and the folder
//! outlives a restart, so the first request after one exports only what
//! changed meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::{Mutex, RwLock};

use super::catalogue::Catalogue;
use super::export::{apply_changes, read_catalogue, with_shown_entries};
use super::snapshot::{Snapshot, SnapshotEntry};
use super::views::href;
use super::web::{Web, page_file};
use super::{Aggregates, Channel, ChannelError, Projection, Settings, Sources};
use crate::content::{Audience, Locale, Registry};
use crate::feed::{Consumer, Work};
use crate::store::{ChangeRow, PublishedRevision, Store};

/// The live site shows what the web channel's files show.
const AUDIENCE: Audience = Channel::Web.audience();

/// A file of the site and its media type.
pub struct SiteFile {
    pub media_type: &'static str,
    pub body: Vec<u8>,
}

impl SiteFile {
    fn new(path: &str, body: Vec<u8>) -> SiteFile {
        let media_type = match path.rsplit('.').next() {
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("xml") => "application/xml; charset=utf-8",
            Some("json") => "application/json",
            Some("jsonld") => "application/ld+json",
            Some("ico") => "image/vnd.microsoft.icon",
            _ => "text/html; charset=utf-8",
        };
        SiteFile { media_type, body }
    }
}

#[derive(Default)]
struct Followed {
    /// Whether the catalogue was read: not before the first request.
    read: bool,
    catalogue: Arc<Catalogue>,
    aggregates: Option<Arc<BTreeMap<String, Vec<u8>>>>,
}

/// What the change feed handed over and the site has not applied yet.
#[derive(Default)]
struct Received {
    /// The last change handed over.
    seq: i64,
    entries: BTreeSet<String>,
}

pub struct LiveSite {
    web: Web,
    time_zone: chrono_tz::Tz,
    followed: Mutex<Followed>,
    received: std::sync::Mutex<Received>,
    /// The position `followed` reflects, readable without its lock (metrics); 0 before the first read.
    position: AtomicI64,
}

impl LiveSite {
    pub fn new(settings: &Settings) -> Result<LiveSite, ChannelError> {
        Ok(LiveSite {
            web: Web::new(&settings.site, settings.templates.as_deref())?,
            time_zone: settings.site.zone(),
            followed: Mutex::default(),
            received: std::sync::Mutex::default(),
            position: AtomicI64::new(0),
        })
    }

    /// The site's time zone (`site.toml`).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone
    }

    fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The catalogue and the aggregate pages as of the last change the feed
    /// handed over.
    async fn current(&self, store: &Store, registry: &Arc<Registry>) -> Result<(Arc<Catalogue>, Arc<BTreeMap<String, Vec<u8>>>), ChannelError> {
        let mut followed = self.followed.lock().await;
        let (seq, changed) = {
            let mut received = self.received();
            (received.seq, std::mem::take(&mut received.entries))
        };
        // What is read now includes every change handed over so far.
        let applied = if followed.read {
            if changed.is_empty() {
                Ok(())
            } else {
                followed.aggregates = None;
                apply_changes(store, registry, Arc::make_mut(&mut followed.catalogue), &changed.iter().cloned().collect::<Vec<_>>()).await.map(drop)
            }
        } else {
            read_catalogue(store, registry, &indicatif::ProgressBar::hidden()).await.map(|catalogue| {
                followed.catalogue = Arc::new(catalogue);
                followed.read = true;
            })
        };
        if let Err(error) = applied {
            // Applying them again is harmless: the next request does.
            self.received().entries.extend(changed);
            return Err(error);
        }
        self.position.fetch_max(seq, Ordering::Relaxed);
        let aggregates = match &followed.aggregates {
            Some(aggregates) => aggregates.clone(),
            None => {
                let (entries, files) = (BTreeMap::new(), BTreeMap::new());
                let all = Aggregates { catalogue: &followed.catalogue, registry, entries: &entries, files: &files, change_seq: seq, withdrawn: &[] };
                let pages = self.web.aggregate_files(&all)?;
                let pages = Arc::new(pages.into_iter().collect::<BTreeMap<_, _>>());
                followed.aggregates = Some(pages.clone());
                pages
            }
        };
        Ok((followed.catalogue.clone(), aggregates))
    }

    /// Reads the catalogue, so that the first visitor does not wait for it.
    pub async fn warm_up(&self, store: &Store, registry: &Arc<Registry>) -> Result<(), ChannelError> {
        self.current(store, registry).await.map(|_| ())
    }

    /// The published file at a site path (`/`, `/de/a-z/`,
    /// `/en/service/x/`, `/style.css`); none when there is no such file.
    pub async fn file(&self, store: &Store, registry: &Arc<Registry>, path: &str) -> Result<Option<SiteFile>, ChannelError> {
        let file = if path.is_empty() || path.ends_with('/') {
            format!("{}index.html", path.trim_start_matches('/'))
        } else {
            path.trim_start_matches('/').to_owned()
        };
        let (catalogue, aggregates) = self.current(store, registry).await?;
        if let Some(body) = aggregates.get(&file) {
            return Ok(Some(SiteFile::new(&file, body.clone())));
        }
        let [_, content_type, slug, "index.html"] = file.split('/').collect::<Vec<_>>()[..] else { return Ok(None) };
        let Some(summary) = catalogue.get(content_type, slug) else { return Ok(None) };
        let entry = Snapshot::read(store, registry, std::slice::from_ref(&summary.id), AUDIENCE).await?.into_iter().next();
        self.page_of(store, registry, &catalogue, entry, &file).await
    }

    /// The page of an entry's newest revisions (drafts included) in `locale`.
    pub async fn preview(
        &self,
        store: &Store,
        registry: &Arc<Registry>,
        locale: Locale,
        content_type: &str,
        slug: &str,
    ) -> Result<Option<SiteFile>, ChannelError> {
        let (catalogue, _) = self.current(store, registry).await?;
        let (Some(record), Some(schema)) = (store.entry_record(content_type, slug).await?, registry.get(content_type)) else { return Ok(None) };
        if record.trashed_at.is_some() {
            return Ok(None);
        }
        let mut newest = BTreeMap::new();
        for state in &record.locales {
            if let Some(revision) = store.revision(&record.id, state.locale, state.latest_number).await? {
                newest.insert(
                    state.locale,
                    PublishedRevision { locale: state.locale, number: revision.number, document: revision.document, published_at: state.published_at },
                );
            }
        }
        let Some(source) = newest.remove(&Locale::SOURCE) else { return Ok(None) };
        let entry = SnapshotEntry::new(record.id, schema.clone(), record.slug, source, newest, AUDIENCE);
        let file = page_file(&href(locale, content_type, &entry.slug));
        self.page_of(store, registry, &catalogue, Some(entry), &file).await
    }

    async fn page_of(
        &self,
        store: &Store,
        registry: &Arc<Registry>,
        catalogue: &Catalogue,
        entry: Option<SnapshotEntry>,
        file: &str,
    ) -> Result<Option<SiteFile>, ChannelError> {
        let Some(entry) = entry.map(Arc::new) else { return Ok(None) };
        let snapshot = with_shown_entries(store, registry, catalogue, std::slice::from_ref(&entry), &mut Snapshot::default(), AUDIENCE).await?;
        let output = self.web.entry_files(&entry, &Sources { catalogue, snapshot: &snapshot, history: None })?;
        Ok(output.files.into_iter().find(|(path, _)| path == file).map(|(path, body)| SiteFile::new(&path, body)))
    }
}

/// The partner bundle of the live published content (`/partner/…`).
pub struct LiveBundle {
    settings: Settings,
    /// The export folder: the bundle is its `partner/` folder, the
    /// exporter's state lies beside it.
    folder: PathBuf,
    /// Held while serving: one exporter per folder.
    _lock: std::fs::File,
    /// A folder of this process only, removed when it ends.
    _private: Option<tempfile::TempDir>,
    /// The change-log position the bundle was exported at; none before
    /// the first export. Readers share it, the exporter holds it alone.
    exported: RwLock<Option<i64>>,
    /// That position, readable without the lock (metrics); 0 before the first export.
    position: AtomicI64,
    /// The last change the feed handed over.
    received: AtomicI64,
}

impl LiveBundle {
    /// Keeps the bundle in `folder`, which it locks; when another process
    /// holds it, in a private temporary folder of this process instead: one
    /// it made itself (mode 0700, a name no one can guess), so that no
    /// other local user can have prepared it.
    pub fn open(settings: &Settings, folder: &Path) -> Result<LiveBundle, ChannelError> {
        let (folder, lock, private) = match lock_folder(folder)? {
            Some(lock) => (folder.to_owned(), lock, None),
            None => {
                let temp = std::env::temp_dir();
                let mut builder = tempfile::Builder::new();
                builder.prefix("katalog-partner-bundle-");
                #[cfg(unix)]
                builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
                let own = builder.tempdir_in(&temp).map_err(|source| ChannelError::Io { path: temp.display().to_string(), source })?;
                tracing::warn!(folder = %folder.display(), instead = %own.path().display(), "another katalog serves the partner bundle from this folder; keeping one of this process");
                let lock = lock_folder(own.path())?
                    .ok_or_else(|| ChannelError::Io { path: own.path().display().to_string(), source: std::io::ErrorKind::WouldBlock.into() })?;
                (own.path().to_owned(), lock, Some(own))
            }
        };
        Ok(LiveBundle {
            settings: settings.clone(),
            folder,
            _lock: lock,
            _private: private,
            exported: RwLock::default(),
            position: AtomicI64::new(0),
            received: AtomicI64::new(0),
        })
    }

    /// The bundle as of the last change the feed handed over, locked
    /// against exports for as long as it is held.
    async fn current(&self, store: &Store, registry: &Arc<Registry>) -> Result<tokio::sync::RwLockReadGuard<'_, Option<i64>>, ChannelError> {
        let latest = self.received.load(Ordering::Acquire);
        let exported = self.exported.read().await;
        if exported.is_some_and(|seq| seq >= latest) {
            return Ok(exported);
        }
        drop(exported);
        let mut exported = self.exported.write().await;
        // Another request may have exported in between.
        if !exported.is_some_and(|seq| seq >= latest) {
            super::export(store, registry, &[Channel::Partner], &self.settings, &self.folder, false).await?;
            *exported = Some(latest);
            self.position.store(latest, Ordering::Relaxed);
        }
        Ok(exported.downgrade())
    }

    /// A file of the bundle (`manifest.json`, `entries/service/x.json`);
    /// none when there is no such file. Hidden files are the exporter's
    /// (what a failed export left), never the bundle's.
    pub async fn file(&self, store: &Store, registry: &Arc<Registry>, path: &str) -> Result<Option<SiteFile>, ChannelError> {
        let relative = Path::new(path);
        let bundled = |c: Component<'_>| matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.'));
        if path.is_empty() || path.contains(['\\', '\0']) || !relative.components().all(bundled) {
            return Ok(None);
        }
        let _exported = self.current(store, registry).await?;
        let file = self.folder.join(Channel::Partner.name()).join(relative);
        match tokio::fs::read(&file).await {
            Ok(body) => Ok(Some(SiteFile::new(path, body))),
            Err(error) if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory | std::io::ErrorKind::NotADirectory) => {
                Ok(None)
            }
            Err(source) => Err(ChannelError::Io { path: file.display().to_string(), source }),
        }
    }
}

/// The site takes in the changes the feed hands over and applies them to
/// its catalogue when a page is asked for.
impl Consumer for LiveSite {
    fn name(&self) -> &'static str {
        "web_site"
    }

    fn start<'a>(&'a self, _: &'a Store, head: i64) -> Work<'a, i64> {
        self.received().seq = head;
        Box::pin(async move { Ok(head) })
    }

    fn apply<'a>(&'a self, _: &'a Store, changes: &'a [ChangeRow]) -> Work<'a, i64> {
        let mut received = self.received();
        received.entries.extend(changes.iter().map(|change| change.entry_id.clone()));
        received.seq = changes.last().map_or(received.seq, |change| change.seq);
        let seq = received.seq;
        Box::pin(async move { Ok(seq) })
    }

    fn applied_on_request(&self) -> Option<i64> {
        Some(self.position.load(Ordering::Relaxed))
    }
}

/// The bundle notes how far the log went, and exports when a file is
/// asked for and it moved.
impl Consumer for LiveBundle {
    fn name(&self) -> &'static str {
        "partner_bundle"
    }

    fn start<'a>(&'a self, _: &'a Store, head: i64) -> Work<'a, i64> {
        self.received.store(head, Ordering::Release);
        Box::pin(async move { Ok(head) })
    }

    fn apply<'a>(&'a self, _: &'a Store, changes: &'a [ChangeRow]) -> Work<'a, i64> {
        let seq = changes.last().map_or(0, |change| change.seq);
        self.received.fetch_max(seq, Ordering::AcqRel);
        Box::pin(async move { Ok(seq) })
    }

    fn applied_on_request(&self) -> Option<i64> {
        Some(self.position.load(Ordering::Relaxed))
    }
}

/// Creates `folder` and locks it for this process; none when another holds it.
fn lock_folder(folder: &Path) -> Result<Option<std::fs::File>, ChannelError> {
    let io_error = |source| ChannelError::Io { path: folder.display().to_string(), source };
    std::fs::create_dir_all(folder).map_err(io_error)?;
    let lock = std::fs::File::create(folder.join(".lock")).map_err(io_error)?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(source)) => Err(io_error(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_server_keeps_its_bundle_in_a_private_folder_it_made() {
        use std::os::unix::fs::PermissionsExt;
        let shared = tempfile::tempdir().unwrap();
        // What another local user could have prepared where a second server
        // used to go: the name it derived from its process id.
        let planted = std::env::temp_dir().join(format!("katalog-partner-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&planted).unwrap();
        let first = LiveBundle::open(&Settings::default(), shared.path()).unwrap();
        let second = LiveBundle::open(&Settings::default(), shared.path());
        let _ = std::fs::remove_dir_all(&planted);
        let second = second.unwrap();
        assert_eq!(first.folder, shared.path());
        assert_ne!(second.folder, shared.path());
        assert_ne!(second.folder, planted, "a folder someone else made is never used");
        assert!(second.folder.starts_with(std::env::temp_dir()));
        let mode = std::fs::metadata(&second.folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "only this user may enter the folder");
        let private = second.folder.clone();
        drop(second);
        assert!(!private.exists(), "the private folder goes with the server");
    }
}
