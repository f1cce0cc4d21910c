//! The control API's routes (axum), all under `/v1` and all behind the bearer token:
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/ps` | every profile: state, pid, port, uptime, RSS and CPU of its process tree, health, restarts, last diagnosis |
//! | `POST /v1/profiles/{name}/start?wait=true` | start; with `wait`, answer when ready or failed |
//! | `POST /v1/profiles/{name}/stop` | stop and wait until the process group is gone |
//! | `POST /v1/profiles/{name}/restart?wait=true` | stop, then start |
//! | `GET /v1/profiles/{name}/logs?lines=N&run=ID` | the last lines of a run's log |
//! | `GET /v1/events?after=ID&limit=N` | stored events |
//! | `GET /v1/events/stream` | live events as server-sent events |
//! | `POST /v1/shutdown` | stop the daemon (and its servers) |
//! | `/v1/downloads...` | model pulls run by the daemon ([`super::downloads`]) |

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use crate::metrics::{ProcessSampler, TreeUsage};
use crate::models::pull::jobs::PullJobs;
use crate::store::EventRecord;
use crate::supervisor::manager::{ServerState, ServerStatus, Supervisor, SupervisorError};

/// Shared by the handlers.
#[derive(Clone)]
pub struct ApiState {
    pub supervisor: Supervisor,
    pub token: Arc<str>,
    /// Tree usage by root pid, refreshed in the background.
    pub usage: Arc<Mutex<HashMap<u32, TreeUsage>>>,
    pub shutdown: Arc<Notify>,
    /// Model pulls run by the daemon.
    pub pulls: PullJobs,
}

/// One row of `ps`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PsEntry {
    pub name: String,
    pub server: String,
    pub model: String,
    pub state: String,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub uptime_secs: Option<u64>,
    pub rss_bytes: Option<u64>,
    pub cpu_percent: Option<f32>,
    pub healthy: Option<bool>,
    pub restarts: u32,
    pub last_diagnosis: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct ApiError {
    error: String,
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

impl IntoResponse for SupervisorError {
    fn into_response(self) -> Response {
        let status = match self {
            SupervisorError::NoProfile(_) => StatusCode::NOT_FOUND,
            SupervisorError::NotRunning(_) => StatusCode::CONFLICT,
            SupervisorError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        error(status, self.to_string())
    }
}

/// The router with authentication.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/ps", get(ps))
        .route("/v1/profiles/{name}/start", post(start))
        .route("/v1/profiles/{name}/stop", post(stop))
        .route("/v1/profiles/{name}/restart", post(restart))
        .route("/v1/profiles/{name}/logs", get(logs))
        .route("/v1/events", get(events))
        .route("/v1/events/stream", get(event_stream))
        .route("/v1/shutdown", post(shutdown))
        .route(
            "/v1/downloads",
            get(super::downloads::list).post(super::downloads::start),
        )
        .route("/v1/downloads/cancel", post(super::downloads::cancel))
        .route("/v1/downloads/{id}", get(super::downloads::get_one))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

async fn authenticate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", state.token);
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: send `Authorization: Bearer <token>` with the token from the daemon's runtime file",
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn ps(State(state): State<ApiState>) -> Response {
    let store = state.supervisor.context().store.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let profiles = store.profiles().list()?;
        let latest = store.runs().latest_per_profile()?;
        Ok::<_, crate::store::StoreError>((profiles, latest))
    })
    .await;
    let (profiles, latest) = match loaded {
        Ok(Ok(loaded)) => loaded,
        Ok(Err(store_error)) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, store_error.to_string());
        }
        Err(join_error) => return error(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    };
    let usage = match state.usage.lock() {
        Ok(usage) => usage.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let now = crate::store::now_ms();
    let entries: Vec<PsEntry> = profiles
        .into_iter()
        .map(|profile| {
            let status = state.supervisor.status(&profile.name);
            let last_run = latest.iter().find(|run| run.profile == profile.name);
            let tree = status
                .as_ref()
                .and_then(|status| status.pid)
                .and_then(|pid| usage.get(&pid).copied());
            PsEntry {
                server: profile.server.as_str().to_string(),
                model: profile.model.clone(),
                state: status
                    .as_ref()
                    .map(|status| state_name(status.state).to_string())
                    .unwrap_or_else(|| "stopped".to_string()),
                pid: status.as_ref().and_then(|status| status.pid),
                port: status.as_ref().and_then(|status| status.port),
                uptime_secs: status
                    .as_ref()
                    .filter(|status| status.pid.is_some())
                    .and_then(|status| status.started_at_ms)
                    .map(|started| u64::try_from((now - started) / 1000).unwrap_or(0)),
                rss_bytes: tree.map(|tree| tree.rss_bytes),
                cpu_percent: tree.map(|tree| tree.cpu_percent),
                healthy: status.as_ref().and_then(|status| status.healthy),
                restarts: status.as_ref().map(|status| status.restarts).unwrap_or(0),
                last_diagnosis: status
                    .as_ref()
                    .and_then(|status| status.last_diagnosis.as_ref())
                    .and_then(|diagnosed| serde_json::to_value(diagnosed).ok())
                    .or_else(|| last_run.and_then(|run| run.diagnosis.clone())),
                name: profile.name,
            }
        })
        .collect();
    Json(entries).into_response()
}

fn state_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Starting => "starting",
        ServerState::Ready => "ready",
        ServerState::Unhealthy => "unhealthy",
        ServerState::Restarting => "restarting",
        ServerState::Stopping => "stopping",
        ServerState::Stopped => "stopped",
        ServerState::Failed => "failed",
        ServerState::CrashLoop => "crash-loop",
    }
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    #[serde(default)]
    wait: bool,
}

async fn start(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Response {
    match state.supervisor.start(&name).await {
        Ok(status) => respond_with_status(status, query.wait).await,
        Err(supervisor_error) => supervisor_error.into_response(),
    }
}

async fn stop(State(state): State<ApiState>, Path(name): Path<String>) -> Response {
    match state.supervisor.stop(&name).await {
        Ok(status) => Json(status).into_response(),
        Err(supervisor_error) => supervisor_error.into_response(),
    }
}

async fn restart(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Response {
    if let Err(supervisor_error) = state.supervisor.stop(&name).await
        && !matches!(supervisor_error, SupervisorError::NotRunning(_))
    {
        return supervisor_error.into_response();
    }
    match state.supervisor.start(&name).await {
        Ok(status) => respond_with_status(status, query.wait).await,
        Err(supervisor_error) => supervisor_error.into_response(),
    }
}

/// With `wait`, answer once the first start attempt settled (ready, or failed).
async fn respond_with_status(
    mut status: tokio::sync::watch::Receiver<ServerStatus>,
    wait: bool,
) -> Response {
    if wait {
        loop {
            let settled = {
                let current = status.borrow();
                match current.state {
                    ServerState::Ready
                    | ServerState::Failed
                    | ServerState::CrashLoop
                    | ServerState::Stopped
                    | ServerState::Unhealthy => true,
                    ServerState::Restarting => current.last_diagnosis.is_some(),
                    ServerState::Starting | ServerState::Stopping => false,
                }
            };
            if settled || status.changed().await.is_err() {
                break;
            }
        }
    }
    let current = status.borrow().clone();
    Json(current).into_response()
}

#[derive(Debug, Deserialize)]
struct LogsQuery {
    lines: Option<usize>,
    run: Option<i64>,
}

async fn logs(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Response {
    let store = state.supervisor.context().store.clone();
    let wanted = query.lines.unwrap_or(100).min(10_000);
    let result = tokio::task::spawn_blocking(move || {
        crate::run_logs::last_lines(&store, &name, query.run, wanted)
    })
    .await;
    match result {
        Ok(Ok(lines)) => Json(lines).into_response(),
        Ok(Err(lookup)) if lookup.is_not_found() => {
            error(StatusCode::NOT_FOUND, lookup.to_string())
        }
        Ok(Err(lookup)) => error(StatusCode::INTERNAL_SERVER_ERROR, lookup.to_string()),
        Err(join_error) => error(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

async fn events(State(state): State<ApiState>, Query(query): Query<EventsQuery>) -> Response {
    let store = state.supervisor.context().store.clone();
    let limit = query.limit.unwrap_or(100).min(10_000);
    let result = tokio::task::spawn_blocking(move || match query.after {
        Some(after) => store.events().after(after, limit),
        None => store.events().latest(limit),
    })
    .await;
    match result {
        Ok(Ok(records)) => Json(records).into_response(),
        Ok(Err(store_error)) => error(StatusCode::INTERNAL_SERVER_ERROR, store_error.to_string()),
        Err(join_error) => error(StatusCode::INTERNAL_SERVER_ERROR, join_error.to_string()),
    }
}

async fn event_stream(
    State(state): State<ApiState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let receiver = state.supervisor.context().events.subscribe();
    let stream = BroadcastStream::new(receiver).map(|item| {
        Ok(match item {
            Ok(record) => sse_event(&record),
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(missed)) => {
                SseEvent::default().event("lagged").data(format!(
                    "{missed} events were skipped because this client read too slowly"
                ))
            }
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn sse_event(record: &EventRecord) -> SseEvent {
    let data = serde_json::to_string(record).unwrap_or_else(|_| "{}".into());
    SseEvent::default()
        .event(record.kind.clone())
        .id(record.id.to_string())
        .data(data)
}

async fn shutdown(State(state): State<ApiState>) -> Response {
    state.shutdown.notify_one();
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"stopping": true})),
    )
        .into_response()
}

/// Refresh process-tree usage of the supervised servers every few seconds, only while any runs.
pub async fn sample_usage(supervisor: Supervisor, usage: Arc<Mutex<HashMap<u32, TreeUsage>>>) {
    let mut sampler = match ProcessSampler::new() {
        Ok(sampler) => sampler,
        Err(sampler_error) => {
            tracing::warn!("process metrics are off: {sampler_error}");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    loop {
        tick.tick().await;
        let pids: Vec<u32> = supervisor
            .statuses()
            .iter()
            .filter_map(|status| status.pid)
            .collect();
        if pids.is_empty() {
            continue;
        }
        let (returned, fresh) = match tokio::task::spawn_blocking(move || {
            sampler.refresh();
            let fresh: HashMap<u32, TreeUsage> = pids
                .iter()
                .filter_map(|pid| sampler.tree_usage(*pid).map(|tree| (*pid, tree)))
                .collect();
            (sampler, fresh)
        })
        .await
        {
            Ok(result) => result,
            Err(_) => return,
        };
        sampler = returned;
        if let Ok(mut shared) = usage.lock() {
            *shared = fresh;
        }
    }
}
