//! The daemon's supervisor: one task per started profile that starts the server, waits until it
//! is really ready, watches it (exit, health), restarts it by policy with exponential backoff and
//! a crash-loop limit, and stops it (SIGTERM to the group, grace, SIGKILL). Every transition is
//! an event and every process is a run row. Tasks never block the runtime: store writes and
//! plugin calls go through `spawn_blocking`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlx_host_plugin_api::types::{ExitStatus, Severity};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use super::diagnosis::Diagnosed;
use super::launch::{LaunchInput, plan};
use super::logtail::{DEFAULT_TAIL_LINES, LogTail};
use super::process::{ServerProcess, SpawnSpec, Tether};
use super::readiness::probe_health;
use super::startup::{StartOutcome, Watch, describe_exit, diagnose_off_runtime, wait_until_ready};
use crate::events::EventBus;
use crate::models::resolve::resolve;
use crate::paths::Paths;
use crate::plugins::Registry;
use crate::runtimes::{executable_name, find_executable};
use crate::store::{NewRun, Profile, RestartPolicy, Run, RunEnd, ServerKind, Store};

/// Grace between SIGTERM and SIGKILL when stopping.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often a ready server's health is probed.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// Failed health probes in a row before the server counts as unhealthy.
pub const UNHEALTHY_AFTER: u32 = 3;
/// Failures within [`CRASH_LOOP_WINDOW`] that make a crash loop.
pub const CRASH_LOOP_LIMIT: usize = 5;
pub const CRASH_LOOP_WINDOW: Duration = Duration::from_secs(600);
/// First and largest restart delay.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Where a profile's server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerState {
    Starting,
    Ready,
    Unhealthy,
    /// Waiting to restart after a failure.
    Restarting,
    Stopping,
    Stopped,
    /// Failed and not restarting (policy, or a failure a restart cannot fix).
    Failed,
    /// Failed too often in a row; no more restarts until the user starts it again.
    CrashLoop,
}

/// What `ps` shows for one profile.
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    pub name: String,
    pub state: ServerState,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub run_id: Option<i64>,
    pub started_at_ms: Option<i64>,
    pub ready_at_ms: Option<i64>,
    pub restarts: u32,
    pub healthy: Option<bool>,
    pub last_diagnosis: Option<Diagnosed>,
}

impl ServerStatus {
    fn new(name: &str) -> ServerStatus {
        ServerStatus {
            name: name.to_string(),
            state: ServerState::Starting,
            pid: None,
            port: None,
            run_id: None,
            started_at_ms: None,
            ready_at_ms: None,
            restarts: 0,
            healthy: None,
            last_diagnosis: None,
        }
    }
}

enum Control {
    Stop(oneshot::Sender<()>),
}

struct Slot {
    control: mpsc::Sender<Control>,
    status: watch::Receiver<ServerStatus>,
}

/// Errors of supervisor commands.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("no profile named `{0}`; `mlx-host profile list` shows them")]
    NoProfile(String),
    #[error("{0} is not running")]
    NotRunning(String),
    #[error("the state database failed: {0}")]
    Store(String),
}

/// The supervisor's clock settings (defaults above; `serve` reads overrides from
/// `MLX_HOST_RESTART_BACKOFF_MS`, `MLX_HOST_STOP_GRACE_MS`, `MLX_HOST_HEALTH_INTERVAL_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub backoff_start: Duration,
    pub stop_grace: Duration,
    pub health_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            backoff_start: BACKOFF_START,
            stop_grace: STOP_GRACE,
            health_interval: HEALTH_INTERVAL,
        }
    }
}

impl Timing {
    /// Defaults with the environment's overrides.
    pub fn from_env() -> Timing {
        let millis = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|value| value.parse::<u64>().ok())
                .map(Duration::from_millis)
        };
        let defaults = Timing::default();
        Timing {
            backoff_start: millis("MLX_HOST_RESTART_BACKOFF_MS").unwrap_or(defaults.backoff_start),
            stop_grace: millis("MLX_HOST_STOP_GRACE_MS").unwrap_or(defaults.stop_grace),
            health_interval: millis("MLX_HOST_HEALTH_INTERVAL_MS")
                .unwrap_or(defaults.health_interval),
        }
    }
}

