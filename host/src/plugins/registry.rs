//! The plugin registry: loads every plugin into its runtime, keeps them in dispatch order, and
//! applies the dispatch semantics and the fault policy.
//!
//! Dispatch (DESIGN.md): plugins are ordered by priority, higher first, ties by name.
//! - `detect-family`, `detect-error`: the first valid answer wins; an error, a timeout or a
//!   malformed answer counts as no answer and the next plugin is asked.
//! - `launch-options`: folded. Planners run from the lowest priority to the highest, each
//!   receiving the plan so far, so the highest-priority planner has the last word (a user's
//!   plugin with a higher priority overrides the built-in planner).
//! - `on-event`: every notifier (see [`super::fanout`] for the bounded queue in front of it).
//!
//! Fault policy: every trap, timeout, memory-limit hit, plugin error or malformed answer is
//! logged with the plugin's name and counted; after `failure-limit` consecutive failures the
//! plugin is disabled for the rest of the process and a `plugin-disabled` event is emitted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use mlx_host_plugin_api::manifest::{Capabilities, Limits};
use mlx_host_plugin_api::types::{
    Diagnosis, Event, FamilyInfo, LaunchPlan, LaunchRequest, LogTail, ModelSource,
};
use mlx_host_plugin_api::{API_VERSION, Hook, Manifest, PluginKind};
use serde::Serialize;

use super::discover::{Candidate, Payload, Unreadable, builtin_candidates, user_candidates};
use super::host_api::{HostApi, SideEffects};
use super::lua::LuaPlugin;
use super::native::NativePlugin;
use super::wasm::{CompileStats, WasmPlugin, WasmRuntime};
use super::{CallError, LoadError, refused};
use crate::settings::Settings;

/// Priority of a single-file Lua hook that does not set `priority`: above the built-ins (0),
/// so a user's hook is asked first.
pub const SINGLE_FILE_DEFAULT_PRIORITY: i32 = 100;

/// Receives the events the registry emits (`plugin-disabled`).
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginSource {
    Builtin,
    User,
}

/// Whether a plugin is answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum PluginState {
    /// Loaded and answering.
    Loaded,
    /// Turned off by the user (`plugins disable`).
    Disabled,
    /// Could not be loaded; the reason says why and what to do.
    Failed(String),
    /// Disabled after too many consecutive failures; the reason names the last one.
    Faulted(String),
}

/// What `plugins list` and `plugins info` show about a plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub kind: Option<PluginKind>,
    pub api: String,
    pub hooks: Vec<Hook>,
    pub priority: i32,
    pub enabled: bool,
    pub source: PluginSource,
    pub path: Option<PathBuf>,
    pub description: Option<String>,
    pub capabilities: Vec<String>,
    pub limits: Option<Limits>,
    #[serde(flatten)]
    pub state: PluginState,
    /// Failed calls since the plugin was loaded.
    pub failures: u64,
    /// The most recent failed call, e.g. "detect-error did not answer within its 50 ms deadline".
    pub last_error: Option<String>,
}

/// A plugin's answer, with the plugin that gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub value: T,
    /// The answering plugin's name, shared with the registry (no copy per answer).
    pub plugin: Arc<str>,
}

/// A folded launch plan and the planners that shaped it, in the order they ran.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLaunch {
    pub plan: LaunchPlan,
    pub planners: Vec<String>,
}

/// How to build a registry.
#[derive(Clone)]
pub struct RegistryOptions {
    /// Load the plugins embedded in the binary.
    pub builtins: bool,
    /// Folders of user plugins, in order.
    pub user_dirs: Vec<PathBuf>,
    pub settings: Settings,
    /// Where compiled WASM components are cached (`None`: compile every time).
    pub component_cache: Option<PathBuf>,
    /// Receives `plugin-disabled` events; `None` logs them.
    pub events: Option<EventSink>,
    /// What the plugins' `notify` and `http` calls do (recorded only, for `plugins check`).
    pub side_effects: SideEffects,
}

