//! One follower of the change log for everything a process keeps from it:
//! the search index, the response cache, the webhook outbox, the live web
//! site and the live partner bundle, each a [`Consumer`].
//!
//! A round reads the log once, from the lowest position any consumer
//! needs, and hands each consumer the changes after its own position.
//! Rounds run after each write this process commits (the store counts
//! them), every [`POLL_INTERVAL`] for the writes of other processes on the
//! same database, and when a request needs what was committed before it;
//! a request that arrives while a round runs that will do waits for it
//! instead of reading again.

#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::content::Locale;
use crate::http::params::{ParamError, decode_cursor, encode_cursor};
use crate::store::{ChangeRow, Store, StoreError};

/// How often the log is read for the writes of other processes (imports,
/// other `serve` processes on the same database): a change is applied
/// everywhere well within a second.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The namespace of the sync feed's cursors.
const SYNC_CURSORS: &str = "seq";

/// The cursor of the public sync feed (`/api/v1/sync`) that continues
/// after change-log position `position`: what the feed hands out and the
/// app export's index names.
pub fn sync_cursor(position: i64) -> String {
    encode_cursor(SYNC_CURSORS, position)
}

/// The change-log position a sync cursor continues after.
pub fn sync_position(cursor: &str) -> Result<i64, ParamError> {
    decode_cursor(SYNC_CURSORS, cursor)
}

/// Changes read per round trip.
const BATCH: u64 = 1000;

/// Why a consumer could not start or apply changes, in its own module's terms.
pub type ConsumerError = Box<dyn std::error::Error + Send + Sync>;

/// The work of a consumer, boxed so that consumers of every kind sit in one list.
pub type Work<'a, T> = Pin<Box<dyn Future<Output = Result<T, ConsumerError>> + Send + 'a>>;

/// Something kept from the change log.
pub trait Consumer: Send + Sync {
    /// Its name in `/metrics` and `/readyz`.
    fn name(&self) -> &'static str;

    /// Where it starts following the log, `head` being its newest change:
    /// after the change it last applied (what it keeps outlives a restart),
    /// or at `head` when it keeps nothing from before.
    fn start<'a>(&'a self, store: &'a Store, head: i64) -> Work<'a, i64>;

