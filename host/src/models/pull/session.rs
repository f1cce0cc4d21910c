//! A pull recorded in the database: a `downloads` row made when it starts, its progress written
//! every half second (so a crash leaves the last figures), its outcome written when it ends, and
//! a `download-finished` or `download-failed` event for the notifier plugins. Also settles rows
//! whose owner process died mid-pull (they become `interrupted`).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{Hub, PullError, PullOutcome, PullProgress, PullRequest, StopReason, StopSignal, pull};
use crate::events::EventBus;
use crate::metrics::process_start_time;
use crate::models::cache::human_size;
use crate::store::{Download, DownloadOwner, DownloadState, NewDownload, Store};

/// How often progress is written to the database.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Where a recorded pull reports to.
#[derive(Clone)]
pub struct Recorder {
    pub store: Arc<Store>,
    pub events: Option<EventBus>,
    pub owner: DownloadOwner,
}

/// Make the `downloads` row for a pull that starts now; `None` (logged) when the database
/// cannot be written, in which case the pull still runs.
pub async fn record_start(recorder: &Recorder, request: &PullRequest) -> Option<i64> {
    let store = recorder.store.clone();
    let repo = request.repo.clone();
    let revision = request.revision.clone();
    let owner = recorder.owner;
    let made = tokio::task::spawn_blocking(move || {
        let pid = std::process::id();
        store.downloads().start(&NewDownload {
            repo: &repo,
            revision: &revision,
            owner,
            owner_pid: pid,
            owner_start: process_start_time(pid),
        })
    })
    .await;
    match made {
        Ok(Ok(row_id)) => Some(row_id),
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not record the download; pulling anyway");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "could not record the download; pulling anyway");
            None
        }
    }
}

/// Run `pull` with its row (from [`record_start`]), progress and events.
pub async fn recorded_pull(
    recorder: &Recorder,
    row_id: Option<i64>,
    hub: &Hub,
    cache: &Path,
    request: &PullRequest,
    progress: Arc<PullProgress>,
    stop: &StopSignal,
) -> Result<PullOutcome, PullError> {
    let commit: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let ticker = row_id.map(|row_id| {
        let store = recorder.store.clone();
        let progress = progress.clone();
        let commit = commit.clone();
        tokio::spawn(async move {
            let mut commit_written = false;
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                let store = store.clone();
                let snapshot = progress.snapshot();
                let new_commit = (!commit_written).then(|| commit.get().cloned()).flatten();
                commit_written |= new_commit.is_some();
                let written = tokio::task::spawn_blocking(move || {
                    if let Some(commit) = new_commit {
                        store.downloads().set_commit(row_id, &commit)?;
                    }
                    store.downloads().set_progress(row_id, snapshot)
                })
                .await;
                if let Ok(Err(error)) = written {
                    tracing::warn!(%error, "could not record download progress");
                }
            }
        })
    });

    let outcome = pull(hub, cache, request, &progress, stop, |sha| {
        let _ = commit.set(sha.to_string());
    })
    .await;
    if let Some(ticker) = ticker {
        ticker.abort();
    }

    let (state, error, event) = match &outcome {
        Ok(done) => (
            DownloadState::Done,
            None,
            Some((
                "download-finished",
                format!(
                    "{} downloaded ({}, {} files, commit {})",
                    done.repo,
                    human_size(done.bytes_total),
                    done.files,
                    &done.commit[..done.commit.len().min(12)]
                ),
            )),
        ),
        Err(error) => match error.stop_reason() {
            Some(StopReason::Cancel) => (DownloadState::Cancelled, None, None),
            Some(StopReason::Interrupt) => (DownloadState::Interrupted, None, None),
            None => (
                DownloadState::Failed,
                Some(error.to_string()),
                Some((
                    "download-failed",
                    format!("{} failed to download: {error}", request.repo),
                )),
            ),
        },
    };
    if let Some((kind, message)) = event
        && let Some(events) = &recorder.events
    {
        events.emit(kind, &request.repo, message, None);
    }
    if let Some(row_id) = row_id {
        let store = recorder.store.clone();
        let snapshot = progress.snapshot();
        let commit = commit.get().cloned();
        let written = tokio::task::spawn_blocking(move || {
            if let Some(commit) = commit {
                store.downloads().set_commit(row_id, &commit)?;
            }
            store.downloads().set_progress(row_id, snapshot)?;
            store.downloads().finish(row_id, state, error.as_deref())
        })
        .await;
        if let Ok(Err(error)) = written {
            tracing::warn!(%error, "could not record how the download ended");
        }
    }
    outcome
}

/// Cancel a pull of `repo` that no process is running (interrupted, or its owner died):
/// remove its partial files and mark its row cancelled. The number of partial files removed.
pub fn cancel_idle(store: &Store, cache: &Path, repo: &str) -> Result<usize, PullError> {
    let removed = super::RepoLayout::new(cache, repo).remove_partials()?;
    let latest = store.downloads().latest_for(repo).ok().flatten();
    if let Some(row) = latest {
        let idle = row.state == DownloadState::Interrupted
            || (row.state == DownloadState::Running && !owner_alive(&row));
        if idle
            && let Err(error) = store
                .downloads()
                .finish(row.id, DownloadState::Cancelled, None)
        {
            tracing::warn!(%error, "could not record the cancelled download");
        }
    }
    Ok(removed)
}

/// Whether the process that owns a `running` row is still that process.
pub fn owner_alive(download: &Download) -> bool {
    let Some(start) = process_start_time(download.owner_pid) else {
        return false;
    };
    download
        .owner_start
        .is_none_or(|recorded| recorded == start)
}

/// Mark `running` rows whose owner is gone as interrupted; those rows (as they now are).
pub fn settle_orphans(store: &Store) -> crate::store::Result<Vec<Download>> {
    let mut settled = Vec::new();
    for download in store.downloads().running()? {
        if !owner_alive(&download) {
            store
                .downloads()
                .finish(download.id, DownloadState::Interrupted, None)?;
            settled.push(Download {
                state: DownloadState::Interrupted,
                ..download
            });
        }
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_whose_owner_died_is_settled_as_interrupted() {
        let store = Store::open_in_memory().expect("store");
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead_pid = child.id();
        child.wait().expect("wait");
        let dead = store
            .downloads()
            .start(&NewDownload {
                repo: "org/dead",
                revision: "main",
                owner: DownloadOwner::Cli,
                owner_pid: dead_pid,
                owner_start: Some(1),
            })
            .expect("start");
        let me = std::process::id();
        let alive = store
            .downloads()
            .start(&NewDownload {
                repo: "org/alive",
                revision: "main",
                owner: DownloadOwner::Cli,
                owner_pid: me,
                owner_start: process_start_time(me),
            })
            .expect("start");
        let settled = settle_orphans(&store).expect("settle");
        assert_eq!(settled.iter().map(|d| d.id).collect::<Vec<_>>(), vec![dead]);
        let rows = store.downloads().recent(10).expect("recent");
        let state = |id| rows.iter().find(|row| row.id == id).expect("row").state;
        assert_eq!(state(dead), DownloadState::Interrupted);
        assert_eq!(state(alive), DownloadState::Running);
    }
}
