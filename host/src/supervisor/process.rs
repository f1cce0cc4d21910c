//! One server process: spawned in its own process group with piped output, both streams read
//! continuously into a [`LogTail`], and stopped with SIGTERM to the group, a grace period, then
//! SIGKILL to the group; on Linux optionally tied to the life of the process that started it
//! ([`Tether`]). Nothing here blocks the async runtime.

use std::path::PathBuf;
use std::time::Duration;

use mlx_host_plugin_api::types::ExitStatus;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::logtail::{LineSplitter, LogTail, Stream};

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnSpec {
    /// Program (a path, or a name looked up on PATH) and its arguments.
    pub argv: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("nothing to start: the launch plan has an empty command line")]
    EmptyArgv,
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// Whether a server may outlive the process that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tether {
    /// It keeps running when its starter dies: the daemon's servers, which the next daemon takes
    /// over.
    Independent,
    /// It gets SIGTERM when its starter dies, even of SIGKILL, which the starter cannot catch to
    /// stop it (`mlx-host run`). Linux only (`PR_SET_PDEATHSIG`); elsewhere this is
    /// [`Tether::Independent`]. The kernel ties the signal to the *thread* that spawned the
    /// server, so spawn from one that lives as long as the process (`run` spawns from the thread
    /// that drives its runtime with `block_on`).
    DiesWithStarter,
}

/// Have the kernel send the child SIGTERM when the spawning thread (see [`Tether`]) dies.
#[cfg(target_os = "linux")]
fn die_with_starter(command: &mut Command) {
    let starter = std::process::id();
    // SAFETY: between fork and exec the closure makes only async-signal-safe calls (prctl,
    // getppid) and allocates nothing, not even for its error.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // A starter that died before the prctl would never send the signal.
            if libc::getppid() as u32 != starter {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_starter(_command: &mut Command) {}

/// A running (or finished) server process and the readers of its output.
pub struct ServerProcess {
    child: Child,
    pid: u32,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl ServerProcess {
    /// Start `spec` in a new process group, its output going to `tail`.
    pub fn spawn(
        spec: &SpawnSpec,
        tail: &LogTail,
        tether: Tether,
    ) -> Result<ServerProcess, SpawnError> {
        let (program, args) = spec.argv.split_first().ok_or(SpawnError::EmptyArgv)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(spec.env.iter().map(|(key, value)| (key, value)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        if tether == Tether::DiesWithStarter {
            die_with_starter(&mut command);
        }
        let mut child = command.spawn().map_err(|source| SpawnError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(tokio::spawn(read_stream(
                stdout,
                Stream::Stdout,
                tail.clone(),
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(tokio::spawn(read_stream(
                stderr,
                Stream::Stderr,
                tail.clone(),
            )));
        }
        Ok(ServerProcess {
            child,
            pid,
            readers,
            status: None,
        })
    }

    /// The process id (also the process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status if the process has ended, without waiting.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.status = Some(convert_status(status));
        }
        self.status
    }

    /// Wait for the process to end, then for its output to be read to the end (bounded).
    pub async fn wait(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let status = match self.child.wait().await {
            Ok(status) => convert_status(status),
            Err(_) => ExitStatus::Exited { code: -1 },
        };
        self.status = Some(status);
        self.drain_readers().await;
        status
    }

    /// Let the readers finish the output written before the exit (at most 500 ms; a child of
    /// the server may keep a pipe open).
    async fn drain_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let abort = reader.abort_handle();
            if tokio::time::timeout(Duration::from_millis(500), reader)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Stop the whole process group: SIGTERM, up to `grace` to exit, then SIGKILL. Any process
    /// left in the group after the leader exits is killed too.
    pub async fn stop(&mut self, grace: Duration) -> ExitStatus {
        let group = Pid::from_raw(self.pid as i32);
        if self.try_status().is_none() {
            let _ = killpg(group, Signal::SIGTERM);
            if tokio::time::timeout(grace, self.child.wait())
                .await
                .is_err()
            {
                let _ = killpg(group, Signal::SIGKILL);
            }
        }
        let status = self.wait().await;
        // Children that outlived the leader (e.g. worker processes) go too.
        if killpg(group, None).is_ok() {
            let _ = killpg(group, Signal::SIGKILL);
        }
        status
    }
}

fn convert_status(status: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitStatus::Exited { code },
        (None, Some(signal)) => ExitStatus::Signaled { signal },
        (None, None) => ExitStatus::Exited { code: -1 },
    }
}

async fn read_stream(mut stream: impl AsyncRead + Unpin, which: Stream, tail: LogTail) {
    let mut splitter = LineSplitter::default();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                for line in splitter.feed(&buffer[..read]) {
                    tail.push(which, line);
                }
            }
        }
    }
    if let Some(line) = splitter.finish() {
        tail.push(which, line);
    }
}
