//! `models pull`, `models downloads`, `models pull --cancel` and the pull `run REPO` does,
//! against the local hub stand-in (`tests/hub_stub/hub_stub.py`) serving a tiny model generated
//! by our script, over real HTTP into a real cache folder: the pulled model is served by a real
//! mlx_lm.server; a connection dropped mid-file and a pull killed mid-file both resume with a
//! Range request; a corrupted file gives an integrity error and leaves nothing usable; a pull in
//! the daemon outlives the CLI and can be cancelled, which removes its partial files; download
//! events are recorded. Every process a test starts is cleaned up by pid or process group.

mod common;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::Value;

const REPO: &str = "mlx-test/tiny-model";
const TOKEN: &str = "hf_test_secret_token_123";

/// The hub stand-in serving one generated tiny model, and a home + cache for mlx-host.
struct Hub {
    _stub: common::HubStub,
    endpoint: String,
    home: tempfile::TempDir,
    cache: PathBuf,
    source: PathBuf,
    _dirs: tempfile::TempDir,
    daemon: Option<Child>,
}

impl Hub {
    fn start() -> Hub {
        let dirs = tempfile::tempdir().unwrap();
        let source = dirs.path().join("tiny");
        let status = Command::new(common::test_venv().join("bin/python"))
            .arg(common::repo_root().join("scripts/make-tiny-model.py"))
            .arg(&source)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        // A bigger file too, so that faults can hit the middle of a transfer.
        let big: Vec<u8> = (0..8_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(source.join("extra.safetensors"), big).unwrap();
        let repo_arg = format!("{REPO}={}", source.display());
        let stub =
            common::HubStub::start(&["--repo", &repo_arg, "--token", TOKEN, "--page-size", "3"]);
        let port = stub.port;
        let home = tempfile::tempdir().unwrap();
        // The built-in notifier posts every event to a webhook on the stand-in, which logs it.
        std::fs::create_dir_all(home.path().join("config")).unwrap();
        std::fs::write(
            home.path().join("config/settings.toml"),
            format!(
                "[plugin-config.notifier]\ndesktop = \"false\"\nwebhook = \"http://127.0.0.1:{port}/webhook\"\nevents = \"all\"\n"
            ),
        )
        .unwrap();
        let cache = dirs.path().join("cache");
        Hub {
            endpoint: stub.endpoint.clone(),
            _stub: stub,
            home,
            cache,
            source,
            _dirs: dirs,
            daemon: None,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mlx-host"));
        command
            .args(args)
            .env("MLX_HOST_HOME", self.home.path())
            .env("HF_ENDPOINT", &self.endpoint)
            .env("HF_HUB_CACHE", &self.cache)
            .env("HF_TOKEN", TOKEN)
            .env_remove("HF_HUB_OFFLINE")
            .stdin(Stdio::null());
        command
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "mlx-host {args:?} failed:\n{text}");
        assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn fault(&self, body: &str) {
        ureq::post(&format!("{}/_stub/faults", self.endpoint))
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
    }

    fn requests(&self) -> Vec<Value> {
        let mut response = ureq::get(&format!("{}/_stub/requests", self.endpoint))
            .call()
            .unwrap();
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// Range headers sent for `file`.
    fn ranges_for(&self, file: &str) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|request| {
                request["method"] == "GET"
                    && request["path"]
                        .as_str()
                        .is_some_and(|path| path.ends_with(file))
            })
            .filter_map(|request| request["range"].as_str().map(String::from))
            .collect()
    }

    /// The event kinds the notifier plugin posted to the webhook.
    fn webhook_kinds(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|request| request["method"] == "POST" && request["path"] == "/webhook")
            .filter_map(|request| {
                let body: Value = serde_json::from_str(request["body"].as_str()?).ok()?;
                Some(body["kind"].as_str()?.to_string())
            })
            .collect()
    }

