//! The Rust guest SDK: write a WASM plugin as one type implementing [`Plugin`].
//!
//! ```ignore
//! use mlx_host_plugin_api::guest::{self, Diagnosis, LogTail, Plugin, Severity};
//!
//! struct MetalOom;
//!
//! impl Plugin for MetalOom {
//!     fn detect_error(tail: LogTail) -> Result<Option<Diagnosis>, String> {
//!         let hit = tail.lines.iter().position(|line| line.contains("kIOGPUCommandBufferCallbackErrorOutOfMemory"));
//!         Ok(hit.map(|index| Diagnosis {
//!             category: "out_of_memory".into(),
//!             severity: Severity::Fatal,
//!             summary: tail.lines[index].clone(),
//!             hint: "Use a smaller quantization or close other GPU users.".into(),
//!             line: Some(index as u32),
//!         }))
//!     }
//! }
//!
//! mlx_host_plugin_api::export_plugin!(MetalOom);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` file in
//! `target/wasm32-wasip2/release/` is the component named by `entry` in `plugin.toml`.
//! Hooks you do not implement answer "no opinion"; declare the ones you implement in the
//! manifest's `hooks`, since the host calls only those.

/// The component's allocator (feature `guest`): talc instead of Rust's default dlmalloc. Every
/// hook call goes through guest allocations: the host asks the guest's `cabi_realloc` for room
/// for each argument string and list, the plugin allocates the strings of its answer, and all of
/// them are freed again when the call ends. In `host/benches/plugin_dispatch.rs` a one-line
/// `detect-error` call that answers took 520 ns with dlmalloc and 485-497 ns with talc. A plugin
/// with its own `#[global_allocator]` uses the feature `guest-sdk` instead, which leaves this out.
#[cfg(all(
    feature = "guest",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "full-plugin",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__mlx_host_export_full_plugin",
        default_bindings_module: "mlx_host_plugin_api::guest::bindings",
    });
}

pub use bindings::mlx::plugin::config;
pub use bindings::mlx::plugin::http;
pub use bindings::mlx::plugin::log;
pub use bindings::mlx::plugin::notify;
pub use bindings::mlx::plugin::types::{
    Diagnosis, Event, ExitStatus, FamilyInfo, LaunchPlan, LaunchRequest, LogTail, ModelSource,
    Severity,
};

/// The hooks of a WASM plugin. Every method has a default that means "no opinion" (or "plan
/// unchanged"), so implement only the hooks your manifest declares.
pub trait Plugin {
    /// `detect-family`: say what a checkpoint is; `Ok(None)` = no opinion.
    fn detect_family(model: ModelSource) -> Result<Option<FamilyInfo>, String> {
        let _ = model;
        Ok(None)
    }

    /// `launch-options`: return the plan to pass on to the next planner.
    fn plan_launch(request: LaunchRequest, plan: LaunchPlan) -> Result<LaunchPlan, String> {
        let _ = request;
        Ok(plan)
    }

    /// `detect-error`: classify a log tail; `Ok(None)` = no opinion.
    fn detect_error(tail: LogTail) -> Result<Option<Diagnosis>, String> {
        let _ = tail;
        Ok(None)
    }

    /// `on-event`: hear about a lifecycle event.
    fn on_event(event: Event) -> Result<(), String> {
        let _ = event;
        Ok(())
    }
}

/// Write a message to the host's log at info level, tagged with the plugin's name.
pub fn info(message: &str) {
    log::log(log::Level::Info, message);
}

/// Write a message to the host's log at warn level, tagged with the plugin's name.
pub fn warn(message: &str) {
    log::log(log::Level::Warn, message);
}

/// Read a value of the plugin's `[config]` table.
pub fn config_value(key: &str) -> Option<String> {
    config::get(key)
}

/// Export a type implementing [`Plugin`] as the plugin's component exports.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __MlxHostPluginExports;

        impl $crate::guest::bindings::exports::mlx::plugin::family_detector::Guest
            for __MlxHostPluginExports
        {
            fn detect_family(
                model: $crate::guest::ModelSource,
            ) -> ::core::result::Result<
                ::core::option::Option<$crate::guest::FamilyInfo>,
                ::std::string::String,
            > {
                <$plugin as $crate::guest::Plugin>::detect_family(model)
            }
        }

        impl $crate::guest::bindings::exports::mlx::plugin::launch_planner::Guest
            for __MlxHostPluginExports
        {
            fn plan_launch(
                request: $crate::guest::LaunchRequest,
                plan: $crate::guest::LaunchPlan,
            ) -> ::core::result::Result<$crate::guest::LaunchPlan, ::std::string::String> {
                <$plugin as $crate::guest::Plugin>::plan_launch(request, plan)
            }
        }

        impl $crate::guest::bindings::exports::mlx::plugin::error_detector::Guest
            for __MlxHostPluginExports
        {
            fn detect_error(
                tail: $crate::guest::LogTail,
            ) -> ::core::result::Result<
                ::core::option::Option<$crate::guest::Diagnosis>,
                ::std::string::String,
            > {
                <$plugin as $crate::guest::Plugin>::detect_error(tail)
            }
        }

        impl $crate::guest::bindings::exports::mlx::plugin::notifier::Guest
            for __MlxHostPluginExports
        {
            fn on_event(
                event: $crate::guest::Event,
            ) -> ::core::result::Result<(), ::std::string::String> {
                <$plugin as $crate::guest::Plugin>::on_event(event)
            }
        }

        // The component exports exist only in the WASM build; a native build (for `cargo test`
        // of the plugin's logic) would choke on the export names in its linker script.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::guest::bindings::__mlx_host_export_full_plugin!(__MlxHostPluginExports with_types_in $crate::guest::bindings);
        };
    };
}
