//! The lifecycle events of `mlx-host run`: the same kinds the daemon emits for a profile
//! (`starting`, `ready`, `start-failed`, `crashed`, `stopped`), stored in the state database (so
//! `mlx-host events` shows them) and handed to the notifier plugins, so a webhook or desktop
//! notification hears about a server run without the daemon too.
//!
//! Events are a side channel: when the database cannot be opened, `run` says so once and serves
//! anyway.

use std::sync::Arc;

use crate::events::LocalEvents;
use crate::models::resolve::ResolvedModel;
use crate::paths::Paths;
use crate::plugins::Registry;
use crate::supervisor::diagnosis::Diagnosed;

/// Where `run` sends its events; does nothing when they could not be set up.
pub struct RunEvents {
    channel: Option<LocalEvents>,
    subject: String,
}

impl RunEvents {
    /// Open the database and start the event writer and the notifier queue. Blocking (opens
    /// SQLite, starts threads): call it off the async runtime.
    pub fn start(paths: &Paths, registry: Arc<Registry>) -> RunEvents {
        let channel = match LocalEvents::start(&paths.data_dir, registry) {
            Ok(channel) => Some(channel),
            Err(error) => {
                tracing::warn!(
                    "this run's events will not be recorded or sent to notifiers: {error:#}"
                );
                None
            }
        };
        RunEvents {
            channel,
            subject: "run".into(),
        }
    }

    /// Name the events after the model being served: its repo id, or its folder's name.
    pub fn set_model(&mut self, model: &ResolvedModel) {
        self.subject = match model {
            ResolvedModel::Cached { repo_id, .. } => repo_id.clone(),
            ResolvedModel::Local(path) => path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
        };
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Publish an event about the served model; never blocks.
    pub fn emit(&self, kind: &str, message: String, diagnosis: Option<&Diagnosed>) {
        if let Some(channel) = &self.channel {
            channel.bus.emit(kind, &self.subject, message, diagnosis);
        }
    }

    /// Store what is queued and let the notifiers deliver it, then stop. Blocking.
    pub fn finish(self) {
        if let Some(channel) = self.channel {
            channel.finish();
        }
    }
}
