//! `mlx-host serve`: the daemon. Opens the state database, cleans up servers a previous daemon
//! left behind, loads the plugins, and serves the control API until Ctrl-C, SIGTERM or
//! `POST /v1/shutdown`; then it stops every server gracefully and removes its runtime file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context as _, bail};
use clap::Args;
use nix::unistd::Pid;
use tokio::sync::Notify;

use crate::api::runtime_file::{DaemonInfo, new_token, runtime_file, write};
use crate::api::server::{ApiState, router, sample_usage};
use crate::events::EventBus;
use crate::models::pull::PullRequest;
use crate::models::pull::jobs::{PullJobs, Source};
use crate::models::pull::session::{Recorder, settle_orphans};
use crate::paths::Paths;
use crate::plugins::fanout::{DEFAULT_QUEUE_CAPACITY, EventFanout};
use crate::plugins::{Registry, RegistryOptions};
use crate::store::downloads::KEEP_DOWNLOADS;
use crate::store::{DownloadOwner, DownloadState};
use crate::store::{RunEnd, Store, db_path};
use crate::supervisor::manager::{Context, Supervisor, Timing};

use super::shutdown::ShutdownSignals;

/// Environment variable holding the API key that allows a non-loopback bind.
pub const API_KEY_ENV: &str = "MLX_HOST_API_KEY";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for the control API. Non-loopback addresses need MLX_HOST_API_KEY.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// A Python venv searched first for server executables.
    #[arg(long, env = "MLX_HOST_VENV")]
    venv: Option<PathBuf>,
    /// On shutdown, leave the servers running; the next `serve` takes them over.
    #[arg(long)]
    keep_servers: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (paths, settings) = super::load_environment()?;
    let api_key = std::env::var(API_KEY_ENV)
        .ok()
        .filter(|key| !key.is_empty());
    if !args.bind.ip().is_loopback() && api_key.is_none() {
        bail!(
            "refusing to serve the control API on {} without an API key: anyone who can reach it could start processes. Set {API_KEY_ENV} (clients then send it as the bearer token), or bind 127.0.0.1",
            args.bind
        );
    }
    let file = runtime_file(&paths);
    if let Some(info) = crate::api::runtime_file::read(&file)
        && nix::sys::signal::kill(Pid::from_raw(info.pid as i32), None).is_ok()
        && crate::metrics::process_cmdline(info.pid)
            .is_some_and(|argv| argv.iter().any(|arg| arg == "serve"))
    {
        bail!(
            "a daemon is already running (pid {}, {}); stop it first (`kill {}`)",
            info.pid,
            info.address,
            info.pid
        );
    }
    let store =
        Arc::new(Store::open(&db_path(&paths.data_dir)).context("cannot open the state database")?);

    // The registry reports plugin-disabled events to the bus, which feeds the notifiers that
    // live in the registry: close the loop through a cell filled once the bus exists.
    let bus_cell: Arc<OnceLock<EventBus>> = Arc::new(OnceLock::new());
    let mut options = RegistryOptions::for_paths(&paths, settings);
    let sink_cell = bus_cell.clone();
    options.events = Some(Arc::new(move |event| {
        if let Some(bus) = sink_cell.get() {
            bus.emit_api_event(event);
        }
    }));
    let registry = Arc::new(Registry::load(options));
    let fanout = Arc::new(
        EventFanout::start(registry.clone(), DEFAULT_QUEUE_CAPACITY, None)
            .context("cannot start the notifier queue")?,
    );
    let bus = EventBus::start(store.clone(), Some(fanout.clone()))
        .context("cannot start the event writer")?;
    let _ = bus_cell.set(bus.clone());

    let runtime = super::async_runtime()?;
    let result = runtime.block_on(serve(
        args,
        paths.clone(),
        store.clone(),
        registry,
        bus.clone(),
        api_key,
    ));
    bus.shutdown();
    fanout.shutdown();
    let _ = std::fs::remove_file(&file);
    result
}

