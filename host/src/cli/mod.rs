//! The command line: clap definitions, logging setup, and dispatch to the command handlers.
//! Errors reach the user as one `error:` line (with its causes) and exit code 1.

/// `println!` for the long-running commands (`run`, `serve`): once their terminal is closed or
/// nobody reads their pipe, a write fails, and `println!` would panic and end the command before
/// it has stopped its servers.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod daemon;
mod diagnose;
mod models;
mod plugins;
mod profile;
mod pull;
mod run;
mod run_events;
mod runtime;
mod servers;
mod shutdown;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::paths::Paths;
use crate::settings::Settings;

/// Supervise local MLX inference servers, with plugins for everything that changes.
#[derive(Debug, Parser)]
#[command(name = "mlx-host", version, about, long_about = None)]
pub struct Cli {
    /// Show more log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a model with an MLX server until Ctrl-C (without MODEL: a tiny demo model).
    Run(run::RunArgs),
    /// Explain a server log: what went wrong and what to do.
    Diagnose(diagnose::DiagnoseArgs),
    /// Run the daemon: supervise profiles' servers and serve the control API.
    Serve(daemon::ServeArgs),
    /// Saved server profiles: add, list, show, edit, rm.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Start a profile's server (waits until it is ready).
    Start(servers::StartArgs),
    /// Stop a profile's server.
    Stop(servers::NameArgs),
    /// Stop, then start a profile's server.
    Restart(servers::NameArgs),
    /// Show every profile's server: state, pid, port, uptime, memory, CPU, health, restarts.
    Ps(servers::PsArgs),
    /// Show a profile's server log.
    Logs(servers::LogsArgs),
    /// Show lifecycle events of servers and pulls (the daemon's, `run`'s and the CLI's)
    Events(servers::EventsArgs),
    /// Models: list the local cache, search the hub, pull, inspect, remove.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// List installed MLX servers, or install one into a managed venv.
    #[command(subcommand)]
    Runtime(runtime::RuntimeCommand),
    /// List, inspect, check, create, enable and disable plugins.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
}

/// Run the command line and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if prints_and_exits(&cli.command) {
        restore_default_sigpipe();
    }
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Serve(args) => daemon::run(args),
        Command::Profile(command) => profile::run(command),
        Command::Start(args) => servers::start(args),
        Command::Stop(args) => servers::stop(args),
        Command::Restart(args) => servers::restart(args),
        Command::Ps(args) => servers::ps(args),
        Command::Logs(args) => servers::logs(args),
        Command::Events(args) => servers::events(args),
        Command::Models(command) => models::run(command),
        Command::Runtime(command) => runtime::run(command),
        Command::Plugins(command) => plugins::run(command),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // hf-hub logs an ERROR line of its own before it gives up on an unreachable hub; the
        // command's error message already says what happened and what to do.
        0 => "warn,hf_hub=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Commands that only print a report: `mlx-host ... | head` should end them quietly, as with
/// any Unix tool, instead of a panic about a broken pipe. The daemon, `run` and the lifecycle
/// commands keep Rust's default (SIGPIPE ignored), since they write to sockets and children.
fn prints_and_exits(command: &Command) -> bool {
    matches!(
        command,
        Command::Ps(_)
            | Command::Logs(_)
            | Command::Events(_)
            | Command::Diagnose(_)
            | Command::Models(_)
            | Command::Plugins(_)
            | Command::Profile(_)
    )
}

fn restore_default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: setting the default disposition of SIGPIPE installs no handler code; it is done
    // before any thread is started.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// A small async runtime for commands that run processes.
pub(crate) fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The user's folders and settings, with errors that say what to do.
pub(crate) fn load_environment() -> anyhow::Result<(Paths, Settings)> {
    let paths = Paths::from_env()?;
    let settings = Settings::load(&paths.settings_file()).context("cannot load settings")?;
    Ok((paths, settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap checks the whole command tree (unique names, valid defaults) only when asked;
    /// a conflict otherwise panics at run time (regression: `runtime install --version`).
    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
