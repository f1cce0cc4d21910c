//! Reading a run's log back: the last lines of a profile's latest run, or of a chosen run, found
//! through the runs table. Used by the API's logs route and by `mlx-host logs` when no daemon
//! runs (the log files and the database outlive the daemon, which is when a post-mortem needs
//! them). Blocking: reads SQLite and a file.

use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    #[error("no run of `{profile}` to show logs for; `mlx-host start {profile}` starts one")]
    NoRun { profile: String },
    #[error("run {run} is not a run of `{profile}`; `mlx-host ps` shows the profiles' runs")]
    OtherProfile { run: i64, profile: String },
    #[error("run {0} has no log file")]
    NoLogFile(i64),
    #[error("cannot read the log file {path}: {source}; it may have been rotated away")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for RunLogError {
    fn from(error: StoreError) -> RunLogError {
        RunLogError::Store(Box::new(error))
    }
}

impl RunLogError {
    /// Whether the run or its log does not exist (rather than something failing).
    pub fn is_not_found(&self) -> bool {
        !matches!(self, RunLogError::Store(_))
    }
}

/// The last `wanted` lines of `profile`'s run `run` (its latest run when `None`).
pub fn last_lines(
    store: &Store,
    profile: &str,
    run: Option<i64>,
    wanted: usize,
) -> Result<Vec<String>, RunLogError> {
    let found = match run {
        Some(id) => match store.runs().get(id)? {
            Some(found) if found.profile == profile => Some(found),
            Some(_) => {
                return Err(RunLogError::OtherProfile {
                    run: id,
                    profile: profile.to_string(),
                });
            }
            None => None,
        },
        None => store
            .runs()
            .list_for_profile(profile, 1)?
            .into_iter()
            .next(),
    };
    let found = found.ok_or_else(|| RunLogError::NoRun {
        profile: profile.to_string(),
    })?;
    let path = found.log_path.ok_or(RunLogError::NoLogFile(found.id))?;
    let text = std::fs::read_to_string(&path).map_err(|source| RunLogError::Read {
        path: path.clone(),
        source,
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(wanted);
    Ok(lines[skip..].iter().map(|line| line.to_string()).collect())
}
