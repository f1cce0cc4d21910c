//! The Lua runtime: Lua 5.4 (vendored) through mlua, one state per plugin.
//!
//! Sandbox: only the `string`, `table`, `math`, `utf8` and `coroutine` libraries (no `io`, `os`,
//! `package`, `debug`); `dofile`, `loadfile` and `string.dump` removed, `load` restricted to
//! text chunks and `__gc` finalizers refused by `setmetatable`; a memory limit; and a per-call
//! deadline checked by an instruction-count hook.
//! After a timeout or an out-of-memory error the state is rebuilt from source before the next
//! call. Values cross as the serde forms of the plugin-api types (tables with snake_case
//! fields, `nil` for absent optional fields); the records of `detect-error` and the input of
//! `detect-family` are built and read by hand in [`super::lua_values`] (the `log-tail` record by
//! a small Lua entry function inside the state), with the same shapes, because the serde path
//! was most of those calls' cost.
//!
//! A plugin is a chunk that returns a table of hook functions (`detect_family`, `plan_launch`,
//! `detect_error`, `on_event`) and, for single-file user hooks, an optional integer `priority`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use mlua::chunk::ChunkMode;
use mlua::serde::{DeserializeOptions, SerializeOptions};
use mlua::{
    Function, HookTriggers, IntoLuaMulti, Lua, LuaOptions, LuaSerdeExt, StdLib, Table, Value,
    VmState,
};
use mlx_host_plugin_api::manifest::Limits;
use mlx_host_plugin_api::{API_VERSION, Hook, types as api};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::host_api::{HostApi, LogLevel};
use super::lua_values::{
    diagnosis_from_lua, load_detect_error_entry_maker, log_tail_args, model_source_to_lua,
};
use super::{CallError, LoadError, refused};

/// The deadline hook runs every this many VM instructions.
const INSTRUCTIONS_PER_CHECK: u32 = 1000;

/// Runs before the plugin's chunk: removes what could reach files or load bytecode, and refuses
/// `__gc` finalizers (the only way Lua code runs outside a call: during a collection started by
/// the host's own conversions, or when a state is closed after a timeout, with no deadline armed).
const PRELUDE: &str = r#"
dofile = nil
loadfile = nil
string.dump = nil
do
  local raw_load = load
  load = function(chunk, name, _mode, env)
    return raw_load(chunk, name, "t", env)
  end
end
do
  local raw_setmetatable, rawget, type, error = setmetatable, rawget, type, error
  setmetatable = function(table, metatable)
    if type(metatable) == "table" and rawget(metatable, "__gc") ~= nil then
      error("setmetatable: __gc finalizers are not available to plugins: the collector may run them outside any call, where no deadline stops them", 2)
    end
    return raw_setmetatable(table, metatable)
  end
end
"#;

/// A deadline shared with the instruction hook. Zero means "no call in flight".
struct Deadline {
    base: Instant,
    at_nanos: AtomicU64,
    expired: AtomicBool,
}

impl Deadline {
    fn arm(&self, timeout_ms: u32) {
        let at = self.base.elapsed().as_nanos() as u64 + u64::from(timeout_ms) * 1_000_000;
        self.expired.store(false, Ordering::Relaxed);
        self.at_nanos.store(at.max(1), Ordering::Relaxed);
    }

    fn disarm(&self) {
        self.at_nanos.store(0, Ordering::Relaxed);
    }

    fn passed(&self) -> bool {
        let at = self.at_nanos.load(Ordering::Relaxed);
        at != 0 && self.base.elapsed().as_nanos() as u64 > at
    }
}

/// The hook functions a plugin's module table defines.
#[derive(Default)]
struct HookFunctions {
    detect_family: Option<Function>,
    plan_launch: Option<Function>,
    /// The entry made by `load_detect_error_entry_maker` around the plugin's own function.
    detect_error: Option<Function>,
    on_event: Option<Function>,
}

