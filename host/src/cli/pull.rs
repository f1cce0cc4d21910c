//! `models pull REPO [--revision REV] [--cancel]` and `models downloads`, and the pull that
//! `run REPO` and `profile add --model REPO` do for a model missing from the cache.
//!
//! With the daemon running, the pull runs in the daemon (it survives this process; Ctrl-C only
//! stops watching) and this process shows its progress by polling the API. Without it, the pull
//! runs here, is recorded in the database the same way, sends its download events to the
//! notifier plugins, and Ctrl-C interrupts it, keeping the partial files for the next pull.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::api::client::{Client, ClientError};
use crate::api::downloads::{CancelPull, PullCancelled, PullStarted, StartPull};
use crate::events::LocalEvents;
use crate::metrics::process_start_time;
use crate::models::cache::human_size;
use crate::models::pull::display::{ProgressView, Style};
use crate::models::pull::session::{
    Recorder, cancel_idle, owner_alive, record_start, recorded_pull, settle_orphans,
};
use crate::models::pull::{
    Hub, PullOutcome, PullProgress, PullRequest, RepoLayout, StopReason, StopSignal,
};
use crate::models::resolve::hub_cache_dir;
use crate::models::search::{endpoint, token};
use crate::paths::Paths;
use crate::plugins::{Registry, RegistryOptions};
use crate::settings::Settings;
use crate::store::{Download, DownloadOwner, DownloadState, Store, db_path};

/// How often a pull's progress is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(200);
/// How often the daemon is asked for progress.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long `--cancel` waits for a CLI pull in another process to stop.
const CANCEL_WAIT: Duration = Duration::from_secs(15);

/// `models pull`.
pub fn pull_command(
    repo: &str,
    revision: &str,
    cancel: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (paths, settings) = super::load_environment()?;
    if cancel {
        return cancel_command(&paths, repo);
    }
    let request = PullRequest {
        repo: repo.to_string(),
        revision: revision.to_string(),
    };
    let style = if json {
        Style::Quiet
    } else {
        Style::for_stderr()
    };
    let outcome = super::async_runtime()?.block_on(pull_anywhere(
        &paths,
        settings,
        &request,
        style,
        PullFor::Daemon,
    ));
    match outcome {
        Ok(outcome) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                print_outcome(&outcome);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(PullFailure::Interrupted(message)) => {
            eprintln!("{message}");
            Ok(ExitCode::from(130))
        }
        Err(failure) => Err(failure.into()),
    }
}

/// Pull `repo` (at `main`) for `run` or `profile add`.
pub async fn pull_missing(
    paths: &Paths,
    settings: Settings,
    repo: &str,
    pull_for: PullFor,
) -> anyhow::Result<PullOutcome> {
    let request = PullRequest {
        repo: repo.to_string(),
        revision: "main".to_string(),
    };
    eprintln!("{repo} is not in the cache; pulling it from {}", endpoint());
    pull_anywhere(paths, settings, &request, Style::for_stderr(), pull_for)
        .await
        .map_err(anyhow::Error::from)
}

/// Whose servers will read the pulled model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFor {
    /// A server this command starts (`run`): the model must land in this shell's cache.
    ThisCommand,
    /// The daemon's servers (`models pull`, `profile add`): the daemon's cache.
    Daemon,
}

