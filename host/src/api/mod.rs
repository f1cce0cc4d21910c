//! The daemon's control API: local HTTP with JSON and a server-sent-event stream of events,
//! authenticated by a random token that `mlx-host serve` writes to its runtime file (mode 0600)
//! for the CLI to find.
//!
//! - [`runtime_file`]: where the daemon says where it listens and with which token.
//! - [`server`]: the routes.
//! - [`downloads`]: the routes of pulls the daemon runs.
//! - [`client`]: the blocking client the CLI uses.

pub mod client;
pub mod downloads;
pub mod runtime_file;
pub mod server;