    /// Wait until the notifier has posted an event of `kind`.
    fn wait_for_webhook(&self, kind: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.webhook_kinds().iter().any(|posted| posted == kind) {
            assert!(
                Instant::now() < deadline,
                "the notifier posted no {kind}: {:?}",
                self.webhook_kinds()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until a partial file holds more than `bytes`; its size.
    fn wait_for_partial_file(&self, bytes: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let size = self
                .partial_files()
                .iter()
                .filter_map(|path| std::fs::metadata(path).ok())
                .map(|meta| meta.len())
                .max()
                .unwrap_or(0);
            if size > bytes {
                return size;
            }
            assert!(
                Instant::now() < deadline,
                "no partial file grew past {bytes} bytes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The start of the one Range request sent for `file`.
    fn only_resume_offset(&self, file: &str) -> u64 {
        let ranges = self.ranges_for(file);
        assert_eq!(ranges.len(), 1, "{ranges:?}");
        ranges[0]
            .trim_start_matches("bytes=")
            .trim_end_matches('-')
            .parse()
            .unwrap()
    }

    fn repo_folder(&self) -> PathBuf {
        self.cache.join("models--mlx-test--tiny-model")
    }

    fn partial_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.repo_folder().join("blobs"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.to_string_lossy().ends_with(".incomplete"))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn downloads(&self) -> Vec<Value> {
        serde_json::from_str(&self.cli_ok(&["models", "downloads", "--json"])).unwrap()
    }

    /// The snapshot holds every source file, byte for byte.
    fn assert_snapshot_complete(&self, snapshot: &Path) {
        for entry in std::fs::read_dir(&self.source).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let pulled = snapshot.join(&name);
            assert!(pulled.is_symlink(), "{} is not a link", pulled.display());
            assert_eq!(
                std::fs::read(&pulled).unwrap(),
                std::fs::read(entry.path()).unwrap(),
                "{} differs from the hub's",
                name.to_string_lossy()
            );
        }
    }

    /// Start the daemon without a token of its own: pulls it runs for the CLI use the CLI's.
    fn start_daemon(&mut self) {
        self.start_daemon_with(None);
    }

    fn start_daemon_with(&mut self, token: Option<&str>) {
        let mut command = self.command(&["serve"]);
        command.env_remove("HF_TOKEN");
        if let Some(token) = token {
            command.env("HF_TOKEN", token);
        }
        self.daemon = Some(common::spawn_daemon(command, self.home.path()));
    }

    fn daemon_output(&self) -> String {
        std::fs::read_to_string(self.home.path().join("daemon.out")).unwrap_or_default()
    }

    /// Wait until the newest download row of REPO is in `state`.
    fn wait_for_download_state(&self, state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let rows = self.downloads();
            if let Some(row) = rows.first()
                && row["state"] == state
            {
                return row.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no download in state {state} within {timeout:?}: {rows:?}\ndaemon:\n{}",
                self.daemon_output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            common::stop_daemon(daemon, Duration::from_secs(10));
        }
        // The stub stops when `self._stub` drops.
    }
}

/// A child process in a group of its own whose output lines are collected; its group is killed
/// when dropped.
struct Watched {
    child: Child,
    output: common::OutputLines,
}

impl Watched {
    fn spawn(mut command: Command) -> Watched {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        Watched {
            output: common::OutputLines::attach(&mut child),
            child,
        }
    }

    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        self.output.wait_for(needle, timeout)
    }

    fn signal_and_wait(&mut self, signal: Signal, timeout: Duration) -> std::process::ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.output.drain(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit:\n{}",
                self.output.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // The whole group: `run` leaves its server in a group of its own, handled by `run`
        // itself on SIGINT; this catches anything left if a test failed midway.
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn pull_json(hub: &Hub, extra: &[&str]) -> Value {
    let mut args = vec!["models", "pull", REPO, "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&hub.cli_ok(&args)).unwrap()
}

#[test]
fn run_pulls_a_missing_model_and_a_real_mlx_lm_server_serves_it() {
    let hub = Hub::start();
    let mut command = hub.command(&["run", REPO, "--venv"]);
    command.arg(common::test_venv());
    let mut host = Watched::spawn(command);
    host.wait_for("not in the cache; pulling it", Duration::from_secs(30));
    let url_line = host.wait_for("OpenAI base URL", Duration::from_secs(240));
    let base = url_line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("a URL")
        .trim_end_matches('/')
        .to_string();
    let mut response = ureq::post(&format!("{base}/chat/completions"))
        .header("content-type", "application/json")
        .send(r#"{"messages":[{"role":"user","content":"Hello"}],"max_tokens":5}"#)
        .expect("the chat completion request succeeds");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{answer}"
    );
    let status = host.signal_and_wait(Signal::SIGINT, Duration::from_secs(30));
    assert!(status.success(), "{}", host.output.text());
    let all = host.output.text();
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");

    // The pull was recorded, the token was sent to the hub, and a second pull finds it all.
    let rows = hub.downloads();
    assert_eq!(rows[0]["state"], "done", "{rows:?}");
    let hub_requests: Vec<Value> = hub
        .requests()
        .into_iter()
        .filter(|request| request["path"] != "/webhook")
        .collect();
    assert!(!hub_requests.is_empty());
    assert!(
        hub_requests
            .iter()
            .all(|request| request["authorized"] == true),
        "{hub_requests:?}"
    );
    let again = pull_json(&hub, &[]);
    assert_eq!(again["files_present"], again["files"], "{again}");
    hub.assert_snapshot_complete(Path::new(again["snapshot"].as_str().unwrap()));
    // huggingface_hub itself finds the model offline in the layout we wrote.
    let found = Command::new(common::test_venv().join("bin/python"))
        .args([
            "-c",
            "import sys; from huggingface_hub import snapshot_download; print(snapshot_download(sys.argv[1], local_files_only=True))",
            REPO,
        ])
        .env("HF_HUB_CACHE", &hub.cache)
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&found.stdout).trim(),
        again["snapshot"].as_str().unwrap()
    );
}

#[test]
fn run_pulls_into_its_own_cache_when_the_daemons_is_another() {
    // Regression: with a daemon running, `run REPO` had the daemon pull into the daemon's cache,
    // then could not find the model in this shell's HF_HUB_CACHE.
    let mut hub = Hub::start();
    hub.start_daemon();
    let elsewhere = tempfile::tempdir().unwrap();
    let cache = elsewhere.path().join("hub");
    let mut command = hub.command(&["run", REPO, "--venv"]);
    command.arg(common::test_venv()).env("HF_HUB_CACHE", &cache);
    let mut host = Watched::spawn(command);
    host.wait_for(
        "note: the daemon uses another Hugging Face cache",
        Duration::from_secs(30),
    );
    host.wait_for("OpenAI base URL", Duration::from_secs(240));
    let status = host.signal_and_wait(Signal::SIGINT, Duration::from_secs(30));
    assert!(status.success(), "{}", host.output.text());
    let folder = cache.join(format!("models--{}", REPO.replace('/', "--")));
    assert!(
        folder.join("snapshots").is_dir(),
        "nothing in {}",
        folder.display()
    );
    assert!(
        !hub.repo_folder().exists(),
        "the daemon's cache got the model too"
    );
}

#[test]
fn a_connection_dropped_mid_file_is_resumed_with_a_range_request() {
    let hub = Hub::start();
    hub.fault(r#"{"drop_after_bytes": 3000000, "drop_path": "extra.safetensors", "times": 1}"#);
    let outcome = pull_json(&hub, &[]);
    hub.assert_snapshot_complete(Path::new(outcome["snapshot"].as_str().unwrap()));
    let ranges = hub.ranges_for("extra.safetensors");
    assert_eq!(
        ranges,
        vec!["bytes=3000000-".to_string()],
        "{:?}",
        hub.requests()
    );
    assert!(hub.partial_files().is_empty());
}

#[test]
fn a_pull_killed_mid_file_resumes_from_its_partial_file() {
    let hub = Hub::start();
    // Slow enough to be caught midway: 64 KiB every 20 ms.
    hub.fault(r#"{"delay_ms_per_chunk": 20, "chunk_bytes": 65536}"#);
    let mut pull = Watched::spawn(hub.command(&["models", "pull", REPO]));
    let partial_size = hub.wait_for_partial_file(500_000);
    // As a crash would: no chance to clean up.
    pull.signal_and_wait(Signal::SIGKILL, Duration::from_secs(10));
    let rows = hub.downloads();
    assert_eq!(rows[0]["state"], "interrupted", "{rows:?}");

    hub.fault(r#"{"clear": true}"#);
    let outcome = pull_json(&hub, &[]);
    hub.assert_snapshot_complete(Path::new(outcome["snapshot"].as_str().unwrap()));
    let resumed_from = outcome["bytes_resumed"].as_u64().unwrap();
    assert!(resumed_from >= partial_size, "{outcome}");
    let start = hub.only_resume_offset("extra.safetensors");
    assert!(
        start >= partial_size,
        "resumed at {start}, had {partial_size}"
    );
}

#[test]
fn a_corrupted_file_is_refused_with_an_integrity_error() {
    let hub = Hub::start();
    hub.fault(r#"{"corrupt_path": "extra.safetensors"}"#);
    let output = hub.cli(&["models", "pull", REPO]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("extra.safetensors: the downloaded bytes do not match the hub's sha256"),
        "{stderr}"
    );
    // Nothing a server could load, and no damaged bytes kept.
    assert!(!hub.repo_folder().join("snapshots").exists());
    assert!(hub.partial_files().is_empty());
    let rows = hub.downloads();
    assert_eq!(rows[0]["state"], "failed", "{rows:?}");
    hub.wait_for_webhook("download-failed");
}

#[test]
fn a_pull_in_the_daemon_outlives_the_cli_and_can_be_cancelled() {
    let mut hub = Hub::start();
    hub.start_daemon();
    hub.fault(r#"{"delay_ms_per_chunk": 20, "chunk_bytes": 65536}"#);

    // The CLI asks the daemon and goes away; the pull goes on without it.
    let mut watcher = Watched::spawn(hub.command(&["models", "pull", REPO]));
    watcher.wait_for("the daemon is pulling", Duration::from_secs(30));
    watcher.signal_and_wait(Signal::SIGKILL, Duration::from_secs(10));
    let running = hub.wait_for_download_state("running", Duration::from_secs(10));
    assert_eq!(running["owner"], "daemon", "{running}");
    hub.wait_for_partial_file(0);

    // Another revision of the repo is refused while this pull runs, not answered with it.
    let other = hub.cli(&["models", "pull", REPO, "--revision", "v2"]);
    assert!(!other.status.success());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(
        stderr.contains("is already being pulled at revision `main`")
            && stderr.contains("models pull --cancel"),
        "{stderr}"
    );

    let cancelled = hub.cli_ok(&["models", "pull", "--cancel", REPO]);
    assert!(cancelled.contains("cancelled the pull of"), "{cancelled}");
    hub.wait_for_download_state("cancelled", Duration::from_secs(10));
    assert!(hub.partial_files().is_empty(), "{:?}", hub.partial_files());
    assert!(!hub.repo_folder().join("snapshots").exists());

    // Pulled again through the daemon, to the end; the finished event is recorded.
    hub.fault(r#"{"clear": true}"#);
    let outcome = pull_json(&hub, &[]);
    hub.assert_snapshot_complete(Path::new(outcome["snapshot"].as_str().unwrap()));
    let events = hub.cli_ok(&["events", "--json"]);
    assert!(events.contains("download-finished"), "{events}");
    hub.wait_for_webhook("download-finished");
    assert!(
        !hub.daemon_output().contains(TOKEN),
        "the token leaked into the daemon's log"
    );
}

#[test]
fn unknown_repos_and_revisions_get_clear_errors() {
    let hub = Hub::start();
    let output = hub.cli(&["models", "pull", "mlx-test/not-there"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mlx-test/not-there was not found at"),
        "{stderr}"
    );

    let output = hub.cli(&["models", "pull", REPO, "--revision", "no-such-branch"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("has no revision `no-such-branch`"),
        "{stderr}"
    );

    let output = hub
        .command(&["models", "pull", REPO])
        .env("HF_TOKEN", "hf_wrong")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rejected the token"), "{stderr}");
    assert!(!stderr.contains("hf_wrong"), "{stderr}");

    let output = hub
        .command(&["models", "pull", REPO])
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("HF_HUB_OFFLINE is set"));
}

#[test]
fn a_pull_prints_no_log_noise_from_its_libraries_or_plugins() {
    // Regression: every CLI pull on a machine without notify-send printed the notifier's
    // "desktop notification failed" warning, and an unreachable hub printed hf-hub's own
    // "retry exhausted" ERROR line before mlx-host's error. An empty PATH guarantees that
    // notify-send is missing here.
    let hub = Hub::start();
    let no_programs = tempfile::tempdir().unwrap();
    // A home of its own: the shared one points the notifier's webhook at the stand-in.
    let home = tempfile::tempdir().unwrap();
    let output = hub
        .command(&["models", "pull", REPO])
        .env("MLX_HOST_HOME", home.path())
        .env("PATH", no_programs.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("WARN") && !stderr.contains("ERROR"),
        "a successful pull logged:\n{stderr}"
    );

    let output = hub
        .command(&["models", "pull", "mlx-test/elsewhere"])
        .env("MLX_HOST_HOME", home.path())
        .env("HF_ENDPOINT", "http://127.0.0.1:1")
        .env("PATH", no_programs.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not reach the hub"), "{stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "only mlx-host's own error:\n{stderr}"
    );
}

#[test]
fn profile_add_pulls_a_missing_model_and_models_list_shows_it_in_use() {
    let hub = Hub::start();
    let added = hub.cli_ok(&["profile", "add", "tiny", "--model", REPO]);
    assert!(added.contains("added profile tiny"), "{added}");
    assert!(added.contains(&format!("pulled {REPO}")), "{added}");
    let listed: Vec<Value> =
        serde_json::from_str(&hub.cli_ok(&["models", "list", "--json"])).unwrap();
    let model = listed
        .iter()
        .find(|model| model["repo_id"] == REPO)
        .unwrap_or_else(|| panic!("{REPO} not listed: {listed:?}"));
    assert_eq!(model["profiles"], serde_json::json!(["tiny"]), "{model}");
    assert_eq!(model["family"], "llama", "{model}");
    hub.assert_snapshot_complete(Path::new(model["snapshot"].as_str().unwrap()));

    // --no-pull saves the profile and only says how to fetch the model.
    let other = hub.cli_ok(&[
        "profile",
        "add",
        "other",
        "--model",
        "mlx-test/elsewhere",
        "--no-pull",
    ]);
    assert!(other.contains("models pull mlx-test/elsewhere"), "{other}");
}

#[test]
fn a_new_daemon_resumes_the_pull_a_killed_daemon_left_unfinished() {
    let mut hub = Hub::start();
    hub.start_daemon();
    hub.fault(r#"{"delay_ms_per_chunk": 20, "chunk_bytes": 65536}"#);
    let mut watcher = Watched::spawn(hub.command(&["models", "pull", REPO]));
    watcher.wait_for("the daemon is pulling", Duration::from_secs(30));
    // The daemon pulls on while this CLI is killed; then the daemon itself is SIGKILLed.
    drop(watcher);
    let partial_size = hub.wait_for_partial_file(500_000);
    let mut daemon = hub.daemon.take().expect("daemon");
    killpg(Pid::from_raw(daemon.id() as i32), Signal::SIGKILL).unwrap();
    daemon.wait().unwrap();
    hub.fault(r#"{"clear": true}"#);

    // The new daemon resumes with its own environment's token (the CLI's is never stored).
    hub.start_daemon_with(Some(TOKEN));
    let done = hub.wait_for_download_state("done", Duration::from_secs(60));
    assert_eq!(done["owner"], "daemon", "{done}");
    let start = hub.only_resume_offset("extra.safetensors");
    assert!(
        start >= partial_size,
        "resumed at {start}, had {partial_size}"
    );
    let rows = hub.downloads();
    assert!(
        rows.iter().any(|row| row["state"] == "interrupted"),
        "the killed daemon's pull is recorded as interrupted: {rows:?}"
    );
    assert!(
        hub.daemon_output().contains("resuming the pull of"),
        "{}",
        hub.daemon_output()
    );
}

#[test]
fn ctrl_c_interrupts_a_pull_and_keeps_its_partial_files() {
    let hub = Hub::start();
    hub.fault(r#"{"delay_ms_per_chunk": 20, "chunk_bytes": 65536}"#);
    let mut pull = Watched::spawn(hub.command(&["models", "pull", REPO]));
    hub.wait_for_partial_file(200_000);
    let status = pull.signal_and_wait(Signal::SIGINT, Duration::from_secs(15));
    let output = pull.output.text();
    assert_eq!(status.code(), Some(130), "{output}");
    assert!(
        output.contains("interrupted; the partial files are kept"),
        "{output}"
    );
    assert!(!hub.partial_files().is_empty());
    let rows = hub.downloads();
    assert_eq!(rows[0]["state"], "interrupted", "{rows:?}");
}

#[test]
fn cancel_stops_a_pull_running_in_another_terminal_and_removes_its_partial_files() {
    let hub = Hub::start();
    hub.fault(r#"{"delay_ms_per_chunk": 20, "chunk_bytes": 65536}"#);
    let mut pull = Watched::spawn(hub.command(&["models", "pull", REPO]));
    hub.wait_for_partial_file(200_000);
    let cancelled = hub.cli_ok(&["models", "pull", "--cancel", REPO]);
    assert!(cancelled.contains("cancelled the pull of"), "{cancelled}");
    // The other process has already stopped (cancel waits for it).
    assert!(
        pull.child.try_wait().unwrap().is_some(),
        "{}",
        pull.output.text()
    );
    assert!(hub.partial_files().is_empty(), "{:?}", hub.partial_files());
    assert!(!hub.repo_folder().join("snapshots").exists());
    let rows = hub.downloads();
    assert_eq!(rows[0]["state"], "cancelled", "{rows:?}");
}