/// Pull in the daemon when it runs, else in this process. For [`PullFor::ThisCommand`], also in
/// this process when the daemon uses another Hugging Face cache than this shell (its pull would
/// land where this command's server does not look).
async fn pull_anywhere(
    paths: &Paths,
    settings: Settings,
    request: &PullRequest,
    style: Style,
    pull_for: PullFor,
) -> Result<PullOutcome, PullFailure> {
    let mut daemon = Client::connect(paths).ok();
    if pull_for == PullFor::ThisCommand {
        let here = hub_cache_dir();
        let daemon_cache = daemon
            .as_ref()
            .and_then(|client| client.info().hf_hub_cache.clone());
        if let Some(daemon_cache) = daemon_cache.filter(|cache| *cache != here) {
            if style != Style::Quiet {
                eprintln!(
                    "note: the daemon uses another Hugging Face cache ({}); pulling here into {}, where this command's server looks",
                    daemon_cache.display(),
                    here.display()
                );
            }
            daemon = None;
        }
    }
    if let Some(client) = daemon {
        let watched = {
            let request = request.clone();
            tokio::task::spawn_blocking(move || pull_via_daemon(&client, &request, style)).await
        };
        match watched {
            Ok(Err(PullFailure::Daemon(ClientError::NotRunning))) => {}
            Ok(result) => return result,
            Err(join_error) => {
                return Err(PullFailure::Failed(format!(
                    "watching the pull failed: {join_error}"
                )));
            }
        }
    }
    pull_here(paths, settings, request, style).await
}

#[derive(Debug, thiserror::Error)]
enum PullFailure {
    #[error("{0}")]
    Daemon(#[from] ClientError),
    #[error("{0}")]
    Interrupted(String),
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Setup(#[from] anyhow::Error),
}

/// Run the pull in this process.
async fn pull_here(
    paths: &Paths,
    settings: Settings,
    request: &PullRequest,
    style: Style,
) -> Result<PullOutcome, PullFailure> {
    let hub = Hub::from_env().map_err(|error| PullFailure::Failed(error.to_string()))?;
    // Opening the database and loading the plugins block (a first run compiles the WASM
    // plugins): off the async runtime.
    let setup = {
        let paths = paths.clone();
        tokio::task::spawn_blocking(move || recording_setup(&paths, settings)).await
    };
    let (recorder, events) = match setup {
        Ok(setup) => setup?,
        Err(join_error) => return Err(PullFailure::Failed(join_error.to_string())),
    };
    let progress = Arc::new(PullProgress::new());
    let stop = Arc::new(StopSignal::new());
    let interrupt = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.stop(StopReason::Interrupt);
            }
        })
    };
    let cache = hub_cache_dir();
    let row = record_start(&recorder, request).await;
    let mut view = ProgressView::new(&request.repo, style);
    let work = recorded_pull(
        &recorder,
        row,
        &hub,
        &cache,
        request,
        progress.clone(),
        &stop,
    );
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            () = tokio::time::sleep(REDRAW_EVERY) => view.update(&progress.snapshot()),
        }
    };
    view.finish(&progress.snapshot());
    interrupt.abort();
    let _ = tokio::task::spawn_blocking(move || events.finish()).await;
    result.map_err(|error| match error.stop_reason() {
        Some(StopReason::Interrupt) => PullFailure::Interrupted(error.to_string()),
        _ => PullFailure::Failed(error.to_string()),
    })
}

/// The database, event bus and notifier queue of a pull run in this process (download events go
/// to the notifier plugins, as the daemon's do), and the recorder that writes its row.
fn recording_setup(paths: &Paths, settings: Settings) -> anyhow::Result<(Recorder, LocalEvents)> {
    let registry = Arc::new(Registry::load(RegistryOptions::for_paths(paths, settings)));
    let events = LocalEvents::start(&paths.data_dir, registry)?;
    let recorder = Recorder {
        store: events.store.clone(),
        events: Some(events.bus.clone()),
        owner: DownloadOwner::Cli,
    };
    Ok((recorder, events))
}

