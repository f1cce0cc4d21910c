//! Turning a run's log tail and exit status into one diagnosis: the `detect-error` plugins
//! first (priority order, first answer wins), then the host's own reading of the exit status
//! when no plugin had an opinion, so a death by signal is always named.

use mlx_host_plugin_api::types::{Diagnosis, ExitStatus, LogTail, Severity};
use serde::Serialize;

use crate::plugins::Registry;

/// A diagnosis and who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosed {
    pub category: String,
    pub severity: Severity,
    pub summary: String,
    pub hint: String,
    /// The plugin that answered; `None` when the host decided from the exit status alone.
    pub plugin: Option<String>,
    /// Index of the decisive line in the lines given, when there is one.
    #[serde(skip)]
    pub line: Option<u32>,
}

impl Diagnosed {
    fn from_plugin(diagnosis: Diagnosis, plugin: String) -> Diagnosed {
        Diagnosed {
            category: diagnosis.category,
            severity: diagnosis.severity,
            summary: diagnosis.summary,
            hint: diagnosis.hint,
            plugin: Some(plugin),
            line: diagnosis.line,
        }
    }

    /// A diagnosis the host makes itself (no plugin involved).
    pub fn by_host(category: &str, severity: Severity, summary: String, hint: String) -> Diagnosed {
        Diagnosed {
            category: category.to_string(),
            severity,
            summary,
            hint,
            plugin: None,
            line: None,
        }
    }

    /// A server that could not be started at all (its executable is missing or will not run).
    pub fn spawn_failed(error: &dyn std::fmt::Display) -> Diagnosed {
        Diagnosed::by_host(
            "environment_error",
            Severity::Error,
            error.to_string(),
            "Check the server's installation (`mlx-host runtime list`).".into(),
        )
    }

    /// Whether this says the run is broken (not merely a warning about one request).
    pub fn is_failure(&self) -> bool {
        self.category != "none" && self.severity >= Severity::Error
    }
}

/// Ask the plugins about `lines` and `exit`.
pub fn diagnose(
    registry: &Registry,
    server_kind: &str,
    lines: Vec<String>,
    exit: ExitStatus,
) -> Diagnosed {
    let tail = LogTail {
        server_kind: server_kind.to_string(),
        lines,
        exit,
    };
    match registry.detect_error(&tail) {
        Some(answer) => Diagnosed::from_plugin(answer.value, answer.plugin.to_string()),
        None => from_exit_status(exit),
    }
}

/// The host's fallback: name the exit status.
pub fn from_exit_status(exit: ExitStatus) -> Diagnosed {
    let (category, severity, summary, hint) = match exit {
        ExitStatus::Running | ExitStatus::Exited { code: 0 } => (
            "none",
            Severity::Info,
            "no problem found in the log".to_string(),
            String::new(),
        ),
        ExitStatus::Signaled { signal }
        | ExitStatus::Exited {
            code: signal @ 129..=159,
        } => {
            let signal = if let ExitStatus::Exited { code } = exit {
                code - 128
            } else {
                signal
            };
            let (name, category, hint) = match signal {
                9 => (
                    "SIGKILL",
                    "killed",
                    "Something killed the server: often the out-of-memory killer; check free memory and the model's size.",
                ),
                11 => (
                    "SIGSEGV",
                    "out_of_memory",
                    "The server crashed in native code with no message, which MLX does when an allocation fails; try a smaller model or quantization.",
                ),
                15 => ("SIGTERM", "none", "The server was asked to stop."),
                6 => (
                    "SIGABRT",
                    "killed",
                    "The server aborted; the lines before the abort say why.",
                ),
                _ => ("a signal", "killed", "The server was ended by a signal."),
            };
            let severity = if category == "none" {
                Severity::Info
            } else {
                Severity::Error
            };
            (
                category,
                severity,
                format!("ended by {name} (signal {signal}, exit {})", 128 + signal),
                hint.to_string(),
            )
        }
        ExitStatus::Exited { code } => (
            "environment_error",
            Severity::Error,
            format!("exited with code {code} and no recognisable error in the log"),
            "Read the log for the last error, or run the server's command by hand.".to_string(),
        ),
    };
    Diagnosed::by_host(category, severity, summary, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_deaths_are_named() {
        let killed = from_exit_status(ExitStatus::Signaled { signal: 9 });
        assert_eq!(killed.category, "killed");
        assert!(killed.summary.contains("SIGKILL") && killed.summary.contains("137"));
        assert_eq!(
            from_exit_status(ExitStatus::Exited { code: 139 }).category,
            "out_of_memory"
        );
        let stopped = from_exit_status(ExitStatus::Exited { code: 143 });
        assert_eq!(stopped.category, "none");
        assert!(stopped.summary.contains("SIGTERM"));
        assert!(!stopped.is_failure());
        assert!(from_exit_status(ExitStatus::Exited { code: 1 }).is_failure());
    }
}
