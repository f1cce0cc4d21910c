//! The daemon's pulls: each runs as a task of the daemon (so it survives the CLI that asked for
//! it), at most [`MAX_PULLS`] at once and one per repo (asking again for a repo being pulled
//! returns the running pull; asking for another revision of it is refused until it ends, since
//! both would share the repo's blobs and locks). The API reads live progress from here and cancels through here;
//! daemon shutdown interrupts them (partial files kept), and a new daemon resumes the pulls an
//! old one left interrupted.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::session::{Recorder, record_start, recorded_pull};
use super::{Hub, HubError, PullProgress, PullRequest, StopReason, StopSignal};
use crate::store::downloads::DownloadProgress;

/// Pulls the daemon runs at once.
pub const MAX_PULLS: usize = 4;
/// How long shutdown waits for pulls to record that they were interrupted.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// Where a pull should come from (the asking CLI's `HF_ENDPOINT` and token, not the daemon's).
#[derive(Clone)]
pub struct Source {
    pub endpoint: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(
        "{MAX_PULLS} pulls are already running in the daemon; wait for one to finish or cancel one (`mlx-host models pull --cancel REPO`)"
    )]
    TooMany,
    #[error("`{0}` is not a Hugging Face repo id (org/name)")]
    NotARepo(String),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("the daemon is shutting down")]
    ShuttingDown,
    #[error(
        "{repo} is already being pulled at revision `{running}`; pull `{requested}` after it finishes, or stop it first with `mlx-host models pull --cancel {repo}`"
    )]
    OtherRevisionRunning {
        repo: String,
        running: String,
        requested: String,
    },
}

struct Job {
    /// The `downloads` row, when the database could record it.
    id: Option<i64>,
    /// The revision asked for.
    revision: String,
    progress: Arc<PullProgress>,
    stop: Arc<StopSignal>,
    done: tokio::sync::watch::Receiver<bool>,
}

/// The daemon's running pulls; cheap to clone.
#[derive(Clone)]
pub struct PullJobs {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: Recorder,
    cache: PathBuf,
    jobs: Mutex<HashMap<String, Job>>,
    /// Held for the whole of [`PullJobs::start`].
    starting: tokio::sync::Mutex<()>,
    closed: std::sync::atomic::AtomicBool,
}

/// What starting a pull gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub id: Option<i64>,
    /// The repo was already being pulled; this is that pull.
    pub already_running: bool,
}

impl PullJobs {
    pub fn new(recorder: Recorder, cache: PathBuf) -> PullJobs {
        PullJobs {
            inner: Arc::new(Inner {
                recorder,
                cache,
                jobs: Mutex::new(HashMap::new()),
                starting: tokio::sync::Mutex::new(()),
                closed: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Start pulling `request` (or return the pull of that repo already running).
    pub async fn start(&self, request: PullRequest, source: Source) -> Result<Started, JobError> {
        if self.inner.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(JobError::ShuttingDown);
        }
        if !crate::models::resolve::is_repo_id(&request.repo) {
            return Err(JobError::NotARepo(request.repo));
        }
        // Starts run one at a time (they are rare), so no two can race between the check
        // below and the insert after the row is made.
        let _starting = self.inner.starting.lock().await;
        {
            let jobs = self.jobs();
            if let Some(job) = jobs.get(&request.repo) {
                if job.revision != request.revision {
                    return Err(JobError::OtherRevisionRunning {
                        repo: request.repo,
                        running: job.revision.clone(),
                        requested: request.revision,
                    });
                }
                return Ok(Started {
                    id: job.id,
                    already_running: true,
                });
            }
            if jobs.len() >= MAX_PULLS {
                return Err(JobError::TooMany);
            }
        }
        let hub = Hub::new(source.endpoint, source.token)?;
        let id = record_start(&self.inner.recorder, &request).await;
        let progress = Arc::new(PullProgress::new());
        let stop = Arc::new(StopSignal::new());
        let (done_sender, done) = tokio::sync::watch::channel(false);
        self.jobs().insert(
            request.repo.clone(),
            Job {
                id,
                revision: request.revision.clone(),
                progress: progress.clone(),
                stop: stop.clone(),
                done,
            },
        );
        let jobs = self.clone();
        tokio::spawn(async move {
            let result = recorded_pull(
                &jobs.inner.recorder,
                id,
                &hub,
                &jobs.inner.cache,
                &request,
                progress,
                &stop,
            )
            .await;
            match &result {
                Ok(outcome) => {
                    tracing::info!(repo = %outcome.repo, commit = %outcome.commit, "pull finished")
                }
                Err(error) => tracing::warn!(repo = %request.repo, %error, "pull ended"),
            }
            jobs.jobs().remove(&request.repo);
            let _ = done_sender.send(true);
        });
        Ok(Started {
            id,
            already_running: false,
        })
    }

    /// Live progress of the running pull with row `id`.
    pub fn progress(&self, id: i64) -> Option<DownloadProgress> {
        self.jobs()
            .values()
            .find(|job| job.id == Some(id))
            .map(|job| job.progress.snapshot())
    }

    /// Cancel the pull of `repo`, waiting until it has stopped and removed its partial files;
    /// whether one was running.
    pub async fn cancel(&self, repo: &str) -> bool {
        let done = {
            let jobs = self.jobs();
            let Some(job) = jobs.get(repo) else {
                return false;
            };
            job.stop.stop(StopReason::Cancel);
            job.done.clone()
        };
        wait_done(done, Duration::from_secs(30)).await;
        true
    }

    /// Interrupt every pull (partial files kept) and wait a little for them to record it.
    pub async fn shutdown(&self) {
        self.inner
            .closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let waits: Vec<_> = {
            let jobs = self.jobs();
            jobs.values()
                .map(|job| {
                    job.stop.stop(StopReason::Interrupt);
                    job.done.clone()
                })
                .collect()
        };
        for done in waits {
            wait_done(done, SHUTDOWN_WAIT).await;
        }
    }
}

async fn wait_done(mut done: tokio::sync::watch::Receiver<bool>, limit: Duration) {
    let _ = tokio::time::timeout(limit, done.wait_for(|finished| *finished)).await;
}
