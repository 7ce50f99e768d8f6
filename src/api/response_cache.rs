//! Rendered delivery responses kept in memory, so that a read of
//! published content does not touch the database.
//!
//! Every cached response names what it was built from (its dependencies:
//! the entry, the entries it expanded, the slugs it looked up, its type's
//! lists). The change feed hands it every change; each change marks the dependencies
//! it touches as invalidated at a tick of a logical clock. A response is
//! served only while none of its dependencies was invalidated after the
//! tick at which its build began, so a response built from data that a
//! concurrent publish was replacing can never outlive that publish.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::feed::{Consumer, Work};
use crate::store::{ChangeRow, Store, StoreError};

/// What a response was built from.
#[derive(Hash, Debug, Clone, Copy)]
pub enum Dependency<'a> {
    /// An entry by id: it, or one of its translations, changed.
    Entry(&'a str),
    /// Whatever is (or is not yet) published under `type/slug`.
    Slug(&'a str, &'a str),
    /// Every list of a type.
    Type(&'a str),
    /// The entries that refer to `type/slug`.
    ReferrersOf(&'a str, &'a str),
    /// Any new change: what the newest page of the sync feed shows.
    ChangeLog,
}

/// A response body with its validators, ready to send.
#[derive(Debug)]
pub struct Rendered {
    body: Bytes,
    /// A strong ETag over the body.
    etag: String,
    pub last_modified: Option<String>,
    pub content_language: Option<String>,
    /// The body gzipped, made when a client that accepts gzip first asks.
    gzipped: OnceLock<Bytes>,
}

/// Bodies below this size are always sent as they are: gzip would save a
/// few hundred bytes at best.
const GZIP_FROM_BYTES: usize = 1024;

/// One encoding of a rendered response.
pub struct Representation {
    pub body: Bytes,
    /// A strong ETag names exact bytes, so the gzipped body has its own.
    pub etag: String,
    pub content_encoding: Option<&'static str>,
}

impl Rendered {
    pub fn json(json: String, last_modified: Option<String>, content_language: Option<String>) -> Rendered {
        Rendered { etag: super::caching::etag_of(json.as_bytes()), body: Bytes::from(json), last_modified, content_language, gzipped: OnceLock::new() }
    }

    /// The body to send to a client that does or does not accept gzip.
    pub fn representation(&self, accepts_gzip: bool) -> Representation {
        if accepts_gzip && self.body.len() >= GZIP_FROM_BYTES {
            Representation {
                body: self.gzipped.get_or_init(|| gzip(&self.body)).clone(),
                etag: format!("{}-gzip\"", self.etag.trim_end_matches('"')),
                content_encoding: Some("gzip"),
            }
        } else {
            Representation { body: self.body.clone(), etag: self.etag.clone(), content_encoding: None }
        }
    }
}

fn gzip(body: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::default());
    encoder.write_all(body).expect("gzip into memory cannot fail");
    Bytes::from(encoder.finish().expect("gzip into memory cannot fail"))
}

/// A rendered response and what it was built from.
#[derive(Debug)]
pub struct CachedResponse {
    rendered: Rendered,
    dependencies: Vec<u64>,
    built_from: u64,
}

impl std::ops::Deref for CachedResponse {
    type Target = Rendered;

    fn deref(&self) -> &Rendered {
        &self.rendered
    }
}

/// The clock reading taken before a response is built from the database.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

pub struct ResponseCache {
    responses: quick_cache::sync::Cache<String, Arc<CachedResponse>, ByteWeighter>,
    clock: AtomicU64,
    /// Dependency hash → clock tick of its last invalidation. Hash
    /// collisions only ever invalidate too much, never too little.
    invalidated_at: RwLock<HashMap<u64, u64>>,
    hasher: RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Per type, when its published entries were published.
    publication_times: Mutex<HashMap<String, PublicationTimes>>,
    /// The keys being built now, each with the gate later requests wait at.
    building: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Builds of large responses running now; see [`ResponseCache::build`].
    builders: tokio::sync::Semaphore,
}

/// When a type's published entries were published, earliest first, and
/// the clock tick before they were read.
#[derive(Clone)]
struct PublicationTimes {
    read_from: u64,
    times: Arc<[DateTime<Utc>]>,
}

/// How often the cache answered, since the start.
#[derive(Clone, Copy, Debug)]
pub struct HitCounts {
    pub hits: u64,
    pub misses: u64,
}

#[derive(Clone)]
struct ByteWeighter;

impl quick_cache::Weighter<String, Arc<CachedResponse>> for ByteWeighter {
    fn weight(&self, key: &String, value: &Arc<CachedResponse>) -> u64 {
        // Bookkeeping besides the body and the key: headers, hashes, slots;
        // and room for the gzipped body (JSON shrinks to a fifth or less).
        (key.len() + value.body.len() + value.body.len() / 5 + value.etag.len() + value.dependencies.len() * 8 + 200) as u64
    }
}

