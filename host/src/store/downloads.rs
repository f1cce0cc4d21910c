//! The downloads table: one row per model pull (`models pull`, `run REPO`, the daemon's
//! `/v1/downloads`), with who runs it (the daemon or a CLI process, by pid and OS start time),
//! its progress (written periodically while it runs) and how it ended. `models downloads` reads
//! it; a `running` row whose owner process is gone is reported as interrupted.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{Result, Store, bad_column, now_ms, sql_limit};

/// Downloads kept in the database; older finished ones are pruned when a new one starts.
pub const KEEP_DOWNLOADS: usize = 200;

/// Where a download stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DownloadState {
    Running,
    Done,
    Failed,
    Cancelled,
    /// Stopped by Ctrl-C or a crash; the partial files are kept and the next pull resumes them.
    Interrupted,
}

impl DownloadState {
    pub fn as_str(self) -> &'static str {
        match self {
            DownloadState::Running => "running",
            DownloadState::Done => "done",
            DownloadState::Failed => "failed",
            DownloadState::Cancelled => "cancelled",
            DownloadState::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> Option<DownloadState> {
        Some(match text {
            "running" => DownloadState::Running,
            "done" => DownloadState::Done,
            "failed" => DownloadState::Failed,
            "cancelled" => DownloadState::Cancelled,
            "interrupted" => DownloadState::Interrupted,
            _ => return None,
        })
    }
}

/// Which kind of process runs a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DownloadOwner {
    Daemon,
    Cli,
}

impl DownloadOwner {
    fn as_str(self) -> &'static str {
        match self {
            DownloadOwner::Daemon => "daemon",
            DownloadOwner::Cli => "cli",
        }
    }
}

/// A download about to start.
#[derive(Debug, Clone)]
pub struct NewDownload<'a> {
    pub repo: &'a str,
    pub revision: &'a str,
    pub owner: DownloadOwner,
    pub owner_pid: u32,
    pub owner_start: Option<u64>,
}

/// One row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    pub id: i64,
    pub repo: String,
    pub revision: String,
    pub commit: Option<String>,
    pub state: DownloadState,
    pub owner: DownloadOwner,
    pub owner_pid: u32,
    pub owner_start: Option<u64>,
    pub files_total: Option<u64>,
    pub files_done: u64,
    pub bytes_total: Option<u64>,
    pub bytes_done: u64,
    pub error: Option<String>,
    pub started_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
}

/// A progress snapshot to record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadProgress {
    pub files_total: Option<u64>,
    pub files_done: u64,
    pub bytes_total: Option<u64>,
    pub bytes_done: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown download state or owner `{0}` (written by a newer mlx-host?)")]
struct UnknownValue(String);

/// The downloads table. Every method blocks (see [`crate::store`]).
#[derive(Debug, Clone, Copy)]
pub struct Downloads<'s> {
    store: &'s Store,
}

const COLUMNS: &str = "id, repo, revision, commit_sha, state, owner, owner_pid, owner_start, \
     files_total, files_done, bytes_total, bytes_done, error, started_at_ms, updated_at_ms, \
     finished_at_ms";

