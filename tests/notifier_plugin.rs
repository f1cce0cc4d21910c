//! The built-in `notifier` plugin (plugins/notifier/), run as real Lua through the real registry
//! from a temporary plugin folder: the webhook's JSON, rate limiting by the events' timestamps,
//! the per-event filter, and failures of the desktop and webhook channels that must never count
//! against the plugin.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mlx_host::plugins::{PluginState, Registry, RegistryOptions};
use mlx_host::settings::Settings;
use mlx_host_plugin_api::manifest::ConfigValue;
use mlx_host_plugin_api::types::{Diagnosis, Event, Severity};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z: the events' clock; the plugin has no other.
const T0: u64 = 1_767_225_600_000;

/// Copy plugins/notifier/ into `dir` as a user plugin.
fn install_notifier(dir: &Path) {
    let source = common::repo_root().join("plugins/notifier");
    let target = dir.join("notifier");
    std::fs::create_dir_all(&target).unwrap();
    for file in ["plugin.toml", "init.lua"] {
        std::fs::copy(source.join(file), target.join(file)).unwrap();
    }
}

/// Settings that grant the notifier its capabilities (a user copy is not trusted like the
/// built-in) and set its `[plugin-config.notifier]`.
fn settings(config: &[(&str, &str)]) -> Settings {
    let mut settings = Settings::default();
    settings
        .plugins
        .grants
        .insert("notifier".into(), vec!["notify".into(), "http".into()]);
    settings.plugin_config.insert(
        "notifier".into(),
        config
            .iter()
            .map(|(key, value)| (key.to_string(), ConfigValue::String(value.to_string())))
            .collect(),
    );
    settings
}

/// A registry over a fresh plugin folder holding only the notifier.
fn notifier(settings: Settings) -> (tempfile::TempDir, Registry, common::Captured) {
    let dir = tempfile::tempdir().unwrap();
    install_notifier(dir.path());
    let (registry, captured) = common::registry(dir.path(), settings);
    let info = registry.info("notifier").unwrap();
    assert_eq!(info.state, PluginState::Loaded, "{info:?}");
    (dir, registry, captured)
}

fn event(kind: &str, subject: &str, timestamp_ms: u64) -> Event {
    Event {
        kind: kind.into(),
        subject: subject.into(),
        message: format!("{subject}: {kind}"),
        timestamp_ms,
        diagnosis: None,
    }
}

/// Hand `event` to the registry; the notifier must take it.
fn send(registry: &Registry, event: &Event) {
    assert_eq!(
        registry.on_event(event),
        1,
        "the notifier refused {event:?}"
    );
}

fn assert_never_failed(registry: &Registry, captured: &common::Captured) {
    let info = registry.info("notifier").unwrap();
    assert_eq!(info.failures, 0, "last error: {:?}", info.last_error);
    assert_eq!(info.state, PluginState::Loaded);
    assert!(captured.events().is_empty(), "{:?}", captured.events());
}

/// One POST the webhook server received.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    content_type: String,
    body: Value,
}