    /// Applies the changes after its position, in log order, and returns the
    /// position it has reached: the last of them, or further when it knows
    /// (from the database) that another process applied more.
    fn apply<'a>(&'a self, store: &'a Store, changes: &'a [ChangeRow]) -> Work<'a, i64>;

    /// For a consumer that takes changes in at once but brings what it
    /// serves up to date only when asked for it (the live site and bundle):
    /// the change what it serves reflects. Between requests that falls
    /// behind by design, so readiness does not count it.
    fn applied_on_request(&self) -> Option<i64> {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("cannot read the change log: {0}")]
    Read(#[from] StoreError),
    #[error("{consumer} cannot start following the change log: {source}")]
    Start { consumer: &'static str, source: ConsumerError },
}

/// What a caller of [`ChangeFeed::catch_up`] needs to have been applied.
#[derive(Clone, Copy, Debug)]
pub enum Needs {
    /// Every write this process committed so far: any round that began
    /// after them will do.
    OwnCommits,
    /// Everything committed anywhere before the call: a round that began
    /// after it.
    Latest,
}

/// How far a consumer is behind the head of the log.
#[derive(Clone, Debug)]
pub struct Lag {
    pub consumer: &'static str,
    /// Changes not yet applied.
    pub behind: i64,
    /// It applies them when asked for something; see [`Consumer::applied_on_request`].
    pub on_request: bool,
}

struct Follower {
    consumer: Arc<dyn Consumer>,
    /// The last change handed to it and applied; -1 before the start.
    position: AtomicI64,
}

#[derive(Default)]
struct Rounds {
    started: bool,
    last: Option<Finished>,
}

/// The round that finished last: its number, and the count of this
/// process's commits when it began reading.
#[derive(Clone, Copy)]
struct Finished {
    number: u64,
    commits: u64,
}

pub struct ChangeFeed {
    store: Store,
    followers: Vec<Follower>,
    commits: watch::Receiver<u64>,
    /// Held by the round running now: rounds never overlap.
    rounds: tokio::sync::Mutex<Rounds>,
    begun: AtomicU64,
    reads: AtomicU64,
}

impl ChangeFeed {
    pub fn new(store: Store, consumers: Vec<Arc<dyn Consumer>>) -> ChangeFeed {
        ChangeFeed {
            commits: store.commits(),
            store,
            followers: consumers.into_iter().map(|consumer| Follower { consumer, position: AtomicI64::new(-1) }).collect(),
            rounds: tokio::sync::Mutex::default(),
            begun: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        }
    }

    /// Starts every consumer (the search index may rebuild meanwhile).
    /// The first [`ChangeFeed::catch_up`] does it otherwise.
    pub async fn start(&self) -> Result<(), FeedError> {
        let mut rounds = self.rounds.lock().await;
        self.start_locked(&mut rounds).await
    }

    async fn start_locked(&self, rounds: &mut Rounds) -> Result<(), FeedError> {
        if rounds.started {
            return Ok(());
        }
        let head = self.store.latest_change_seq().await?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        for follower in &self.followers {
            let consumer = follower.consumer.name();
            let position = follower.consumer.start(&self.store, head).await.map_err(|source| FeedError::Start { consumer, source })?;
            follower.position.store(position, Ordering::Release);
        }
        rounds.started = true;
        Ok(())
    }

    /// Applies the log to every consumer as far as `needs` asks. A consumer
    /// that fails is logged and retried by the next round; the others go on.
    pub async fn catch_up(&self, needs: Needs) -> Result<(), FeedError> {
        let commits = *self.commits.borrow();
        let begun = self.begun.load(Ordering::Acquire);
        let mut rounds = self.rounds.lock().await;
        let done = rounds.last.is_some_and(|last| match needs {
            Needs::OwnCommits => last.commits >= commits,
            Needs::Latest => last.number > begun,
        });
        if done {
            return Ok(());
        }
        self.start_locked(&mut rounds).await?;
        let number = self.begun.fetch_add(1, Ordering::AcqRel) + 1;
        let commits = *self.commits.borrow();
        self.round().await?;
        rounds.last = Some(Finished { number, commits });
        Ok(())
    }

    async fn round(&self) -> Result<(), FeedError> {
        let mut failed = vec![false; self.followers.len()];
        loop {
            let following = || self.followers.iter().zip(&failed).filter(|(_, failed)| !**failed).map(|(follower, _)| follower);
            let Some(from) = following().map(|follower| follower.position.load(Ordering::Acquire)).min() else { return Ok(()) };
            let changes = self.store.changes_after(from, None, &Locale::ALL, BATCH).await?;
            self.reads.fetch_add(1, Ordering::Relaxed);
            for (follower, failed) in self.followers.iter().zip(failed.iter_mut()) {
                let position = follower.position.load(Ordering::Acquire);
                let new = &changes[changes.partition_point(|change| change.seq <= position)..];
                let (Some(last), false) = (new.last(), *failed) else { continue };
                match follower.consumer.apply(&self.store, new).await {
                    Ok(reached) => follower.position.store(reached.max(last.seq), Ordering::Release),
                    Err(error) => {
                        tracing::warn!(consumer = follower.consumer.name(), %error, "applying the change log failed; the next round retries");
                        *failed = true;
                    }
                }
            }
            if (changes.len() as u64) < BATCH {
                return Ok(());
            }
        }
    }

    /// Follows the log until `stop` says so: after every commit of this
    /// process and every [`POLL_INTERVAL`].
    pub async fn follow(&self, mut stop: watch::Receiver<bool>) {
        let mut commits = self.store.commits();
        let mut interval = tokio::time::interval(POLL_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let needs = tokio::select! {
                _ = stop.changed() => return,
                Ok(()) = commits.changed() => Needs::OwnCommits,
                _ = interval.tick() => Needs::Latest,
            };
            if let Err(error) = self.catch_up(needs).await {
                tracing::warn!(%error, "following the change log failed; retrying");
            }
        }
    }

    /// Every consumer's lag behind `head`, in the order they were given.
    pub fn lags(&self, head: i64) -> Vec<Lag> {
        self.followers
            .iter()
            .map(|follower| {
                let on_request = follower.consumer.applied_on_request();
                let position = on_request.unwrap_or_else(|| follower.position.load(Ordering::Acquire));
                Lag { consumer: follower.consumer.name(), behind: (head - position.max(0)).max(0), on_request: on_request.is_some() }
            })
            .collect()
    }

    /// Reads of the change log since the start.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}
