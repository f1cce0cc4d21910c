//! The state database: one SQLite file, `<data_dir>/mlx-host.db` (see [`crate::paths`], so
//! `MLX_HOST_HOME` moves it too), holding profiles, runs, events, downloads and daemon settings.
//!
//! This file owns opening it: WAL journal, a busy timeout so several mlx-host processes can
//! share it, foreign keys on, and the schema migrations applied at open. A file that is not
//! mlx-host's database (not SQLite, damaged, another program's, or written by a newer mlx-host)
//! is refused with an error that says what to do, and is never written to.
//!
//! - [`migrations`]: the schema (append-only migrations).
//! - [`downloads`]: model pulls: what, who runs them, progress, outcome.
//! - [`profiles`]: server profiles and their validation.
//! - [`runs`]: one row per server process: pid, start time, port, argv, end, diagnosis.
//! - [`events`]: the persisted, bounded event log.
//! - [`settings`]: daemon-level key/value settings.
//! - [`error`]: the error type, [`StoreError`].
//!
//! # Blocking
//!
//! Every method blocks: it does disk I/O and may wait up to the busy timeout for another process
//! that holds the write lock. From async code call it through `tokio::task::spawn_blocking`
//! (a [`Store`] is `Send + Sync`; share it in an `Arc`). One connection sits behind a
//! `std::sync::Mutex`, so calls from one process run one at a time.

pub mod downloads;
pub mod error;
pub mod events;
pub mod migrations;
pub mod profiles;
pub mod runs;
pub mod settings;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior};

pub use downloads::{Download, DownloadOwner, DownloadState, Downloads, NewDownload};
pub use error::{Result, StoreError};
pub use events::{EventRecord, Events, NewEvent};
pub use migrations::{APPLICATION_ID, SCHEMA_VERSION};
pub use profiles::{
    Profile, ProfileError, ProfileWarning, Profiles, RestartPolicy, ServerKind, is_loopback_host,
};
pub use runs::{NewRun, PrunedRuns, Run, RunEnd, Runs};
pub use settings::StoredSettings;

/// The database's file name inside the data folder.
pub const DB_FILE_NAME: &str = "mlx-host.db";

/// How long a write waits for another process's write to finish before failing with
/// [`StoreError::Busy`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `<data_dir>/mlx-host.db`.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE_NAME)
}

