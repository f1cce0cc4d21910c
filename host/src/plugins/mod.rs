//! The plugin host: finds plugins (built-in and user), loads them into their runtime (WASM,
//! Lua, native), and dispatches hooks by priority with per-call deadlines, memory caps and
//! failure counting. The rest of mlx-host talks to plugins only through [`Registry`] and never
//! knows which runtime answered.
//!
//! - [`discover`]: built-in plugins embedded in the binary and user plugins on disk.
//! - [`registry`]: loading, ordering, dispatch semantics, fault policy.
//! - [`wasm`], [`lua`], [`native`]: one runtime each (`lua_values`: the Lua runtime's
//!   hand-written conversions of the hottest records).
//! - [`host_api`]: what plugins may call back into (log, config, notify, http).
//! - [`fanout`]: the bounded queue that hands events to notifier plugins.
//! - [`check`], [`scaffold`]: `plugins check` and `plugins new`.

pub mod builtin;
pub mod check;
pub mod discover;
pub mod fanout;
pub mod host_api;
pub mod lua;
mod lua_values;
pub mod native;
pub mod registry;
pub mod scaffold;
pub mod wasm;

use std::path::PathBuf;

pub use registry::{Answer, PluginInfo, PluginSource, PluginState, Registry, RegistryOptions};

/// Why a call into a plugin produced no usable answer. Every variant counts as one failure of
/// that plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("did not answer within its {0} ms deadline")]
    Timeout(u32),
    #[error("went over its {0} MiB memory limit")]
    MemoryLimit(u32),
    #[error("crashed: {0}")]
    Trap(String),
    #[error("returned an error: {0}")]
    Plugin(String),
    #[error("returned a malformed answer: {0}")]
    BadOutput(String),
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] mlx_host_plugin_api::ManifestError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
}

/// Shorthand for a refusal with a message that says what to do.
pub(crate) fn refused(message: impl Into<String>) -> LoadError {
    LoadError::Refused(message.into())
}
