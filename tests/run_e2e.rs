//! `mlx-host run` end to end with a real `mlx_lm.server` (from the venv made by
//! scripts/setup-python) on the tiny model our generator makes: ready → a chat completion is
//! answered → Ctrl-C → nothing left running; a broken model folder → a diagnosis; a taken port
//! → a clear refusal; the server SIGKILLed while ready → a diagnosis. Every process a test
//! starts is cleaned up by pid / process group.

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
        let home = tempfile::tempdir().unwrap();
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

fn process_exists(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
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
    let mut host = RunningHost::start(&[]);
    let url_line = host.wait_for("OpenAI base URL", Duration::from_secs(240));
    let server_pid = host.server_pid.expect("the server pid was printed");
    assert!(process_exists(server_pid));
    let answer = chat(&base_url(&url_line));
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{answer}"
    );

    host.interrupt();
    let (code, output) = host.wait_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("stopped"), "{output}");
    assert!(
        !process_exists(server_pid),
        "the server (pid {server_pid}) is still running"
    );
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

    let mut host = RunningHost::start(&[model.to_str().unwrap()]);
    let (code, output) = host.wait_exit(Duration::from_secs(120));
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("failed: the server failed to start"),
        "{output}"
    );
    assert!(output.contains("corrupt_weights"), "{output}");
    assert!(output.contains("hint:"), "{output}");
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
    let mut host = RunningHost::start(&[]);
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
}
