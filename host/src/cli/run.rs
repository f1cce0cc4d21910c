//! `mlx-host run [MODEL]`: the main job in one command, no daemon needed. Resolve the model (or
//! generate the tiny demo model), find the server, plan its command line through the
//! `launch-options` plugins, pre-check the port, start it, show progress until it really
//! answers, print the OpenAI base URL and a curl to paste, then supervise until Ctrl-C and stop
//! it gracefully. A failure prints the diagnosis from the `detect-error` plugins. Lifecycle
//! events go to the event log and the notifier plugins, as the daemon's do (`run_events`).

use std::io::{IsTerminal as _, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use mlx_host_plugin_api::types::ExitStatus;

use crate::models::demo::ensure_demo_model;
use crate::models::resolve::{ResolveError, ResolvedModel, resolve};
use crate::paths::Paths;
use crate::plugins::{Registry, RegistryOptions};
use crate::runtimes::install::{find_python, install, plan as install_plan};
use crate::runtimes::{
    executable_name, find_executable, package_name, python_next_to, search_dirs,
};
use crate::supervisor::diagnosis::Diagnosed;
use crate::supervisor::launch::{LaunchInput, plan};
use crate::supervisor::logtail::{DEFAULT_TAIL_LINES, LogTail};
use crate::supervisor::process::{ServerProcess, Tether};
use crate::supervisor::startup::{
    StartOutcome, Watch, describe_exit, diagnose_off_runtime, wait_until_ready,
};

use super::run_events::RunEvents;
use super::shutdown::ShutdownSignals;

/// How long a stopping server gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A local model folder or a Hugging Face repo id (pulled into the cache first when it is
    /// missing). Without it, a tiny demo model is generated locally (once) and served.
    model: Option<String>,
    /// Do not download a repo id missing from the cache; fail instead.
    #[arg(long)]
    no_pull: bool,
    /// Which server to run.
    #[arg(long, default_value = "mlx_lm", value_parser = ["mlx_lm", "mlx_vlm", "mlx-openai-server"])]
    server: String,
    /// Port to serve on (default: a free port).
    #[arg(long)]
    port: Option<u16>,
    /// A Python venv that has the server installed (its bin/ is searched first).
    #[arg(long, env = "MLX_HOST_VENV")]
    venv: Option<PathBuf>,
    /// Install the server into a managed venv without asking when it is missing.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Seconds to wait for the server to answer before giving up.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Extra arguments passed to the server as they are.
    #[arg(last = true)]
    extra: Vec<String>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (paths, settings) = super::load_environment()?;
    let registry = Arc::new(Registry::load(RegistryOptions::for_paths(&paths, settings)));
    let mut events = RunEvents::start(&paths, registry.clone());
    let outcome = super::async_runtime()?.block_on(run_async(args, paths, registry, &mut events));
    events.finish();
    outcome
}