/// A webhook on 127.0.0.1 that records every POST and answers `status`. It stops when dropped
/// (or after a minute, whichever comes first) and joins its thread.
struct WebhookServer {
    ip: &'static str,
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WebhookServer {
    fn start(status: u16) -> WebhookServer {
        WebhookServer::start_on("127.0.0.1", status)
    }

    /// The same on another loopback address (Linux routes all of 127.0.0.0/8 to `lo`).
    fn start_on(ip: &'static str, status: u16) -> WebhookServer {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while !stopped.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, status, &log),
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        WebhookServer {
            ip,
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}:{}/hook", self.ip, self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Read one HTTP request, record it, then answer it with `status` (in this order, so the POST is
/// visible once the plugin's call returns).
fn serve(stream: TcpStream, status: u16, log: &Mutex<Vec<Request>>) {
    if let Some(request) = read_request(&stream) {
        log.lock().unwrap().push(request);
        let _ = (&stream).write_all(
            format!("HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
    }
}

fn read_request(mut stream: &TcpStream) -> Option<Request> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let header_end = loop {
        if let Some(end) = data.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&data[..header_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while data.len() < header_end + length {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..read]);
    }
    let request = Request {
        path: head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string(),
        content_type: header("content-type").unwrap_or_default(),
        body: serde_json::from_slice(&data[header_end..header_end + length]).ok()?,
    };
    Some(request)
}

#[test]
fn the_webhook_gets_the_event_and_its_diagnosis_as_json() {
    let server = WebhookServer::start(200);
    let (_dir, registry, captured) = notifier(settings(&[
        ("desktop", "false"),
        ("webhook", &server.url()),
    ]));
    let crashed = Event {
        kind: "crashed".into(),
        subject: "qwen3-8b".into(),
        message: "mlx_lm.server exited with signal 9".into(),
        timestamp_ms: T0,
        diagnosis: Some(Diagnosis {
            category: "out_of_memory".into(),
            severity: Severity::Fatal,
            summary: "[METAL] Command buffer execution failed: Insufficient Memory".into(),
            hint: "Use a smaller quantization or close other apps.".into(),
            line: Some(41),
        }),
    };
    send(&registry, &crashed);

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.path, "/hook");
    assert_eq!(request.content_type, "application/json");
    let body = &request.body;
    assert_eq!(body["kind"], "crashed");
    assert_eq!(body["subject"], "qwen3-8b");
    assert_eq!(body["message"], "mlx_lm.server exited with signal 9");
    assert_eq!(body["timestamp_ms"], json!(T0), "an integer, not a float");
    assert_eq!(
        body["diagnosis"],
        json!({
            "category": "out_of_memory",
            "severity": "fatal",
            "summary": "[METAL] Command buffer execution failed: Insufficient Memory",
            "hint": "Use a smaller quantization or close other apps.",
            "line": 41,
        })
    );
    assert_eq!(body["title"], "qwen3-8b crashed");
    assert_eq!(
        body["text"],
        "mlx-host: qwen3-8b crashed: mlx_lm.server exited with signal 9 — [METAL] Command buffer \
         execution failed: Insufficient Memory — Use a smaller quantization or close other apps."
    );
    assert_eq!(body["suppressed"], json!({"similar": 0, "other": 0}));
    assert!(
        body.get("content").is_none(),
        "`content` is for Discord only"
    );

    // An event without a diagnosis has no `diagnosis` key.
    send(&registry, &event("ready", "qwen3-8b", T0 + 1));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].body.get("diagnosis").is_none(), "{requests:?}");
    assert_never_failed(&registry, &captured);
}

#[test]
fn a_crash_storm_sends_one_notification_per_interval_and_counts_the_rest() {
    let server = WebhookServer::start(204);
    let (_dir, registry, captured) = notifier(settings(&[
        ("desktop", "false"),
        ("webhook", &server.url()),
        ("min-interval-ms", "5000"),
    ]));
    for index in 0..20 {
        send(&registry, &event("crashed", "qwen3-8b", T0 + index * 200));
    }
    assert_eq!(server.requests().len(), 1, "one notification for the storm");

    // The interval has passed since the one that went out: the next one goes out and reports
    // the 19 it held back.
    send(&registry, &event("crashed", "qwen3-8b", T0 + 5000));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let body = &requests[1].body;
    assert_eq!(body["suppressed"], json!({"similar": 19, "other": 0}));
    let text = body["text"].as_str().unwrap();
    assert!(text.ends_with("(19 similar suppressed)"), "{text}");

    // The count is reported once: the next one after another interval says nothing.
    send(&registry, &event("crashed", "qwen3-8b", T0 + 10_000));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[2].body["suppressed"],
        json!({"similar": 0, "other": 0})
    );
    assert!(
        !requests[2].body["text"]
            .as_str()
            .unwrap()
            .contains("suppressed")
    );
    assert_never_failed(&registry, &captured);
}

#[test]
fn the_global_cap_holds_back_other_subjects_and_says_so_later() {
    let server = WebhookServer::start(200);
    let (_dir, registry, captured) = notifier(settings(&[
        ("desktop", "false"),
        ("webhook", &server.url()),
        ("max-per-minute", "3"),
    ]));
    for index in 0..10 {
        send(
            &registry,
            &event("ready", &format!("model-{index}"), T0 + index),
        );
    }
    let requests = server.requests();
    let subjects: Vec<&Value> = requests.iter().map(|r| &r.body["subject"]).collect();
    assert_eq!(subjects, ["model-0", "model-1", "model-2"]);

    // A minute later the window has room again; the next notification reports the 7 others.
    send(&registry, &event("crashed", "model-0", T0 + 61_000));
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(
        requests[3].body["suppressed"],
        json!({"similar": 0, "other": 7})
    );
    let text = requests[3].body["text"].as_str().unwrap();
    assert!(text.ends_with("(7 other suppressed)"), "{text}");
    assert_never_failed(&registry, &captured);
}

#[test]
fn kinds_outside_the_events_filter_send_nothing() {
    let server = WebhookServer::start(200);
    let (_dir, registry, captured) = notifier(settings(&[
        ("desktop", "false"),
        ("webhook", &server.url()),
        ("events", "crashed, download-failed"),
    ]));
    for kind in ["ready", "download-finished", "starting", "plugin-disabled"] {
        send(&registry, &event(kind, "qwen3-8b", T0));
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    send(&registry, &event("download-failed", "qwen3-8b", T0));
    send(&registry, &event("crashed", "qwen3-8b", T0));
    let kinds: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.body["kind"].clone())
        .collect();
    assert_eq!(kinds, ["download-failed", "crashed"]);
    assert_never_failed(&registry, &captured);

    // `default` stands for the kinds that are on by default, and can be extended.
    let (_dir, registry, captured) = notifier(settings(&[
        ("desktop", "false"),
        ("webhook", &server.url()),
        ("events", "default,starting"),
    ]));
    for kind in ["stopped", "restarting", "starting", "ready"] {
        send(&registry, &event(kind, "gemma", T0 + 100));
    }
    let kinds: Vec<Value> = server.requests()[2..]
        .iter()
        .map(|r| r.body["kind"].clone())
        .collect();
    assert_eq!(kinds, ["starting", "ready"]);
    assert_never_failed(&registry, &captured);
}

