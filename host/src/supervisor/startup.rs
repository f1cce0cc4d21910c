//! Waiting for a started server to be really ready: probe with a one-token completion while
//! watching for its exit, for a fatal error in its log while it stays alive (mlx_lm.server keeps
//! running after a failed load; a taken port makes it hang), for cancellation and for the
//! timeout. Every failure comes back with a diagnosis.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlx_host_plugin_api::types::{ExitStatus, Severity};

use super::diagnosis::{Diagnosed, diagnose, from_exit_status};
use super::logtail::LogTail;
use super::process::ServerProcess;
use super::readiness::{Probe, probe_completion};
use crate::plugins::Registry;

/// How often the log is re-read for a fatal error while waiting.
const LOG_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Pause after a probe that something answered without a completion (a 503 while loading):
/// each probe is a request the server logs, so not more often than this.
const PROBE_PAUSE: Duration = Duration::from_millis(100);
/// How often the port is tried while nothing listens on it. A refused connect costs a few
/// microseconds and reaches no server log, so the first probe goes out within this of the
/// server's bind.
const LISTEN_POLL: Duration = Duration::from_millis(5);

/// How a start ended.
#[derive(Debug)]
pub enum StartOutcome {
    Ready,
    Cancelled,
    Failed(Diagnosed),
}

/// What to watch.
pub struct Watch<'a> {
    pub registry: &'a Arc<Registry>,
    pub server_kind: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub timeout: Duration,
}

/// Probe until the server answers, fails, is cancelled or times out.
pub async fn wait_until_ready(
    process: &mut ServerProcess,
    tail: &LogTail,
    watch: Watch<'_>,
    cancel: impl Future<Output = ()>,
) -> StartOutcome {
    let deadline = Instant::now() + watch.timeout;
    let mut checked_lines = 0;
    let mut last_probe = String::from("nothing listening yet");
    tokio::pin!(cancel);
    loop {
        let probe = async {
            wait_for_listener(watch.host, watch.port).await;
            probe_completion(watch.host, watch.port).await
        };
        tokio::pin!(probe);
        let mut log_check = tokio::time::interval(LOG_CHECK_INTERVAL);
        loop {
            tokio::select! {
                result = &mut probe => {
                    match result {
                        Probe::Ready => return StartOutcome::Ready,
                        // Gone again between the connect and the probe: watch the port again.
                        Probe::NotListening => {}
                        Probe::NotReady(detail) => {
                            last_probe = detail;
                            tokio::time::sleep(PROBE_PAUSE).await;
                        }
                    }
                    break;
                }
                status = process.wait() => {
                    let diagnosed = diagnose_off_runtime(watch.registry, watch.server_kind, tail.lines(), status).await;
                    return StartOutcome::Failed(ended_before_ready(diagnosed, status));
                }
                _ = &mut cancel => return StartOutcome::Cancelled,
                _ = log_check.tick() => {
                    let received = tail.received();
                    if received != checked_lines {
                        checked_lines = received;
                        let diagnosed = diagnose_off_runtime(watch.registry, watch.server_kind, tail.lines(), ExitStatus::Running).await;
                        if diagnosed.is_failure() && diagnosed.category != "request_error" {
                            return StartOutcome::Failed(diagnosed);
                        }
                    }
                    if Instant::now() > deadline {
                        return StartOutcome::Failed(Diagnosed::by_host(
                            "none",
                            Severity::Error,
                            format!("no answer within {} s (last probe: {last_probe})", watch.timeout.as_secs()),
                            "A large model may need longer: raise the ready timeout.".into(),
                        ));
                    }
                }
            }
        }
    }
}

/// Return once something accepts connections on `host:port` (at once if the host name does not
/// resolve: the probe then reports it).
async fn wait_for_listener(host: &str, port: u16) {
    // Resolve once, not on every poll (a name would take a blocking lookup each time).
    let address = match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => match tokio::net::lookup_host((host, port)).await {
            Ok(mut addresses) => match addresses.next() {
                Some(address) => address,
                None => return,
            },
            Err(_) => return,
        },
    };
    while tokio::net::TcpStream::connect(address).await.is_err() {
        tokio::time::sleep(LISTEN_POLL).await;
    }
}

/// A server that ended before it was ready failed, whatever its log says.
fn ended_before_ready(mut diagnosed: Diagnosed, status: ExitStatus) -> Diagnosed {
    if !diagnosed.is_failure() {
        diagnosed.severity = Severity::Error;
        if diagnosed.category == "none" {
            diagnosed.summary = format!("exited before it was ready ({})", describe_exit(status));
        }
    }
    diagnosed
}

/// Run the detect-error plugins on a blocking thread (plugin calls are synchronous).
pub async fn diagnose_off_runtime(
    registry: &Arc<Registry>,
    server_kind: &str,
    lines: Vec<String>,
    exit: ExitStatus,
) -> Diagnosed {
    let registry = registry.clone();
    let server_kind = server_kind.to_string();
    match tokio::task::spawn_blocking(move || diagnose(&registry, &server_kind, lines, exit)).await
    {
        Ok(diagnosed) => diagnosed,
        Err(_) => from_exit_status(exit),
    }
}

/// "exit code 1", "signal 9, exit 137".
pub fn describe_exit(status: ExitStatus) -> String {
    match status {
        ExitStatus::Running => "still running".into(),
        ExitStatus::Exited { code } => format!("exit code {code}"),
        ExitStatus::Signaled { signal } => format!("signal {signal}, exit {}", 128 + signal),
    }
}