/// Ask the daemon to pull and show its progress until it ends. Blocking.
fn pull_via_daemon(
    client: &Client,
    request: &PullRequest,
    style: Style,
) -> Result<PullOutcome, PullFailure> {
    let body = StartPull {
        repo: request.repo.clone(),
        revision: Some(request.revision.clone()),
        endpoint: endpoint(),
        token: token(),
    };
    let started: PullStarted = client.post_json("/v1/downloads", &body)?;
    let Some(id) = started.id else {
        return Err(PullFailure::Failed(
            "the daemon started the pull but could not record it; watch it with `mlx-host models downloads`"
                .into(),
        ));
    };
    if started.cache != hub_cache_dir() {
        eprintln!(
            "note: the daemon pulls into its own cache {}, not {} (HF_HUB_CACHE/HF_HOME differ between this shell and the daemon)",
            started.cache.display(),
            hub_cache_dir().display()
        );
    }
    if style != Style::Quiet {
        let how = if started.already_running {
            "already pulling"
        } else {
            "pulling"
        };
        eprintln!(
            "the daemon is {how} {} (Ctrl-C stops watching, not the pull; `mlx-host models pull --cancel {}` stops it)",
            request.repo, request.repo
        );
    }
    let mut view = ProgressView::new(&request.repo, style);
    let row = loop {
        let row: Download = client.get(&format!("/v1/downloads/{id}"))?;
        view.update(&progress_of(&row));
        if row.state != DownloadState::Running {
            break row;
        }
        std::thread::sleep(POLL_EVERY);
    };
    view.finish(&progress_of(&row));
    match row.state {
        DownloadState::Done => {
            let commit = row.commit.clone().unwrap_or_default();
            let snapshot = RepoLayout::new(&started.cache, &row.repo)
                .snapshot(&commit)
                .map_err(|error| PullFailure::Failed(error.to_string()))?;
            Ok(PullOutcome {
                repo: row.repo,
                commit,
                snapshot,
                files: row.files_total.unwrap_or(0) as usize,
                files_present: 0,
                bytes_total: row.bytes_total.unwrap_or(0),
                bytes_resumed: 0,
            })
        }
        DownloadState::Failed => {
            Err(PullFailure::Failed(row.error.unwrap_or_else(|| {
                "the pull failed; see the daemon's log".to_string()
            })))
        }
        DownloadState::Cancelled => Err(PullFailure::Failed(format!(
            "the pull of {} was cancelled",
            row.repo
        ))),
        DownloadState::Interrupted | DownloadState::Running => {
            Err(PullFailure::Interrupted(format!(
                "the daemon stopped before the pull of {} finished; its partial files are kept, run the pull again to resume",
                row.repo
            )))
        }
    }
}

fn progress_of(row: &Download) -> crate::store::downloads::DownloadProgress {
    crate::store::downloads::DownloadProgress {
        files_total: row.files_total,
        files_done: row.files_done,
        bytes_total: row.bytes_total,
        bytes_done: row.bytes_done,
    }
}

fn print_outcome(outcome: &PullOutcome) {
    let mut notes = Vec::new();
    if outcome.files_present > 0 {
        notes.push(format!("{} already in the cache", outcome.files_present));
    }
    if outcome.bytes_resumed > 0 {
        notes.push(format!("{} resumed", human_size(outcome.bytes_resumed)));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("; {}", notes.join(", "))
    };
    println!(
        "pulled {} at {} ({} files, {}{notes})\n  {}",
        outcome.repo,
        &outcome.commit[..outcome.commit.len().min(12)],
        outcome.files,
        human_size(outcome.bytes_total),
        outcome.snapshot.display()
    );
}