impl RegistryOptions {
    /// Options for this user's setup: built-ins, the plugin folder, settings, cache.
    pub fn for_paths(paths: &crate::paths::Paths, settings: Settings) -> RegistryOptions {
        RegistryOptions {
            builtins: true,
            user_dirs: vec![paths.plugins_dir.clone()],
            settings,
            component_cache: Some(paths.component_cache_dir()),
            events: None,
            side_effects: SideEffects::Real,
        }
    }
}

enum Runtime {
    Wasm(Box<WasmPlugin>),
    Lua(Box<LuaPlugin>),
    Native(NativePlugin),
}

impl Runtime {
    fn detect_family(&mut self, model: &ModelSource) -> Result<Option<FamilyInfo>, CallError> {
        match self {
            Runtime::Wasm(plugin) => plugin.detect_family(model),
            Runtime::Lua(plugin) => plugin.detect_family(model),
            Runtime::Native(plugin) => plugin.detect_family(model),
        }
    }

    fn plan_launch(
        &mut self,
        request: &LaunchRequest,
        plan: &LaunchPlan,
    ) -> Result<LaunchPlan, CallError> {
        match self {
            Runtime::Wasm(plugin) => plugin.plan_launch(request, plan),
            Runtime::Lua(plugin) => plugin.plan_launch(request, plan),
            Runtime::Native(plugin) => plugin.plan_launch(request, plan),
        }
    }

    fn detect_error(&mut self, tail: &LogTail) -> Result<Option<Diagnosis>, CallError> {
        match self {
            Runtime::Wasm(plugin) => plugin.detect_error(tail),
            Runtime::Lua(plugin) => plugin.detect_error(tail),
            Runtime::Native(plugin) => plugin.detect_error(tail),
        }
    }

    fn on_event(&mut self, event: &Event) -> Result<(), CallError> {
        match self {
            Runtime::Wasm(plugin) => plugin.on_event(event),
            Runtime::Lua(plugin) => plugin.on_event(event),
            Runtime::Native(plugin) => plugin.on_event(event),
        }
    }
}

#[derive(Default)]
struct Health {
    consecutive: u32,
    total: u64,
    last_error: Option<String>,
    faulted: Option<String>,
}

struct LoadedPlugin {
    info: PluginInfo,
    /// `info.name`, handed out with every answer.
    name: Arc<str>,
    runtime: Mutex<Runtime>,
    health: Mutex<Health>,
    /// A summary of `health` read without its lock on every call: [`HEALTHY`], [`FAILING`]
    /// (the last call failed) or [`FAULTED`]. Written only under the `health` lock.
    status: AtomicU8,
}

const HEALTHY: u8 = 0;
const FAILING: u8 = 1;
const FAULTED: u8 = 2;

