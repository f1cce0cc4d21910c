//! Tests of opening the database (migrations, WAL, sharing between processes, refusing files
//! that are not ours) and the temp-dir helper the other store tests use.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::*;

/// A store on a real file in a fresh temp dir (keep the dir alive as long as the store).
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&db_path(dir.path())).expect("open store");
    (dir, store)
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("raw connection")
}

fn tables(conn: &Connection) -> Vec<String> {
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("prepare");
    statement
        .query_map([], |row| row.get(0))
        .and_then(Iterator::collect)
        .expect("tables")
}

#[test]
fn open_creates_the_folder_and_applies_migrations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir.path().join("data").join("nested"));
    let store = Store::open(&path).expect("open");
    assert!(path.is_file());
    assert_eq!(store.path(), path);
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    drop(store);

    let conn = raw(&path);
    assert_eq!(
        tables(&conn),
        ["downloads", "events", "profiles", "runs", "settings"]
    );
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .expect("application_id");
    assert_eq!(application_id, APPLICATION_ID);
}

#[test]
fn reopening_is_idempotent_and_keeps_data() {
    let (dir, store) = temp_store();
    store
        .profiles()
        .insert(&Profile::new("p", "org/model"))
        .expect("insert");
    drop(store);
    for _ in 0..2 {
        let store = Store::open(&db_path(dir.path())).expect("reopen");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(store.profiles().list().expect("list").len(), 1);
    }
}

#[test]
fn wal_foreign_keys_and_busy_timeout_are_on() {
    let (_dir, store) = temp_store();
    let conn = store.lock();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let foreign_keys: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .expect("foreign_keys");
    assert!(foreign_keys);
    let timeout_ms: i64 = conn
        .pragma_query_value(None, "busy_timeout", |row| row.get(0))
        .expect("busy_timeout");
    assert_eq!(timeout_ms, 5000);
    drop(conn);
    // WAL is a property of the file: a plain connection sees it too.
    let other: String = raw(store.path())
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal_mode");
    assert_eq!(other, "wal");
}

#[cfg(unix)]
#[test]
fn the_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, store) = temp_store();
    let mode = std::fs::metadata(store.path())
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn two_stores_on_one_file_both_write() {
    let (dir, first) = temp_store();
    let second = Store::open(&db_path(dir.path())).expect("second store");
    let stores = [Arc::new(first), Arc::new(second)];
    let writers: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(n, store)| {
            let store = Arc::clone(store);
            std::thread::spawn(move || {
                for i in 0..100 {
                    store
                        .events()
                        .append(&NewEvent::new("test", format!("store {n}"), format!("{i}")))
                        .expect("append while the other store writes");
                    if i % 10 == 0 {
                        store.events().prune(1_000).expect("prune");
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer thread");
    }
    assert_eq!(stores[0].events().count().expect("count"), 200);
    assert_eq!(stores[1].events().latest(500).expect("latest").len(), 200);
}

#[test]
fn stores_opening_a_new_file_at_once_all_succeed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = Arc::new(db_path(dir.path()));
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let path = Arc::clone(&path);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                Store::open(&path).map(|store| store.schema_version())
            })
        })
        .collect();
    for opener in openers {
        let version = opener.join().expect("opener thread");
        assert_eq!(version.expect("open").expect("version"), SCHEMA_VERSION);
    }
}

#[test]
fn a_writer_waits_for_another_process_lock_within_the_timeout() {
    let (dir, store) = temp_store();
    let path = db_path(dir.path());
    let mut other = raw(&path);
    let release = std::thread::spawn(move || {
        let tx = other
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .expect("lock");
        tx.execute(
            "INSERT INTO settings (key, value, updated_at_ms) VALUES ('held', '1', 0)",
            [],
        )
        .expect("write");
        std::thread::sleep(Duration::from_millis(300));
        tx.commit().expect("commit");
    });
    std::thread::sleep(Duration::from_millis(100));
    store
        .settings()
        .set("waited", "1")
        .expect("waits for the lock");
    release.join().expect("holder");
    assert_eq!(store.settings().all().expect("all").len(), 2);
}

#[test]
fn a_lock_held_past_the_timeout_gives_a_busy_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(dir.path());
    let store = Store::open_with_timeout(&path, Duration::from_millis(50)).expect("open");
    let mut other = raw(&path);
    let tx = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .expect("lock");
    let err = store.settings().set("k", "v").expect_err("busy");
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("locked by another process"), "{message}");
    assert!(message.contains("saving a setting"), "{message}");
    assert!(message.contains("try again"), "{message}");
    drop(tx);
    store.settings().set("k", "v").expect("free again");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(dir.path());
    let garbage: Vec<u8> = b"these are my notes, not a database\n"
        .iter()
        .copied()
        .cycle()
        .take(8192)
        .collect();
    std::fs::write(&path, &garbage).expect("write");

    let err = Store::open(&path).expect_err("not a database");
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("is not an SQLite database"), "{message}");
    assert!(message.contains("move it aside"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");

    assert_eq!(std::fs::read(&path).expect("read"), garbage);
    assert!(!dir.path().join("mlx-host.db-wal").exists());
}

#[test]
fn a_damaged_database_is_refused() {
    let (dir, store) = temp_store();
    drop(store);
    let path = db_path(dir.path());
    // Keep the magic header, wipe the rest of the first page.
    let mut bytes = std::fs::read(&path).expect("read");
    for byte in bytes.iter_mut().take(4096).skip(16) {
        *byte = 0xff;
    }
    std::fs::write(&path, &bytes).expect("write");
    let err = Store::open(&path).expect_err("damaged");
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).expect("read"), bytes);
}

#[test]
fn another_programs_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(dir.path());
    {
        let conn = raw(&path);
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
            .expect("someone else's db");
    }
    let before = std::fs::read(&path).expect("read");
    let err = Store::open(&path).expect_err("foreign");
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("another program's"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert_eq!(tables(&raw(&path)), ["notes"]);
}

#[test]
fn a_newer_schema_is_refused_with_both_versions() {
    let (dir, store) = temp_store();
    drop(store);
    let path = db_path(dir.path());
    raw(&path)
        .pragma_update(None, "user_version", 99)
        .expect("pretend a newer mlx-host wrote it");
    let err = Store::open(&path).expect_err("too new");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, supported, .. } if supported == SCHEMA_VERSION),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("schema version 99 > {SCHEMA_VERSION}")),
        "{message}"
    );
    assert!(message.contains("upgrade mlx-host"), "{message}");
}

#[test]
fn in_memory_store_works() {
    let store = Store::open_in_memory().expect("memory");
    store
        .profiles()
        .insert(&Profile::new("p", "org/model"))
        .expect("insert");
    assert_eq!(store.profiles().list().expect("list").len(), 1);
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn a_poisoned_lock_is_recovered() {
    let store = Arc::new(Store::open_in_memory().expect("memory"));
    let panicking = Arc::clone(&store);
    let _ = std::thread::spawn(move || {
        let _conn = panicking.lock();
        panic!("a caller panicked while holding the connection");
    })
    .join();
    store.settings().set("k", "v").expect("still usable");
}
