//! The daemon end to end: `mlx-host serve` supervising a real mlx_lm.server (ready → answered →
//! SIGKILLed → diagnosed and restarted → stopped, nothing left), and the FAKE server
//! (tests/fake_server) for faults a real server shows rarely: crash at start, exit 0 on failure,
//! ignoring SIGTERM, a child process, a crash loop. Plus the API's authentication, the CLI
//! without a daemon, and the clean-up of a killed daemon's servers that never touches a process
//! which merely reuses a recorded pid. Every process a test starts is stopped by pid or group.

mod common;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;

fn fake_server() -> String {
    common::repo_root()
        .join("tests/fake_server/fake_mlx_server.py")
        .display()
        .to_string()
}

/// Whether a process still runs: it exists and is not a zombie waiting to be reaped (an orphan
/// is reaped by init, which may take a moment). Gives a dying process up to two seconds.
fn alive(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let running = kill(Pid::from_raw(pid), None).is_ok()
            && mlx_host::metrics::process_start_time(pid as u32).is_some();
        if !running || Instant::now() > deadline {
            return running;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A daemon in a temporary MLX_HOST_HOME.
struct Daemon {
    home: tempfile::TempDir,
    child: Option<Child>,
    models: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let home = tempfile::tempdir().unwrap();
        let models = tempfile::tempdir().unwrap();
        let mut daemon = Daemon {
            home,
            child: None,
            models,
        };
        daemon.spawn();
        daemon
    }

    fn spawn(&mut self) {
        self.spawn_with(&[]);
    }

    fn spawn_with(&mut self, extra: &[&str]) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mlx-host"));
        command
            .args(["serve", "--venv"])
            .arg(common::test_venv())
            .args(extra)
            .env("MLX_HOST_RESTART_BACKOFF_MS", "200")
            .env("MLX_HOST_STOP_GRACE_MS", "2000")
            .env("MLX_HOST_HEALTH_INTERVAL_MS", "500");
        self.child = Some(common::spawn_daemon(command, self.home.path()));
    }

    /// A daemon whose output goes to pipes nobody reads any more, as after its terminal closed.
    fn spawn_with_output_closed(&mut self) {
        use std::os::unix::process::CommandExt as _;

        let runtime_file = self.home.path().join("state/daemon.json");
        let _ = std::fs::remove_file(&runtime_file);
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlx-host"))
            .args(["serve", "--venv"])
            .arg(common::test_venv())
            .env("MLX_HOST_HOME", self.home.path())
            .env("MLX_HOST_STOP_GRACE_MS", "2000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !runtime_file.exists() {
            assert!(Instant::now() < deadline, "the daemon did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.home.path().join("daemon.out")).unwrap_or_default()
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mlx-host"))
            .args(args)
            .env("MLX_HOST_HOME", self.home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "mlx-host {args:?} failed:\n{}{}\ndaemon:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.output()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn ps(&self) -> Vec<Value> {
        serde_json::from_str(&self.cli_ok(&["ps", "--json"])).unwrap()
    }

    fn entry(&self, name: &str) -> Value {
        self.ps()
            .into_iter()
            .find(|entry| entry["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in ps"))
    }

    fn events(&self) -> Vec<Value> {
        self.cli_ok(&["events", "--json", "-n", "500"])
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn event_kinds(&self, subject: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|event| event["subject"] == subject)
            .map(|event| event["kind"].as_str().unwrap().to_string())
            .collect()
    }

    fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check() {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; events: {:?}\ndaemon:\n{}",
                self.events(),
                self.output()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A profile running the fake server in `mode` with extra fake flags.
    fn add_fake(&self, name: &str, mode: &str, restart: &str, extra: &[&str]) {
        let model = self.models.path().display().to_string();
        let fake = fake_server();
        let mut args = vec![
            "profile",
            "add",
            name,
            "--model",
            &model,
            "--server",
            "command",
            "--restart",
            restart,
            "--",
            "python3",
            &fake,
            "--mode",
            mode,
            "--host",
            "{host}",
            "--port",
            "{port}",
            "--model",
            "{model}",
        ];
        args.extend_from_slice(extra);
        self.cli_ok(&args);
    }

    /// Stop the daemon the polite way (SIGTERM) and wait for it.
    fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let _ = child.wait();
        }
    }

    /// Kill the daemon without letting it clean up.
    fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The servers' process groups, in case the daemon cannot stop them any more.
        let pids: Vec<i32> = if self.child.is_some() {
            let output = self.cli(&["ps", "--json"]);
            serde_json::from_slice::<Vec<Value>>(&output.stdout)
                .unwrap_or_default()
                .iter()
                .filter_map(|entry| entry["pid"].as_i64().map(|pid| pid as i32))
                .collect()
        } else {
            Vec::new()
        };
        if let Some(child) = self.child.take() {
            common::stop_daemon(child, Duration::from_secs(15));
        }
        for pid in pids {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

fn tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("tiny");
    let status = Command::new(common::test_venv().join("bin/python"))
        .arg(common::repo_root().join("scripts/make-tiny-model.py"))
        .arg(&model)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    model
}

#[test]
fn a_real_mlx_lm_server_is_supervised_restarted_and_stopped() {
    let daemon = Daemon::start();
    let model = tiny_model(daemon.models.path());
    daemon.cli_ok(&["profile", "add", "tiny", "--model", model.to_str().unwrap()]);
    let started = daemon.cli_ok(&["start", "tiny"]);
    assert!(started.contains("tiny is ready"), "{started}");

    let entry = daemon.entry("tiny");
    assert_eq!(entry["state"], "ready");
    let port = entry["port"].as_u64().unwrap();
    let pid = entry["pid"].as_i64().unwrap() as i32;
    for field in [
        "uptime_secs",
        "rss_bytes",
        "cpu_percent",
        "healthy",
        "restarts",
        "last_diagnosis",
    ] {
        assert!(entry.get(field).is_some(), "ps lacks {field}: {entry}");
    }
    let mut response = ureq::post(&format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .header("content-type", "application/json")
        .send(r#"{"messages":[{"role":"user","content":"Hello"}],"max_tokens":4}"#)
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("choices")
    );

    // SIGKILL while ready: diagnosed, restarted per the default on-failure policy.
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let restarted = daemon.wait_for("a restart", Duration::from_secs(60), || {
        let entry = daemon.entry("tiny");
        (entry["state"] == "ready" && entry["pid"].as_i64() != Some(i64::from(pid)))
            .then_some(entry)
    });
    assert_eq!(restarted["restarts"], 1);
    let kinds = daemon.event_kinds("tiny");
    for kind in ["starting", "ready", "crashed", "restarting"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} event: {kinds:?}"
        );
    }
    let crashed = daemon
        .events()
        .into_iter()
        .find(|event| event["kind"] == "crashed")
        .unwrap();
    assert_eq!(crashed["diagnosis"]["category"], "killed", "{crashed}");

    let new_pid = restarted["pid"].as_i64().unwrap() as i32;
    daemon.cli_ok(&["stop", "tiny"]);
    assert!(!alive(new_pid), "the server is still running after stop");
    assert_eq!(daemon.entry("tiny")["state"], "stopped");
    let logs = daemon.cli_ok(&["logs", "tiny", "-n", "20"]);
    assert!(logs.contains("Starting httpd"), "{logs}");
}

#[test]
fn start_failures_are_diagnosed_within_seconds() {
    let daemon = Daemon::start();
    daemon.add_fake("arch", "crash-at-start", "never", &[]);
    daemon.add_fake("exit-zero", "exit0-on-failure", "never", &[]);
    daemon.add_fake("stuck-port", "port-in-use", "never", &[]);
    daemon.add_fake("never-ready", "never-ready", "never", &[]);
    daemon.add_fake("thread-died", "generation-thread-died", "never", &[]);
    daemon.cli_ok(&["profile", "edit", "never-ready", "--ready-timeout", "3"]);
    for (name, category) in [
        ("arch", "unsupported_architecture"),
        ("exit-zero", ""),
        ("stuck-port", "port_in_use"),
        ("never-ready", "no answer within 3 s"),
        // Alive with /health 503 after a failed load: decided from the log, not the timeout.
        ("thread-died", "corrupt_weights"),
    ] {
        let started = Instant::now();
        let output = daemon.cli(&["start", name]);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{name} should fail: {text}");
        assert!(text.contains("did not become ready"), "{name}: {text}");
        assert!(
            text.contains(category),
            "{name}: expected {category} in {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name} took {:?}",
            started.elapsed()
        );
        let entry = daemon.entry(name);
        assert_eq!(entry["state"], "failed", "{entry}");
        assert!(entry["pid"].is_null(), "{entry}");
        assert!(
            daemon
                .event_kinds(name)
                .iter()
                .any(|kind| kind == "start-failed")
        );
    }
}

#[test]
fn stop_escalates_to_sigkill_and_takes_children_along() {
    let daemon = Daemon::start();
    daemon.add_fake("stubborn", "ignore-sigterm", "on-failure", &[]);
    daemon.add_fake("parent", "spawn-child", "on-failure", &[]);
    assert!(daemon.cli_ok(&["start", "stubborn"]).contains("is ready"));
    assert!(daemon.cli_ok(&["start", "parent"]).contains("is ready"));
    let stubborn = daemon.entry("stubborn")["pid"].as_i64().unwrap() as i32;
    let parent = daemon.entry("parent")["pid"].as_i64().unwrap() as i32;
    let logs = daemon.cli_ok(&["logs", "parent", "-n", "50"]);
    let child: i32 = logs
        .lines()
        .find_map(|line| line.split("child pid ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {logs}"));
    assert!(alive(child));

    let started = Instant::now();
    daemon.cli_ok(&["stop", "stubborn"]);
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "SIGTERM was ignored, so stop must wait the grace"
    );
    assert!(!alive(stubborn));
    daemon.cli_ok(&["stop", "parent"]);
    assert!(!alive(parent));
    assert!(!alive(child), "the child {child} outlived its server");

    // The logs outlive the daemon: `logs` reads them from disk once it is gone.
    let mut daemon = daemon;
    daemon.terminate();
    let after = daemon.cli_ok(&["logs", "parent", "-n", "50"]);
    assert!(
        after.starts_with(&logs) && after.contains("child pid"),
        "the same run's log, read without the daemon:\n{after}"
    );
    let output = daemon.cli(&["logs", "nobody"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no run of `nobody`"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn profile_rm_refuses_a_running_profile_and_stop_removes_it() {
    let daemon = Daemon::start();
    daemon.add_fake("busy", "ok", "on-failure", &[]);
    assert!(daemon.cli_ok(&["start", "busy"]).contains("is ready"));
    let pid = daemon.entry("busy")["pid"].as_i64().unwrap() as i32;

    let refused = daemon.cli(&["profile", "rm", "busy"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("has not ended") && stderr.contains("`--stop` stops it first"),
        "{stderr}"
    );
    assert!(alive(pid));

    daemon.cli_ok(&["profile", "rm", "busy", "--stop"]);
    assert!(!alive(pid), "the server is still running after rm --stop");
    assert!(!daemon.cli_ok(&["profile", "list"]).contains("busy"));

    // Regression: a profile that does not exist was told to use --stop.
    let missing = daemon.cli(&["profile", "rm", "nobody"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("no profile named `nobody`") && !stderr.contains("--stop"),
        "{stderr}"
    );
}

#[test]
fn a_crash_loop_stops_restarting_with_an_event() {
    let daemon = Daemon::start();
    daemon.add_fake(
        "flappy",
        "crash-after-ready",
        "always",
        &["--crash-after", "0.3"],
    );
    daemon.cli(&["start", "flappy"]);
    daemon.wait_for("crash-loop", Duration::from_secs(90), || {
        (daemon.entry("flappy")["state"] == "crash-loop").then_some(())
    });
    let kinds = daemon.event_kinds("flappy");
    assert!(
        kinds.iter().filter(|kind| *kind == "crashed").count() >= 5,
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|kind| kind == "crash-loop"), "{kinds:?}");
    // No more restarts after the loop was declared.
    let restarts = daemon.entry("flappy")["restarts"].clone();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(daemon.entry("flappy")["restarts"], restarts);
}

#[test]
fn the_api_needs_the_token_and_the_cli_explains_a_missing_daemon() {
    let daemon = Daemon::start();
    let info: Value = serde_json::from_str(
        &std::fs::read_to_string(daemon.home.path().join("state/daemon.json")).unwrap(),
    )
    .unwrap();
    let address = info["address"].as_str().unwrap();
    let response = ureq::get(&format!("http://{address}/v1/ps"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(daemon.home.path().join("state/daemon.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let nowhere = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mlx-host"))
        .arg("ps")
        .env("MLX_HOST_HOME", nowhere.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("mlx-host serve"));
}

#[test]
fn a_killed_daemons_servers_are_taken_over_but_a_reused_pid_is_not_touched() {
    let mut daemon = Daemon::start();
    daemon.add_fake("leftover", "ok", "on-failure", &[]);
    assert!(daemon.cli_ok(&["start", "leftover"]).contains("is ready"));
    let server = daemon.entry("leftover")["pid"].as_i64().unwrap() as i32;
    daemon.kill_hard();
    assert!(
        alive(server),
        "the server survives its daemon (own process group)"
    );

    // An unrelated process whose pid a stale run row claims, with another start time.
    let mut bystander = Command::new("sleep")
        .arg("120")
        .process_group(0)
        .spawn()
        .unwrap();
    {
        let store =
            mlx_host::store::Store::open(&daemon.home.path().join("data/mlx-host.db")).unwrap();
        let mut run = mlx_host::store::NewRun::new("leftover", vec!["sleep".into(), "120".into()]);
        run.pid = Some(bystander.id());
        run.process_start_time = Some(1);
        store.runs().insert(&run).unwrap();
    }

    daemon.spawn();
    let adopted = daemon.wait_for(
        "the leftover server to be taken over",
        Duration::from_secs(20),
        || {
            let entry = daemon.entry("leftover");
            (entry["state"] == "ready").then_some(entry)
        },
    );
    assert_eq!(
        adopted["pid"].as_i64(),
        Some(i64::from(server)),
        "the same process, not a new one"
    );
    assert!(
        daemon
            .event_kinds("leftover")
            .iter()
            .any(|kind| kind == "recovered")
    );
    assert!(
        alive(bystander.id() as i32),
        "a process that merely reuses a recorded pid was signalled"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();

    // The taken-over server is stopped like any other, and a crash of it would be seen.
    daemon.cli_ok(&["stop", "leftover"]);
    assert!(
        !alive(server),
        "the adopted server is still running after stop"
    );
}

#[test]
fn keep_servers_leaves_them_running_for_the_next_daemon() {
    let mut daemon = Daemon::start();
    daemon.terminate();
    daemon.spawn_with(&["--keep-servers"]);
    daemon.add_fake("kept", "ok", "on-failure", &[]);
    assert!(daemon.cli_ok(&["start", "kept"]).contains("is ready"));
    let server = daemon.entry("kept")["pid"].as_i64().unwrap() as i32;
    daemon.terminate();
    assert!(
        alive(server),
        "--keep-servers must leave the server running"
    );
    daemon.spawn();
    let entry = daemon.wait_for(
        "the kept server to be taken over",
        Duration::from_secs(20),
        || {
            let entry = daemon.entry("kept");
            (entry["state"] == "ready").then_some(entry)
        },
    );
    assert_eq!(entry["pid"].as_i64(), Some(i64::from(server)));
    // Killed while adopted: noticed, diagnosed, and restarted by policy.
    kill(Pid::from_raw(server), Signal::SIGKILL).unwrap();
    daemon.wait_for(
        "a restart after the adopted server died",
        Duration::from_secs(30),
        || {
            let entry = daemon.entry("kept");
            (entry["state"] == "ready" && entry["pid"].as_i64() != Some(i64::from(server)))
                .then_some(())
        },
    );
    assert!(
        daemon
            .event_kinds("kept")
            .iter()
            .any(|kind| kind == "crashed")
    );
}

#[test]
fn a_closed_terminal_stops_the_daemon_and_its_servers() {
    // Regression: the daemon stopped its servers on Ctrl-C and SIGTERM but died on the spot of
    // SIGHUP, which a closing terminal sends, leaving them running; and with its terminal gone,
    // its next `println!` would have panicked.
    let mut daemon = Daemon::start();
    daemon.terminate();
    daemon.spawn_with_output_closed();
    daemon.add_fake("hangup", "ok", "on-failure", &[]);
    assert!(daemon.cli_ok(&["start", "hangup"]).contains("is ready"));
    let server = daemon.entry("hangup")["pid"].as_i64().unwrap() as i32;
    let mut child = daemon.child.take().expect("a running daemon");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = killpg(Pid::from_raw(server), Signal::SIGKILL);
            panic!("the daemon did not exit within 30 s of SIGHUP");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let server_left = alive(server);
    if server_left {
        let _ = killpg(Pid::from_raw(server), Signal::SIGKILL);
    }
    assert!(status.success(), "the daemon ended with {status:?}");
    assert!(
        !server_left,
        "the server (pid {server}) outlived the daemon's SIGHUP"
    );
}

#[test]
fn a_flooding_server_and_a_hung_health_check_do_not_disturb_the_others() {
    let daemon = Daemon::start();
    daemon.add_fake("flooder", "flood", "never", &["--flood-bytes", "3000000"]);
    daemon.add_fake(
        "slowpoke",
        "slow-health",
        "never",
        &["--health-delay", "30"],
    );
    daemon.add_fake("steady", "ok", "never", &[]);
    for name in ["flooder", "slowpoke", "steady"] {
        assert!(
            daemon.cli_ok(&["start", name]).contains("is ready"),
            "{name}"
        );
    }
    // The hung /health makes slowpoke unhealthy after three probes...
    daemon.wait_for("slowpoke to be unhealthy", Duration::from_secs(40), || {
        daemon
            .event_kinds("slowpoke")
            .iter()
            .any(|kind| kind == "unhealthy")
            .then_some(())
    });
    // ...while the others stay healthy and the flood is stored in bounded lines.
    assert_eq!(daemon.entry("steady")["healthy"], true);
    assert!(
        !daemon
            .event_kinds("steady")
            .iter()
            .any(|kind| kind == "unhealthy")
    );
    let flooder = daemon.entry("flooder");
    assert_eq!(flooder["state"], "ready", "{flooder}");
    let logs = daemon.cli_ok(&["logs", "flooder", "-n", "1000"]);
    let longest = logs.lines().map(str::len).max().unwrap_or(0);
    assert!(longest <= 8 * 1024 + 16, "a log line of {longest} bytes");
    assert!(
        logs.lines().count() > 100,
        "the 3 MB flood was cut into lines"
    );
}

#[test]
fn a_real_server_with_a_broken_model_or_a_taken_port_fails_with_a_diagnosis() {
    let daemon = Daemon::start();
    let model = tiny_model(daemon.models.path());
    let weights = model.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 3]).unwrap();
    daemon.cli_ok(&[
        "profile",
        "add",
        "broken",
        "--model",
        model.to_str().unwrap(),
        "--restart",
        "never",
    ]);
    let output = daemon.cli(&["start", "broken"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("corrupt_weights"), "{text}");
    assert!(daemon.entry("broken")["pid"].is_null());

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let healthy = tiny_model(&daemon.models.path().join("second"));
    daemon.cli_ok(&[
        "profile",
        "add",
        "clash",
        "--model",
        healthy.to_str().unwrap(),
        "--port",
        &port,
        "--restart",
        "never",
    ]);
    let output = daemon.cli(&["start", "clash"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("port_in_use") && text.contains(&port),
        "{text}"
    );
}
