use std::path::Path;
use std::sync::Mutex;

use super::*;
use crate::content::Registry;
use crate::import::{ImportOptions, import};

/// Notes the changes it is handed; fails every time when told to.
struct Recorder {
    name: &'static str,
    failing: bool,
    seen: Mutex<Vec<i64>>,
}

impl Recorder {
    fn new(name: &'static str, failing: bool) -> Arc<Recorder> {
        Arc::new(Recorder { name, failing, seen: Mutex::default() })
    }

    fn seen(&self) -> Vec<i64> {
        self.seen.lock().unwrap().clone()
    }
}

impl Consumer for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }

    fn start<'a>(&'a self, _: &'a Store, head: i64) -> Work<'a, i64> {
        Box::pin(async move { Ok(head) })
    }

    fn apply<'a>(&'a self, _: &'a Store, changes: &'a [ChangeRow]) -> Work<'a, i64> {
        Box::pin(async move {
            if self.failing {
                return Err("refused".into());
            }
            self.seen.lock().unwrap().extend(changes.iter().map(|change| change.seq));
            Ok(changes.last().map_or(0, |change| change.seq))
        })
    }
}

async fn empty_store(folder: &Path) -> Store {
    let store = Store::connect(&format!("sqlite://{}", folder.join("katalog.db").display())).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Publishes the sample content in one commit; returns the head of the log.
async fn publish_sample(store: &Store) -> i64 {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let registry = Arc::new(Registry::load_dir(&root.join("schemas")).unwrap());
    import(store, &registry, &root.join("content"), &ImportOptions { publish: true, ..Default::default() }).await.unwrap();
    store.latest_change_seq().await.unwrap()
}

fn feed_of(store: &Store, recorders: &[Arc<Recorder>]) -> ChangeFeed {
    ChangeFeed::new(store.clone(), recorders.iter().map(|recorder| recorder.clone() as Arc<dyn Consumer>).collect())
}

#[tokio::test]
async fn one_commit_reaches_every_consumer_with_one_read_of_the_log() {
    let folder = tempfile::tempdir().unwrap();
    let store = empty_store(folder.path()).await;
    let recorders: Vec<_> = ["search", "response_cache", "webhooks", "web_site", "partner_bundle"].into_iter().map(|name| Recorder::new(name, false)).collect();
    let feed = feed_of(&store, &recorders);
    feed.start().await.unwrap();
    let before = feed.reads();

    let head = publish_sample(&store).await;
    assert!(head > 1 && head < BATCH as i64, "the sample is one batch of several changes: {head}");
    feed.catch_up(Needs::OwnCommits).await.unwrap();
    assert_eq!(feed.reads() - before, 1, "one read for every consumer");
    for recorder in &recorders {
        assert_eq!(recorder.seen(), (1..=head).collect::<Vec<_>>(), "{} saw every change once", recorder.name);
    }
    assert!(feed.lags(head).iter().all(|lag| lag.behind == 0));

    // Nothing was committed since: a caller who wrote nothing reads nothing.
    feed.catch_up(Needs::OwnCommits).await.unwrap();
    assert_eq!(feed.reads() - before, 1);
    // Someone else may have: asking for the latest reads again.
    feed.catch_up(Needs::Latest).await.unwrap();
    assert_eq!(feed.reads() - before, 2);
    assert!(recorders.iter().all(|recorder| recorder.seen().len() as i64 == head), "nothing is handed over twice");
}

#[tokio::test]
async fn a_failing_consumer_holds_no_other_back() {
    let folder = tempfile::tempdir().unwrap();
    let store = empty_store(folder.path()).await;
    let (failing, working) = (Recorder::new("failing", true), Recorder::new("working", false));
    let feed = feed_of(&store, &[failing.clone(), working.clone()]);
    feed.start().await.unwrap();
    let head = publish_sample(&store).await;
    feed.catch_up(Needs::OwnCommits).await.unwrap();
    assert_eq!(working.seen().last(), Some(&head));
    let lags = feed.lags(head);
    assert_eq!((lags[0].consumer, lags[0].behind), ("failing", head), "it stays where it was, to be retried");
    assert_eq!((lags[1].consumer, lags[1].behind), ("working", 0));
}