struct LuaState {
    lua: Lua,
    functions: HookFunctions,
    defined: Vec<Hook>,
    priority: Option<i32>,
}

/// One loaded Lua plugin.
pub struct LuaPlugin {
    source: Arc<str>,
    chunk_name: String,
    limits: Limits,
    api: HostApi,
    deadline: Arc<Deadline>,
    state: Option<LuaState>,
}

impl LuaPlugin {
    /// Load a plugin from its source; `chunk_name` names it in Lua error messages.
    pub fn load(
        source: &str,
        chunk_name: &str,
        limits: Limits,
        api: HostApi,
    ) -> Result<LuaPlugin, LoadError> {
        let deadline = Arc::new(Deadline {
            base: Instant::now(),
            at_nanos: AtomicU64::new(0),
            expired: AtomicBool::new(false),
        });
        let mut plugin = LuaPlugin {
            source: Arc::from(source),
            chunk_name: chunk_name.to_string(),
            limits,
            api,
            deadline,
            state: None,
        };
        let state = plugin.build_state().map_err(|error| {
            refused(format!(
                "Lua plugin `{}` failed to load: {error}",
                plugin.api.plugin()
            ))
        })?;
        plugin.state = Some(state);
        Ok(plugin)
    }

    /// The hooks the module table defines.
    pub fn defined_hooks(&self) -> Vec<Hook> {
        self.state
            .as_ref()
            .map(|state| state.defined.clone())
            .unwrap_or_default()
    }

    /// The module table's `priority` field, when it has one.
    pub fn declared_priority(&self) -> Option<i32> {
        self.state.as_ref().and_then(|state| state.priority)
    }