/// A response rarely exceeds a few kilobytes; this sizes the table.
const TYPICAL_RESPONSE_BYTES: u64 = 4096;

impl ResponseCache {
    pub fn new(capacity_bytes: u64) -> ResponseCache {
        let items = (capacity_bytes / TYPICAL_RESPONSE_BYTES).max(16) as usize;
        ResponseCache {
            responses: quick_cache::sync::Cache::with_weighter(items, capacity_bytes, ByteWeighter),
            clock: AtomicU64::new(1),
            invalidated_at: RwLock::new(HashMap::new()),
            hasher: RandomState::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            publication_times: Mutex::default(),
            building: Mutex::default(),
            builders: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1))),
        }
    }

    /// Take before reading what the response will be built from.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.clock.load(Ordering::Acquire))
    }

    /// The current response for `key`, if one is cached.
    fn get(&self, key: &str) -> Option<Arc<CachedResponse>> {
        self.responses.get(key).filter(|response| {
            let current = self.is_current(&response.dependencies, response.built_from);
            if !current {
                self.responses.remove(key);
            }
            current
        })
    }

    /// The current response for `key`, built by `build` (which caches it
    /// with [`ResponseCache::insert`]) when there is none. Requests for the
    /// same key that arrive during a build wait for it instead of building
    /// the same response again.
    pub async fn get_or_build<E, F>(&self, key: String, build: impl FnOnce(String) -> F) -> Result<Arc<CachedResponse>, E>
    where
        F: Future<Output = Result<Arc<CachedResponse>, E>>,
    {
        if let Some(cached) = self.get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(cached);
        }
        let gate = self.building.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry(key.clone()).or_default().clone();
        let turn = gate.lock().await;
        let result = match self.get(&key) {
            Some(cached) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(cached)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                build(key.clone()).await
            }
        };
        drop(turn);
        let mut building = self.building.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Nobody else waits at this gate (the table holds one reference, this request the other).
        if Arc::strong_count(&gate) == 2 {
            building.remove(&key);
        }
        result
    }

    pub fn hit_counts(&self) -> HitCounts {
        HitCounts { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    /// When the published entries of a type were published (their German
    /// source), earliest first; read from the database again only after a
    /// change of the type.
    pub async fn publication_times(&self, store: &Store, content_type: &str) -> Result<Arc<[DateTime<Utc>]>, StoreError> {
        let dependency = [self.hasher.hash_one(Dependency::Type(content_type))];
        let known = self.publication_times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(content_type).cloned();
        if let Some(known) = known
            && self.is_current(&dependency, known.read_from)
        {
            return Ok(known.times);
        }
        let ticket = self.ticket();
        let times: Arc<[DateTime<Utc>]> = store.publication_times(content_type).await?.into();
        let read = PublicationTimes { read_from: ticket.0, times: times.clone() };
        self.publication_times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(content_type.to_owned(), read);
        Ok(times)
    }

    /// Runs the CPU work of building a large response (rendering and
    /// serialising many entries) beside the async workers, and at most on
    /// half the cores at once: whatever clients ask for, the other half
    /// answer everything else (health checks, cached reads) without waiting.
    pub async fn build<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, tokio::task::JoinError> {
        let _turn = self.builders.acquire().await.expect("the semaphore is never closed");
        tokio::task::spawn_blocking(work).await
    }

    /// Caches a response built after `ticket` was taken; returns it for
    /// sending either way.
    pub fn insert(&self, key: String, ticket: Ticket, rendered: Rendered, dependencies: &[Dependency<'_>]) -> Arc<CachedResponse> {
        let mut hashes: Vec<u64> = dependencies.iter().map(|d| self.hasher.hash_one(d)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let response = Arc::new(CachedResponse { rendered, dependencies: hashes, built_from: ticket.0 });
        if self.is_current(&response.dependencies, ticket.0) {
            self.responses.insert(key, response.clone());
        }
        response
    }

    /// Marks dependencies as changed: responses built from them before now
    /// are no longer served.
    pub fn invalidate<'a>(&self, dependencies: impl IntoIterator<Item = Dependency<'a>>) {
        let hashes: Vec<u64> = dependencies.into_iter().map(|d| self.hasher.hash_one(d)).collect();
        if hashes.is_empty() {
            return;
        }
        let mut invalidated = self.invalidated_at.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tick = self.clock.fetch_add(1, Ordering::AcqRel) + 1;
        for hash in hashes {
            invalidated.insert(hash, tick);
        }
    }

    fn is_current(&self, dependencies: &[u64], built_from: u64) -> bool {
        let invalidated = self.invalidated_at.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        dependencies.iter().all(|hash| invalidated.get(hash).is_none_or(|&tick| tick <= built_from))
    }

    /// Marks what `changes` touched as invalidated.
    async fn apply(&self, store: &Store, changes: &[ChangeRow]) -> Result<(), StoreError> {
        for change in changes {
            // An entry's new references: their reverse lists now
            // include it. (Lists it left depended on the entry itself.)
            let targets = store.link_targets(&change.entry_id).await?;
            self.invalidate(
                [Dependency::Entry(&change.entry_id), Dependency::Slug(&change.content_type, &change.slug), Dependency::Type(&change.content_type)]
                    .into_iter()
                    .chain(targets.iter().map(|(to_type, to_slug)| Dependency::ReferrersOf(to_type, to_slug))),
            );
        }
        self.invalidate([Dependency::ChangeLog]);
        Ok(())
    }
}

/// The cache follows the change log (of this process and any other on
/// the same database) from where it stands at the start: nothing was
/// cached before.
impl Consumer for ResponseCache {
    fn name(&self) -> &'static str {
        "response_cache"
    }

    fn start<'a>(&'a self, _: &'a Store, head: i64) -> Work<'a, i64> {
        Box::pin(async move { Ok(head) })
    }

    fn apply<'a>(&'a self, store: &'a Store, changes: &'a [ChangeRow]) -> Work<'a, i64> {
        Box::pin(async move {
            ResponseCache::apply(self, store, changes).await?;
            Ok(changes.last().map_or(0, |change| change.seq))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_with(cache: &ResponseCache, key: &str, ticket: Ticket, dependencies: &[Dependency<'_>]) {
        cache.insert(key.into(), ticket, Rendered::json("{}".into(), None, None), dependencies);
    }

    #[test]
    fn a_response_lives_until_a_dependency_changes() {
        let cache = ResponseCache::new(1 << 20);
        cache_with(&cache, "a", cache.ticket(), &[Dependency::Entry("1"), Dependency::Slug("office", "mitte")]);
        cache.invalidate([Dependency::Entry("2"), Dependency::Slug("office", "west")]);
        assert!(cache.get("a").is_some());
        cache.invalidate([Dependency::Slug("office", "mitte")]);
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn a_response_built_during_a_change_is_not_kept() {
        let cache = ResponseCache::new(1 << 20);
        let ticket = cache.ticket();
        // The publish lands while the response is being built from older data.
        cache.invalidate([Dependency::Entry("1")]);
        cache_with(&cache, "a", ticket, &[Dependency::Entry("1")]);
        assert!(cache.get("a").is_none());
        cache_with(&cache, "a", cache.ticket(), &[Dependency::Entry("1")]);
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn dependencies_of_different_kinds_do_not_meet() {
        let cache = ResponseCache::new(1 << 20);
        cache_with(&cache, "a", cache.ticket(), &[Dependency::Slug("office", "mitte")]);
        cache.invalidate([Dependency::ReferrersOf("office", "mitte"), Dependency::Type("office")]);
        assert!(cache.get("a").is_some());
    }

    #[tokio::test]
    async fn requests_during_a_build_wait_for_it_instead_of_building_again() {
        let cache = ResponseCache::new(1 << 20);
        let builds = AtomicU64::new(0);
        let build = |key: String| async {
            builds.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok::<_, ()>(cache.insert(key, cache.ticket(), Rendered::json("{}".into(), None, None), &[]))
        };
        let (first, second) = tokio::join!(cache.get_or_build("k".into(), build), cache.get_or_build("k".into(), build));
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(builds.load(Ordering::Relaxed), 1);
        let counts = cache.hit_counts();
        assert_eq!((counts.hits, counts.misses), (1, 1));
        assert!(cache.building.lock().unwrap().is_empty(), "no gate is left behind");
    }

    #[test]
    fn gzip_is_offered_for_larger_bodies_under_its_own_etag() {
        use std::io::Read;
        let large = Rendered::json(format!("[{}0]", "1,".repeat(2000)), None, None);
        let plain = large.representation(false);
        let zipped = large.representation(true);
        assert_eq!((plain.content_encoding, zipped.content_encoding), (None, Some("gzip")));
        assert_ne!(plain.etag, zipped.etag);
        assert!(zipped.body.len() < plain.body.len() / 10);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped.body[..]).read_to_end(&mut unzipped).unwrap();
        assert_eq!(unzipped, plain.body);
        let small = Rendered::json("{}".into(), None, None);
        assert_eq!(small.representation(true).content_encoding, None);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = ResponseCache::new(64 * 1024);
        for i in 0..1000 {
            cache.insert(format!("k{i}"), cache.ticket(), Rendered::json(" ".repeat(1024), None, None), &[]);
        }
        assert!(cache.responses.weight() <= 64 * 1024);
        assert!(cache.responses.len() < 1000);
    }
}