/// Every plugin known to this process, loaded or not.
pub struct Registry {
    /// Loaded plugins in dispatch order (priority high to low, then name).
    loaded: Vec<LoadedPlugin>,
    /// Plugins that are disabled by the user or failed to load.
    inactive: Vec<PluginInfo>,
    failure_limit: u32,
    events: Option<EventSink>,
    wasm_stats: CompileStats,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these values half-updated in a way that
    // matters more than losing the plugin's answer, so a poisoned lock is still used.
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Registry {
    /// Find and load every plugin. Plugins that cannot load are listed with the reason; they
    /// never stop the others from loading.
    pub fn load(options: RegistryOptions) -> Registry {
        let mut candidates = Vec::new();
        if options.builtins {
            candidates.extend(builtin_candidates());
        }
        for dir in &options.user_dirs {
            candidates.extend(user_candidates(dir));
        }
        Registry::from_candidates(candidates, &options)
    }

    /// Load the given candidates (used by [`Registry::load`] and by `plugins check`).
    pub fn from_candidates(
        candidates: Vec<Result<Candidate, Unreadable>>,
        options: &RegistryOptions,
    ) -> Registry {
        let needs_wasm = candidates.iter().any(|candidate| {
            matches!(
                candidate,
                Ok(Candidate {
                    payload: Payload::Wasm(_),
                    ..
                })
            )
        });
        let wasm = if needs_wasm {
            Some(WasmRuntime::new(options.component_cache.clone()))
        } else {
            None
        };
        let mut registry = Registry {
            loaded: Vec::new(),
            inactive: Vec::new(),
            failure_limit: options.settings.plugins.failure_limit.max(1),
            events: options.events.clone(),
            wasm_stats: CompileStats::default(),
        };
        for candidate in candidates {
            match candidate {
                Ok(candidate) => registry.admit(
                    candidate,
                    &options.settings,
                    &options.side_effects,
                    wasm.as_ref(),
                ),
                Err(unreadable) => registry.inactive.push(unreadable_info(unreadable)),
            }
        }
        if let Some(Ok(runtime)) = &wasm {
            registry.wasm_stats = runtime.stats();
            if registry.wasm_stats.compiled > 0 {
                release_compiler_memory();
            }
        }
        registry.loaded.sort_by(|a, b| {
            b.info
                .priority
                .cmp(&a.info.priority)
                .then_with(|| a.info.name.cmp(&b.info.name))
        });
        registry
    }

    fn admit(
        &mut self,
        candidate: Candidate,
        settings: &Settings,
        side_effects: &SideEffects,
        wasm: Option<&Result<WasmRuntime, LoadError>>,
    ) {
        let mut info = candidate_info(&candidate, settings);
        if let Some(existing) = self.find_info(&candidate.name) {
            let where_from = existing
                .path
                .as_ref()
                .map(|path| path.display().to_string())
                .unwrap_or_else(|| "the built-in plugins".to_string());
            info.state = PluginState::Failed(format!(
                "a plugin named `{}` is already loaded from {where_from}; rename this one (name in plugin.toml, or the .lua file name)",
                candidate.name
            ));
            info.enabled = false;
            self.inactive.push(info);
            return;
        }
        if settings.is_disabled(&candidate.name) {
            info.state = PluginState::Disabled;
            info.enabled = false;
            self.inactive.push(info);
            return;
        }
        match load_runtime(&candidate, &mut info, settings, side_effects, wasm) {
            Ok(runtime) => self.loaded.push(LoadedPlugin {
                name: Arc::from(info.name.as_str()),
                info,
                runtime: Mutex::new(runtime),
                health: Mutex::new(Health::default()),
                status: AtomicU8::new(HEALTHY),
            }),
            Err(error) => {
                // Listed with its reason by `plugins list`; the log only repeats it.
                tracing::info!(plugin = %candidate.name, "plugin not loaded: {error}");
                info.state = PluginState::Failed(error.to_string());
                self.inactive.push(info);
            }
        }
    }

    fn find_info(&self, name: &str) -> Option<&PluginInfo> {
        self.loaded
            .iter()
            .map(|plugin| &plugin.info)
            .chain(self.inactive.iter())
            .find(|info| info.name == name)
    }

    /// How the WASM plugins' machine code was obtained at load (compiled or from the cache).
    pub fn wasm_stats(&self) -> CompileStats {
        self.wasm_stats
    }

    /// Every plugin, loaded ones in dispatch order first.
    pub fn list(&self) -> Vec<PluginInfo> {
        let mut all: Vec<PluginInfo> = self.loaded.iter().map(LoadedPlugin::current_info).collect();
        all.extend(self.inactive.iter().cloned());
        all
    }

    /// One plugin by name.
    pub fn info(&self, name: &str) -> Option<PluginInfo> {
        self.loaded
            .iter()
            .find(|plugin| plugin.info.name == name)
            .map(LoadedPlugin::current_info)
            .or_else(|| self.inactive.iter().find(|info| info.name == name).cloned())
    }

    fn answering(&self, hook: Hook) -> impl Iterator<Item = &LoadedPlugin> {
        self.loaded
            .iter()
            .filter(move |plugin| plugin.info.hooks.contains(&hook))
    }

    /// `detect-family`: the first valid answer in priority order.
    pub fn detect_family(&self, model: &ModelSource) -> Option<Answer<FamilyInfo>> {
        self.answering(Hook::DetectFamily).find_map(|plugin| {
            let answer = self.attempt(plugin, Hook::DetectFamily, |runtime| {
                let found = runtime.detect_family(model)?;
                if let Some(info) = &found {
                    info.validate().map_err(CallError::BadOutput)?;
                }
                Ok(found)
            })??;
            Some(Answer {
                value: answer,
                plugin: plugin.name.clone(),
            })
        })
    }

    /// `detect-error`: the first valid answer in priority order.
    pub fn detect_error(&self, tail: &LogTail) -> Option<Answer<Diagnosis>> {
        self.answering(Hook::DetectError).find_map(|plugin| {
            let answer = self.attempt(plugin, Hook::DetectError, |runtime| {
                let found = runtime.detect_error(tail)?;
                if let Some(diagnosis) = &found {
                    diagnosis
                        .validate(tail.lines.len())
                        .map_err(CallError::BadOutput)?;
                }
                Ok(found)
            })??;
            Some(Answer {
                value: answer,
                plugin: plugin.name.clone(),
            })
        })
    }

    /// `launch-options`: fold `initial` through every planner, lowest priority first.
    pub fn plan_launch(&self, request: &LaunchRequest, initial: LaunchPlan) -> PlannedLaunch {
        let planners: Vec<&LoadedPlugin> = self.answering(Hook::LaunchOptions).collect();
        let mut plan = initial;
        let mut used = Vec::new();
        for plugin in planners.into_iter().rev() {
            let next = self.attempt(plugin, Hook::LaunchOptions, |runtime| {
                let next = runtime.plan_launch(request, &plan)?;
                next.validate().map_err(CallError::BadOutput)?;
                Ok(next)
            });
            if let Some(next) = next {
                plan = next;
                used.push(plugin.info.name.clone());
            }
        }
        PlannedLaunch {
            plan,
            planners: used,
        }
    }

    /// `on-event`: every notifier, in priority order. Returns how many took the event.
    pub fn on_event(&self, event: &Event) -> usize {
        self.answering(Hook::OnEvent)
            .filter(|plugin| {
                self.attempt(plugin, Hook::OnEvent, |runtime| runtime.on_event(event))
                    .is_some()
            })
            .count()
    }

    /// Call one plugin's hook directly with a JSON input (the serde form of the hook's input;
    /// for `launch-options`, `{"request": ..., "plan": ...}`) and return its validated answer as
    /// JSON. Used by `plugins check` to run a plugin's test cases. Failures count like any call.
    pub fn invoke_json(
        &self,
        name: &str,
        hook: Hook,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let plugin = self
            .loaded
            .iter()
            .find(|plugin| plugin.info.name == name)
            .ok_or_else(|| format!("plugin `{name}` is not loaded"))?;
        if !plugin.info.hooks.contains(&hook) {
            return Err(format!("plugin `{name}` does not declare hook `{hook}`"));
        }
        let bad_input = |error: serde_json::Error| {
            format!("the test input is not a valid {hook} input: {error}")
        };
        let mut failure = None;
        let answer = match hook {
            Hook::DetectFamily => {
                let model: ModelSource = serde_json::from_value(input).map_err(bad_input)?;
                self.attempt_reporting(plugin, hook, &mut failure, |runtime| {
                    let found = runtime.detect_family(&model)?;
                    if let Some(info) = &found {
                        info.validate().map_err(CallError::BadOutput)?;
                    }
                    Ok(serde_json::to_value(found).unwrap_or_default())
                })
            }
            Hook::LaunchOptions => {
                let input: mlx_host_plugin_api::native::LaunchOptionsInput =
                    serde_json::from_value(input).map_err(bad_input)?;
                self.attempt_reporting(plugin, hook, &mut failure, |runtime| {
                    let plan = runtime.plan_launch(&input.request, &input.plan)?;
                    plan.validate().map_err(CallError::BadOutput)?;
                    Ok(serde_json::to_value(plan).unwrap_or_default())
                })
            }
            Hook::DetectError => {
                let tail: LogTail = serde_json::from_value(input).map_err(bad_input)?;
                self.attempt_reporting(plugin, hook, &mut failure, |runtime| {
                    let found = runtime.detect_error(&tail)?;
                    if let Some(diagnosis) = &found {
                        diagnosis
                            .validate(tail.lines.len())
                            .map_err(CallError::BadOutput)?;
                    }
                    Ok(serde_json::to_value(found).unwrap_or_default())
                })
            }
            Hook::OnEvent => {
                let event: Event = serde_json::from_value(input).map_err(bad_input)?;
                self.attempt_reporting(plugin, hook, &mut failure, |runtime| {
                    runtime.on_event(&event)?;
                    Ok(serde_json::Value::Null)
                })
            }
        };
        answer.ok_or_else(|| match failure {
            Some(error) => format!("plugin `{name}` {error}"),
            None => format!("plugin `{name}` is disabled after repeated failures"),
        })
    }

    /// [`Registry::attempt`], also handing back the error of a failed call.
    fn attempt_reporting<T>(
        &self,
        plugin: &LoadedPlugin,
        hook: Hook,
        failure: &mut Option<CallError>,
        call: impl FnOnce(&mut Runtime) -> Result<T, CallError>,
    ) -> Option<T> {
        self.attempt(plugin, hook, |runtime| {
            let result = call(runtime);
            if let Err(error) = &result {
                *failure = Some(error.clone());
            }
            result
        })
    }

    /// Whether any loaded plugin implements `hook`.
    pub fn has_hook(&self, hook: Hook) -> bool {
        self.answering(hook).next().is_some()
    }

    /// Call one plugin under the fault policy; `None` when it is faulted or the call failed.
    fn attempt<T>(
        &self,
        plugin: &LoadedPlugin,
        hook: Hook,
        call: impl FnOnce(&mut Runtime) -> Result<T, CallError>,
    ) -> Option<T> {
        // The common case, a healthy plugin answering, takes no lock but the runtime's.
        if plugin.status.load(Ordering::Acquire) == FAULTED {
            return None;
        }
        let result = {
            let mut runtime = lock(&plugin.runtime);
            call(&mut runtime)
        };
        if result.is_ok() && plugin.status.load(Ordering::Acquire) == HEALTHY {
            return result.ok();
        }
        let mut health = lock(&plugin.health);
        if health.faulted.is_some() {
            // Disabled by a concurrent call while this one ran.
            return None;
        }
        match result {
            Ok(value) => {
                health.consecutive = 0;
                plugin.status.store(HEALTHY, Ordering::Release);
                Some(value)
            }
            Err(error) => {
                health.consecutive += 1;
                health.total += 1;
                health.last_error = Some(format!("{hook} {error}"));
                plugin.status.store(FAILING, Ordering::Release);
                let name = &plugin.info.name;
                tracing::warn!(
                    plugin = %name,
                    hook = %hook,
                    "plugin `{name}` {error} (failure {} of {} allowed in a row)",
                    health.consecutive,
                    self.failure_limit
                );
                if health.consecutive >= self.failure_limit {
                    let reason = format!(
                        "disabled after {} failures in a row; the last one: {hook} {error}",
                        health.consecutive
                    );
                    health.faulted = Some(reason.clone());
                    plugin.status.store(FAULTED, Ordering::Release);
                    drop(health);
                    self.emit_disabled(name, &reason);
                }
                None
            }
        }
    }

    fn emit_disabled(&self, plugin: &str, reason: &str) {
        tracing::error!(plugin = %plugin, "plugin `{plugin}` {reason}");
        let event = Event {
            kind: "plugin-disabled".into(),
            subject: plugin.to_string(),
            message: format!("plugin `{plugin}` {reason}"),
            timestamp_ms: now_ms(),
            diagnosis: None,
        };
        if let Some(sink) = &self.events {
            sink(event);
        }
    }
}

impl LoadedPlugin {
    fn current_info(&self) -> PluginInfo {
        let health = lock(&self.health);
        let mut info = self.info.clone();
        info.failures = health.total;
        info.last_error = health.last_error.clone();
        if let Some(reason) = &health.faulted {
            info.state = PluginState::Faulted(reason.clone());
        }
        info
    }
}

/// Hand the heap Cranelift used back to the OS. Compiling runs on several threads, each with
/// its own glibc arena, and glibc keeps freed arena memory: without this, a daemon whose first
/// start compiled the plugins kept about 13 MiB more for its whole life than one that loaded
/// them from the cache.
fn release_compiler_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the OS; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

fn candidate_info(candidate: &Candidate, settings: &Settings) -> PluginInfo {
    match &candidate.manifest {
        Some(manifest) => PluginInfo {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            kind: Some(manifest.kind),
            api: manifest.api.clone(),
            hooks: manifest.hooks.clone(),
            priority: manifest.priority,
            enabled: !settings.is_disabled(&manifest.name),
            source: candidate.source,
            path: candidate.path.clone(),
            description: manifest.description.clone(),
            capabilities: manifest
                .capabilities
                .names()
                .into_iter()
                .map(String::from)
                .collect(),
            limits: Some(manifest.limits),
            state: PluginState::Loaded,
            failures: 0,
            last_error: None,
        },
        None => PluginInfo {
            name: candidate.name.clone(),
            version: "0.0.0".into(),
            kind: Some(PluginKind::Lua),
            api: API_VERSION.to_string(),
            hooks: Vec::new(),
            priority: SINGLE_FILE_DEFAULT_PRIORITY,
            enabled: !settings.is_disabled(&candidate.name),
            source: candidate.source,
            path: candidate.path.clone(),
            description: Some("single-file Lua hook".into()),
            capabilities: Vec::new(),
            limits: Some(Limits::default()),
            state: PluginState::Loaded,
            failures: 0,
            last_error: None,
        },
    }
}

fn unreadable_info(unreadable: Unreadable) -> PluginInfo {
    PluginInfo {
        name: unreadable.name,
        version: String::new(),
        kind: None,
        api: String::new(),
        hooks: Vec::new(),
        priority: 0,
        enabled: false,
        source: PluginSource::User,
        path: Some(unreadable.path),
        description: None,
        capabilities: Vec::new(),
        limits: None,
        state: PluginState::Failed(unreadable.error.to_string()),
        failures: 0,
        last_error: None,
    }
}

/// The capabilities a plugin gets: what its manifest declares, if it is built in (trusted) or
/// the user granted each one.
fn granted_api(
    name: &str,
    capabilities: &Capabilities,
    source: PluginSource,
    config: BTreeMap<String, String>,
    settings: &Settings,
) -> Result<HostApi, LoadError> {
    let grants = settings.grants(name);
    let missing: Vec<&str> = capabilities
        .names()
        .into_iter()
        .filter(|capability| {
            source != PluginSource::Builtin && !grants.iter().any(|grant| grant == capability)
        })
        .collect();
    if !missing.is_empty() {
        let list = missing.join(" ");
        return Err(refused(format!(
            "plugin `{name}` asks for capabilities you have not granted ({}); review the plugin, then run `mlx-host plugins grant {name} {list}`",
            missing.join(", ")
        )));
    }
    let extra_hosts = settings.extra_allowed_hosts(name);
    let allowed_hosts = capabilities.http.as_ref().map(|http| {
        let mut hosts = http.allowed_hosts.clone();
        hosts.extend(extra_hosts.iter().cloned());
        hosts
    });
    if allowed_hosts.is_none() && !extra_hosts.is_empty() {
        tracing::warn!(
            plugin = %name,
            "settings list plugins.allowed-hosts for `{name}`, but it does not declare the http capability; they have no effect"
        );
    }
    Ok(HostApi::new(
        name,
        config,
        capabilities.notify,
        allowed_hosts,
    ))
}

fn load_runtime(
    candidate: &Candidate,
    info: &mut PluginInfo,
    settings: &Settings,
    side_effects: &SideEffects,
    wasm: Option<&Result<WasmRuntime, LoadError>>,
) -> Result<Runtime, LoadError> {
    let Some(manifest) = &candidate.manifest else {
        return load_single_file_hook(candidate, info, settings);
    };
    let mut config = manifest.config_strings();
    config.extend(settings.plugin_config(&manifest.name));
    let api = granted_api(
        &manifest.name,
        &manifest.capabilities,
        candidate.source,
        config,
        settings,
    )?
    .with_side_effects(side_effects.clone());
    match &candidate.payload {
        Payload::Wasm(bytes) => {
            let runtime = match wasm {
                Some(Ok(runtime)) => runtime,
                Some(Err(error)) => return Err(refused(error.to_string())),
                None => return Err(refused("the WASM runtime was not started")),
            };
            let plugin = WasmPlugin::load(runtime, bytes, &manifest.hooks, manifest.limits, api)?;
            Ok(Runtime::Wasm(Box::new(plugin)))
        }
        Payload::Lua(source) => {
            let chunk_name = chunk_name(candidate, manifest);
            let plugin = LuaPlugin::load(source, &chunk_name, manifest.limits, api)?;
            let defined = plugin.defined_hooks();
            if let Some(missing) = manifest.hooks.iter().find(|hook| !defined.contains(hook)) {
                return Err(refused(format!(
                    "Lua plugin `{}` declares hook `{missing}` but its module table has no function `{}`",
                    manifest.name,
                    missing.lua_function()
                )));
            }
            Ok(Runtime::Lua(Box::new(plugin)))
        }
        Payload::Native(path) => {
            if !settings.plugins.allow_native {
                return Err(refused(format!(
                    "native plugin `{}` runs unsandboxed inside mlx-host, so native plugins are off; if you trust it, set `allow-native = true` under [plugins] in settings.toml",
                    manifest.name
                )));
            }
            Ok(Runtime::Native(NativePlugin::load(path, &manifest.name)?))
        }
    }
}

fn chunk_name(candidate: &Candidate, manifest: &Manifest) -> String {
    match &candidate.path {
        Some(folder) => folder.join(&manifest.entry).display().to_string(),
        None => format!("<built-in>/{}/{}", manifest.name, manifest.entry),
    }
}

fn load_single_file_hook(
    candidate: &Candidate,
    info: &mut PluginInfo,
    settings: &Settings,
) -> Result<Runtime, LoadError> {
    let Payload::Lua(source) = &candidate.payload else {
        return Err(refused("a plugin without plugin.toml must be a .lua file"));
    };
    let api = HostApi::new(
        &candidate.name,
        settings.plugin_config(&candidate.name),
        false,
        None,
    );
    let chunk_name = candidate
        .path
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| candidate.name.clone());
    let plugin = LuaPlugin::load(source, &chunk_name, Limits::default(), api)?;
    let hooks = plugin.defined_hooks();
    if hooks.is_empty() {
        return Err(refused(format!(
            "Lua hook {chunk_name} defines none of detect_family, plan_launch, detect_error, on_event in the table it returns"
        )));
    }
    info.hooks = hooks;
    if let Some(priority) = plugin.declared_priority() {
        info.priority = priority;
    }
    Ok(Runtime::Lua(Box::new(plugin)))
}