/// Shared daemon context.
#[derive(Clone)]
pub struct Context {
    pub timing: Timing,
    pub registry: Arc<Registry>,
    pub store: Arc<Store>,
    pub events: EventBus,
    pub paths: Paths,
    /// A venv searched first for server executables.
    pub venv: Option<PathBuf>,
}

/// Supervises every started profile.
#[derive(Clone)]
pub struct Supervisor {
    context: Context,
    // One slot per profile started in this daemon; bounded by the number of profiles.
    slots: Arc<Mutex<BTreeMap<String, Slot>>>,
}

impl Supervisor {
    pub fn new(context: Context) -> Supervisor {
        Supervisor {
            context,
            slots: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Slot>> {
        match self.slots.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Start a profile's server (no-op if it is already supervised and not finished). Returns a
    /// status feed.
    pub async fn start(
        &self,
        name: &str,
    ) -> Result<watch::Receiver<ServerStatus>, SupervisorError> {
        if let Some(slot) = self.slots().get(name)
            && !matches!(
                slot.status.borrow().state,
                ServerState::Stopped | ServerState::Failed | ServerState::CrashLoop
            )
        {
            return Ok(slot.status.clone());
        }
        let profile = self.load_profile(name).await?;
        Ok(self.supervise_profile(profile, None))
    }

    /// Take over a server a previous daemon started and left running (its run has no end, and
    /// its pid, kernel start time and command line still match): watch it, probe its health,
    /// stop it on request, and apply the restart policy when it dies.
    pub async fn adopt(&self, run: Run) -> Result<(), SupervisorError> {
        let profile = self.load_profile(&run.profile).await?;
        self.supervise_profile(profile, Some(run));
        Ok(())
    }

    async fn load_profile(&self, name: &str) -> Result<Profile, SupervisorError> {
        let store = self.context.store.clone();
        let lookup = name.to_string();
        tokio::task::spawn_blocking(move || store.profiles().get(&lookup))
            .await
            .map_err(|error| SupervisorError::Store(error.to_string()))?
            .map_err(|error| SupervisorError::Store(error.to_string()))?
            .ok_or_else(|| SupervisorError::NoProfile(name.to_string()))
    }

    /// Start the task that supervises `profile` (taking over `adopted` first, when given) and
    /// record its slot.
    fn supervise_profile(
        &self,
        profile: Profile,
        adopted: Option<Run>,
    ) -> watch::Receiver<ServerStatus> {
        let name = profile.name.clone();
        let (control, commands) = mpsc::channel(4);
        let (status_sender, status) = watch::channel(ServerStatus::new(&name));
        tokio::spawn(supervise(
            self.context.clone(),
            profile,
            commands,
            status_sender,
            adopted,
        ));
        self.slots().insert(
            name,
            Slot {
                control,
                status: status.clone(),
            },
        );
        status
    }

    /// Stop a profile's server and wait until it is gone.
    pub async fn stop(&self, name: &str) -> Result<ServerStatus, SupervisorError> {
        let (control, mut status) = {
            let slots = self.slots();
            let slot = slots
                .get(name)
                .ok_or_else(|| SupervisorError::NotRunning(name.to_string()))?;
            (slot.control.clone(), slot.status.clone())
        };
        let (done, finished) = oneshot::channel();
        if control.send(Control::Stop(done)).await.is_ok() {
            let _ = finished.await;
        }
        let _ = status.changed().await;
        let last = status.borrow().clone();
        Ok(last)
    }

    /// Every supervised profile's status.
    pub fn statuses(&self) -> Vec<ServerStatus> {
        self.slots()
            .values()
            .map(|slot| slot.status.borrow().clone())
            .collect()
    }

    /// One profile's status, if it was started in this daemon.
    pub fn status(&self, name: &str) -> Option<ServerStatus> {
        self.slots()
            .get(name)
            .map(|slot| slot.status.borrow().clone())
    }

    /// The profiles supervised by this daemon.
    pub fn names(&self) -> Vec<String> {
        self.slots().keys().cloned().collect()
    }

    /// Stop every server at once (daemon shutdown) and wait for all of them.
    pub async fn stop_all(&self) {
        let mut stops = tokio::task::JoinSet::new();
        for name in self.names() {
            let supervisor = self.clone();
            stops.spawn(async move { supervisor.stop(&name).await });
        }
        while let Some(result) = stops.join_next().await {
            if let Ok(Err(error)) = result {
                tracing::debug!("stop during shutdown: {error}");
            }
        }
    }
}

/// Why a run ended, for the restart decision.
enum RunResult {
    /// The user asked to stop.
    Stopped,
    /// It failed to start or crashed; restart per policy.
    Failed { restartable: bool },
    /// It exited cleanly on its own.
    Exited,
}

async fn supervise(
    context: Context,
    profile: Profile,
    mut commands: mpsc::Receiver<Control>,
    status: watch::Sender<ServerStatus>,
    mut adopted: Option<Run>,
) {
    let mut failures: Vec<Instant> = Vec::new();
    let mut restarts = 0u32;
    loop {
        let result = match adopted.take() {
            Some(run) => watch_adopted(&context, &profile, run, &mut commands, &status).await,
            None => {
                status.send_modify(|current| {
                    current.state = ServerState::Starting;
                    current.restarts = restarts;
                });
                run_once(&context, &profile, &mut commands, &status).await
            }
        };
        let restart = match result {
            RunResult::Stopped => {
                status.send_modify(|current| current.state = ServerState::Stopped);
                return;
            }
            RunResult::Exited => profile.restart == RestartPolicy::Always,
            RunResult::Failed { restartable } => {
                failures.push(Instant::now());
                restartable && profile.restart != RestartPolicy::Never
            }
        };
        if !restart {
            status.send_modify(|current| {
                if current.state != ServerState::Stopped {
                    current.state = ServerState::Failed;
                }
            });
            return;
        }
        failures.retain(|at| at.elapsed() < CRASH_LOOP_WINDOW);
        if failures.len() >= CRASH_LOOP_LIMIT {
            status.send_modify(|current| current.state = ServerState::CrashLoop);
            context.events.emit(
                "crash-loop",
                &profile.name,
                format!(
                    "{} failed {} times in {} minutes; not restarting until you start it again",
                    profile.name,
                    failures.len(),
                    CRASH_LOOP_WINDOW.as_secs() / 60
                ),
                status.borrow().last_diagnosis.as_ref(),
            );
            return;
        }
        let delay = backoff(failures.len(), context.timing.backoff_start);
        restarts += 1;
        status.send_modify(|current| {
            current.state = ServerState::Restarting;
            current.restarts = restarts;
        });
        context.events.emit(
            "restarting",
            &profile.name,
            format!(
                "restarting {} in {:.0} s (restart {restarts})",
                profile.name,
                delay.as_secs_f64()
            ),
            None,
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            command = commands.recv() => {
                if let Some(Control::Stop(done)) = command {
                    status.send_modify(|current| current.state = ServerState::Stopped);
                    context.events.emit("stopped", &profile.name, format!("{} stopped", profile.name), None);
                    let _ = done.send(());
                }
                return;
            }
        }
    }
}

/// The delay before restart number `failures` (1-based): start, 2×, 4× ... up to 60 s.
pub fn backoff(failures: usize, start: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(16) as u32;
    start
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(BACKOFF_MAX)
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

/// One process: plan, spawn, wait for ready, watch until it ends or is stopped.
async fn run_once(
    context: &Context,
    profile: &Profile,
    commands: &mut mpsc::Receiver<Control>,
    status: &watch::Sender<ServerStatus>,
) -> RunResult {
    let name = profile.name.clone();
    context
        .events
        .emit("starting", &name, format!("starting {name}"), None);
    let prepared = match prepare(context, profile).await {
        Ok(prepared) => prepared,
        Err(diagnosed) => {
            status.send_modify(|current| current.last_diagnosis = Some(diagnosed.clone()));
            context.events.emit(
                "start-failed",
                &name,
                format!("{name} could not start: {}", diagnosed.summary),
                Some(&diagnosed),
            );
            return RunResult::Failed { restartable: false };
        }
    };
    let log_file = context
        .paths
        .logs_dir
        .join(&name)
        .join(format!("{}.log", crate::store::now_ms()));
    let tail = match LogTail::new(DEFAULT_TAIL_LINES, Some(&log_file)) {
        Ok(tail) => tail,
        Err(error) => {
            let diagnosed = Diagnosed::by_host(
                "environment_error",
                Severity::Error,
                format!("cannot create the log file {}: {error}", log_file.display()),
                "Check that the logs folder is writable.".into(),
            );
            context.events.emit(
                "start-failed",
                &name,
                diagnosed.summary.clone(),
                Some(&diagnosed),
            );
            return RunResult::Failed { restartable: false };
        }
    };
    let mut process = match ServerProcess::spawn(&prepared.spec, &tail, Tether::Independent) {
        Ok(process) => process,
        Err(error) => {
            let diagnosed = Diagnosed::spawn_failed(&error);
            context.events.emit(
                "start-failed",
                &name,
                diagnosed.summary.clone(),
                Some(&diagnosed),
            );
            return RunResult::Failed { restartable: false };
        }
    };
    let pid = process.pid();
    let started_at = crate::store::now_ms();
    let run_id = {
        let store = context.store.clone();
        let mut run = NewRun::new(name.clone(), prepared.spec.argv.clone());
        run.pid = Some(pid);
        run.process_start_time = crate::metrics::process_start_time(pid);
        run.port = Some(prepared.port);
        run.log_path = Some(log_file.display().to_string());
        blocking(move || store.runs().insert(&run).map(|run| run.id))
            .await
            .and_then(Result::ok)
    };
    status.send_modify(|current| {
        current.pid = Some(pid);
        current.port = Some(prepared.port);
        current.run_id = run_id;
        current.started_at_ms = Some(started_at);
        current.ready_at_ms = None;
        current.healthy = None;
    });

    let (stop_sender, stop_requested) = oneshot::channel::<oneshot::Sender<()>>();
    let mut stop_sender = Some(stop_sender);
    let watch = Watch {
        registry: &context.registry,
        server_kind: prepared.server_kind,
        host: &profile.host_for_probe(),
        port: prepared.port,
        timeout: Duration::from_secs(u64::from(profile.ready_timeout_secs)),
    };
    let cancel = async {
        if let Some(Control::Stop(done)) = commands.recv().await
            && let Some(sender) = stop_sender.take()
        {
            let _ = sender.send(done);
        }
    };
    let outcome = wait_until_ready(&mut process, &tail, watch, cancel).await;
    match outcome {
        StartOutcome::Ready => {}
        StartOutcome::Cancelled => {
            let exit = process.stop(context.timing.stop_grace).await;
            finish_run(context, run_id, exit, None, "stopped").await;
            context.events.emit(
                "stopped",
                &name,
                format!("{name} stopped before it was ready"),
                None,
            );
            if let Ok(done) = stop_requested.await {
                let _ = done.send(());
            }
            return RunResult::Stopped;
        }
        StartOutcome::Failed(diagnosed) => {
            let exit = process.stop(context.timing.stop_grace).await;
            finish_run(context, run_id, exit, Some(&diagnosed), "failed").await;
            status.send_modify(|current| {
                current.last_diagnosis = Some(diagnosed.clone());
                current.pid = None;
            });
            context.events.emit(
                "start-failed",
                &name,
                format!(
                    "{name} failed to start: {}: {}",
                    diagnosed.category, diagnosed.summary
                ),
                Some(&diagnosed),
            );
            return RunResult::Failed { restartable: true };
        }
    }
    let ready_at = crate::store::now_ms();
    if let Some(id) = run_id {
        let store = context.store.clone();
        blocking(move || store.runs().record_ready(id)).await;
    }
    status.send_modify(|current| {
        current.state = ServerState::Ready;
        current.ready_at_ms = Some(ready_at);
        current.healthy = Some(true);
    });
    context.events.emit(
        "ready",
        &name,
        format!(
            "{name} is ready on http://{}:{}/v1 ({:.1} s)",
            profile.host_for_probe(),
            prepared.port,
            (ready_at - started_at) as f64 / 1000.0
        ),
        None,
    );

    let mut health = tokio::time::interval(context.timing.health_interval);
    health.tick().await;
    let mut failed_probes = 0u32;
    loop {
        tokio::select! {
            exit = process.wait() => {
                let diagnosed = diagnose_off_runtime(&context.registry, prepared.server_kind, tail.lines(), exit).await;
                let clean = matches!(exit, ExitStatus::Exited { code: 0 }) && !diagnosed.is_failure();
                finish_run(context, run_id, exit, Some(&diagnosed), if clean { "exited" } else { "crashed" }).await;
                status.send_modify(|current| {
                    current.pid = None;
                    current.healthy = None;
                    current.last_diagnosis = Some(diagnosed.clone());
                });
                if clean {
                    context.events.emit("stopped", &name, format!("{name} exited on its own ({})", describe_exit(exit)), None);
                    return RunResult::Exited;
                }
                context.events.emit(
                    "crashed",
                    &name,
                    format!("{name} crashed ({}): {}: {}", describe_exit(exit), diagnosed.category, diagnosed.summary),
                    Some(&diagnosed),
                );
                return RunResult::Failed { restartable: true };
            }
            command = commands.recv() => {
                let exit = process.stop(context.timing.stop_grace).await;
                finish_run(context, run_id, exit, None, "stopped").await;
                status.send_modify(|current| {
                    current.pid = None;
                    current.healthy = None;
                });
                context.events.emit("stopped", &name, format!("{name} stopped ({})", describe_exit(exit)), None);
                if let Some(Control::Stop(done)) = command {
                    let _ = done.send(());
                }
                return RunResult::Stopped;
            }
            _ = health.tick() => {
                let healthy = probe_health(&profile.host_for_probe(), prepared.port).await;
                if healthy {
                    if failed_probes >= UNHEALTHY_AFTER {
                        context.events.emit("recovered", &name, format!("{name} answers again"), None);
                    }
                    failed_probes = 0;
                    status.send_modify(|current| {
                        current.healthy = Some(true);
                        current.state = ServerState::Ready;
                    });
                } else {
                    failed_probes += 1;
                    if failed_probes == UNHEALTHY_AFTER {
                        status.send_modify(|current| {
                            current.healthy = Some(false);
                            current.state = ServerState::Unhealthy;
                        });
                        context.events.emit(
                            "unhealthy",
                            &name,
                            format!("{name} failed {UNHEALTHY_AFTER} health checks in a row"),
                            None,
                        );
                        if profile.restart != RestartPolicy::Never {
                            let exit = process.stop(context.timing.stop_grace).await;
                            let diagnosed = Diagnosed::by_host(
                                "none",
                                Severity::Error,
                                format!("stopped after {UNHEALTHY_AFTER} failed health checks ({})", describe_exit(exit)),
                                "The server stopped answering; it is being restarted.".into(),
                            );
                            finish_run(context, run_id, exit, Some(&diagnosed), "unhealthy").await;
                            return RunResult::Failed { restartable: true };
                        }
                    }
                }
            }
        }
    }
}

/// How often an adopted server (not our child: no exit status, no output) is checked.
const ADOPTED_POLL: Duration = Duration::from_millis(250);

/// Watch a server a previous daemon started, until it dies or is stopped.
async fn watch_adopted(
    context: &Context,
    profile: &Profile,
    run: Run,
    commands: &mut mpsc::Receiver<Control>,
    status: &watch::Sender<ServerStatus>,
) -> RunResult {
    let name = profile.name.clone();
    let (Some(pid), Some(port)) = (run.pid, run.port) else {
        return RunResult::Failed { restartable: true };
    };
    let identity = run.process_start_time;
    let is_alive =
        move || identity.is_some() && crate::metrics::process_start_time(pid) == identity;
    status.send_modify(|current| {
        current.state = ServerState::Ready;
        current.pid = Some(pid);
        current.port = Some(port);
        current.run_id = Some(run.id);
        current.started_at_ms = Some(run.started_at_ms);
        current.ready_at_ms = run.ready_at_ms;
        current.healthy = Some(true);
    });
    context.events.emit(
        "recovered",
        &name,
        format!("{name} (pid {pid}) was left running by a previous daemon and is supervised again"),
        None,
    );
    let mut poll = tokio::time::interval(ADOPTED_POLL);
    let mut health = tokio::time::interval(context.timing.health_interval);
    health.tick().await;
    let mut failed_probes = 0u32;
    loop {
        tokio::select! {
            _ = poll.tick() => {
                if !is_alive() {
                    let diagnosed = Diagnosed::by_host(
                        "none",
                        Severity::Error,
                        format!("{name} (pid {pid}) ended; its exit status is unknown because a previous daemon started it"),
                        "See the run's log for what it printed before the daemon restarted.".into(),
                    );
                    finish_run_unknown(context, run.id, &diagnosed, "crashed").await;
                    status.send_modify(|current| {
                        current.pid = None;
                        current.healthy = None;
                        current.last_diagnosis = Some(diagnosed.clone());
                    });
                    context.events.emit("crashed", &name, diagnosed.summary.clone(), Some(&diagnosed));
                    return RunResult::Failed { restartable: true };
                }
            }
            command = commands.recv() => {
                stop_group_by_pid(pid, &is_alive, context.timing.stop_grace).await;
                finish_run_unknown(context, run.id, &Diagnosed::by_host("none", Severity::Info, "stopped".into(), String::new()), "stopped").await;
                status.send_modify(|current| {
                    current.pid = None;
                    current.healthy = None;
                });
                context.events.emit("stopped", &name, format!("{name} stopped"), None);
                if let Some(Control::Stop(done)) = command {
                    let _ = done.send(());
                }
                return RunResult::Stopped;
            }
            _ = health.tick() => {
                if probe_health(&profile.host_for_probe(), port).await {
                    failed_probes = 0;
                    status.send_modify(|current| current.healthy = Some(true));
                } else {
                    failed_probes += 1;
                    if failed_probes == UNHEALTHY_AFTER {
                        status.send_modify(|current| {
                            current.healthy = Some(false);
                            current.state = ServerState::Unhealthy;
                        });
                        context.events.emit("unhealthy", &name, format!("{name} failed {UNHEALTHY_AFTER} health checks in a row"), None);
                    }
                }
            }
        }
    }
}

/// SIGTERM to the process group, up to `grace` for it to go, then SIGKILL.
async fn stop_group_by_pid(pid: u32, is_alive: &impl Fn() -> bool, grace: Duration) {
    use nix::sys::signal::{Signal, killpg};
    let group = nix::unistd::Pid::from_raw(pid as i32);
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while is_alive() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = killpg(group, Signal::SIGKILL);
}

async fn finish_run_unknown(context: &Context, run_id: i64, diagnosed: &Diagnosed, state: &str) {
    let mut end = RunEnd {
        exit_code: None,
        signal: None,
        diagnosis: None,
        state: state.to_string(),
    };
    if let Ok(value) = serde_json::to_value(diagnosed) {
        end = end.with_diagnosis(value);
    }
    let store = context.store.clone();
    blocking(move || store.runs().record_end(run_id, &end)).await;
    prune_old_runs(context).await;
}

/// Runs (and their log files) kept per profile.
pub const KEEP_RUNS: usize = 10;

/// Forget all but the last [`KEEP_RUNS`] runs of each profile and delete their logs.
async fn prune_old_runs(context: &Context) {
    let store = context.store.clone();
    if let Some(Ok(pruned)) = blocking(move || store.runs().prune(KEEP_RUNS)).await {
        for log in pruned.log_paths {
            let _ = std::fs::remove_file(&log);
            let _ = std::fs::remove_file(format!("{log}.1"));
        }
    }
}

struct Prepared {
    spec: SpawnSpec,
    port: u16,
    server_kind: &'static str,
}

/// Resolve the model and executable and plan the command line; failures are diagnoses.
async fn prepare(context: &Context, profile: &Profile) -> Result<Prepared, Diagnosed> {
    let failure = |category: &str, summary: String, hint: &str| {
        Diagnosed::by_host(category, Severity::Error, summary, hint.to_string())
    };
    let port = match profile.port {
        Some(port) => {
            if std::net::TcpListener::bind((profile.host.as_str(), port)).is_err() {
                return Err(failure(
                    "port_in_use",
                    format!("port {port} on {} is already in use", profile.host),
                    "Stop whatever uses it, or give the profile another port (`mlx-host profile edit NAME --port N`).",
                ));
            }
            port
        }
        None => std::net::TcpListener::bind((profile.host.as_str(), 0))
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .map_err(|error| {
                failure(
                    "environment_error",
                    format!("cannot find a free port: {error}"),
                    "",
                )
            })?,
    };
    let server_kind = profile.server.as_str();
    if profile.server == ServerKind::Command {
        let argv: Vec<String> = profile
            .extra_args
            .iter()
            .map(|arg| {
                arg.replace("{port}", &port.to_string())
                    .replace("{host}", &profile.host)
                    .replace("{model}", &profile.model)
            })
            .collect();
        let mut env = vec![("PYTHONUNBUFFERED".to_string(), "1".to_string())];
        env.extend(profile.env.iter().cloned());
        return Ok(Prepared {
            spec: SpawnSpec {
                argv,
                env,
                cwd: None,
            },
            port,
            server_kind: "command",
        });
    }
    let program = executable_name(server_kind).unwrap_or("mlx_lm.server");
    let executable =
        find_executable(program, context.venv.as_deref(), &context.paths).ok_or_else(|| {
            failure(
                "environment_error",
                format!("{program} is not installed"),
                "Install it with `mlx-host runtime install` or start the daemon with --venv.",
            )
        })?;
    let model = resolve(&profile.model).map_err(|error| {
        failure(
            "model_not_found",
            error.to_string(),
            "Fix the profile's model (`mlx-host profile edit`).",
        )
    })?;
    let launch = plan(
        &context.registry,
        &context.paths,
        LaunchInput {
            server_kind,
            executable: &executable,
            model: &model,
            host: &profile.host,
            port,
            extra_args: &profile.extra_args,
            extra_env: &profile.env,
        },
    )
    .await
    .map_err(|error| failure("environment_error", error.to_string(), ""))?;
    Ok(Prepared {
        spec: launch.spec,
        port,
        server_kind: match profile.server {
            ServerKind::MlxLm => "mlx_lm",
            ServerKind::MlxOpenaiServer => "mlx-openai-server",
            ServerKind::MlxVlm => "mlx_vlm",
            ServerKind::Command => "command",
        },
    })
}

async fn finish_run(
    context: &Context,
    run_id: Option<i64>,
    exit: ExitStatus,
    diagnosed: Option<&Diagnosed>,
    state: &str,
) {
    let Some(id) = run_id else {
        return;
    };
    let mut end = match exit {
        ExitStatus::Signaled { signal } => RunEnd::signaled(signal, state),
        ExitStatus::Exited { code } => RunEnd::exited(code, state),
        ExitStatus::Running => RunEnd::exited(-1, state),
    };
    if let Some(value) = diagnosed.and_then(|diagnosed| serde_json::to_value(diagnosed).ok()) {
        end = end.with_diagnosis(value);
    }
    let store = context.store.clone();
    blocking(move || store.runs().record_end(id, &end)).await;
    prune_old_runs(context).await;
}

trait ProbeHost {
    fn host_for_probe(&self) -> String;
}

impl ProbeHost for Profile {
    /// Where to reach the server: its bind address, or loopback when it binds everywhere.
    fn host_for_probe(&self) -> String {
        match self.host.as_str() {
            "0.0.0.0" | "::" | "" => "127.0.0.1".to_string(),
            host => host.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        assert_eq!(backoff(1, BACKOFF_START), Duration::from_secs(1));
        assert_eq!(backoff(2, BACKOFF_START), Duration::from_secs(2));
        assert_eq!(backoff(4, BACKOFF_START), Duration::from_secs(8));
        assert_eq!(backoff(10, BACKOFF_START), BACKOFF_MAX);
        assert_eq!(backoff(1000, BACKOFF_START), BACKOFF_MAX);
        assert_eq!(
            backoff(3, Duration::from_millis(100)),
            Duration::from_millis(400)
        );
    }
}