    fn build_state(&self) -> Result<LuaState, String> {
        let libs = StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE;
        let lua = Lua::new_with(libs, LuaOptions::default()).map_err(|error| error.to_string())?;
        // Before the prelude, so that the entry keeps the real `setmetatable`.
        let entry_maker = load_detect_error_entry_maker(&lua).map_err(|error| error.to_string())?;
        lua.load(PRELUDE)
            .set_name("=prelude")
            .exec()
            .map_err(|error| error.to_string())?;
        install_host_table(&lua, &self.api).map_err(|error| error.to_string())?;
        let memory = self.limits.memory_mb as usize * 1024 * 1024;
        lua.set_memory_limit(memory)
            .map_err(|error| error.to_string())?;
        let hook_deadline = self.deadline.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(INSTRUCTIONS_PER_CHECK),
            move |_lua, _debug| {
                if hook_deadline.passed() {
                    hook_deadline.expired.store(true, Ordering::Relaxed);
                    Err(mlua::Error::runtime("deadline exceeded"))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )
        .map_err(|error| error.to_string())?;

        self.deadline.arm(self.limits.timeout_ms);
        let loaded = lua
            .load(&*self.source)
            .set_name(format!("@{}", self.chunk_name))
            .set_mode(ChunkMode::Text)
            .eval::<Value>();
        self.deadline.disarm();
        let module = match loaded {
            Ok(Value::Table(table)) => table,
            Ok(other) => {
                return Err(format!(
                    "the chunk returned {} instead of a table of hook functions; end the file with `return M` where M holds functions such as detect_error",
                    other.type_name()
                ));
            }
            Err(error) => return Err(self.describe_error(&error)),
        };
        let (mut functions, defined) = hook_functions(&module)?;
        if let Some(detect_error) = functions.detect_error.take() {
            let entry = entry_maker
                .call::<Function>(detect_error)
                .map_err(|error| error.to_string())?;
            functions.detect_error = Some(entry);
        }
        let priority = match module
            .get::<Value>("priority")
            .map_err(|error| error.to_string())?
        {
            Value::Nil => None,
            Value::Integer(number) => Some(
                i32::try_from(number).map_err(|_| format!("priority {number} is out of range"))?,
            ),
            other => {
                return Err(format!(
                    "`priority` must be an integer, not {}",
                    other.type_name()
                ));
            }
        };
        Ok(LuaState {
            lua,
            functions,
            defined,
            priority,
        })
    }

    fn describe_error(&self, error: &mlua::Error) -> String {
        if self.deadline.expired.load(Ordering::Relaxed) {
            format!(
                "did not finish within its {} ms deadline",
                self.limits.timeout_ms
            )
        } else if is_memory_error(error) {
            format!("went over its {} MiB memory limit", self.limits.memory_mb)
        } else {
            first_lines(&error.to_string())
        }
    }

    /// Call one hook function under the deadline with the arguments `args` builds, and read a
    /// non-`nil` answer with `answer` (a `nil` answer comes back as `None`).
    fn call<A: IntoLuaMulti, T>(
        &mut self,
        pick: impl FnOnce(&HookFunctions) -> Option<&Function>,
        hook: Hook,
        args: impl FnOnce(&Lua) -> mlua::Result<A>,
        answer: impl FnOnce(&Lua, Value) -> Result<T, String>,
    ) -> Result<Option<T>, CallError> {
        if self.state.is_none() {
            let state = self.build_state().map_err(CallError::Plugin)?;
            self.state = Some(state);
        }
        let Some(state) = self.state.as_ref() else {
            return Err(CallError::Plugin("the Lua state is gone".into()));
        };
        let Some(function) = pick(&state.functions) else {
            return Err(CallError::Plugin(format!(
                "the module does not define {}",
                hook.lua_function()
            )));
        };
        let lua = &state.lua;
        // The host's own input is converted without the plugin's memory limit: with a limit set,
        // mlua protects every allocation, which made converting a 100-line batch ~1.5x slower.
        // The input's size is the host's doing, not the plugin's, so it is not the plugin's to pay.
        let memory_limit = self.limits.memory_mb as usize * 1024 * 1024;
        let _ = lua.set_memory_limit(0);
        let converted = args(lua);
        let _ = lua.set_memory_limit(memory_limit);
        let args = converted.map_err(|error| CallError::Plugin(error.to_string()))?;
        self.deadline.arm(self.limits.timeout_ms);
        let result = function.call::<Value>(args);
        self.deadline.disarm();
        let value = match result {
            Ok(value) => value,
            Err(error) => {
                let timed_out = self.deadline.expired.load(Ordering::Relaxed);
                let out_of_memory = is_memory_error(&error);
                if timed_out || out_of_memory {
                    // Start from a clean state next time.
                    self.state = None;
                }
                return Err(if timed_out {
                    CallError::Timeout(self.limits.timeout_ms)
                } else if out_of_memory {
                    CallError::MemoryLimit(self.limits.memory_mb)
                } else {
                    CallError::Plugin(first_lines(&error.to_string()))
                });
            }
        };
        if value.is_nil() {
            return Ok(None);
        }
        answer(lua, value)
            .map(Some)
            .map_err(|error| CallError::BadOutput(first_lines(&error)))
    }

    pub fn detect_family(
        &mut self,
        model: &api::ModelSource,
    ) -> Result<Option<api::FamilyInfo>, CallError> {
        self.call(
            |f| f.detect_family.as_ref(),
            Hook::DetectFamily,
            |lua| model_source_to_lua(lua, model),
            from_serde_form,
        )
    }

    pub fn plan_launch(
        &mut self,
        request: &api::LaunchRequest,
        plan: &api::LaunchPlan,
    ) -> Result<api::LaunchPlan, CallError> {
        self.call(
            |f| f.plan_launch.as_ref(),
            Hook::LaunchOptions,
            |lua| Ok((to_serde_form(lua, request)?, to_serde_form(lua, plan)?)),
            from_serde_form::<api::LaunchPlan>,
        )?
        .ok_or_else(|| {
            CallError::BadOutput(
                "plan_launch returned nil; return the plan (changed or not)".into(),
            )
        })
    }

    pub fn detect_error(
        &mut self,
        tail: &api::LogTail,
    ) -> Result<Option<api::Diagnosis>, CallError> {
        self.call(
            |f| f.detect_error.as_ref(),
            Hook::DetectError,
            |lua| log_tail_args(lua, tail),
            |_, value| diagnosis_from_lua(value).map_err(|error| error.to_string()),
        )
    }

    pub fn on_event(&mut self, event: &api::Event) -> Result<(), CallError> {
        self.call(
            |f| f.on_event.as_ref(),
            Hook::OnEvent,
            |lua| to_serde_form(lua, event),
            from_serde_form::<serde::de::IgnoredAny>,
        )
        .map(|_| ())
    }
}

/// `value` as a Lua value through serde (the documented shapes of the plugin-api types).
fn to_serde_form(lua: &Lua, value: &impl Serialize) -> mlua::Result<Value> {
    lua.to_value_with(value, serialize_options())
}

/// A plugin's answer read through serde; unknown fields and unsupported types are refused.
fn from_serde_form<T: DeserializeOwned>(lua: &Lua, value: Value) -> Result<T, String> {
    let options = DeserializeOptions::new().deny_unsupported_types(true);
    lua.from_value_with::<T>(value, options)
        .map_err(|error| error.to_string())
}

fn serialize_options() -> SerializeOptions {
    SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false)
}

