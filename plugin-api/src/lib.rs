//! The mlx-host plugin contract, shared by the host and by plugin authors.
//!
//! - [`wit`]: the WIT package `mlx:plugin@1.0.0` (`wit/plugin.wit`), the single source of truth.
//! - [`types`]: the same records as serde types; the host converts WASM values into them and Lua
//!   plugins see them as tables with snake_case fields.
//! - [`manifest`]: the `plugin.toml` schema (unknown fields rejected) and its validation.
//! - [`version`]: the API level and its compatibility rule.
//! - [`native`]: the C ABI of trusted native plugins (versioned entry symbol, JSON in/out).
//! - `guest` (feature `guest`, or `guest-sdk` without its allocator): the Rust SDK for WASM
//!   plugins built for `wasm32-wasip2`.
//! - `lua/mlx.d.lua`: LuaLS type stubs, generated from the WIT by `scripts/gen-lua-stubs`.

pub mod hooks;
pub mod manifest;
pub mod native;
pub mod types;
pub mod version;

#[cfg(feature = "guest-sdk")]
pub mod guest;

/// The WIT text of `mlx:plugin@1.0.0`, as shipped with this crate.
pub mod wit {
    /// Contents of `wit/plugin.wit`.
    pub const PLUGIN_WIT: &str = include_str!("../wit/plugin.wit");
    /// The WIT package name and version.
    pub const PACKAGE: &str = "mlx:plugin@1.0.0";
}

pub use hooks::Hook;
pub use manifest::{Manifest, ManifestError, PluginKind};
pub use version::{API_VERSION, ApiVersion};
