//! What a plugin may call back into the host for, shared by the WASM and Lua runtimes:
//! `log` and `config` always; `notify` and `http` only when the manifest declares the
//! capability and the user granted it (built-in plugins are trusted).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest log message a plugin may write in one call, in bytes.
const MAX_LOG_MESSAGE: usize = 4096;
/// Longest body a plugin may POST, in bytes.
const MAX_HTTP_BODY: usize = 256 * 1024;
/// Deadline of one HTTP request made for a plugin.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn from_name(name: &str) -> Option<LogLevel> {
        match name {
            "trace" => Some(LogLevel::Trace),
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" | "warning" => Some(LogLevel::Warn),
            "error" => Some(LogLevel::Error),
            _ => None,
        }
    }
}

/// What `notify` and `http` calls do.
#[derive(Debug, Clone, Default)]
pub enum SideEffects {
    /// Show the notification, send the request.
    #[default]
    Real,
    /// Check everything a real call checks, then only write down what would have been done
    /// and answer as if it succeeded (HTTP 200): `plugins check` runs a plugin's test cases
    /// this way, so checking a plugin never notifies anyone or posts anywhere.
    Recorded(EffectLog),
}

/// The calls a plugin made under [`SideEffects::Recorded`], oldest first.
#[derive(Debug, Clone, Default)]
pub struct EffectLog(Arc<Mutex<Vec<String>>>);

/// Entries an [`EffectLog`] keeps; later ones are counted in the last entry.
const MAX_RECORDED_EFFECTS: usize = 50;

impl EffectLog {
    fn record(&self, what: String) {
        let mut log = match self.0.lock() {
            Ok(log) => log,
            Err(poisoned) => poisoned.into_inner(),
        };
        if log.len() < MAX_RECORDED_EFFECTS {
            log.push(what);
        } else if log.len() == MAX_RECORDED_EFFECTS {
            log.push("... and more (not listed)".into());
        }
    }

