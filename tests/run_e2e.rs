//! `mlx-host run` end to end with a real `mlx_lm.server` (from the venv made by
//! scripts/setup-python) on the tiny model our generator makes: ready → a chat completion is
//! answered → Ctrl-C → nothing left running; a broken model folder → a diagnosis; a taken port
//! → a clear refusal; the server SIGKILLed while ready → a diagnosis. `run`'s lifecycle events
//! are stored (`events` shows and follows them without a daemon) and reach the notifier's
//! webhook. Every process a test starts is cleaned up by pid / process group.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// A running `mlx-host run`, its output lines, and cleanup of everything it started.
struct RunningHost {
    child: Child,
    output: common::OutputLines,
    server_pid: Option<i32>,
    _home: tempfile::TempDir,
}

impl RunningHost {
    fn start(args: &[&str]) -> RunningHost {
        RunningHost::start_in(tempfile::tempdir().unwrap(), args)
    }

    /// `run` with `home` as its MLX_HOST_HOME.
    fn start_in(home: tempfile::TempDir, args: &[&str]) -> RunningHost {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlx-host"))
            .arg("run")
            .args(args)
            .arg("--venv")
            .arg(common::test_venv())
            .env("MLX_HOST_HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        RunningHost {
            output: common::OutputLines::attach(&mut child),
            child,
            server_pid: None,
            _home: home,
        }
    }

    /// Read output until a line contains `needle`; panics with everything seen on timeout.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let line = self.output.wait_for(needle, timeout);
        self.note_server_pid();
        line
    }

    /// The server's pid, once `run` has printed it.
    fn note_server_pid(&mut self) {
        if let Some(pid) = self
            .output
            .seen
            .iter()
            .rev()
            .find_map(|line| parse_server_pid(line))
        {
            self.server_pid = Some(pid);
        }
    }

    /// Wait for the host to exit; returns its exit code and the rest of its output.
    fn wait_exit(&mut self, timeout: Duration) -> (i32, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.output.drain(Duration::from_millis(100));
                self.note_server_pid();
                return (status.code().unwrap_or(-1), self.output.text());
            }
            if Instant::now() > deadline {
                panic!(
                    "mlx-host did not exit within {timeout:?}; output:\n{}",
                    self.output.text()
                );
            }
            self.output.drain(Duration::from_millis(50));
            self.note_server_pid();
        }
    }

    fn interrupt(&self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).unwrap();
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(pid) = self.server_pid {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// The server's pid from "starting mlx_lm.server (pid 123) on ...".
fn parse_server_pid(line: &str) -> Option<i32> {
    let rest = line.split("(pid ").nth(1)?;
    rest.split(')').next()?.parse().ok()
}

/// A home whose built-in notifier posts every event to `hub`'s webhook (the stand-in logs it).
fn home_with_webhook(hub: &common::HubStub) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(
        home.path().join("config/settings.toml"),
        format!(
            "[plugin-config.notifier]\ndesktop = \"false\"\nwebhook = \"{}/webhook\"\nevents = \"all\"\nmin-interval-ms = \"0\"\n",
            hub.endpoint
        ),
    )
    .unwrap();
    home
}

/// The events the notifier posted to the stand-in's webhook: (kind, subject).
fn webhook_events(hub: &common::HubStub) -> Vec<(String, String)> {
    let text = ureq::get(&format!("{}/_stub/requests", hub.endpoint))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let log: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    log.iter()
        .filter(|request| request["method"] == "POST" && request["path"] == "/webhook")
        .filter_map(|request| {
            let body: serde_json::Value = serde_json::from_str(request["body"].as_str()?).ok()?;
            Some((
                body["kind"].as_str()?.into(),
                body["subject"].as_str()?.into(),
            ))
        })
        .collect()
}

/// `mlx-host events --json` in `home` (no daemon runs: it reads the database).
fn stored_events(home: &std::path::Path) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_mlx-host"))
        .args(["events", "--json"])
        .env("MLX_HOST_HOME", home)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn kinds(events: &[serde_json::Value]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| event["kind"].as_str())
        .collect()
}

