//! The WASM runtime: wasmtime components built against `mlx:plugin@1.0.0`.
//!
//! Sandbox: every call runs under an epoch deadline (a ticker thread advances the engine's epoch
//! only while a call is in flight) and a memory cap (a [`wasmtime::ResourceLimiter`]); WASI is
//! linked with an empty context (no preopened folders, no sockets, no environment), and a
//! component that imports anything beyond stdio/clocks/random and the host interfaces its
//! manifest declares is refused at load. After a trap the store is dropped and the next call
//! instantiates afresh from the cached [`InstancePre`]. Compiled components are cached on disk
//! so a warm start does not recompile.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use mlx_host_plugin_api::manifest::Limits;
use mlx_host_plugin_api::{Hook, types as api};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::host_api::{HostApi, LogLevel};
use super::{CallError, LoadError, refused};

mod bindings {
    wasmtime::component::bindgen!({
        world: "full-plugin",
        path: "../plugin-api/wit",
        // Export parameters borrow the host's data (`&str`, `&[&str]`) instead of owning it, so
        // a call does not clone every string it hands over. Records that also come back from a
        // guest get a second, owning type (`DiagnosisResult` next to `DiagnosisParam`).
        ownership: Borrowing {
            duplicate_if_necessary: true
        },
    });
}

use bindings::exports::mlx::plugin::{error_detector, family_detector, launch_planner, notifier};
use bindings::mlx::plugin::types as wit;

/// How often the epoch advances while a call is in flight.
const EPOCH_TICK: Duration = Duration::from_millis(1);
/// Idle ticks the ticker keeps running after the last call before it parks.
const TICKS_BEFORE_PARKING: u32 = 20;
/// Most table elements a plugin instance may allocate.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Imports every component may have: WASI stdio, clocks and random (pulled in by the Rust and C
/// standard libraries) and the always-available host interfaces.
const ALWAYS_ALLOWED_IMPORTS: [&str; 12] = [
    "wasi:io/",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-",
    "wasi:clocks/",
    "wasi:random/",
    "mlx:plugin/types",
    "mlx:plugin/log",
    "mlx:plugin/config",
];

/// The shared engine, epoch ticker and component cache.
pub struct WasmRuntime {
    engine: Engine,
    ticker: EpochTicker,
    cache: ComponentCache,
}