fn hook_functions(module: &Table) -> Result<(HookFunctions, Vec<Hook>), String> {
    let mut functions = HookFunctions::default();
    let mut defined = Vec::new();
    for hook in Hook::ALL {
        let value: Value = module
            .get(hook.lua_function())
            .map_err(|error| error.to_string())?;
        let function = match value {
            Value::Nil => continue,
            Value::Function(function) => function,
            other => {
                return Err(format!(
                    "`{}` must be a function, not {}",
                    hook.lua_function(),
                    other.type_name()
                ));
            }
        };
        defined.push(hook);
        match hook {
            Hook::DetectFamily => functions.detect_family = Some(function),
            Hook::LaunchOptions => functions.plan_launch = Some(function),
            Hook::DetectError => functions.detect_error = Some(function),
            Hook::OnEvent => functions.on_event = Some(function),
        }
    }
    Ok((functions, defined))
}

/// The `host` global: API version, log, config, json, and the granted capabilities.
fn install_host_table(lua: &Lua, api: &HostApi) -> mlua::Result<()> {
    let host = lua.create_table()?;
    host.set("api_version", API_VERSION.to_string())?;
    host.set("api_level", API_VERSION.major)?;
    host.set("plugin", api.plugin())?;

    let log_api = api.clone();
    host.set(
        "log",
        lua.create_function(move |_, (level, message): (String, String)| {
            let level = LogLevel::from_name(&level).ok_or_else(|| {
                mlua::Error::runtime(format!(
                    "host.log: unknown level `{level}`; use trace, debug, info, warn or error"
                ))
            })?;
            log_api.log(level, &message);
            Ok(())
        })?,
    )?;
    let print_api = api.clone();
    lua.globals().set(
        "print",
        lua.create_function(move |_, values: mlua::Variadic<Value>| {
            let text: Vec<String> = values
                .iter()
                .map(|value| {
                    value
                        .to_string()
                        .unwrap_or_else(|_| value.type_name().to_string())
                })
                .collect();
            print_api.log(LogLevel::Info, &text.join("\t"));
            Ok(())
        })?,
    )?;
    let config_api = api.clone();
    host.set(
        "config",
        lua.create_function(move |_, key: String| Ok(config_api.config(&key)))?,
    )?;

    let json = lua.create_table()?;
    json.set(
        "decode",
        lua.create_function(|lua, text: String| {
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|error| mlua::Error::runtime(format!("host.json.decode: {error}")))?;
            lua.to_value_with(&value, serialize_options())
        })?,
    )?;
    json.set(
        "encode",
        lua.create_function(|lua, value: Value| {
            let value: serde_json::Value = lua.from_value(value)?;
            serde_json::to_string(&value)
                .map_err(|error| mlua::Error::runtime(format!("host.json.encode: {error}")))
        })?,
    )?;
    host.set("json", json)?;

    if api.notify_allowed() {
        let notify_api = api.clone();
        host.set(
            "notify",
            lua.create_function(move |_, (title, body): (String, String)| {
                Ok(match notify_api.notify(&title, &body) {
                    Ok(()) => (true, None),
                    Err(error) => (false, Some(error)),
                })
            })?,
        )?;
    }
    if api.http_allowed() {
        let http_api = api.clone();
        host.set(
            "http_post",
            lua.create_function(
                move |_, (url, content_type, body): (String, String, String)| {
                    Ok(match http_api.http_post(&url, &content_type, &body) {
                        Ok(status) => (Some(status), None),
                        Err(error) => (None, Some(error)),
                    })
                },
            )?,
        )?;
    }
    lua.globals().set("host", host)
}

