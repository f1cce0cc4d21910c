//! `models pull`: download a model repo into the Hugging Face cache, resumably and verified.
//!
//! - [`hub`]: what the hub says (commit, files, etags), through hf-hub.
//! - [`transfer`]: one file: ranged, resumed, verified while written.
//! - [`layout`]: the cache layout (blobs, snapshot links, refs, locks) huggingface_hub uses.
//! - [`progress`]: the live counters and the stop signal.
//! - [`jobs`]: the daemon's pulls, which outlive the CLI that asked for them.
//! - [`session`]: a pull recorded in the database (progress, outcome) with its events.
//! - [`display`]: the progress bar on a terminal, plain lines otherwise.
//!
//! [`pull`] ties them together: resolve the revision, skip files already linked in the
//! snapshot, fetch the rest a few at a time, and once every blob is verified link them all into
//! the snapshot and write the ref, so a snapshot folder only appears complete.

pub mod display;
pub mod hub;
pub mod jobs;
pub mod layout;
pub mod progress;
pub mod session;
pub mod transfer;

use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;

pub use hub::{Hub, HubError};
pub use layout::{LayoutError, RepoLayout};
pub use progress::{PullProgress, StopReason, StopSignal};
pub use transfer::TransferError;

use transfer::{Fetched, TransferContext};

/// Files downloaded at once.
const PARALLEL_FILES: usize = 4;

/// What to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub repo: String,
    /// A branch, tag or commit; `main` when not given.
    pub revision: String,
}

/// What a finished pull did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PullOutcome {
    pub repo: String,
    pub commit: String,
    /// The snapshot folder servers load.
    pub snapshot: PathBuf,
    pub files: usize,
    /// Files that were already complete in the cache.
    pub files_present: usize,
    pub bytes_total: u64,
    /// Bytes that were already on disk in partial files and were not downloaded again.
    pub bytes_resumed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("`{0}` is not a Hugging Face repo id (org/name)")]
    NotARepo(String),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(
        "the pull of {repo} was interrupted; the partial files are kept, run the pull again to resume"
    )]
    Interrupted { repo: String },
    #[error("the pull of {repo} was cancelled and its partial files removed")]
    Cancelled { repo: String },
}

impl PullError {
    /// Whether the user (or shutdown) stopped the pull, as opposed to it failing.
    pub fn stop_reason(&self) -> Option<StopReason> {
        match self {
            PullError::Interrupted { .. } => Some(StopReason::Interrupt),
            PullError::Cancelled { .. } => Some(StopReason::Cancel),
            _ => None,
        }
    }
}

/// Pull `request` into `cache`. `on_commit` hears the commit as soon as it is known.
pub async fn pull(
    hub: &Hub,
    cache: &Path,
    request: &PullRequest,
    progress: &PullProgress,
    stop: &StopSignal,
    on_commit: impl FnOnce(&str),
) -> Result<PullOutcome, PullError> {
    if !crate::models::resolve::is_repo_id(&request.repo) {
        return Err(PullError::NotARepo(request.repo.clone()));
    }
    let layout = RepoLayout::new(cache, &request.repo);
    let result = fetch_all(hub, &layout, request, progress, stop, on_commit).await;
    match (result, stop.reason()) {
        (Ok(outcome), _) => Ok(outcome),
        (Err(_), Some(StopReason::Cancel)) => {
            let removed = tokio::task::spawn_blocking(move || layout.remove_partials())
                .await
                .unwrap_or(Ok(0))?;
            tracing::info!(repo = %request.repo, removed, "pull cancelled; partial files removed");
            Err(PullError::Cancelled {
                repo: request.repo.clone(),
            })
        }
        (Err(_), Some(StopReason::Interrupt)) => Err(PullError::Interrupted {
            repo: request.repo.clone(),
        }),
        (Err(error), None) => Err(error),
    }
}

async fn fetch_all(
    hub: &Hub,
    layout: &RepoLayout,
    request: &PullRequest,
    progress: &PullProgress,
    stop: &StopSignal,
    on_commit: impl FnOnce(&str),
) -> Result<PullOutcome, PullError> {
    let remote = hub.remote_repo(&request.repo, &request.revision).await?;
    on_commit(&remote.commit);
    let bytes_total = remote.files.iter().map(|file| file.size).sum();
    progress.set_totals(remote.files.len() as u64, bytes_total);

    let mut to_fetch = Vec::new();
    let mut files_present = 0;
    for file in &remote.files {
        if layout.is_linked(&remote.commit, &file.path, &file.etag) {
            progress.add_bytes(file.size);
            progress.file_done();
            files_present += 1;
        } else {
            to_fetch.push(file);
        }
    }
    let context = TransferContext {
        client: hub.http(),
        token: hub.token(),
        layout,
        progress,
        stop,
    };
    // Futures made up front: a stream holding the closure trips rustc's higher-ranked
    // lifetime check for `Send` (rust-lang/rust#102211).
    let pending: Vec<_> = to_fetch
        .into_iter()
        .map(|file| fetch_one(file, &context))
        .collect();
    let mut fetches = futures_util::stream::iter(pending).buffer_unordered(PARALLEL_FILES);
    let mut bytes_resumed = 0;
    while let Some(fetched) = fetches.next().await {
        match fetched? {
            Fetched::AlreadyThere => files_present += 1,
            Fetched::Downloaded { resumed_from } => bytes_resumed += resumed_from,
        }
    }
    drop(fetches);
    // Only now, with every blob verified, does the snapshot appear: a server never finds a
    // half-pulled model.
    for file in &remote.files {
        layout.link(&remote.commit, &file.path, &file.etag)?;
    }
    layout.write_ref(&request.revision, &remote.commit)?;
    Ok(PullOutcome {
        repo: request.repo.clone(),
        commit: remote.commit.clone(),
        snapshot: layout.snapshot(&remote.commit)?,
        files: remote.files.len(),
        files_present,
        bytes_total,
        bytes_resumed,
    })
}

/// Fetch one file's verified blob.
async fn fetch_one(
    file: &transfer::RemoteFile,
    context: &TransferContext<'_>,
) -> Result<Fetched, PullError> {
    let fetched = transfer::fetch(file, context).await?;
    context.progress.file_done();
    Ok(fetched)
}
