//! `mlx-host start|stop|restart|ps|logs|events`: commands that ask the running daemon.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::Value;

use crate::api::client::{Client, ClientError};
use crate::api::server::PsEntry;
use crate::paths::Paths;
use crate::run_logs;
use crate::store::{EventRecord, Store, db_path};

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The profile to start.
    name: String,
    /// Return as soon as the server was launched instead of waiting until it is ready.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The profile.
    name: String,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The profile.
    name: String,
    /// Keep printing new lines.
    #[arg(short, long)]
    follow: bool,
    /// How many of the last lines to show.
    #[arg(short = 'n', long, default_value_t = 50)]
    lines: usize,
    /// A specific run (default: the latest).
    #[arg(long)]
    run: Option<i64>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Keep printing new events.
    #[arg(short, long)]
    follow: bool,
    /// Print JSON (one object per line).
    #[arg(long)]
    json: bool,
    /// How many of the latest events to show first.
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: usize,
}

fn client() -> anyhow::Result<Client> {
    let (paths, _) = super::load_environment()?;
    Ok(Client::connect(&paths)?)
}

pub fn start(args: StartArgs) -> anyhow::Result<ExitCode> {
    let client = client()?;
    if !args.no_wait {
        println!(
            "starting {} (waiting until it answers; --no-wait to return at once)",
            args.name
        );
    }
    let wait = if args.no_wait { "false" } else { "true" };
    let status: Value = client.post(&format!("/v1/profiles/{}/start?wait={wait}", args.name))?;
    report_status(&status, !args.no_wait)
}

pub fn restart(args: NameArgs) -> anyhow::Result<ExitCode> {
    let client = client()?;
    println!("restarting {}", args.name);
    let status: Value = client.post(&format!("/v1/profiles/{}/restart?wait=true", args.name))?;
    report_status(&status, true)
}

