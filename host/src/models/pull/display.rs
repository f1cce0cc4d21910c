//! Showing a pull's progress on stderr: a progress bar (bytes, rate, ETA) on a terminal, plain
//! lines every few seconds otherwise (logs and CI stay readable), nothing when quiet. Fed with
//! progress snapshots by whoever runs or watches the pull (in-process, or polling the daemon).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::models::cache::human_size;
use crate::store::downloads::DownloadProgress;

/// Plain lines are printed this often.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bar,
    Lines,
    Quiet,
}

impl Style {
    /// A bar when stderr is a terminal, else lines.
    pub fn for_stderr() -> Style {
        if std::io::stderr().is_terminal() {
            Style::Bar
        } else {
            Style::Lines
        }
    }
}

/// The progress display of one pull.
pub struct ProgressView {
    label: String,
    style: Style,
    bar: Option<ProgressBar>,
    started: Instant,
    first_bytes: Option<u64>,
    last_line: Option<Instant>,
}

impl ProgressView {
    pub fn new(label: &str, style: Style) -> ProgressView {
        let bar = (style == Style::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let template = "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} ({prefix} files)";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        ProgressView {
            label: label.to_string(),
            style,
            bar,
            started: Instant::now(),
            first_bytes: None,
            last_line: None,
        }
    }

    /// Show a new snapshot.
    pub fn update(&mut self, progress: &DownloadProgress) {
        if let Some(bar) = &self.bar {
            if let Some(total) = progress.bytes_total {
                bar.set_length(total);
            }
            bar.set_position(progress.bytes_done);
            bar.set_prefix(files(progress));
            return;
        }
        if self.style == Style::Lines && progress.bytes_total.is_some() {
            self.first_bytes.get_or_insert(progress.bytes_done);
            let due = self
                .last_line
                .is_none_or(|last| last.elapsed() >= LINE_EVERY);
            if due {
                self.last_line = Some(Instant::now());
                self.line(progress);
            }
        }
    }

    fn line(&self, progress: &DownloadProgress) {
        let total = progress.bytes_total.unwrap_or(0);
        let percent = (progress.bytes_done * 100)
            .checked_div(total)
            .unwrap_or(100);
        let elapsed = self.started.elapsed().as_secs_f64();
        let fetched = progress
            .bytes_done
            .saturating_sub(self.first_bytes.unwrap_or(0));
        let rate = if elapsed > 0.0 {
            fetched as f64 / elapsed
        } else {
            0.0
        };
        let left = total.saturating_sub(progress.bytes_done);
        let eta = if rate > 0.0 {
            format!("{:.0} s", left as f64 / rate)
        } else {
            "?".to_string()
        };
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{}: {percent}% {} / {} at {}/s, ETA {eta}, {} files",
            self.label,
            human_size(progress.bytes_done),
            human_size(total),
            human_size(rate as u64),
            files(progress),
        );
    }

    /// The pull ended: clear the bar (the caller prints the outcome).
    pub fn finish(self, last: &DownloadProgress) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        } else if self.style == Style::Lines && last.bytes_total.is_some() {
            self.line(last);
        }
    }
}

fn files(progress: &DownloadProgress) -> String {
    match progress.files_total {
        Some(total) => format!("{}/{total}", progress.files_done),
        None => "?".to_string(),
    }
}