    /// Everything recorded since the last call.
    pub fn take(&self) -> Vec<String> {
        match self.0.lock() {
            Ok(mut log) => std::mem::take(&mut *log),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// The host functions one plugin sees.
#[derive(Debug, Clone)]
pub struct HostApi {
    plugin: Arc<str>,
    config: Arc<BTreeMap<String, String>>,
    notify_allowed: bool,
    http_allowed_hosts: Option<Arc<[String]>>,
    side_effects: SideEffects,
}

impl HostApi {
    pub fn new(
        plugin: &str,
        config: BTreeMap<String, String>,
        notify_allowed: bool,
        http_allowed_hosts: Option<Vec<String>>,
    ) -> HostApi {
        HostApi {
            plugin: Arc::from(plugin),
            config: Arc::new(config),
            notify_allowed,
            http_allowed_hosts: http_allowed_hosts.map(Arc::from),
            side_effects: SideEffects::Real,
        }
    }

    /// The same API whose `notify` and `http` calls do `side_effects`.
    pub fn with_side_effects(mut self, side_effects: SideEffects) -> HostApi {
        self.side_effects = side_effects;
        self
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    pub fn notify_allowed(&self) -> bool {
        self.notify_allowed
    }

    pub fn http_allowed(&self) -> bool {
        self.http_allowed_hosts.is_some()
    }

    /// Write to the host's log, tagged with the plugin's name.
    pub fn log(&self, level: LogLevel, message: &str) {
        let message = truncate(message, MAX_LOG_MESSAGE);
        let plugin = &*self.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }

    /// A value of the plugin's config (manifest `[config]`, overlaid with the user's settings).
    pub fn config(&self, key: &str) -> Option<String> {
        self.config.get(key).cloned()
    }

    /// Show a desktop notification (capability `notify`).
    pub fn notify(&self, title: &str, body: &str) -> Result<(), String> {
        if !self.notify_allowed {
            return Err(format!(
                "plugin `{}` was not granted the notify capability",
                self.plugin
            ));
        }
        let argv = notification_argv(title, body)?;
        if let SideEffects::Recorded(log) = &self.side_effects {
            log.record(format!("desktop notification {title:?}: {body:?}"));
            return Ok(());
        }
        spawn_detached(&argv)
    }

    /// POST `body` to `url` (capability `http`, allowed hosts only). Returns the status code.
    pub fn http_post(&self, url: &str, content_type: &str, body: &str) -> Result<u16, String> {
        let Some(allowed) = &self.http_allowed_hosts else {
            return Err(format!(
                "plugin `{}` was not granted the http capability",
                self.plugin
            ));
        };
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|error| format!("`{url}` is not a URL: {error}"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(format!("`{url}` is not an http or https URL")),
        }
        let host = uri.host().unwrap_or_default();
        if !allowed.iter().any(|pattern| host_matches(pattern, host)) {
            return Err(format!(
                "host `{host}` is not in plugin `{}`'s allowed-hosts ({}); to allow it, add it in settings.toml under [plugins.allowed-hosts] as {} = [\"{host}\"]",
                self.plugin,
                allowed.join(", "),
                self.plugin
            ));
        }
        if body.len() > MAX_HTTP_BODY {
            return Err(format!(
                "body of {} bytes is over the {MAX_HTTP_BODY}-byte limit",
                body.len()
            ));
        }
        if let SideEffects::Recorded(log) = &self.side_effects {
            log.record(format!("POST {url} ({content_type}, {} bytes)", body.len()));
            return Ok(200);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let response = agent
            .post(url)
            .header("content-type", content_type)
            .send(body)
            .map_err(|error| format!("POST to {host} failed: {error}"))?;
        Ok(response.status().as_u16())
    }
}

/// Whether `host` matches an allowed-hosts entry (`example.com` or `*.example.com`).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(&format!(".{suffix}")),
        None => host == pattern,
    }
}

fn notification_argv(title: &str, body: &str) -> Result<Vec<String>, String> {
    let title = truncate(title, 256).to_string();
    let body = truncate(body, 1024).to_string();
    if cfg!(target_os = "macos") {
        Ok(vec![
            "osascript".into(),
            "-e".into(),
            "on run argv".into(),
            "-e".into(),
            "display notification (item 2 of argv) with title (item 1 of argv)".into(),
            "-e".into(),
            "end run".into(),
            title,
            body,
        ])
    } else {
        Ok(vec![
            "notify-send".into(),
            "--app-name=mlx-host".into(),
            title,
            body,
        ])
    }
}

/// Start a helper program without waiting for it; a thread reaps it.
fn spawn_detached(argv: &[String]) -> Result<(), String> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "empty command".to_string())?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot run {program}: {error}"))?;
    std::thread::Builder::new()
        .name("notify-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        })
        .map(|_| ())
        .map_err(|error| format!("cannot start a thread to wait for {program}: {error}"))
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_match_exactly_or_by_suffix() {
        assert!(host_matches("hooks.slack.com", "hooks.slack.com"));
        assert!(host_matches("hooks.slack.com", "HOOKS.slack.com."));
        assert!(!host_matches("hooks.slack.com", "evil-hooks.slack.com"));
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "aexample.com"));
    }

    #[test]
    fn ungranted_capabilities_are_refused() {
        let api = HostApi::new("p", BTreeMap::new(), false, None);
        assert!(api.notify("t", "b").unwrap_err().contains("notify"));
        assert!(
            api.http_post("https://x.y/", "text/plain", "")
                .unwrap_err()
                .contains("http")
        );
    }

    #[test]
    fn http_refuses_hosts_outside_the_list() {
        let api = HostApi::new("p", BTreeMap::new(), false, Some(vec!["127.0.0.1".into()]));
        let error = api
            .http_post("http://example.com/x", "text/plain", "hi")
            .unwrap_err();
        assert!(
            error.contains("example.com") && error.contains("allowed-hosts"),
            "{error}"
        );
        assert!(
            api.http_post("file:///etc/passwd", "text/plain", "")
                .is_err()
        );
    }

    #[test]
    fn http_posts_to_an_allowed_local_server() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !String::from_utf8_lossy(&request).contains("hello") {
                let read = stream.read(&mut buffer).unwrap();
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..read]);
            }
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        let api = HostApi::new("p", BTreeMap::new(), false, Some(vec!["127.0.0.1".into()]));
        let status = api
            .http_post(
                &format!("http://127.0.0.1:{port}/hook"),
                "text/plain",
                "hello",
            )
            .unwrap();
        assert_eq!(status, 204);
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /hook"), "{request}");
    }
}