fn is_memory_error(error: &mlua::Error) -> bool {
    match error {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } => is_memory_error(cause),
        mlua::Error::WithContext { cause, .. } => is_memory_error(cause),
        _ => false,
    }
}

/// The message of a Lua error without its stack traceback.
fn first_lines(text: &str) -> String {
    text.lines()
        .take_while(|line| !line.trim_start().starts_with("stack traceback:"))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn api() -> HostApi {
        let mut config = BTreeMap::new();
        config.insert("greeting".to_string(), "hello".to_string());
        HostApi::new("test", config, false, None)
    }

    fn limits() -> Limits {
        Limits {
            timeout_ms: 50,
            memory_mb: 8,
        }
    }

    fn tail(lines: &[&str]) -> api::LogTail {
        api::LogTail {
            server_kind: "mlx_lm".into(),
            lines: lines.iter().map(|line| line.to_string()).collect(),
            exit: api::ExitStatus::Exited { code: 1 },
        }
    }

    #[test]
    fn sandbox_hides_io_os_package_debug_and_binary_loading() {
        let source = r#"
            local M = {}
            function M.detect_error(tail)
              local missing = {}
              for _, name in ipairs({"io", "os", "package", "debug", "require", "dofile", "loadfile"}) do
                if _G[name] ~= nil then table.insert(missing, name) end
              end
              if string.dump ~= nil then table.insert(missing, "string.dump") end
              local ok = pcall(load, "\27Lua")
              return { category = "none", severity = "info", summary = "present: " .. table.concat(missing, ",") .. ";", hint = host.config("greeting") }
            end
            return M
        "#;
        let mut plugin = LuaPlugin::load(source, "sandbox.lua", limits(), api()).unwrap();
        let diagnosis = plugin.detect_error(&tail(&["x"])).unwrap().unwrap();
        assert_eq!(diagnosis.summary, "present: ;");
        assert_eq!(diagnosis.hint, "hello");
    }

    #[test]
    fn exit_status_and_optional_fields_have_documented_shapes() {
        let source = r#"
            return { detect_error = function(tail)
              assert(tail.exit.kind == "exited" and tail.exit.code == 1, "exit shape")
              assert(#tail.lines == 2 and tail.lines[2] == "b", "lines shape")
              return { category = "bad_argument", severity = "error", summary = tail.lines[1], hint = "h", line = 0 }
            end }
        "#;
        let mut plugin = LuaPlugin::load(source, "shape.lua", limits(), api()).unwrap();
        let diagnosis = plugin.detect_error(&tail(&["a", "b"])).unwrap().unwrap();
        assert_eq!(diagnosis.line, Some(0));
        assert_eq!(diagnosis.severity, api::Severity::Error);
    }

    #[test]
    fn infinite_loop_times_out_and_the_plugin_recovers() {
        let source = r#"
            return { detect_error = function(tail)
              if tail.lines[1] == "spin" then while true do end end
              return nil
            end }
        "#;
        let mut plugin = LuaPlugin::load(source, "spin.lua", limits(), api()).unwrap();
        let started = Instant::now();
        assert_eq!(
            plugin.detect_error(&tail(&["spin"])),
            Err(CallError::Timeout(50))
        );
        assert!(started.elapsed().as_millis() < 1000);
        assert_eq!(plugin.detect_error(&tail(&["fine"])), Ok(None));
    }

    #[test]
    fn a_finalizer_cannot_run_outside_the_deadline() {
        // A `__gc` finalizer runs whenever the collector gets to it: while the host converts
        // arguments or closes the state after a timeout, when no deadline is armed. This one
        // would spin there for ever, so finalizers must be refused.
        let source = r#"
            return { detect_error = function(tail)
              setmetatable({}, { __gc = function() while true do end end })
              if tail.lines[1] == "spin" then while true do end end
              return nil
            end }
        "#;
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut plugin = LuaPlugin::load(source, "finalizer.lua", limits(), api()).unwrap();
            let first = plugin.detect_error(&tail(&["spin"]));
            let second = plugin.detect_error(&tail(&["fine"]));
            let _ = sender.send((first, second));
        });
        let (first, second) = receiver
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the host hung in a plugin's finalizer");
        for answer in [first, second] {
            match answer {
                Err(CallError::Plugin(message)) => {
                    assert!(message.contains("__gc"), "{message}")
                }
                other => panic!("expected the finalizer to be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn memory_bomb_hits_the_limit() {
        let source = r#"
            return { detect_error = function(tail)
              local t = {}
              for i = 1, 100000000 do t[i] = string.rep("x", 1024) .. i end
            end }
        "#;
        let mut plugin = LuaPlugin::load(source, "bomb.lua", limits(), api()).unwrap();
        assert_eq!(
            plugin.detect_error(&tail(&["x"])),
            Err(CallError::MemoryLimit(8))
        );
    }

    #[test]
    fn malformed_answers_are_bad_output() {
        let source = r#"
            return { detect_error = function(tail) return { category = "none", severity = "loud", summary = "s", hint = "h" } end }
        "#;
        let mut plugin = LuaPlugin::load(source, "bad.lua", limits(), api()).unwrap();
        assert!(matches!(
            plugin.detect_error(&tail(&["x"])),
            Err(CallError::BadOutput(_))
        ));
    }

    #[test]
    fn a_chunk_that_returns_no_table_is_refused_with_a_hint() {
        let error = LuaPlugin::load("x = 1", "nothing.lua", limits(), api())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("return M"), "{error}");
        let error = LuaPlugin::load("return {", "syntax.lua", limits(), api())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("syntax.lua"), "{error}");
    }

    #[test]
    fn json_helpers_round_trip() {
        let source = r#"
            return { detect_family = function(model)
              local cfg = host.json.decode(model.config_json)
              return { family = cfg.model_type, kind = "lm", tool_calls = false, reasoning = false, context_length = cfg.max_position_embeddings }
            end, priority = 7 }
        "#;
        let mut plugin = LuaPlugin::load(source, "json.lua", limits(), api()).unwrap();
        assert_eq!(plugin.declared_priority(), Some(7));
        assert_eq!(plugin.defined_hooks(), vec![Hook::DetectFamily]);
        let info = plugin
            .detect_family(&api::ModelSource {
                repo_id: None,
                config_json: Some(
                    r#"{"model_type":"llama","max_position_embeddings":2048,"x":null}"#.into(),
                ),
            })
            .unwrap()
            .unwrap();
        assert_eq!(info.family, "llama");
        assert_eq!(info.context_length, Some(2048));
    }
}
