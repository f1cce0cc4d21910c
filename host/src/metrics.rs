//! Resource use of server process trees (sysinfo): resident memory and CPU of a server and every
//! process below it, and process start times, which identify a process across a host restart
//! (a pid alone can be reused).

use std::collections::HashMap;

use serde::Serialize;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// Memory and CPU of one process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TreeUsage {
    /// Resident memory of the whole tree, in bytes.
    pub rss_bytes: u64,
    /// CPU use of the whole tree since the previous refresh, in percent of one core.
    pub cpu_percent: f32,
    /// Processes in the tree (the server and its descendants).
    pub processes: usize,
}

/// Samples processes; CPU figures need two refreshes some time apart.
pub struct ProcessSampler {
    system: System,
}

/// The process table cannot be read on this system.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the process table: {0}")]
pub struct SamplerError(String);

impl ProcessSampler {
    pub fn new() -> Result<ProcessSampler, SamplerError> {
        System::new()
            .map(|system| ProcessSampler { system })
            .map_err(|error| SamplerError(error.to_string()))
    }

    /// Read every process's memory, CPU and parent again.
    pub fn refresh(&mut self) {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
    }

    /// Usage of `root` and all its descendants, `None` when `root` is gone.
    pub fn tree_usage(&self, root: u32) -> Option<TreeUsage> {
        let processes = self.system.processes();
        processes.get(&Pid::from_u32(root))?;
        let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
        for (pid, process) in processes {
            if let Some(parent) = process.parent() {
                children.entry(parent).or_default().push(*pid);
            }
        }
        let mut usage = TreeUsage::default();
        let mut stack = vec![Pid::from_u32(root)];
        // A process list is finite, but guard against a cycle all the same.
        let mut visited = 0usize;
        while let Some(pid) = stack.pop() {
            visited += 1;
            if visited > processes.len() {
                break;
            }
            if let Some(process) = processes.get(&pid) {
                usage.rss_bytes += process.memory();
                usage.cpu_percent += process.cpu_usage();
                usage.processes += 1;
            }
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().copied());
            }
        }
        Some(usage)
    }
}

/// When a process started, `None` when it does not exist (or is a zombie). Only compared for
/// equality: on Linux the kernel's start time in clock ticks since boot (`/proc/PID/stat` field
/// 22), which is exact and stable — sysinfo's seconds since the epoch are derived from the boot
/// time and can differ by a second between two reads.
pub fn process_start_time(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may contain spaces.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // fields[0] is field 3 (state); field 22 is fields[19].
        if fields.first() == Some(&"Z") {
            return None;
        }
        fields.get(19)?.parse().ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        sysinfo_start_time(pid)
    }
}

#[cfg(not(target_os = "linux"))]
fn sysinfo_start_time(pid: u32) -> Option<u64> {
    let mut system = System::new().ok()?;
    let pid = Pid::from_u32(pid);
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing(),
    );
    system.process(pid).map(|process| process.start_time())
}

/// The command line of a process, `None` when it does not exist or cannot be read.
pub fn process_cmdline(pid: u32) -> Option<Vec<String>> {
    let mut system = System::new().ok()?;
    let pid = Pid::from_u32(pid);
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
    );
    system.process(pid).map(|process| {
        process
            .cmd()
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_process_tree_and_identifies_processes() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut sampler = ProcessSampler::new().unwrap();
        sampler.refresh();
        let usage = sampler.tree_usage(child.id()).expect("the shell is alive");
        assert!(usage.processes >= 3, "sh and two sleeps: {usage:?}");
        assert!(usage.rss_bytes > 0);
        let started = process_start_time(child.id()).expect("a start time");
        assert_eq!(
            process_start_time(child.id()),
            Some(started),
            "stable between reads"
        );
        // Another process started at another time (init, at boot) has another start time.
        // Not this test process: with a 10 ms clock tick it can start in the child's tick.
        assert_ne!(process_start_time(1), Some(started), "differs per process");
        let cmdline = process_cmdline(child.id()).expect("a command line");
        assert_eq!(cmdline.first().map(String::as_str), Some("sh"));
        // The shell shares our process group, so kill its tree by pid.
        let kids: Vec<u32> = {
            let processes = sampler.system.processes();
            processes
                .iter()
                .filter(|(_, process)| process.parent() == Some(Pid::from_u32(child.id())))
                .map(|(pid, _)| pid.as_u32())
                .collect()
        };
        for kid in kids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(kid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(sampler.tree_usage(u32::MAX).is_none());
    }
}
