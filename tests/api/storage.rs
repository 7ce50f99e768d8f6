//! Import into the store: idempotent, append-only, all-or-nothing, with
//! the database's own constraints as the last line of defence.

use katalog::store::Store;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::helpers::{Server, TestDb, import, sample_content, text};
use crate::on_both_databases;

async fn scalar(store: &Store, sql: &str) -> i64 {
    let row = store.connection().query_one_raw(Statement::from_string(store.backend(), sql.to_owned())).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

fn replace_in(path: &std::path::Path, from: &str, to: &str) {
    let original = std::fs::read_to_string(path).unwrap();
    assert!(original.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, original.replacen(from, to, 1)).unwrap();
}

async fn import_is_idempotent_and_appends_revisions(db: TestDb) {
    let content = sample_content();
    let first = import(&db, content.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    let store = Store::connect(&db.url).await.unwrap();
    let revisions = scalar(&store, "SELECT COUNT(*) FROM revisions").await;
    let changes = scalar(&store, "SELECT COUNT(*) FROM changes").await;
    assert!(revisions > 60);
    assert_eq!(changes, revisions, "every imported revision is published once");

    let again = import(&db, content.path());
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("0 new revisions"), "{}", text(&again.stdout));
    assert_eq!(scalar(&store, "SELECT COUNT(*) FROM revisions").await, revisions);
    assert_eq!(scalar(&store, "SELECT COUNT(*) FROM changes").await, changes);

    let file = content.path().join("service/personalausweis-beantragen.md");
    replace_in(&file, "name = \"Personalausweis beantragen\"", "name = \"Personalausweis neu beantragen\"");
    let changed = import(&db, content.path());
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    assert!(text(&changed.stdout).contains("1 new revisions"), "{}", text(&changed.stdout));
    assert_eq!(scalar(&store, "SELECT COUNT(*) FROM revisions").await, revisions + 1);
    assert_eq!(scalar(&store, "SELECT COUNT(*) FROM changes").await, changes + 1);
    // The old revision is still there, unchanged.
    let kept = scalar(
        &store,
        "SELECT COUNT(*) FROM revisions r JOIN entries e ON e.id = r.entry_id \
         WHERE e.slug = 'personalausweis-beantragen' AND r.locale = 'de'",
    )
    .await;
    assert_eq!(kept, 2);

    let server = Server::start(&db, content.path());
    let entry = server.get_json("/api/v1/service/personalausweis-beantragen").await;
    assert_eq!(entry["fields"]["name"], "Personalausweis neu beantragen");
    assert_eq!(entry["revision"], 2);
    // The English translation still serves; it was made from revision 1.
    let english = server.get_json("/api/v1/service/personalausweis-beantragen?locale=en").await;
    assert_eq!(english["locale"], "en");
    assert_eq!(english["revision"], 1);
}
on_both_databases!(import_is_idempotent_and_appends_revisions);

async fn a_bad_file_means_nothing_is_imported(db: TestDb) {
    let content = sample_content();
    assert!(import(&db, content.path()).status.success());
    // One valid change and one broken file: neither may land.
    replace_in(&content.path().join("service/reisepass-beantragen.md"), "name = \"", "name = \"Neu: ");
    replace_in(&content.path().join("office/standesamt.md"), "kind = \"", "kind = \"nonsense-");
    let output = import(&db, content.path());
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("office/standesamt.md:") && stderr.contains("/kind"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    let server = Server::start(&db, content.path());
    let passport = server.get_json("/api/v1/service/reisepass-beantragen").await;
    assert!(!passport["fields"]["name"].as_str().unwrap().starts_with("Neu: "));
    assert_eq!(passport["revision"], 1);
}
on_both_databases!(a_bad_file_means_nothing_is_imported);

async fn the_database_enforces_uniqueness(db: TestDb) {
    let content = sample_content();
    assert!(import(&db, content.path()).status.success());
    let store = Store::connect(&db.url).await.unwrap();
    let run = |sql: &str| {
        let statement = Statement::from_string(store.backend(), sql.to_owned());
        let connection = store.connection().clone();
        async move { connection.execute_raw(statement).await }
    };
    let now = "'2026-01-01T00:00:00+00:00'";
    let duplicate_slug = run(&format!(
        "INSERT INTO entries (id, content_type, slug, version, created_at, updated_at) \
         VALUES ('other-id', 'service', 'personalausweis-beantragen', 1, {now}, {now})"
    ))
    .await;
    assert!(duplicate_slug.is_err(), "slug must be unique per type");
    let same_slug_other_type = run(&format!(
        "INSERT INTO entries (id, content_type, slug, version, created_at, updated_at) \
         VALUES ('other-id', 'article', 'personalausweis-beantragen', 1, {now}, {now})"
    ))
    .await;
    assert!(same_slug_other_type.is_ok(), "{same_slug_other_type:?}");

    let id: String = store
        .connection()
        .query_one_raw(Statement::from_string(store.backend(), "SELECT id FROM entries WHERE slug = 'reisepass-beantragen'".to_owned()))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let second_publication =
        run(&format!("INSERT INTO publications (entry_id, locale, state, published_number, updated_at) VALUES ('{id}', 'de', 'published', 1, {now})")).await;
    assert!(second_publication.is_err(), "one publication row (and so one published revision) per entry and locale");
    let duplicate_revision = run(&format!(
        "INSERT INTO revisions (entry_id, locale, number, document, content_hash, author, message, created_at) \
         VALUES ('{id}', 'de', 1, '{{}}', 'x', 'a', 'm', {now})"
    ))
    .await;
    assert!(duplicate_revision.is_err(), "revision numbers are unique per entry and locale");
    let dangling_publication = run(&format!("UPDATE publications SET published_number = 99 WHERE entry_id = '{id}' AND locale = 'de'")).await;
    assert!(dangling_publication.is_err(), "a publication must point at an existing revision");
}
on_both_databases!(the_database_enforces_uniqueness);

async fn change_log_orders_every_publish(db: TestDb) {
    let content = sample_content();
    assert!(import(&db, content.path()).status.success());
    let store = Store::connect(&db.url).await.unwrap();
    let rows = store
        .connection()
        .query_all_raw(Statement::from_string(store.backend(), "SELECT seq, action, locale FROM changes ORDER BY seq".to_owned()))
        .await
        .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.try_get("", "seq").unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(rows.iter().all(|r| r.try_get::<String>("", "action").unwrap() == "publish"));
    let server = Server::start(&db, content.path());
    let health: Value = server.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
}
on_both_databases!(change_log_orders_every_publish);

async fn line_endings_do_not_create_revisions(db: TestDb) {
    let content = sample_content();
    assert!(import(&db, content.path()).status.success());
    for entry in std::fs::read_dir(content.path().join("service")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
    }
    let again = import(&db, content.path());
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains(" 0 new revisions"), "{}", text(&again.stdout));
}
on_both_databases!(line_endings_do_not_create_revisions);

async fn concurrent_imports_are_serialised(db: TestDb) {
    let base = sample_content();
    assert!(import(&db, base.path()).status.success());
    let store = Store::connect(&db.url).await.unwrap();
    let version = "SELECT version FROM entries WHERE slug = 'personalausweis-beantragen'";
    let before = scalar(&store, version).await;
    let revisions_of_entry = "SELECT COUNT(*) FROM revisions r JOIN entries e ON e.id = r.entry_id WHERE e.slug = 'personalausweis-beantragen'";
    let revisions_before = scalar(&store, revisions_of_entry).await;
    // Two folders, each changing another locale of the same entry.
    let german = sample_content();
    replace_in(&german.path().join("service/personalausweis-beantragen.md"), "name = \"", "name = \"Neu: ");
    let english = sample_content();
    replace_in(&english.path().join("service/personalausweis-beantragen.en.md"), "name = \"", "name = \"New: ");
    let (a, b) = (
        std::thread::spawn({
            let url = db.url.clone();
            let dir = german.path().to_owned();
            move || crate::helpers::import_url(&url, &dir)
        }),
        std::thread::spawn({
            let url = db.url.clone();
            let dir = english.path().to_owned();
            move || crate::helpers::import_url(&url, &dir)
        }),
    );
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(b.status.success(), "{}", text(&b.stderr));
    // Whichever ran second also saw the other's change as a change (its
    // folder has the old text for the other locale): every step is counted.
    let after = scalar(&store, version).await;
    let revisions_added = scalar(&store, revisions_of_entry).await - revisions_before;
    assert_eq!(after - before, revisions_added, "version counts every revision added");
    assert!(after - before >= 2);
}
on_both_databases!(concurrent_imports_are_serialised);

async fn change_log_sequence_follows_commit_order(db: TestDb) {
    use katalog::content::Locale;
    use katalog::store::{Going, LiveChange, Subject, Withdrawal, WriteBatch};
    use katalog::workflow::State;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let withdrawal = |slug: &str| WriteBatch {
        live: vec![LiveChange {
            subject: Subject { entry_id: slug.to_owned(), content_type: "service".to_owned(), slug: slug.to_owned() },
            state: State::Draft,
            going: Going::Off { locale: Locale::SOURCE, was: 1, why: Withdrawal::Unpublish },
        }],
        ..WriteBatch::default()
    };

    // A starts and appends first; B starts later and would commit first if
    // it could. The change log must hand B its number only after A commits.
    let (appended, a_appended) = tokio::sync::oneshot::channel();
    let (release, a_released) = tokio::sync::oneshot::channel::<()>();
    let a_store = store.clone();
    let a = tokio::spawn(async move {
        a_store
            .atomically(async |work| {
                work.write(withdrawal("first")).await?;
                appended.send(()).unwrap();
                a_released.await.unwrap();
                Ok::<_, katalog::store::StoreError>(())
            })
            .await
            .unwrap();
    });
    a_appended.await.unwrap();
    let b_store = store.clone();
    let b = tokio::spawn(async move { b_store.atomically(async |work| work.write(withdrawal("second")).await).await.unwrap() });
    crate::helpers::eventually("B is under way", async || b_is_waiting(&store).await).await;
    assert!(!b.is_finished(), "B must wait for A");
    release.send(()).unwrap();
    a.await.unwrap();
    b.await.unwrap();

    let rows = store.connection().query_all_raw(Statement::from_string(store.backend(), "SELECT slug FROM changes ORDER BY seq".to_owned())).await.unwrap();
    let order: Vec<String> = rows.iter().map(|r| r.try_get("", "slug").unwrap()).collect();
    assert_eq!(order, ["first", "second"], "sequence numbers follow commit order");
}
on_both_databases!(change_log_sequence_follows_commit_order);

/// Whether a second writer is under way beside the one holding the write
/// lock: PostgreSQL shows it waiting for a lock; SQLite, whose BEGIN
/// IMMEDIATE waits inside the library, only that it holds a connection.
async fn b_is_waiting(store: &Store) -> bool {
    let db = store.connection();
    match store.backend() {
        sea_orm::DbBackend::Postgres => {
            let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
            scalar(store, waiting).await > 0
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            pool.size() as usize - pool.num_idle() >= 2
        }
    }
}