fn report_status(status: &Value, waited: bool) -> anyhow::Result<ExitCode> {
    let name = status["name"].as_str().unwrap_or("?");
    let state = status["state"].as_str().unwrap_or("?");
    match state {
        "ready" => {
            println!(
                "{name} is ready on http://127.0.0.1:{}/v1 (pid {})",
                status["port"], status["pid"]
            );
            Ok(ExitCode::SUCCESS)
        }
        "starting" if !waited => {
            println!(
                "{name} is starting (pid {}, port {})",
                status["pid"], status["port"]
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            println!("{name} did not become ready: {state}");
            if let Some(diagnosis) = status.get("last_diagnosis").filter(|d| !d.is_null()) {
                println!(
                    "  {}: {}",
                    diagnosis["category"].as_str().unwrap_or("?"),
                    diagnosis["summary"].as_str().unwrap_or("")
                );
                if let Some(hint) = diagnosis["hint"].as_str().filter(|hint| !hint.is_empty()) {
                    println!("  hint: {hint}");
                }
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn stop(args: NameArgs) -> anyhow::Result<ExitCode> {
    let client = client()?;
    let status: Value = client.post(&format!("/v1/profiles/{}/stop", args.name))?;
    println!(
        "{} stopped ({})",
        args.name,
        status["state"].as_str().unwrap_or("?")
    );
    Ok(ExitCode::SUCCESS)
}

pub fn ps(args: PsArgs) -> anyhow::Result<ExitCode> {
    let entries: Vec<PsEntry> = client()?.get("/v1/ps")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:<11} {:>7} {:>6} {:>8} {:>8} {:>6} {:<7} {:>3}  LAST DIAGNOSIS",
        "NAME", "STATE", "PID", "PORT", "UPTIME", "RSS", "CPU%", "HEALTH", "RST"
    );
    for entry in entries {
        let dash = || "-".to_string();
        println!(
            "{:<16} {:<11} {:>7} {:>6} {:>8} {:>8} {:>6} {:<7} {:>3}  {}",
            entry.name,
            entry.state,
            entry.pid.map(|pid| pid.to_string()).unwrap_or_else(dash),
            entry.port.map(|port| port.to_string()).unwrap_or_else(dash),
            entry.uptime_secs.map(format_duration).unwrap_or_else(dash),
            entry.rss_bytes.map(format_bytes).unwrap_or_else(dash),
            entry
                .cpu_percent
                .map(|cpu| format!("{cpu:.1}"))
                .unwrap_or_else(dash),
            match entry.healthy {
                Some(true) => "ok",
                Some(false) => "failing",
                None => "-",
            },
            entry.restarts,
            entry
                .last_diagnosis
                .as_ref()
                .map(|d| format!(
                    "{}: {}",
                    d["category"].as_str().unwrap_or("?"),
                    d["summary"].as_str().unwrap_or("")
                ))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn format_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, (secs % 3600) / 60),
    }
}

fn format_bytes(bytes: u64) -> String {
    format!("{:.0}M", bytes as f64 / (1024.0 * 1024.0))
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let (paths, _) = super::load_environment()?;
    let query = |lines: usize| match args.run {
        Some(run) => format!("/v1/profiles/{}/logs?lines={lines}&run={run}", args.name),
        None => format!("/v1/profiles/{}/logs?lines={lines}", args.name),
    };
    let from_daemon = Client::connect(&paths).and_then(|client| {
        let lines: Vec<String> = client.get(&query(args.lines))?;
        Ok((client, lines))
    });
    let (client, lines) = match from_daemon {
        Ok(answer) => answer,
        // The log files and the runs table outlive the daemon: read them directly.
        Err(ClientError::NotRunning) => return logs_from_store(&paths, &args),
        Err(error) => return Err(error.into()),
    };
    for line in &lines {
        println!("{line}");
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    follow_new_lines(lines.last().cloned(), || Ok(client.get(&query(2000))?))
}

/// `logs` without a daemon: the run's log file, found through the database.
fn logs_from_store(paths: &Paths, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&db_path(&paths.data_dir)).context("cannot open the state database")?;
    let lines = run_logs::last_lines(&store, &args.name, args.run, args.lines)?;
    for line in &lines {
        println!("{line}");
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    follow_new_lines(lines.last().cloned(), || {
        Ok(run_logs::last_lines(&store, &args.name, args.run, 2000)?)
    })
}

/// Follow by re-reading a generous tail every half second and printing what is new after the
/// last line seen.
fn follow_new_lines(
    mut last: Option<String>,
    mut recent_tail: impl FnMut() -> anyhow::Result<Vec<String>>,
) -> anyhow::Result<ExitCode> {
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let recent = recent_tail()?;
        let start = match &last {
            Some(line) => recent
                .iter()
                .rposition(|candidate| candidate == line)
                .map(|i| i + 1)
                .unwrap_or(0),
            None => 0,
        };
        for line in &recent[start..] {
            println!("{line}");
        }
        if let Some(line) = recent.last() {
            last = Some(line.clone());
        }
    }
}

pub fn events(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let (paths, _) = super::load_environment()?;
    let from_daemon = Client::connect(&paths).and_then(|client| {
        let latest: Vec<Value> = client.get(&format!("/v1/events?limit={}", args.limit))?;
        Ok((client, latest))
    });
    let (client, latest) = match from_daemon {
        Ok(answer) => answer,
        // Events of `mlx-host run` and of CLI pulls are stored without a daemon: read them
        // from the database directly.
        Err(ClientError::NotRunning) => return events_from_store(&paths, &args),
        Err(error) => return Err(error.into()),
    };
    for event in &latest {
        print_event(event, args.json);
    }
    if args.follow {
        client.follow_events(|event| {
            print_event(&event, args.json);
            true
        })?;
        bail!("the daemon closed the event stream");
    }
    Ok(ExitCode::SUCCESS)
}

/// How often `events --follow` looks for new events in the database when no daemon runs.
const STORE_FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// `events` without a daemon: the stored events, and with `--follow` new ones as other
/// processes (`run`, a pull, a daemon started later) write them.
fn events_from_store(paths: &Paths, args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&db_path(&paths.data_dir)).context("cannot open the state database")?;
    let shown = print_records(store.events().latest(args.limit)?, args.json)?;
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    // Follow from the newest stored event (the newest shown, or the newest at all with -n 0).
    let mut last_id = match shown {
        Some(id) => id,
        None => store
            .events()
            .latest(1)?
            .first()
            .map_or(0, |record| record.id),
    };
    loop {
        std::thread::sleep(STORE_FOLLOW_INTERVAL);
        if let Some(id) = print_records(store.events().after(last_id, 1000)?, args.json)? {
            last_id = id;
        }
    }
}

/// Print stored events; the id of the last one.
fn print_records(records: Vec<EventRecord>, json: bool) -> anyhow::Result<Option<i64>> {
    let mut last = None;
    for record in records {
        print_event(&serde_json::to_value(&record)?, json);
        last = Some(record.id);
    }
    Ok(last)
}

fn print_event(event: &Value, json: bool) {
    if json {
        println!("{event}");
        return;
    }
    let millis = event["timestamp_ms"].as_i64().unwrap_or(0);
    let seconds = millis / 1000;
    let (h, m, s) = ((seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60);
    println!(
        "{h:02}:{m:02}:{s:02} UTC  {:<16} {:<14} {}",
        event["subject"].as_str().unwrap_or(""),
        event["kind"].as_str().unwrap_or(""),
        event["message"].as_str().unwrap_or("")
    );
}
