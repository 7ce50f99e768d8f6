//! The web site served from the live content by `katalog serve`: the same
//! templates and pages as the `web` export, made on request. The
//! catalogue follows the change log, so a page reflects a publish at
//! once; the pages made from all entries (start, A–Z, sitemap) are made
//! again after each change. Holders of a token see an entry's newest
//! drafts under `/preview/`, rendered the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::catalogue::Catalogue;
use super::export::{apply_changes, changed_since, read_catalogue, with_shown_entries};
use super::snapshot::{Snapshot, SnapshotEntry};
use super::views::href;
use super::web::{Web, page_file};
use super::{Aggregates, ChannelError, Projection, Settings, Sources};
use crate::content::{Locale, Registry};
use crate::store::{PublishedRevision, Store};

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
            _ => "text/html; charset=utf-8",
        };
        SiteFile { media_type, body }
    }
}

#[derive(Default)]
struct Followed {
    /// The change-log position the catalogue reflects; none before the first read.
    seq: Option<i64>,
    catalogue: Arc<Catalogue>,
    aggregates: Option<Arc<BTreeMap<String, Vec<u8>>>>,
}

pub struct LiveSite {
    web: Web,
    time_zone: chrono_tz::Tz,
    followed: Mutex<Followed>,
}

impl LiveSite {
    pub fn new(settings: &Settings) -> Result<LiveSite, ChannelError> {
        Ok(LiveSite { web: Web::new(&settings.site, settings.templates.as_deref())?, time_zone: settings.site.zone(), followed: Mutex::default() })
    }

    /// The site's time zone (`site.toml`).
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone
    }

    /// The catalogue and the aggregate pages as of the newest change.
    async fn current(&self, store: &Store, registry: &Arc<Registry>) -> Result<(Arc<Catalogue>, Arc<BTreeMap<String, Vec<u8>>>), ChannelError> {
        // Asked before the lock: requests do not queue behind the database.
        let latest = store.latest_change_seq().await?;
        let mut followed = self.followed.lock().await;
        match followed.seq {
            None => followed.catalogue = Arc::new(read_catalogue(store, registry, &indicatif::ProgressBar::hidden()).await?),
            Some(seq) if seq < latest => {
                let changed = changed_since(store, seq).await?;
                apply_changes(store, registry, Arc::make_mut(&mut followed.catalogue), &changed).await?;
                followed.aggregates = None;
            }
            // As new as asked for, or newer (another request caught up).
            Some(_) => {}
        }
        followed.seq = followed.seq.max(Some(latest));
        let aggregates = match &followed.aggregates {
            Some(aggregates) => aggregates.clone(),
            None => {
                let (entries, files) = (BTreeMap::new(), BTreeMap::new());
                let all = Aggregates { catalogue: &followed.catalogue, registry, entries: &entries, files: &files, change_seq: latest, withdrawn: &[] };
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
        let file = if path.is_empty() || path.ends_with('/') { format!("{}index.html", path.trim_start_matches('/')) } else { path.trim_start_matches('/').to_owned() };
        let (catalogue, aggregates) = self.current(store, registry).await?;
        if let Some(body) = aggregates.get(&file) {
            return Ok(Some(SiteFile::new(&file, body.clone())));
        }
        let [_, content_type, slug, "index.html"] = file.split('/').collect::<Vec<_>>()[..] else { return Ok(None) };
        let Some(summary) = catalogue.get(content_type, slug) else { return Ok(None) };
        let entry = Snapshot::read(store, registry, std::slice::from_ref(&summary.id)).await?.into_iter().next();
        self.page_of(store, registry, &catalogue, entry, &file).await
    }

    /// The page of an entry's newest revisions (drafts included) in `locale`.
    pub async fn preview(&self, store: &Store, registry: &Arc<Registry>, locale: Locale, content_type: &str, slug: &str) -> Result<Option<SiteFile>, ChannelError> {
        let (catalogue, _) = self.current(store, registry).await?;
        let (Some(record), Some(schema)) = (store.entry_record(content_type, slug).await?, registry.get(content_type)) else { return Ok(None) };
        if record.trashed_at.is_some() {
            return Ok(None);
        }
        let mut newest = BTreeMap::new();
        for state in &record.locales {
            if let Some(revision) = store.revision(&record.id, state.locale, state.latest_number).await? {
                newest.insert(state.locale, PublishedRevision { locale: state.locale, number: revision.number, document: revision.document, published_at: state.published_at });
            }
        }
        let Some(source) = newest.remove(&Locale::SOURCE) else { return Ok(None) };
        let entry = SnapshotEntry::new(record.id, schema.clone(), record.slug, source, newest);
        let file = page_file(&href(locale, content_type, &entry.slug));
        self.page_of(store, registry, &catalogue, Some(entry), &file).await
    }

    async fn page_of(&self, store: &Store, registry: &Arc<Registry>, catalogue: &Catalogue, entry: Option<SnapshotEntry>, file: &str) -> Result<Option<SiteFile>, ChannelError> {
        let Some(entry) = entry.map(Arc::new) else { return Ok(None) };
        let snapshot = with_shown_entries(store, registry, catalogue, std::slice::from_ref(&entry), &mut Snapshot::default()).await?;
        let output = self.web.entry_files(&entry, &Sources { catalogue, snapshot: &snapshot, history: None })?;
        Ok(output.files.into_iter().find(|(path, _)| path == file).map(|(path, body)| SiteFile::new(&path, body)))
    }
}