/// Milliseconds since the Unix epoch, the unit of every timestamp in the store.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The open database. See the module doc: every method blocks.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    busy_timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("busy_timeout", &self.busy_timeout)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (creating it and its folder if needed) the database file at `path`, usually
    /// [`db_path`]`(&paths.data_dir)`, and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// [`Store::open`] with another busy timeout.
    pub fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        create_private_file(path)?;
        let conn = Connection::open(path).map_err(open_error(path, busy_timeout, "opening it"))?;
        Store::prepare(conn, path.to_path_buf(), busy_timeout, true)
    }

    /// A private database in memory, for tests of code that uses the store.
    pub fn open_in_memory() -> Result<Store> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Store::prepare(conn, path, DEFAULT_BUSY_TIMEOUT, false)
    }

    /// The database file this store opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the database (equal to [`SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> Result<usize> {
        let conn = self.lock();
        user_version(&conn).map_err(self.sql("reading the schema version"))
    }

    /// Server profiles.
    pub fn profiles(&self) -> Profiles<'_> {
        Profiles::new(self)
    }

    /// Server runs.
    pub fn runs(&self) -> Runs<'_> {
        Runs::new(self)
    }

    /// The persisted event log.
    pub fn events(&self) -> Events<'_> {
        Events::new(self)
    }

    /// Model downloads.
    pub fn downloads(&self) -> Downloads<'_> {
        Downloads::new(self)
    }

    /// Daemon-level key/value settings.
    pub fn settings(&self) -> StoredSettings<'_> {
        StoredSettings::new(self)
    }

    /// Set up a fresh connection: checks first (so a foreign or damaged file is never written),
    /// then WAL, foreign keys and migrations.
    fn prepare(
        mut conn: Connection,
        path: PathBuf,
        busy_timeout: Duration,
        on_disk: bool,
    ) -> Result<Store> {
        conn.busy_timeout(busy_timeout).map_err(open_error(
            &path,
            busy_timeout,
            "setting its busy timeout",
        ))?;
        // Every transaction here writes: take the write lock at BEGIN, so a second process
        // waits for the busy timeout instead of failing on a stale snapshot.
        conn.set_transaction_behavior(TransactionBehavior::Immediate);

        // Around opening, SQLite may answer "busy" without waiting (another process is closing
        // the last connection and cleaning up the WAL, or recovering it): retry until the busy
        // timeout. Every step of `set_up` is safe to repeat.
        let deadline = Instant::now() + busy_timeout;
        loop {
            match set_up(&mut conn, &path, busy_timeout, on_disk) {
                Err(StoreError::Busy { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(err) => return Err(err),
                Ok(()) => break,
            }
        }

        Ok(Store {
            conn: Mutex::new(conn),
            path,
            busy_timeout,
        })
    }

    /// The connection. A panic while it was held cannot leave it inconsistent (an open
    /// transaction rolls back when dropped), so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run a query and map every row with `from_row` (the shared body of the tables' listings).
    pub(crate) fn select<T>(
        &self,
        action: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
        from_row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.lock();
        let mut statement = conn.prepare_cached(sql).map_err(self.sql(action))?;
        statement
            .query_map(params, from_row)
            .and_then(Iterator::collect)
            .map_err(self.sql(action))
    }

    /// Turns a rusqlite error into a [`StoreError`] that names the file and what was being done.
    pub(crate) fn sql(&self, action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let path = self.path.clone();
        let timeout = self.busy_timeout;
        move |source| match classify(&source) {
            Class::Busy => StoreError::Busy {
                path,
                action,
                timeout,
                source,
            },
            Class::NotADatabase => StoreError::NotADatabase { path, source },
            Class::Other => StoreError::Sql {
                path,
                action,
                source,
            },
        }
    }
}

/// The checks, pragmas and migrations of [`Store::prepare`].
fn set_up(conn: &mut Connection, path: &Path, busy_timeout: Duration, on_disk: bool) -> Result<()> {
    // Read the header in one snapshot (another process may be creating the same file right
    // now). A file that is not SQLite fails here, before anything is written to it.
    let reading = open_error(path, busy_timeout, "reading its header");
    let (application_id, found, has_tables) = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let application_id: i32 =
            tx.pragma_query_value(None, "application_id", |row| row.get(0))?;
        let found = user_version(&tx)?;
        let has_tables: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%')",
            [],
            |row| row.get(0),
        )?;
        tx.commit()?;
        Ok((application_id, found, has_tables))
    })()
    .map_err(reading)?;
    if application_id != APPLICATION_ID && (application_id != 0 || found != 0 || has_tables) {
        return Err(StoreError::ForeignDatabase {
            path: path.to_path_buf(),
        });
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }

    if on_disk {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_error(path, busy_timeout, "switching it to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                path = %path.display(),
                mode,
                "SQLite refused WAL mode (is the file on a network file system?); other mlx-host processes may wait longer for it"
            );
        }
        // With WAL, NORMAL loses at most the last commits on power loss and never corrupts.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error(path, busy_timeout, "setting synchronous"))?;
    }
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(open_error(path, busy_timeout, "turning foreign keys on"))?;

    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let Err(source) = migrations::MIGRATIONS.to_latest(conn) else {
        return Ok(());
    };
    // Another process may have migrated between our check and our write; the failed attempt
    // rolled back, so its result is as good as ours.
    match user_version(conn) {
        Ok(now) if now == SCHEMA_VERSION => Ok(()),
        Ok(now) if now > SCHEMA_VERSION => Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: now,
            supported: SCHEMA_VERSION,
        }),
        _ => Err(match source {
            rusqlite_migration::Error::RusqliteError { err, .. }
                if classify(&err) == Class::Busy =>
            {
                StoreError::Busy {
                    path: path.to_path_buf(),
                    action: "updating its schema",
                    timeout: busy_timeout,
                    source: err,
                }
            }
            source => StoreError::Migrate {
                path: path.to_path_buf(),
                target: SCHEMA_VERSION,
                source,
            },
        }),
    }
}

/// Turns a rusqlite error met while opening into a [`StoreError`].
fn open_error(
    path: &Path,
    timeout: Duration,
    action: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError + use<> {
    let path = path.to_path_buf();
    move |source| match classify(&source) {
        Class::Busy => StoreError::Busy {
            path,
            action,
            timeout,
            source,
        },
        Class::NotADatabase => StoreError::NotADatabase { path, source },
        Class::Other => StoreError::Open { path, source },
    }
}

/// Encode a value for a JSON text column.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(
    value: &T,
    what: &'static str,
) -> Result<String> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode { what, source })
}

/// Decode a JSON text column inside a row mapper.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    column: usize,
    text: &str,
) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            Box::new(err),
        )
    })
}

/// An error for a column whose text is not one of the values this mlx-host knows.
pub(crate) fn bad_column(
    column: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(err))
}

/// Convert a count limit to SQLite's integer, saturating.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Busy,
    NotADatabase,
    Other,
}

fn classify(err: &rusqlite::Error) -> Class {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Class::Busy,
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Class::NotADatabase,
        _ => Class::Other,
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<usize> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // A negative user_version is no version this mlx-host wrote: treat it as foreign.
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

/// Create the database file readable by its owner only (profiles may hold tokens in `env`);
/// SQLite gives its `-wal` and `-shm` files the same permissions. An existing file is kept.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::CreateFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether the row exists, for telling "not found" from "not allowed" after an update hit no row.
pub(crate) fn exists(
    conn: &Connection,
    sql: &str,
    key: impl rusqlite::ToSql,
) -> rusqlite::Result<bool> {
    Ok(conn.query_row(sql, [key], |_| Ok(())).optional()?.is_some())
}

/// Whether `err` is the SQLite constraint failure `extended_code`.
pub(crate) fn is_constraint(err: &rusqlite::Error, extended_code: std::ffi::c_int) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(failure, _) if failure.extended_code == extended_code)
}

#[cfg(test)]
mod tests;
