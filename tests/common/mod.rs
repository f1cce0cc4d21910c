//! Helpers shared by the black-box tests: installing fixture plugins into a temporary plugin
//! folder and building registries over it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mlx_host::plugins::{Registry, RegistryOptions};
use mlx_host::settings::Settings;
use mlx_host_plugin_api::types::Event;

/// A compiled WASM test fixture (built by host/build.rs from plugins/test-fixtures/).
pub fn fixture_wasm(crate_name: &str) -> PathBuf {
    let path = Path::new(env!("MLX_HOST_GUEST_WASM_DIR"))
        .join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(path.is_file(), "missing WASM fixture {}", path.display());
    path
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The shared fixtures folder (`../shared/fixtures` next to the repository).
pub fn shared_fixtures() -> PathBuf {
    let path = repo_root().join("../shared/fixtures");
    assert!(
        path.is_dir(),
        "the shared fixtures folder {} is missing; these tests need it",
        path.display()
    );
    path
}

/// Install a WASM plugin folder `dir/name` with the given manifest body (name/kind/entry are
/// filled in).
pub fn install_wasm(dir: &Path, name: &str, wasm: &Path, manifest_rest: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(wasm, folder.join("plugin.wasm")).unwrap();
    std::fs::write(
        folder.join("plugin.toml"),
        format!("name = \"{name}\"\nversion = \"1.0.0\"\nkind = \"wasm\"\nentry = \"plugin.wasm\"\n{manifest_rest}"),
    )
    .unwrap();
    folder
}

/// Install a Lua plugin folder `dir/name` with `init.lua` = `source`.
pub fn install_lua(dir: &Path, name: &str, source: &str, manifest_rest: &str) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("init.lua"), source).unwrap();
    std::fs::write(
        folder.join("plugin.toml"),
        format!("name = \"{name}\"\nversion = \"1.0.0\"\nkind = \"lua\"\nentry = \"init.lua\"\n{manifest_rest}"),
    )
    .unwrap();
    folder
}

/// Events a registry emitted.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<Event>>>);

impl Captured {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

/// A registry over `dir` only (no built-ins), capturing its events.
pub fn registry(dir: &Path, settings: Settings) -> (Registry, Captured) {
    let captured = Captured::default();
    let sink = captured.0.clone();
    let options = RegistryOptions {
        builtins: false,
        user_dirs: vec![dir.to_path_buf()],
        settings,
        component_cache: None,
        events: Some(Arc::new(move |event| sink.lock().unwrap().push(event))),
        side_effects: Default::default(),
    };
    (Registry::load(options), captured)
}

/// Settings with the given failure limit.
pub fn settings_with_limit(limit: u32) -> Settings {
    let mut settings = Settings::default();
    settings.plugins.failure_limit = limit;
    settings
}

/// The Python venv with mlx_lm.server made by scripts/setup-python (`MLX_HOST_TEST_VENV`, else
/// `<repo>/.venv`); panics with what to run when it is missing.
pub fn test_venv() -> PathBuf {
    let venv = std::env::var_os("MLX_HOST_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    assert!(
        venv.join("bin/mlx_lm.server").is_file(),
        "no mlx_lm.server in {}; run scripts/setup-python (or scripts/test) first",
        venv.display()
    );
    venv
}

/// Run `run` and return its value with what was logged through `tracing` on this thread (INFO
/// and above) while it ran; plugins' `host.log` lines arrive this way.
pub fn capture_logs<T>(run: impl FnOnce() -> T) -> (T, String) {
    use std::io::Write;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let value = tracing::subscriber::with_default(subscriber, run);
    let text = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    (value, text)
}

/// The hub stand-in (`tests/hub_stub/hub_stub.py`) on a free loopback port; stopped (stdin
/// closed, then killed) when dropped.
pub struct HubStub {
    child: std::process::Child,
    pub port: u16,
    pub endpoint: String,
}

impl HubStub {
    pub fn start(args: &[&str]) -> HubStub {
        use std::io::BufRead as _;
        use std::process::{Command, Stdio};

        let mut child = Command::new("python3")
            .arg(repo_root().join("tests/hub_stub/hub_stub.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the hub stub");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port: u16 = first
            .trim()
            .strip_prefix("PORT ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the hub stub said {first:?}"));
        HubStub {
            child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for HubStub {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn `command` (an `mlx-host serve`) in a process group of its own with its output appended
/// to `<home>/daemon.out`, and wait until it has written its runtime file.
pub fn spawn_daemon(mut command: std::process::Command, home: &Path) -> std::process::Child {
    use std::os::unix::process::CommandExt as _;

    let runtime_file = home.join("state/daemon.json");
    let _ = std::fs::remove_file(&runtime_file);
    let log_path = home.join("daemon.out");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .unwrap();
    let child = command
        .env("MLX_HOST_HOME", home)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !runtime_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not start: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

/// The stdout and stderr lines of a child, read on threads, with what was seen so far.
pub struct OutputLines {
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl OutputLines {
    /// Take the child's piped stdout and stderr.
    pub fn attach(child: &mut std::process::Child) -> OutputLines {
        use std::io::BufRead as _;

        let (sender, lines) = std::sync::mpsc::channel();
        let streams = [
            Box::new(child.stdout.take().expect("stdout piped")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr piped")),
        ];
        for stream in streams {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        OutputLines {
            lines,
            seen: Vec::new(),
        }
    }

    /// Read until a line contains `needle`; panics with everything seen on timeout.
    pub fn wait_for(&mut self, needle: &str, timeout: std::time::Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no `{needle}` within {timeout:?}; output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Take in the lines that arrive within `linger`.
    pub fn drain(&mut self, linger: std::time::Duration) {
        let deadline = std::time::Instant::now() + linger;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => break,
            }
        }
    }

    pub fn text(&self) -> String {
        self.seen.join("\n")
    }
}

/// Stop a daemon started by [`spawn_daemon`]: SIGTERM, up to `grace` to exit on its own, then
/// SIGKILL to its whole process group.
pub fn stop_daemon(mut child: std::process::Child, grace: std::time::Duration) {
    use nix::sys::signal::{Signal, kill, killpg};
    use nix::unistd::Pid;

    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = killpg(pid, Signal::SIGKILL);
    let _ = child.wait();
}