/// `models pull --cancel REPO`.
fn cancel_command(paths: &Paths, repo: &str) -> anyhow::Result<ExitCode> {
    if !crate::models::resolve::is_repo_id(repo) {
        bail!("`{repo}` is not a Hugging Face repo id (org/name)");
    }
    if let Ok(client) = Client::connect(paths) {
        match client.post_json::<PullCancelled>(
            "/v1/downloads/cancel",
            &CancelPull {
                repo: repo.to_string(),
            },
        ) {
            Ok(answer) => {
                report_cancel(repo, answer.was_running, answer.partial_files_removed);
                return Ok(ExitCode::SUCCESS);
            }
            Err(ClientError::NotRunning) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let store = Store::open(&db_path(&paths.data_dir)).context("cannot open the state database")?;
    let running = store
        .downloads()
        .running()?
        .into_iter()
        .find(|row| row.repo == repo && owner_alive(row));
    let was_running = running.is_some();
    if let Some(row) = running {
        stop_cli_pull(&row)?;
    }
    let removed = cancel_idle(&store, &hub_cache_dir(), repo)?;
    report_cancel(repo, was_running, removed);
    Ok(ExitCode::SUCCESS)
}

/// Interrupt a pull another CLI process runs (SIGINT, as Ctrl-C would), and wait until it has
/// stopped. The pid is signalled only while it is still the process that started the pull.
fn stop_cli_pull(row: &Download) -> anyhow::Result<()> {
    let same_process = |row: &Download| {
        process_start_time(row.owner_pid).is_some_and(|start| row.owner_start == Some(start))
    };
    if !same_process(row) {
        return Ok(());
    }
    kill(Pid::from_raw(row.owner_pid as i32), Signal::SIGINT).map_err(|errno| {
        anyhow!(
            "cannot stop the pull running in process {}: {errno}; stop that process (Ctrl-C in its terminal), then cancel again",
            row.owner_pid
        )
    })?;
    let deadline = std::time::Instant::now() + CANCEL_WAIT;
    while same_process(row) {
        if std::time::Instant::now() > deadline {
            bail!(
                "the pull in process {} did not stop within {} s; stop it, then cancel again",
                row.owner_pid,
                CANCEL_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn report_cancel(repo: &str, was_running: bool, removed: usize) {
    match (was_running, removed) {
        (true, removed) => {
            println!("cancelled the pull of {repo}; removed {removed} partial file(s)")
        }
        (false, 0) => println!("no pull of {repo} was running and no partial files were left"),
        (false, removed) => println!("removed {removed} partial file(s) of {repo}"),
    }
}

/// `models downloads`.
pub fn downloads_command(json: bool) -> anyhow::Result<ExitCode> {
    let (paths, _) = super::load_environment()?;
    let rows: Vec<Download> = match Client::connect(&paths)
        .and_then(|client| client.get::<Vec<Download>>("/v1/downloads?limit=50"))
    {
        Ok(rows) => rows,
        Err(ClientError::NotRunning) => local_downloads(&paths)?,
        Err(error) => return Err(error.into()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no downloads yet; `mlx-host models pull REPO` starts one");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<5} {:<44} {:<12} {:<11} {:>6} {:>21}  NOTE",
        "ID", "REPO", "REVISION", "STATE", "DONE", "BYTES"
    );
    for row in rows {
        let percent = row
            .bytes_total
            .and_then(|total| (row.bytes_done * 100).checked_div(total))
            .map(|percent| format!("{percent}%"))
            .unwrap_or_else(|| "-".into());
        let bytes = format!(
            "{}/{}",
            human_size(row.bytes_done),
            row.bytes_total
                .map(human_size)
                .unwrap_or_else(|| "?".into())
        );
        let note = match row.state {
            DownloadState::Failed => row.error.clone().unwrap_or_default(),
            DownloadState::Interrupted => "run the pull again to resume".to_string(),
            DownloadState::Running => match row.owner {
                DownloadOwner::Daemon => "in the daemon".to_string(),
                DownloadOwner::Cli => format!("in process {}", row.owner_pid),
            },
            _ => String::new(),
        };
        println!(
            "{:<5} {:<44} {:<12} {:<11} {:>6} {:>21}  {note}",
            row.id,
            row.repo,
            row.revision,
            row.state.as_str(),
            percent,
            bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn local_downloads(paths: &Paths) -> anyhow::Result<Vec<Download>> {
    let file = db_path(&paths.data_dir);
    if !file.exists() {
        return Ok(Vec::new());
    }
    let store = Store::open(&file).context("cannot open the state database")?;
    settle_orphans(&store)?;
    Ok(store.downloads().recent(50)?)
}