async fn serve(
    args: ServeArgs,
    paths: Paths,
    store: Arc<Store>,
    registry: Arc<Registry>,
    bus: EventBus,
    api_key: Option<String>,
) -> anyhow::Result<ExitCode> {
    // Before any server is started or taken over: from here on a stop signal (including the
    // SIGHUP of a closed terminal) stops the servers instead of ending the daemon on the spot.
    let mut signals = ShutdownSignals::listen()?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    let token = match api_key {
        Some(key) => key,
        None => new_token().context("cannot make an API token")?,
    };
    let info = DaemonInfo {
        address: address.to_string(),
        token: token.clone(),
        pid: std::process::id(),
        started_at_ms: crate::store::now_ms(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        hf_hub_cache: Some(crate::models::resolve::hub_cache_dir()),
    };
    let file = runtime_file(&paths);
    write(&file, &info).with_context(|| format!("cannot write {}", file.display()))?;
    let supervisor = Supervisor::new(Context {
        timing: Timing::from_env(),
        registry,
        store: store.clone(),
        events: bus.clone(),
        paths,
        venv: args.venv,
    });
    take_over_servers_left_running(&store, &bus, &supervisor).await;
    let pulls = PullJobs::new(
        Recorder {
            store: store.clone(),
            events: Some(bus.clone()),
            owner: DownloadOwner::Daemon,
        },
        crate::models::resolve::hub_cache_dir(),
    );
    resume_interrupted_pulls(&store, &pulls).await;
    let usage = Arc::new(Mutex::new(HashMap::new()));
    let shutdown = Arc::new(Notify::new());
    let state = ApiState {
        supervisor: supervisor.clone(),
        token: Arc::from(token.as_str()),
        usage: usage.clone(),
        shutdown: shutdown.clone(),
        pulls: pulls.clone(),
    };
    tokio::spawn(sample_usage(supervisor.clone(), usage));
    say!(
        "mlx-host daemon listening on http://{address} (pid {}); runtime file {}",
        info.pid,
        file.display()
    );
    let stop = async move {
        tokio::select! {
            _ = signals.recv() => {}
            _ = shutdown.notified() => {}
        }
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop)
        .await
        .context("the control API failed")?;
    pulls.shutdown().await;
    if args.keep_servers {
        say!("leaving the servers running for the next daemon");
    } else {
        say!("stopping servers");
        supervisor.stop_all().await;
    }
    say!("daemon stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resume the pulls a previous daemon was running when it stopped or crashed (their partial
/// files are picked up where they ended). They use this daemon's `HF_ENDPOINT` and token: the
/// asking CLI's token is never stored.
async fn resume_interrupted_pulls(store: &Arc<Store>, pulls: &PullJobs) {
    let lookup = store.clone();
    let found = tokio::task::spawn_blocking(move || {
        settle_orphans(&lookup)?;
        lookup.downloads().recent(KEEP_DOWNLOADS)
    })
    .await;
    let recent = match found {
        Ok(Ok(recent)) => recent,
        Ok(Err(error)) => {
            tracing::error!("cannot look for pulls a previous daemon left unfinished: {error}");
            return;
        }
        Err(error) => {
            tracing::error!("cannot look for pulls a previous daemon left unfinished: {error}");
            return;
        }
    };
    // The newest row per repo decides: a daemon's pull that was interrupted (by its daemon
    // stopping or dying) and not cancelled or pulled again since.
    let mut seen = std::collections::HashSet::new();
    let unfinished: Vec<_> = recent
        .into_iter()
        .filter(|download| seen.insert(download.repo.clone()))
        .filter(|download| {
            download.state == DownloadState::Interrupted && download.owner == DownloadOwner::Daemon
        })
        .collect();
    for download in unfinished {
        let request = PullRequest {
            repo: download.repo.clone(),
            revision: download.revision.clone(),
        };
        let source = Source {
            endpoint: crate::models::search::endpoint(),
            token: crate::models::search::token(),
        };
        match pulls.start(request, source).await {
            Ok(_) => say!("resuming the pull of {} left unfinished", download.repo),
            Err(error) => tracing::warn!(repo = %download.repo, %error, "cannot resume the pull"),
        }
    }
}

/// Runs a previous daemon recorded without an end: a process that is still the same one (pid,
/// kernel start time and command line all match) is taken over by the supervisor; anything
/// else is only marked lost — a reused pid is never signalled.
async fn take_over_servers_left_running(
    store: &Arc<Store>,
    bus: &EventBus,
    supervisor: &Supervisor,
) {
    let lookup = store.clone();
    let runs = match tokio::task::spawn_blocking(move || lookup.runs().unended()).await {
        Ok(Ok(runs)) => runs,
        Ok(Err(error)) => {
            tracing::error!("cannot look for servers a previous daemon left running: {error}");
            return;
        }
        Err(error) => {
            tracing::error!("cannot look for servers a previous daemon left running: {error}");
            return;
        }
    };
    for run in runs {
        let same_process = run.pid.is_some_and(|pid| {
            let started = crate::metrics::process_start_time(pid);
            let command = crate::metrics::process_cmdline(pid);
            let same = started.is_some()
                && started == run.process_start_time
                && command
                    .as_deref()
                    .is_some_and(|actual| same_command(&run.argv, actual));
            tracing::info!(
                run = run.id,
                pid,
                recorded_start = ?run.process_start_time,
                live_start = ?started,
                live_command = ?command,
                same,
                "checking a server left behind by a previous daemon"
            );
            same
        });
        if same_process {
            let name = run.profile.clone();
            if let Err(error) = supervisor.adopt(run).await {
                tracing::error!(profile = %name, "cannot take over a server left running: {error}");
            }
            continue;
        }
        bus.emit(
            "stopped",
            &run.profile,
            format!(
                "{}'s run {} (pid {:?}) ended while no daemon was watching",
                run.profile, run.id, run.pid
            ),
            None,
        );
        let end = RunEnd {
            exit_code: None,
            signal: None,
            diagnosis: None,
            state: "lost".to_string(),
        };
        let writer = store.clone();
        let _ = tokio::task::spawn_blocking(move || writer.runs().record_end(run.id, &end)).await;
    }
}

/// Whether a live process's command line is the one a run recorded. A script's interpreter may
/// come first (`python .../mlx_lm.server --model ...`) and a launcher may resolve the program to
/// a full path (`python3` → `/usr/bin/python3`), so the recorded program's file name must appear
/// before the recorded arguments, which must end the live command line.
pub fn same_command(recorded: &[String], actual: &[String]) -> bool {
    let Some((program, args)) = recorded.split_first() else {
        return false;
    };
    let file_name = |path: &str| path.rsplit('/').next().unwrap_or(path).to_string();
    let program = file_name(program);
    actual.len() > args.len()
        && actual.ends_with(args)
        && actual[..actual.len() - args.len()]
            .iter()
            .any(|arg| file_name(arg) == program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_match_through_an_interpreter_but_not_otherwise() {
        let recorded: Vec<String> = ["/v/bin/mlx_lm.server", "--port", "8080"]
            .map(String::from)
            .to_vec();
        let direct = recorded.clone();
        let scripted: Vec<String> = ["/v/bin/python", "/v/bin/mlx_lm.server", "--port", "8080"]
            .map(String::from)
            .to_vec();
        let other: Vec<String> = ["/v/bin/mlx_lm.server", "--port", "9090"]
            .map(String::from)
            .to_vec();
        let unrelated: Vec<String> = ["sleep", "--port", "8080"].map(String::from).to_vec();
        let resolved: Vec<String> = ["/usr/bin/python3", "x.py"].map(String::from).to_vec();
        let short: Vec<String> = ["python3", "x.py"].map(String::from).to_vec();
        assert!(same_command(&short, &resolved));
        assert!(same_command(&recorded, &direct));
        assert!(same_command(&recorded, &scripted));
        assert!(!same_command(&recorded, &other));
        assert!(!same_command(&recorded, &unrelated));
        assert!(!same_command(&[], &direct));
    }
}