impl<'s> Downloads<'s> {
    pub(super) fn new(store: &'s Store) -> Downloads<'s> {
        Downloads { store }
    }

    /// Record a download that starts now; its id. Prunes old finished rows.
    pub fn start(&self, new: &NewDownload<'_>) -> Result<i64> {
        let now = now_ms();
        let conn = self.store.lock();
        conn.execute(
            "INSERT INTO downloads (repo, revision, state, owner, owner_pid, owner_start, \
             started_at_ms, updated_at_ms) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?6)",
            params![
                new.repo,
                new.revision,
                new.owner.as_str(),
                new.owner_pid,
                new.owner_start.map(|start| start as i64),
                now
            ],
        )
        .map_err(self.store.sql("recording a download"))?;
        let id = conn.last_insert_rowid();
        conn.execute(
            "DELETE FROM downloads WHERE state != 'running' AND id NOT IN \
             (SELECT id FROM downloads ORDER BY id DESC LIMIT ?1)",
            [sql_limit(KEEP_DOWNLOADS)],
        )
        .map_err(self.store.sql("pruning old downloads"))?;
        Ok(id)
    }

    /// Record the commit a download's revision resolved to.
    pub fn set_commit(&self, id: i64, commit: &str) -> Result<()> {
        let conn = self.store.lock();
        conn.execute(
            "UPDATE downloads SET commit_sha = ?2, updated_at_ms = ?3 WHERE id = ?1",
            params![id, commit, now_ms()],
        )
        .map(drop)
        .map_err(self.store.sql("recording a download's commit"))
    }

    /// Record progress.
    pub fn set_progress(&self, id: i64, progress: DownloadProgress) -> Result<()> {
        let to_sql = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let conn = self.store.lock();
        conn.execute(
            "UPDATE downloads SET files_total = ?2, files_done = ?3, bytes_total = ?4, \
             bytes_done = ?5, updated_at_ms = ?6 WHERE id = ?1",
            params![
                id,
                progress.files_total.map(to_sql),
                to_sql(progress.files_done),
                progress.bytes_total.map(to_sql),
                to_sql(progress.bytes_done),
                now_ms()
            ],
        )
        .map(drop)
        .map_err(self.store.sql("recording a download's progress"))
    }

    /// Record how a download ended (`state` must not be `Running`).
    pub fn finish(&self, id: i64, state: DownloadState, error: Option<&str>) -> Result<()> {
        let now = now_ms();
        let conn = self.store.lock();
        conn.execute(
            "UPDATE downloads SET state = ?2, error = ?3, updated_at_ms = ?4, \
             finished_at_ms = ?4 WHERE id = ?1",
            params![id, state.as_str(), error, now],
        )
        .map(drop)
        .map_err(self.store.sql("recording how a download ended"))
    }

    /// One download.
    pub fn get(&self, id: i64) -> Result<Option<Download>> {
        let conn = self.store.lock();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM downloads WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()
        .map_err(self.store.sql("reading a download"))
    }

    /// The newest downloads first, at most `limit`.
    pub fn recent(&self, limit: usize) -> Result<Vec<Download>> {
        self.store.select(
            "listing downloads",
            &format!("SELECT {COLUMNS} FROM downloads ORDER BY id DESC LIMIT ?1"),
            [sql_limit(limit)],
            from_row,
        )
    }

    /// Rows still marked running (their owners may have died; see [`Download::owner_alive`]).
    pub fn running(&self) -> Result<Vec<Download>> {
        self.store.select(
            "listing running downloads",
            &format!("SELECT {COLUMNS} FROM downloads WHERE state = 'running' ORDER BY id"),
            [],
            from_row,
        )
    }

    /// The newest row for `repo`, if any.
    pub fn latest_for(&self, repo: &str) -> Result<Option<Download>> {
        let conn = self.store.lock();
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM downloads WHERE repo = ?1 ORDER BY id DESC LIMIT 1"),
            [repo],
            from_row,
        )
        .optional()
        .map_err(self.store.sql("reading a repo's download"))
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Download> {
    let state: String = row.get(4)?;
    let owner: String = row.get(5)?;
    let count = |index: usize| -> rusqlite::Result<Option<u64>> {
        Ok(row
            .get::<_, Option<i64>>(index)?
            .map(|value| u64::try_from(value).unwrap_or(0)))
    };
    Ok(Download {
        id: row.get(0)?,
        repo: row.get(1)?,
        revision: row.get(2)?,
        commit: row.get(3)?,
        state: DownloadState::parse(&state).ok_or_else(|| bad_column(4, UnknownValue(state)))?,
        owner: match owner.as_str() {
            "daemon" => DownloadOwner::Daemon,
            "cli" => DownloadOwner::Cli,
            _ => return Err(bad_column(5, UnknownValue(owner))),
        },
        owner_pid: row.get(6)?,
        owner_start: row.get::<_, Option<i64>>(7)?.map(|start| start as u64),
        files_total: count(8)?,
        files_done: count(9)?.unwrap_or(0),
        bytes_total: count(10)?,
        bytes_done: count(11)?.unwrap_or(0),
        error: row.get(12)?,
        started_at_ms: row.get(13)?,
        updated_at_ms: row.get(14)?,
        finished_at_ms: row.get(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_download(repo: &str) -> NewDownload<'_> {
        NewDownload {
            repo,
            revision: "main",
            owner: DownloadOwner::Cli,
            owner_pid: 4242,
            owner_start: Some(77),
        }
    }

    #[test]
    fn a_download_records_progress_and_its_end() {
        let store = Store::open_in_memory().expect("store");
        let downloads = store.downloads();
        let id = downloads.start(&new_download("org/name")).expect("start");
        downloads.set_commit(id, &"a".repeat(40)).expect("commit");
        let progress = DownloadProgress {
            files_total: Some(3),
            files_done: 1,
            bytes_total: Some(1000),
            bytes_done: 400,
        };
        downloads.set_progress(id, progress).expect("progress");
        let row = downloads.get(id).expect("get").expect("row");
        assert_eq!(row.state, DownloadState::Running);
        assert_eq!((row.bytes_done, row.bytes_total), (400, Some(1000)));
        assert_eq!(row.owner_start, Some(77));
        assert_eq!(downloads.running().expect("running").len(), 1);

        downloads
            .finish(id, DownloadState::Failed, Some("integrity"))
            .expect("finish");
        let row = downloads
            .latest_for("org/name")
            .expect("latest")
            .expect("row");
        assert_eq!(row.state, DownloadState::Failed);
        assert_eq!(row.error.as_deref(), Some("integrity"));
        assert!(row.finished_at_ms.is_some());
        assert!(downloads.running().expect("running").is_empty());
    }

    #[test]
    fn old_finished_downloads_are_pruned_but_running_ones_kept() {
        let store = Store::open_in_memory().expect("store");
        let downloads = store.downloads();
        let first = downloads.start(&new_download("org/first")).expect("start");
        for _ in 0..KEEP_DOWNLOADS + 5 {
            let id = downloads.start(&new_download("org/other")).expect("start");
            downloads
                .finish(id, DownloadState::Done, None)
                .expect("finish");
        }
        let rows = downloads.recent(10_000).expect("recent");
        assert!(rows.len() <= KEEP_DOWNLOADS + 1, "{} rows", rows.len());
        assert!(rows.iter().any(|row| row.id == first), "running row kept");
    }
}