impl WasmRuntime {
    /// A runtime whose compiled components are cached under `cache_dir` (`None`: no disk cache).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<WasmRuntime, LoadError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.max_wasm_stack(512 * 1024);
        let engine = Engine::new(&config)
            .map_err(|error| refused(format!("cannot start the WASM engine: {error}")))?;
        let ticker = EpochTicker::start(engine.clone())
            .map_err(|error| refused(format!("cannot start the WASM deadline thread: {error}")))?;
        let cache = ComponentCache::new(cache_dir, &engine, config);
        Ok(WasmRuntime {
            engine,
            ticker,
            cache,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How many components were compiled and how many came from the disk cache so far.
    pub fn stats(&self) -> CompileStats {
        CompileStats {
            compiled: self.cache.compiled.load(Ordering::Relaxed),
            from_cache: self.cache.from_cache.load(Ordering::Relaxed),
        }
    }

    /// Compile `bytes`, or load the compiled form from the cache. `label` names the plugin in
    /// error messages.
    pub fn component(&self, label: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        self.cache.load_or_compile(&self.engine, label, bytes)
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while at least one call is in flight, and
/// sleeps otherwise, so an idle host spends no CPU on deadlines.
struct EpochTicker {
    shared: Arc<TickerShared>,
}

struct TickerShared {
    active_calls: AtomicUsize,
    /// Set by the ticker (under `lock`) while it waits for a call; only then does a new call
    /// need to wake it, so back-to-back calls cost no system call.
    parked: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl EpochTicker {
    fn start(engine: Engine) -> std::io::Result<EpochTicker> {
        let shared = Arc::new(TickerShared {
            active_calls: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || run_ticker(&weak, &engine))?;
        Ok(EpochTicker { shared })
    }
}

/// Mark a call as in flight until the guard drops, waking the ticker if it was idle.
fn begin_call(shared: &TickerShared) -> ActiveCall<'_> {
    shared.active_calls.fetch_add(1, Ordering::SeqCst);
    if shared.parked.load(Ordering::SeqCst) {
        let _guard = shared.lock.lock();
        shared.wake.notify_one();
    }
    ActiveCall { shared }
}

fn run_ticker(weak: &Weak<TickerShared>, engine: &Engine) {
    let mut idle_ticks = 0u32;
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        if shared.active_calls.load(Ordering::SeqCst) == 0 {
            idle_ticks += 1;
        } else {
            idle_ticks = 0;
        }
        // Keep ticking through short gaps between calls; park after a quiet spell.
        if idle_ticks > TICKS_BEFORE_PARKING {
            let guard = match shared.lock.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            shared.parked.store(true, Ordering::SeqCst);
            if shared.active_calls.load(Ordering::SeqCst) == 0 {
                // Wake up now and then to notice that the runtime was dropped.
                let _ = shared.wake.wait_timeout(guard, Duration::from_secs(1));
            }
            shared.parked.store(false, Ordering::SeqCst);
            idle_ticks = 0;
            continue;
        }
        drop(shared);
        std::thread::sleep(EPOCH_TICK);
        engine.increment_epoch();
    }
}

struct ActiveCall<'a> {
    shared: &'a TickerShared,
}

impl Drop for ActiveCall<'_> {
    fn drop(&mut self) {
        self.shared.active_calls.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts of component loads by where the machine code came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompileStats {
    pub compiled: u64,
    pub from_cache: u64,
}

/// Compiled components on disk, keyed by the component's SHA-256 and the engine's
/// compatibility hash (so a wasmtime upgrade or a different CPU never loads a stale artifact).
struct ComponentCache {
    dir: Option<PathBuf>,
    /// The engine's configuration, for the short-lived engines components are compiled with.
    config: Config,
    engine_key: String,
    compiled: AtomicU64,
    from_cache: AtomicU64,
}

impl ComponentCache {
    fn new(dir: Option<PathBuf>, engine: &Engine, config: Config) -> ComponentCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ComponentCache {
            dir,
            config,
            engine_key: format!("{:016x}", hasher.finish()),
            compiled: AtomicU64::new(0),
            from_cache: AtomicU64::new(0),
        }
    }

    fn path_for(&self, bytes: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let digest = hex::encode(Sha256::digest(bytes));
        Some(dir.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }

    fn load_or_compile(
        &self,
        engine: &Engine,
        label: &str,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        let cached = self.path_for(bytes);
        if let Some(path) = &cached
            && path.is_file()
        {
            // Read into memory rather than mmap the file: a cache file rewritten or truncated
            // by another process while this one runs must not SIGBUS us.
            let loaded = std::fs::read(path)
                .map_err(wasmtime::Error::from)
                .and_then(|bytes| {
                    // SAFETY: the bytes were written by `store_compiled` from `Component::serialize`
                    // of an engine with the same compatibility hash, in mlx-host's own cache folder;
                    // wasmtime checks the header and rejects anything else.
                    unsafe { Component::deserialize(engine, &bytes) }
                });
            match loaded {
                Ok(component) => {
                    self.from_cache.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(error) => tracing::debug!(
                    path = %path.display(),
                    "ignoring unusable compiled component in the cache: {error}"
                ),
            }
        }
        // Compile with an engine of its own, dropped right after, and load the result into the
        // shared engine the way a warm start does. wasmtime keeps the compiler's working memory
        // in a pool owned by the engine, on the heaps of its compiler threads: compiling with the
        // shared engine kept about 6 MiB more in the daemon for its whole life.
        let compiler = Engine::new(&self.config)
            .map_err(|error| refused(format!("cannot start the WASM compiler: {error:#}")))?;
        let compiled = Component::new(&compiler, bytes).map_err(|error| {
            refused(format!(
                "{label} is not a valid WASM component: {error:#}. Build it with `cargo build --release --target wasm32-wasip2` against plugin-api/wit"
            ))
        })?;
        let serialized = compiled.serialize().map_err(|error| {
            refused(format!(
                "{label}: cannot serialize the compiled component: {error:#}"
            ))
        })?;
        drop(compiled);
        drop(compiler);
        self.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = &cached {
            store_compiled(path, &serialized);
        }
        // SAFETY: `serialized` came from `Component::serialize` just above, by an engine with
        // the same configuration (wasmtime checks the compatibility header anyway).
        unsafe { Component::deserialize(engine, &serialized) }.map_err(|error| {
            refused(format!(
                "{label}: cannot load the component just compiled: {error:#}"
            ))
        })
    }
}

fn store_compiled(path: &Path, serialized: &[u8]) {
    let result = (|| -> Result<(), String> {
        let dir = path.parent().ok_or("cache path has no folder")?;
        std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, serialized).map_err(|error| error.to_string())?;
        std::fs::rename(&temporary, path).map_err(|error| error.to_string())
    })();
    if let Err(error) = result {
        tracing::warn!(path = %path.display(), "cannot cache a compiled plugin: {error}");
    }
}

/// Per-store state: the (empty) WASI context, the memory cap, and the host API.
struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryCap,
    api: HostApi,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct MemoryCap {
    max_bytes: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl wit::Host for StoreState {}

impl bindings::mlx::plugin::log::Host for StoreState {
    fn log(&mut self, level: bindings::mlx::plugin::log::Level, message: String) {
        use bindings::mlx::plugin::log::Level;
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.api.log(level, &message);
    }
}

impl bindings::mlx::plugin::config::Host for StoreState {
    fn get(&mut self, key: String) -> Option<String> {
        self.api.config(&key)
    }
}

impl bindings::mlx::plugin::notify::Host for StoreState {
    fn notify(&mut self, title: String, body: String) -> Result<(), String> {
        self.api.notify(&title, &body)
    }
}

impl bindings::mlx::plugin::http::Host for StoreState {
    fn post(&mut self, url: String, content_type: String, body: String) -> Result<u16, String> {
        self.api.http_post(&url, &content_type, &body)
    }
}

/// The exported hook interfaces found in the component, by hook.
#[derive(Clone, Default)]
struct HookIndices {
    family: Option<family_detector::GuestIndices>,
    planner: Option<launch_planner::GuestIndices>,
    errors: Option<error_detector::GuestIndices>,
    notifier: Option<notifier::GuestIndices>,
}

/// Typed entry points of one live instance.
struct Guests {
    family: Option<family_detector::Guest>,
    planner: Option<launch_planner::Guest>,
    errors: Option<error_detector::Guest>,
    notifier: Option<notifier::Guest>,
}

struct Live {
    store: Store<StoreState>,
    guests: Guests,
}

/// One loaded WASM plugin.
pub struct WasmPlugin {
    engine: Engine,
    ticker: Arc<TickerShared>,
    pre: InstancePre<StoreState>,
    indices: HookIndices,
    api: HostApi,
    limits: Limits,
    live: Option<Live>,
}

impl WasmPlugin {
    /// Load a component: check its imports against the capabilities the host grants, check
    /// that it exports every declared hook, and instantiate it once.
    pub fn load(
        runtime: &WasmRuntime,
        bytes: &[u8],
        hooks: &[Hook],
        limits: Limits,
        api: HostApi,
    ) -> Result<WasmPlugin, LoadError> {
        let name = api.plugin().to_string();
        let component = runtime.component(&format!("plugin `{name}`"), bytes)?;
        check_imports(&component, &runtime.engine, &api)?;
        let linker = build_linker(&runtime.engine, &api)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|error| refused(format!("plugin `{name}` cannot be linked: {error:#}")))?;
        let indices = find_hooks(&pre, hooks, &name)?;
        let mut plugin = WasmPlugin {
            engine: runtime.engine.clone(),
            ticker: runtime.ticker.shared.clone(),
            pre,
            indices,
            api,
            limits,
            live: None,
        };
        let live = plugin
            .instantiate()
            .map_err(|error| refused(format!("plugin `{name}` failed to start: {error:#}")))?;
        plugin.live = Some(live);
        Ok(plugin)
    }

    fn instantiate(&self) -> wasmtime::Result<Live> {
        let state = StoreState {
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            limiter: MemoryCap {
                max_bytes: self.limits.memory_mb as usize * 1024 * 1024,
                hit: false,
            },
            api: self.api.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.deadline_ticks());
        let instance = {
            let _active = begin_call(&self.ticker);
            self.pre.instantiate(&mut store)?
        };
        let guests = Guests {
            family: self
                .indices
                .family
                .as_ref()
                .map(|i| i.load(&mut store, &instance))
                .transpose()?,
            planner: self
                .indices
                .planner
                .as_ref()
                .map(|i| i.load(&mut store, &instance))
                .transpose()?,
            errors: self
                .indices
                .errors
                .as_ref()
                .map(|i| i.load(&mut store, &instance))
                .transpose()?,
            notifier: self
                .indices
                .notifier
                .as_ref()
                .map(|i| i.load(&mut store, &instance))
                .transpose()?,
        };
        Ok(Live { store, guests })
    }

    fn deadline_ticks(&self) -> u64 {
        let tick_ms = EPOCH_TICK.as_millis().max(1) as u64;
        u64::from(self.limits.timeout_ms).div_ceil(tick_ms) + 1
    }

    /// Run `call` on the live instance (instantiating one if the last call trapped) under the
    /// deadline and memory cap.
    fn with_live<R>(
        &mut self,
        call: impl FnOnce(&mut Store<StoreState>, &Guests) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        if self.live.is_none() {
            let live = self
                .instantiate()
                .map_err(|error| self.classify(&error, false))?;
            self.live = Some(live);
        }
        let ticks = self.deadline_ticks();
        let Some(live) = self.live.as_mut() else {
            return Err(CallError::Trap("no live instance".into()));
        };
        live.store.set_epoch_deadline(ticks);
        live.store.data_mut().limiter.hit = false;
        let outcome = {
            let _active = begin_call(&self.ticker);
            call(&mut live.store, &live.guests)
        };
        match outcome {
            Ok(value) => Ok(value),
            Err(error) => {
                let memory_hit = live.store.data().limiter.hit;
                // A trapped component instance cannot be entered again: start afresh next time.
                self.live = None;
                Err(self.classify(&error, memory_hit))
            }
        }
    }

    fn classify(&self, error: &wasmtime::Error, memory_hit: bool) -> CallError {
        if memory_hit {
            return CallError::MemoryLimit(self.limits.memory_mb);
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Timeout(self.limits.timeout_ms),
            Some(trap) => CallError::Trap(format!("{trap}")),
            None => CallError::Trap(format!("{error:#}")),
        }
    }

    pub fn detect_family(
        &mut self,
        model: &api::ModelSource,
    ) -> Result<Option<api::FamilyInfo>, CallError> {
        let input = wit::ModelSource {
            repo_id: model.repo_id.as_deref(),
            config_json: model.config_json.as_deref(),
        };
        let answer = self.with_live(|store, guests| match &guests.family {
            Some(guest) => guest.call_detect_family(store, input),
            None => Err(not_exported(Hook::DetectFamily)),
        })?;
        answer
            .map(|found| found.map(family_from_wit))
            .map_err(CallError::Plugin)
    }

    pub fn plan_launch(
        &mut self,
        request: &api::LaunchRequest,
        plan: &api::LaunchPlan,
    ) -> Result<api::LaunchPlan, CallError> {
        let family = request.family.as_ref().map(|info| wit::FamilyInfoParam {
            family: &info.family,
            kind: &info.kind,
            context_length: info.context_length,
            quantization_bits: info.quantization_bits,
            tool_calls: info.tool_calls,
            reasoning: info.reasoning,
            min_mlx_lm: info.min_mlx_lm.as_deref(),
        });
        let request = wit::LaunchRequest {
            server_kind: &request.server_kind,
            server_version: request.server_version.as_deref(),
            model: &request.model,
            host: &request.host,
            port: request.port,
            family,
            server_help: request.server_help.as_deref(),
        };
        let argv = borrow_all(&plan.argv);
        let env: Vec<(&str, &str)> = plan
            .env
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let plan = wit::LaunchPlanParam {
            argv: argv.as_slice(),
            env: &env,
        };
        let answer = self.with_live(|store, guests| match &guests.planner {
            Some(guest) => guest.call_plan_launch(store, request, plan),
            None => Err(not_exported(Hook::LaunchOptions)),
        })?;
        answer
            .map(|plan| api::LaunchPlan {
                argv: plan.argv,
                env: plan.env,
            })
            .map_err(CallError::Plugin)
    }

    pub fn detect_error(
        &mut self,
        tail: &api::LogTail,
    ) -> Result<Option<api::Diagnosis>, CallError> {
        let lines = borrow_all(&tail.lines);
        let input = wit::LogTail {
            server_kind: &tail.server_kind,
            lines: lines.as_slice(),
            exit: exit_to_wit(tail.exit),
        };
        let answer = self.with_live(|store, guests| match &guests.errors {
            Some(guest) => guest.call_detect_error(store, input),
            None => Err(not_exported(Hook::DetectError)),
        })?;
        answer
            .map(|found| found.map(diagnosis_from_wit))
            .map_err(CallError::Plugin)
    }

    pub fn on_event(&mut self, event: &api::Event) -> Result<(), CallError> {
        let input = wit::Event {
            kind: &event.kind,
            subject: &event.subject,
            message: &event.message,
            timestamp_ms: event.timestamp_ms,
            diagnosis: event.diagnosis.as_ref().map(diagnosis_to_wit),
        };
        let answer = self.with_live(|store, guests| match &guests.notifier {
            Some(guest) => guest.call_on_event(store, input),
            None => Err(not_exported(Hook::OnEvent)),
        })?;
        answer.map_err(CallError::Plugin)
    }
}

/// Up to this many strings are borrowed into an array on the stack rather than a `Vec`.
const INLINE_STRS: usize = 8;

/// `&str`s of a list of strings, as the borrowed bindings want them: on the stack for short
/// lists (a one-line log tail costs no allocation), in a `Vec` of pointers otherwise. The
/// strings themselves are never copied.
enum BorrowedStrs<'a> {
    Inline([&'a str; INLINE_STRS], usize),
    Heap(Vec<&'a str>),
}

impl<'a> BorrowedStrs<'a> {
    fn as_slice(&self) -> &[&'a str] {
        match self {
            BorrowedStrs::Inline(strs, len) => &strs[..*len],
            BorrowedStrs::Heap(strs) => strs,
        }
    }
}

fn borrow_all(strings: &[String]) -> BorrowedStrs<'_> {
    if strings.len() > INLINE_STRS {
        return BorrowedStrs::Heap(strings.iter().map(String::as_str).collect());
    }
    let mut inline = [""; INLINE_STRS];
    for (slot, string) in inline.iter_mut().zip(strings) {
        *slot = string;
    }
    BorrowedStrs::Inline(inline, strings.len())
}

fn not_exported(hook: Hook) -> wasmtime::Error {
    wasmtime::format_err!("the component does not export {}", hook.wit_interface())
}

/// Refuse imports the plugin may not have: anything outside the always-allowed set, and the
/// `notify`/`http` host interfaces unless granted.
fn check_imports(component: &Component, engine: &Engine, api: &HostApi) -> Result<(), LoadError> {
    let plugin = api.plugin();
    for (name, _) in component.component_type().imports(engine) {
        let unversioned = name.split('@').next().unwrap_or(name);
        if ALWAYS_ALLOWED_IMPORTS
            .iter()
            .any(|allowed| unversioned.starts_with(allowed))
        {
            continue;
        }
        let capability = match unversioned {
            "mlx:plugin/notify" => Some(("notify", api.notify_allowed())),
            "mlx:plugin/http" => Some(("http", api.http_allowed())),
            _ => None,
        };
        match capability {
            Some((_, true)) => {}
            Some((capability, false)) => {
                return Err(refused(format!(
                    "plugin `{plugin}` imports {name} but does not have the `{capability}` capability: declare it under [capabilities] in plugin.toml (and, for a user plugin, grant it with `mlx-host plugins grant {plugin} {capability}`)"
                )));
            }
            None => {
                return Err(refused(format!(
                    "plugin `{plugin}` imports {name}, which plugins may not use: WASM plugins get no filesystem, network or process access, only mlx:plugin/log, config, notify and http"
                )));
            }
        }
    }
    Ok(())
}

fn build_linker(engine: &Engine, api: &HostApi) -> Result<Linker<StoreState>, LoadError> {
    let link_error =
        |error: wasmtime::Error| refused(format!("cannot prepare the WASM linker: {error:#}"));
    let mut linker = Linker::<StoreState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(link_error)?;
    wit::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |state| state)
        .map_err(link_error)?;
    bindings::mlx::plugin::log::add_to_linker::<StoreState, HasSelf<StoreState>>(
        &mut linker,
        |state| state,
    )
    .map_err(link_error)?;
    bindings::mlx::plugin::config::add_to_linker::<StoreState, HasSelf<StoreState>>(
        &mut linker,
        |state| state,
    )
    .map_err(link_error)?;
    if api.notify_allowed() {
        bindings::mlx::plugin::notify::add_to_linker::<StoreState, HasSelf<StoreState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link_error)?;
    }
    if api.http_allowed() {
        bindings::mlx::plugin::http::add_to_linker::<StoreState, HasSelf<StoreState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link_error)?;
    }
    Ok(linker)
}

fn find_hooks(
    pre: &InstancePre<StoreState>,
    hooks: &[Hook],
    name: &str,
) -> Result<HookIndices, LoadError> {
    let missing = |hook: Hook| {
        refused(format!(
            "plugin `{name}` declares hook `{hook}` but its component does not export {}; export that interface or remove the hook from plugin.toml",
            hook.wit_interface()
        ))
    };
    let mut indices = HookIndices::default();
    for hook in hooks {
        match hook {
            Hook::DetectFamily => {
                indices.family =
                    Some(family_detector::GuestIndices::new(pre).map_err(|_| missing(*hook))?);
            }
            Hook::LaunchOptions => {
                indices.planner =
                    Some(launch_planner::GuestIndices::new(pre).map_err(|_| missing(*hook))?);
            }
            Hook::DetectError => {
                indices.errors =
                    Some(error_detector::GuestIndices::new(pre).map_err(|_| missing(*hook))?);
            }
            Hook::OnEvent => {
                indices.notifier =
                    Some(notifier::GuestIndices::new(pre).map_err(|_| missing(*hook))?);
            }
        }
    }
    Ok(indices)
}

/// The hooks a component exports, whatever its manifest says (for `plugins check`).
pub fn exported_hooks(
    runtime: &WasmRuntime,
    bytes: &[u8],
    label: &str,
) -> Result<Vec<Hook>, LoadError> {
    let component = runtime.component(label, bytes)?;
    let ty = component.component_type();
    let exported: Vec<String> = ty
        .exports(&runtime.engine)
        .map(|(name, _)| name.split('@').next().unwrap_or(name).to_string())
        .collect();
    Ok(Hook::ALL
        .into_iter()
        .filter(|hook| {
            let wanted = hook.wit_interface().split('@').next().unwrap_or_default();
            exported.iter().any(|name| name == wanted)
        })
        .collect())
}

/// The imports a component declares (for `plugins check`).
pub fn imported_interfaces(
    runtime: &WasmRuntime,
    bytes: &[u8],
    label: &str,
) -> Result<Vec<String>, LoadError> {
    let component = runtime.component(label, bytes)?;
    Ok(component
        .component_type()
        .imports(&runtime.engine)
        .map(|(name, _)| name.to_string())
        .collect())
}

fn exit_to_wit(exit: api::ExitStatus) -> wit::ExitStatus {
    match exit {
        api::ExitStatus::Running => wit::ExitStatus::Running,
        api::ExitStatus::Exited { code } => wit::ExitStatus::Exited(code),
        api::ExitStatus::Signaled { signal } => wit::ExitStatus::Signaled(signal),
    }
}

fn severity_from_wit(severity: wit::Severity) -> api::Severity {
    match severity {
        wit::Severity::Info => api::Severity::Info,
        wit::Severity::Warning => api::Severity::Warning,
        wit::Severity::Error => api::Severity::Error,
        wit::Severity::Fatal => api::Severity::Fatal,
    }
}

fn severity_to_wit(severity: api::Severity) -> wit::Severity {
    match severity {
        api::Severity::Info => wit::Severity::Info,
        api::Severity::Warning => wit::Severity::Warning,
        api::Severity::Error => wit::Severity::Error,
        api::Severity::Fatal => wit::Severity::Fatal,
    }
}

fn diagnosis_from_wit(diagnosis: wit::DiagnosisResult) -> api::Diagnosis {
    api::Diagnosis {
        category: diagnosis.category,
        severity: severity_from_wit(diagnosis.severity),
        summary: diagnosis.summary,
        hint: diagnosis.hint,
        line: diagnosis.line,
    }
}

fn diagnosis_to_wit(diagnosis: &api::Diagnosis) -> wit::DiagnosisParam<'_> {
    wit::DiagnosisParam {
        category: &diagnosis.category,
        severity: severity_to_wit(diagnosis.severity),
        summary: &diagnosis.summary,
        hint: &diagnosis.hint,
        line: diagnosis.line,
    }
}

fn family_from_wit(info: wit::FamilyInfoResult) -> api::FamilyInfo {
    api::FamilyInfo {
        family: info.family,
        kind: info.kind,
        context_length: info.context_length,
        quantization_bits: info.quantization_bits,
        tool_calls: info.tool_calls,
        reasoning: info.reasoning,
        min_mlx_lm: info.min_mlx_lm,
    }
}
