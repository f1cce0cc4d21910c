//! The control API's download routes (behind the same bearer token as the rest):
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/downloads` | start a pull in the daemon: `{repo, revision?, endpoint, token?}` → `{id, already_running, cache}` |
//! | `GET /v1/downloads?limit=N` | recent downloads, newest first, running ones with live progress |
//! | `GET /v1/downloads/{id}` | one download |
//! | `POST /v1/downloads/cancel` | `{repo}`: stop its pull and remove its partial files |
//!
//! The pull uses the endpoint and token the CLI sends, so it reaches the hub the user's shell
//! would. The token travels only over this authenticated loopback API and is never stored. The
//! files go into the daemon's hub cache, where the servers it starts look.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::server::{ApiState, error};
use crate::models::pull::PullRequest;
use crate::models::pull::jobs::{JobError, Source};
use crate::models::pull::session::{cancel_idle, owner_alive};
use crate::store::{Download, DownloadState};

/// Body of `POST /v1/downloads`.
#[derive(Clone, Serialize, Deserialize)]
pub struct StartPull {
    pub repo: String,
    pub revision: Option<String>,
    pub endpoint: String,
    pub token: Option<String>,
}

/// Answer of `POST /v1/downloads`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullStarted {
    /// The `downloads` row to poll; `None` when the database could not record it.
    pub id: Option<i64>,
    pub already_running: bool,
    /// The hub cache the daemon pulls into (its own `HF_HUB_CACHE`/`HF_HOME`), which is where
    /// its servers look.
    pub cache: std::path::PathBuf,
}

/// Body of `POST /v1/downloads/cancel`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelPull {
    pub repo: String,
}

/// Answer of `POST /v1/downloads/cancel`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullCancelled {
    /// Whether the daemon was pulling the repo.
    pub was_running: bool,
    /// Partial files removed after it stopped (or of an interrupted pull).
    pub partial_files_removed: usize,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
}

impl IntoResponse for JobError {
    fn into_response(self) -> Response {
        let status = match self {
            JobError::TooMany => StatusCode::TOO_MANY_REQUESTS,
            JobError::NotARepo(_) | JobError::Hub(_) => StatusCode::BAD_REQUEST,
            JobError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            JobError::OtherRevisionRunning { .. } => StatusCode::CONFLICT,
        };
        error(status, self.to_string())
    }
}

pub async fn start(State(state): State<ApiState>, Json(body): Json<StartPull>) -> Response {
    let request = PullRequest {
        repo: body.repo,
        revision: body.revision.unwrap_or_else(|| "main".to_string()),
    };
    let source = Source {
        endpoint: body.endpoint,
        token: body.token,
    };
    match state.pulls.start(request, source).await {
        Ok(started) => Json(PullStarted {
            id: started.id,
            already_running: started.already_running,
            cache: crate::models::resolve::hub_cache_dir(),
        })
        .into_response(),
        Err(job_error) => job_error.into_response(),
    }
}

pub async fn list(State(state): State<ApiState>, Query(query): Query<ListQuery>) -> Response {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let store = state.supervisor.context().store.clone();
    match tokio::task::spawn_blocking(move || store.downloads().recent(limit)).await {
        Ok(Ok(rows)) => Json(
            rows.into_iter()
                .map(|row| live(&state, row))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Ok(Err(store_error)) => error(StatusCode::INTERNAL_SERVER_ERROR, store_error.to_string()),
        Err(join_error) => error(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    }
}

pub async fn get_one(State(state): State<ApiState>, Path(id): Path<i64>) -> Response {
    let store = state.supervisor.context().store.clone();
    match tokio::task::spawn_blocking(move || store.downloads().get(id)).await {
        Ok(Ok(Some(row))) => Json(live(&state, row)).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no download {id}")),
        Ok(Err(store_error)) => error(StatusCode::INTERNAL_SERVER_ERROR, store_error.to_string()),
        Err(join_error) => error(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    }
}

pub async fn cancel(State(state): State<ApiState>, Json(body): Json<CancelPull>) -> Response {
    if !crate::models::resolve::is_repo_id(&body.repo) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`{}` is not a Hugging Face repo id (org/name)", body.repo),
        );
    }
    let was_running = state.pulls.cancel(&body.repo).await;
    let store = state.supervisor.context().store.clone();
    let cache = crate::models::resolve::hub_cache_dir();
    let repo = body.repo.clone();
    match tokio::task::spawn_blocking(move || cancel_idle(&store, &cache, &repo)).await {
        Ok(Ok(removed)) => Json(PullCancelled {
            was_running,
            partial_files_removed: removed,
        })
        .into_response(),
        Ok(Err(pull_error)) => error(StatusCode::INTERNAL_SERVER_ERROR, pull_error.to_string()),
        Err(join_error) => error(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    }
}

/// A row with the live progress of a running pull, or marked interrupted when its owner died.
fn live(state: &ApiState, mut row: Download) -> Download {
    if row.state == DownloadState::Running {
        if let Some(progress) = state.pulls.progress(row.id) {
            row.files_total = progress.files_total;
            row.files_done = progress.files_done;
            row.bytes_total = progress.bytes_total;
            row.bytes_done = progress.bytes_done;
        } else if !owner_alive(&row) {
            row.state = DownloadState::Interrupted;
        }
    }
    row
}
