//! mlx-host: supervises local MLX inference servers and hosts plugins (WASM, Lua, native) that
//! detect model families, plan launch options, explain failures and deliver notifications.
//!
//! - [`api`]: the daemon's control API (HTTP + SSE) and its client.
//! - [`cli`]: the command line (clap definitions and handlers).
//! - [`plugins`]: the plugin host.
//! - [`paths`]: where files live (`MLX_HOST_HOME`).
//! - [`settings`]: the user's `settings.toml`.
//! - [`store`]: the state database (profiles, runs, events, daemon settings).
//! - [`supervisor`]: one server process: spawn, output, readiness, diagnosis, stop.
//! - [`runtimes`]: finding server executables.
//! - [`models`]: resolving a MODEL argument; the local demo model.
//! - [`events`]: the event bus (persist, broadcast, notifier plugins).
//! - [`metrics`]: memory and CPU of server process trees.
//! - [`run_logs`]: reading a run's log back.

pub mod api;
pub mod cli;
pub mod events;
pub mod metrics;
pub mod models;
pub mod paths;
pub mod plugins;
pub mod run_logs;
pub mod runtimes;
pub mod settings;
pub mod store;
pub mod supervisor;