async fn run_async(
    args: RunArgs,
    paths: Paths,
    registry: Arc<Registry>,
    events: &mut RunEvents,
) -> anyhow::Result<ExitCode> {
    let program = executable_name(&args.server)
        .ok_or_else(|| anyhow!("unknown server kind {}", args.server))?;
    let executable = match find_executable(program, args.venv.as_deref(), &paths) {
        Some(executable) => executable,
        None => offer_install(&args, program, &paths).await?,
    };
    let model = match &args.model {
        Some(argument) => match resolve(argument) {
            Err(ResolveError::NotCached { repo_id, .. }) if !args.no_pull => {
                let (_, settings) = super::load_environment()?;
                super::pull::pull_missing(
                    &paths,
                    settings,
                    &repo_id,
                    super::pull::PullFor::ThisCommand,
                )
                .await?;
                resolve(argument)?
            }
            resolved => resolved?,
        },
        None => {
            let python = python_next_to(&executable).ok_or_else(|| {
                anyhow!(
                    "no python next to {}, so the demo model cannot be generated; give a MODEL instead",
                    executable.display()
                )
            })?;
            progress("preparing the demo model (a tiny llama generated locally)");
            ResolvedModel::Local(ensure_demo_model(&python, &paths).await?)
        }
    };

    let host = "127.0.0.1";
    let port = pick_port(host, args.port)?;
    if args.server == "mlx-openai-server" {
        progress("reading the server's accepted flags (launch --help)");
    }
    let launch = plan(
        &registry,
        &paths,
        LaunchInput {
            server_kind: &args.server,
            executable: &executable,
            model: &model,
            host,
            port,
            extra_args: &args.extra,
            extra_env: &[],
        },
    )
    .await?;
    match &launch.family {
        Some(info) => progress(&format!(
            "model: {} ({}, family {}{})",
            model.server_argument(),
            info.kind,
            info.family,
            info.context_length
                .map(|n| format!(", context {n}"))
                .unwrap_or_default()
        )),
        None => progress(&format!("model: {}", model.server_argument())),
    }

    events.set_model(&model);
    let name = events.subject().to_string();
    let log_file = paths
        .logs_dir
        .join("run")
        .join(format!("{}-{port}.log", crate::plugins::registry::now_ms()));
    let tail = LogTail::new(DEFAULT_TAIL_LINES, Some(&log_file))
        .with_context(|| format!("cannot create the log file {}", log_file.display()))?;
    let mut shutdown = ShutdownSignals::listen()?;
    let started = Instant::now();
    events.emit(
        "starting",
        format!("starting {name} with {program} on {host}:{port}"),
        None,
    );
    // SIGKILL cannot be caught: the kernel stops the server if this process dies of it.
    let mut process = match ServerProcess::spawn(&launch.spec, &tail, Tether::DiesWithStarter) {
        Ok(process) => process,
        Err(error) => {
            let diagnosed = Diagnosed::spawn_failed(&error);
            events.emit("start-failed", diagnosed.summary.clone(), Some(&diagnosed));
            return Err(error.into());
        }
    };
    progress(&format!(
        "starting {program} (pid {}) on {host}:{port}; log: {}",
        process.pid(),
        log_file.display()
    ));
    tracing::info!(argv = ?launch.spec.argv, planners = ?launch.planners, "started");

    let watch = Watch {
        registry: &registry,
        server_kind: &args.server,
        host,
        port,
        timeout: Duration::from_secs(args.timeout),
    };
    match wait_until_ready(&mut process, &tail, watch, shutdown.recv()).await {
        StartOutcome::Ready => {}
        StartOutcome::Cancelled => {
            let status = process.stop(STOP_GRACE).await;
            progress(&format!(
                "stopped before it was ready ({})",
                describe_exit(status)
            ));
            events.emit(
                "stopped",
                format!("{name} stopped before it was ready"),
                None,
            );
            return Ok(ExitCode::from(130));
        }
        StartOutcome::Failed(diagnosed) => {
            process.stop(STOP_GRACE).await;
            events.emit(
                "start-failed",
                format!(
                    "{name} failed to start: {}: {}",
                    diagnosed.category, diagnosed.summary
                ),
                Some(&diagnosed),
            );
            print_failure("the server failed to start", &diagnosed, &log_file);
            return Ok(ExitCode::FAILURE);
        }
    }
    let base = format!("http://{host}:{port}/v1");
    let ready_after = started.elapsed().as_secs_f64();
    events.emit(
        "ready",
        format!("{name} is ready on {base} ({ready_after:.1} s)"),
        None,
    );
    say!(
        "ready in {ready_after:.1} s: {program} (pid {}) serving {}",
        process.pid(),
        model.server_argument()
    );
    say!("  OpenAI base URL: {base}");
    say!(
        "  try: curl -s {base}/chat/completions -H 'Content-Type: application/json' -d '{{\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}],\"max_tokens\":32}}'"
    );
    say!("press Ctrl-C to stop");

    tokio::select! {
        status = process.wait() => {
            let diagnosed = diagnose_off_runtime(&registry, &args.server, tail.lines(), status).await;
            if matches!(status, ExitStatus::Exited { code: 0 }) && !diagnosed.is_failure() {
                events.emit("stopped", format!("{name} exited on its own ({})", describe_exit(status)), None);
            } else {
                events.emit(
                    "crashed",
                    format!("{name} crashed ({}): {}: {}", describe_exit(status), diagnosed.category, diagnosed.summary),
                    Some(&diagnosed),
                );
            }
            print_failure(&format!("the server exited ({})", describe_exit(status)), &diagnosed, &log_file);
            Ok(ExitCode::FAILURE)
        }
        _ = shutdown.recv() => {
            progress("stopping");
            let status = process.stop(STOP_GRACE).await;
            events.emit("stopped", format!("{name} stopped ({})", describe_exit(status)), None);
            say!("stopped ({})", describe_exit(status));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The server is not installed: install it (with --yes, or after asking on a terminal), or say
/// exactly how to.
async fn offer_install(args: &RunArgs, program: &str, paths: &Paths) -> anyhow::Result<PathBuf> {
    let package = package_name(&args.server).unwrap_or("mlx-lm");
    let looked: Vec<String> = search_dirs(args.venv.as_deref(), paths)
        .iter()
        .take(4)
        .map(|dir| dir.display().to_string())
        .collect();
    let install_command = format!("mlx-host runtime install {package}");
    let confirmed = if args.yes {
        true
    } else if std::io::stdin().is_terminal() {
        print!(
            "{program} is not installed (looked in {} ...). Install {package} into a managed venv now? [Y/n] ",
            looked.join(", ")
        );
        std::io::stdout().flush().ok();
        let answer = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await
        .context("cannot read the answer")??;
        matches!(answer.trim(), "" | "y" | "Y" | "yes")
    } else {
        false
    };
    if !confirmed {
        bail!(
            "{program} was not found (looked in {} ...). Install it with `{install_command}` (or run again with --yes), or point --venv at a venv that has it",
            looked.join(", ")
        );
    }
    let plan = install_plan(package, None, paths)?;
    let python = find_python().await?;
    progress(&format!(
        "installing {} into {}",
        plan.requirements.join(" "),
        plan.venv.display()
    ));
    Ok(install(&plan, &python).await?)
}

/// The requested port if it is free, else a free one chosen by the OS.
fn pick_port(host: &str, requested: Option<u16>) -> anyhow::Result<u16> {
    match requested {
        Some(port) => match TcpListener::bind((host, port)) {
            Ok(_) => Ok(port),
            Err(error) => bail!(
                "port {port} on {host} is not free ({error}); pick another with --port, or leave it out to get a free one"
            ),
        },
        None => {
            let listener = TcpListener::bind((host, 0)).context("cannot find a free port")?;
            Ok(listener.local_addr()?.port())
        }
    }
}

fn progress(message: &str) {
    say!("· {message}");
}

fn print_failure(what: &str, diagnosed: &Diagnosed, log_file: &std::path::Path) {
    say!("failed: {what}");
    say!("  {}: {}", diagnosed.category, diagnosed.summary);
    if !diagnosed.hint.is_empty() {
        say!("  hint: {}", diagnosed.hint);
    }
    say!("  log: {}", log_file.display());
}