#[test]
fn a_missing_notify_send_or_a_dead_webhook_never_fails_the_plugin() {
    // Port 1 on this machine: nothing listens there and no test can take it, so every POST is
    // refused. example.com is not in the notifier's allowed-hosts, so the host refuses the POST.
    let cases = [
        ("http://127.0.0.1:1/hook", "true", "refused"),
        ("https://example.com/hook", "false", "allowed-hosts"),
    ];
    for (webhook, desktop, why) in cases {
        let mut settings = settings(&[
            ("desktop", desktop),
            ("webhook", webhook),
            ("min-interval-ms", "0"),
            ("max-per-minute", "0"),
        ]);
        // A single failed call would disable the plugin.
        settings.plugins.failure_limit = 1;
        let (_dir, registry, captured) = notifier(settings);
        let ((), logs) = common::capture_logs(|| {
            for index in 0..3 {
                send(&registry, &event("crashed", "qwen3-8b", T0 + index));
            }
        });
        assert_never_failed(&registry, &captured);
        let failures: Vec<&str> = logs
            .lines()
            .filter(|line| line.contains("webhook notification failed"))
            .collect();
        assert_eq!(failures.len(), 1, "logged once, not per event:\n{logs}");
        assert!(failures[0].contains(why), "{logs}");
        // Without notify-send (as on most CI machines) the desktop channel fails the same way.
        assert!(
            logs.matches("desktop notification failed").count() <= 1,
            "{logs}"
        );
    }
}

#[test]
fn settings_can_allow_the_notifier_another_webhook_host() {
    // 127.0.0.2 is not in the notifier's plugin.toml allowed-hosts (127.0.0.1 and localhost are).
    let server = WebhookServer::start_on("127.0.0.2", 200);
    let url = server.url();
    let config = [
        ("desktop", "false"),
        ("webhook", url.as_str()),
        ("min-interval-ms", "0"),
    ];

    let (_dir, registry, captured) = notifier(settings(&config));
    let ((), logs) = common::capture_logs(|| send(&registry, &event("crashed", "qwen3-8b", T0)));
    assert!(server.requests().is_empty());
    assert!(
        logs.contains("not in plugin `notifier`'s allowed-hosts")
            && logs.contains("[plugins.allowed-hosts]"),
        "the refusal says how to allow the host:\n{logs}"
    );
    assert_never_failed(&registry, &captured);

    let mut allowed = settings(&config);
    allowed
        .plugins
        .allowed_hosts
        .insert("notifier".into(), vec!["127.0.0.2".into()]);
    let (_dir, registry, captured) = notifier(allowed);
    send(&registry, &event("crashed", "qwen3-8b", T0));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].body["kind"], "crashed");
    assert_never_failed(&registry, &captured);
}

#[test]
fn a_webhook_that_answers_an_error_status_is_logged_once() {
    let server = WebhookServer::start(500);
    let mut settings = settings(&[
        ("desktop", "false"),
        ("webhook", &server.url()),
        ("min-interval-ms", "0"),
    ]);
    settings.plugins.failure_limit = 1;
    let (_dir, registry, captured) = notifier(settings);
    let ((), logs) = common::capture_logs(|| {
        for index in 0..3 {
            send(&registry, &event("unhealthy", "qwen3-8b", T0 + index));
        }
    });
    assert_eq!(server.requests().len(), 3);
    assert_never_failed(&registry, &captured);
    assert_eq!(
        logs.matches("answered HTTP 500").count(),
        1,
        "logged once:\n{logs}"
    );
}

#[test]
fn the_builtin_copy_loads_trusted_and_posts_without_grants() {
    let server = WebhookServer::start(200);
    let candidates = mlx_host::plugins::discover::builtin_candidates()
        .into_iter()
        .filter(|candidate| matches!(candidate, Ok(c) if c.name == "notifier"))
        .collect::<Vec<_>>();
    assert_eq!(
        candidates.len(),
        1,
        "the notifier is embedded as a built-in"
    );
    // No grants: built-in plugins are trusted with what their manifest declares.
    let mut settings = Settings::default();
    settings.plugin_config.insert(
        "notifier".into(),
        [("desktop", "false"), ("webhook", server.url().as_str())]
            .into_iter()
            .map(|(key, value)| (key.to_string(), ConfigValue::String(value.to_string())))
            .collect(),
    );
    let options = RegistryOptions {
        builtins: true,
        user_dirs: Vec::new(),
        settings,
        component_cache: None,
        events: None,
        side_effects: Default::default(),
    };
    let registry = Registry::from_candidates(candidates, &options);
    let info = registry.info("notifier").unwrap();
    assert_eq!(info.state, PluginState::Loaded, "{info:?}");
    assert_eq!(info.capabilities, ["notify", "http"]);
    send(
        &registry,
        &event("download-finished", "mlx-community/Qwen3-8B-4bit", T0),
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].body["title"],
        "Download finished: mlx-community/Qwen3-8B-4bit"
    );
    assert_eq!(registry.info("notifier").unwrap().failures, 0);
}