fn process_exists(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// Whether `pid` is a live process: an orphan that ended stays a zombie until whoever inherited
/// it reaps it, and `process_start_time` has no start time for a zombie.
fn process_running(pid: i32) -> bool {
    mlx_host::metrics::process_start_time(pid as u32).is_some()
}

fn base_url(line: &str) -> String {
    line.split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("a URL on the line")
        .to_string()
}

fn chat(base: &str) -> serde_json::Value {
    let mut response = ureq::post(&format!("{base}/chat/completions"))
        .header("content-type", "application/json")
        .send(r#"{"messages":[{"role":"user","content":"Hello"}],"max_tokens":5}"#)
        .expect("the chat completion request succeeds");
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

#[test]
fn run_serves_the_demo_model_answers_and_stops_cleanly() {
    let hub = common::HubStub::start(&[]);
    let home = home_with_webhook(&hub);
    let home_path = home.path().to_path_buf();
    // A follower started before the run, with no daemon: it polls the database.
    let mut follower_child = Command::new(env!("CARGO_BIN_EXE_mlx-host"))
        .args(["events", "-f", "--json"])
        .env("MLX_HOST_HOME", &home_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut follower = common::OutputLines::attach(&mut follower_child);
    let mut host = RunningHost::start_in(home, &[]);
    let url_line = host.wait_for("OpenAI base URL", Duration::from_secs(240));
    let server_pid = host.server_pid.expect("the server pid was printed");
    assert!(process_exists(server_pid));
    let answer = chat(&base_url(&url_line));
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{answer}"
    );

    let ready = follower.wait_for("\"kind\":\"ready\"", Duration::from_secs(10));
    assert!(ready.contains("\"subject\":\"demo-tiny-llama\""), "{ready}");
    let _ = follower_child.kill();
    let _ = follower_child.wait();

    host.interrupt();
    let (code, output) = host.wait_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("stopped"), "{output}");
    assert!(
        !process_exists(server_pid),
        "the server (pid {server_pid}) is still running"
    );

    let events = stored_events(&home_path);
    assert_eq!(
        kinds(&events),
        ["starting", "ready", "stopped"],
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|event| event["subject"] == "demo-tiny-llama"),
        "{events:?}"
    );
    // `run` waits for the notifier before it exits, so the webhook already has them all.
    let posted = webhook_events(&hub);
    let posted_kinds: Vec<&str> = posted.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(posted_kinds, ["starting", "ready", "stopped"], "{posted:?}");
}

#[test]
fn a_closed_terminal_stops_the_server_too() {
    // Regression: SIGHUP (the terminal closed) ended `run` at once and left the server, which
    // runs in a process group of its own, running with nobody to stop it.
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let mut host = RunningHost::start_in(home, &[]);
    host.wait_for("OpenAI base URL", Duration::from_secs(240));
    let server_pid = host.server_pid.expect("the server pid was printed");
    kill(Pid::from_raw(host.child.id() as i32), Signal::SIGHUP).unwrap();
    let (code, output) = host.wait_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("stopped"), "{output}");
    assert!(
        !process_exists(server_pid),
        "the server (pid {server_pid}) outlived the closed terminal"
    );
    let events = stored_events(&home_path);
    assert_eq!(
        kinds(&events),
        ["starting", "ready", "stopped"],
        "{events:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_run_takes_its_server_down() {
    // Regression: SIGKILL cannot be caught, so a killed `run` never stopped its server, which
    // runs in a process group of its own and kept its port and memory with nobody to stop it.
    let mut host = RunningHost::start(&[]);
    host.wait_for("OpenAI base URL", Duration::from_secs(240));
    let server_pid = host.server_pid.expect("the server pid was printed");
    host.child.kill().unwrap();
    host.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while process_running(server_pid) {
        assert!(
            Instant::now() < deadline,
            "the server (pid {server_pid}) outlived the killed `run` by 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_broken_model_folder_fails_with_a_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("broken");
    let generator = common::repo_root().join("scripts/make-tiny-model.py");
    let status = Command::new(common::test_venv().join("bin/python"))
        .arg(&generator)
        .arg(&model)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // Cut the weights in half: a download that stopped midway.
    let weights = model.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();

    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let mut host = RunningHost::start_in(home, &[model.to_str().unwrap()]);
    let (code, output) = host.wait_exit(Duration::from_secs(120));
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("failed: the server failed to start"),
        "{output}"
    );
    assert!(output.contains("corrupt_weights"), "{output}");
    assert!(output.contains("hint:"), "{output}");
    let events = stored_events(&home_path);
    assert_eq!(kinds(&events), ["starting", "start-failed"], "{events:?}");
    assert_eq!(events[1]["subject"], "broken", "{events:?}");
    assert_eq!(
        events[1]["diagnosis"]["category"], "corrupt_weights",
        "{events:?}"
    );
    if let Some(pid) = host.server_pid {
        assert!(
            !process_exists(pid),
            "the failed server (pid {pid}) is still running"
        );
    }
}

#[test]
fn a_taken_port_is_refused_before_starting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut host = RunningHost::start(&["--port", &port]);
    let (code, output) = host.wait_exit(Duration::from_secs(120));
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(&format!("port {port}")) && output.contains("not free"),
        "{output}"
    );
    assert!(
        host.server_pid.is_none(),
        "no server should have been started: {output}"
    );
}

#[test]
fn a_missing_model_folder_is_a_clear_error() {
    let mut host = RunningHost::start(&["/nonexistent/model/folder"]);
    let (code, output) = host.wait_exit(Duration::from_secs(60));
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("does not exist"), "{output}");
}

#[test]
fn a_server_killed_while_ready_is_diagnosed() {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let mut host = RunningHost::start_in(home, &[]);
    host.wait_for("OpenAI base URL", Duration::from_secs(240));
    let server_pid = host.server_pid.expect("the server pid was printed");
    kill(Pid::from_raw(server_pid), Signal::SIGKILL).unwrap();
    let (code, output) = host.wait_exit(Duration::from_secs(30));
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("the server exited (signal 9, exit 137)"),
        "{output}"
    );
    assert!(output.contains("killed"), "{output}");
    assert!(!process_exists(server_pid));

    let events = stored_events(&home_path);
    assert_eq!(
        kinds(&events),
        ["starting", "ready", "crashed"],
        "{events:?}"
    );
    assert_eq!(events[2]["diagnosis"]["category"], "killed", "{events:?}");
}
