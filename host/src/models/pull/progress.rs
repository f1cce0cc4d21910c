//! A pull's live progress (lock-free counters every file transfer adds to) and the stop signal
//! a pull checks between chunks: Ctrl-C interrupts (partial files kept for resuming), cancel
//! stops and removes them.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::store::downloads::DownloadProgress;

/// Counters shared by the transfers of one pull and whoever shows or records its progress.
#[derive(Debug, Default)]
pub struct PullProgress {
    files_total: AtomicU64,
    files_done: AtomicU64,
    /// `u64::MAX` until the file list is known.
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
}

impl PullProgress {
    pub fn new() -> PullProgress {
        PullProgress {
            bytes_total: AtomicU64::new(u64::MAX),
            files_total: AtomicU64::new(u64::MAX),
            ..PullProgress::default()
        }
    }

    /// The plan is known: `files` files of `bytes` bytes in all.
    pub fn set_totals(&self, files: u64, bytes: u64) {
        self.files_total.store(files, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
    }

    pub fn add_bytes(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Take back bytes counted for a partial file that had to be restarted.
    pub fn remove_bytes(&self, bytes: u64) {
        let _ = self
            .bytes_done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |done| {
                Some(done.saturating_sub(bytes))
            });
    }

    pub fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> DownloadProgress {
        let known = |value: u64| (value != u64::MAX).then_some(value);
        DownloadProgress {
            files_total: known(self.files_total.load(Ordering::Relaxed)),
            files_done: self.files_done.load(Ordering::Relaxed),
            bytes_total: known(self.bytes_total.load(Ordering::Relaxed)),
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
        }
    }
}

/// Why a pull was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C or shutdown: keep the partial files so the next pull resumes them.
    Interrupt,
    /// `models pull --cancel`: remove the partial files.
    Cancel,
}

/// Set once by whoever stops a pull; read by its transfers between chunks.
#[derive(Debug, Default)]
pub struct StopSignal(AtomicU8);

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Ask the pull to stop. A cancel wins over an interrupt.
    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Interrupt => 1,
            StopReason::Cancel => 2,
        };
        self.0.fetch_max(code, Ordering::SeqCst);
    }

    pub fn reason(&self) -> Option<StopReason> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            1 => Some(StopReason::Interrupt),
            _ => Some(StopReason::Cancel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_unknown_until_set_and_bytes_never_go_negative() {
        let progress = PullProgress::new();
        assert_eq!(progress.snapshot().bytes_total, None);
        progress.set_totals(2, 100);
        progress.add_bytes(30);
        progress.remove_bytes(50);
        progress.add_bytes(10);
        progress.file_done();
        let snapshot = progress.snapshot();
        assert_eq!(snapshot.bytes_total, Some(100));
        assert_eq!(snapshot.bytes_done, 10);
        assert_eq!((snapshot.files_done, snapshot.files_total), (1, Some(2)));
    }

    #[test]
    fn cancel_wins_over_interrupt() {
        let stop = StopSignal::new();
        assert_eq!(stop.reason(), None);
        stop.stop(StopReason::Cancel);
        stop.stop(StopReason::Interrupt);
        assert_eq!(stop.reason(), Some(StopReason::Cancel));
    }
}
