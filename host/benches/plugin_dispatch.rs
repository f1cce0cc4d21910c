//! What a hook call and a plugin load cost, measured through the public [`Registry`] API.
//!
//! Every hook benchmark runs the parity fixture (the WASM component built from
//! `plugins/test-fixtures/parity`, and its Lua twin `tests/fixtures/lua/parity/init.lua`) as the
//! only plugin of its registry, next to `native_*`: the same logic as a plain Rust function, in
//! the same run. Setup checks that all three give the same answers, and that no plugin call
//! failed (a faulted plugin answers `None` instantly and would make a benchmark meaningless).
//!
//! Groups (criterion writes `target/criterion/<group>/<bench>/new/estimates.json`):
//! - `detect_error_batch100`: one call with a 100-line log tail (throughput in lines):
//!   `*_miss` no line matches, so every line is scanned; `*_hit_last` the newest line matches
//!   (the plugin scans newest first, so it stops at once: transfer plus answer cost);
//!   `*_hit_first` the oldest line matches (full scan plus answer).
//! - `detect_error_single`: one call with a one-line tail, `*_miss` and `*_hit`.
//! - `detect_family`: one call with a repo id and a small `config.json`.
//! - `lua_plain_string`: for scale, a bare sandboxed Lua state called with one log line as a
//!   plain string (no records, no registry): one `string.find`, and the parity markers.
//! - `lua_floor`: the parity fixture's Lua `detect_error` called directly with a prebuilt
//!   one-line record, without (`bare_*`) and with (`sandboxed_*`) the sandbox costs, next to an
//!   empty function: what a one-line call costs before the host does anything.
//! - `load_builtins`: `Registry::load` of every built-in plugin (no user folders), `warm` with a
//!   pre-populated compiled-component cache, `cold` with a fresh empty cache per load.
//!
//! Run with `scripts/bench-plugins` for a table of medians, ratios and targets.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use mlx_host::plugins::{PluginState, Registry, RegistryOptions};
use mlx_host::settings::Settings;
use mlx_host_plugin_api::types::{
    Diagnosis, ExitStatus, FamilyInfo, LogTail, ModelSource, Severity,
};
use tempfile::TempDir;

const WASM_PLUGIN: &str = "parity-wasm";
const LUA_PLUGIN: &str = "parity-lua";
const MANIFEST_REST: &str = "api = \"1.0\"\nhooks = [\"detect-error\", \"detect-family\"]\n";
const BATCH_LINES: usize = 100;

// ---------------------------------------------------------------------------------------------
// The native baseline: the parity plugin's logic as plain Rust.
// ---------------------------------------------------------------------------------------------

/// The parity fixture's own marker search, compiled natively here.
#[path = "../../plugins/test-fixtures/parity/src/markers.rs"]
mod markers;

use markers::{MARKERS, find_marker};

fn native_detect_error(tail: &LogTail) -> Option<Diagnosis> {
    for (index, line) in tail.lines.iter().enumerate().rev() {
        if let Some(marker) = find_marker(line) {
            let (_, category, hint) = MARKERS[marker];
            return Some(Diagnosis {
                category: category.into(),
                severity: Severity::Fatal,
                summary: line.trim().into(),
                hint: hint.into(),
                line: Some(index as u32),
            });
        }
    }
    if let ExitStatus::Signaled { signal: 9 } = tail.exit {
        return Some(Diagnosis {
            category: "killed".into(),
            severity: Severity::Error,
            summary: "killed by signal 9".into(),
            hint: "Something killed the server.".into(),
            line: None,
        });
    }
    None
}

fn native_detect_family(model: &ModelSource) -> Result<Option<FamilyInfo>, String> {
    let Some(text) = &model.config_json else {
        let Some(repo) = &model.repo_id else {
            return Ok(None);
        };
        let last = repo.rsplit('/').next().unwrap_or_default().to_lowercase();
        let family = last.split('-').next().unwrap_or_default().to_string();
        if family.is_empty() {
            return Ok(None);
        }
        return Ok(Some(FamilyInfo {
            reasoning: family.contains("qwen3"),
            family,
            kind: "lm".into(),
            context_length: None,
            quantization_bits: None,
            tool_calls: false,
            min_mlx_lm: None,
        }));
    };
    let config: serde_json::Value =
        serde_json::from_str(text).map_err(|error| format!("config.json: {error}"))?;
    let Some(family) = config.get("model_type").and_then(|value| value.as_str()) else {
        return Ok(None);
    };
    let number = |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_f64);
    Ok(Some(FamilyInfo {
        family: family.to_string(),
        kind: if config.get("vision_config").is_some() {
            "multimodal"
        } else {
            "lm"
        }
        .into(),
        context_length: number(config.get("max_position_embeddings")).map(|n| n as u32),
        quantization_bits: number(config.get("quantization").and_then(|q| q.get("bits")))
            .map(|n| n as u8),
        tool_calls: false,
        reasoning: family.contains("qwen3"),
        min_mlx_lm: None,
    }))
}

// ---------------------------------------------------------------------------------------------
// Inputs.
// ---------------------------------------------------------------------------------------------

/// The line that makes the parity plugin answer `port_in_use`.
const HIT_LINE: &str = "OSError: [Errno 98] Address already in use";

/// A healthy mlx_lm.server log tail: access lines, prompt progress and prompt-cache reports
/// (61 to 97 bytes a line, 70 on average), none of which matches a marker.
fn healthy_lines(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let (minute, second, millis) = (49 + i / 60, i % 60, (i * 37) % 1000);
            let stamp = format!("2026-11-21 23:{minute:02}:{second:02},{millis:03}");
            match i % 8 {
                0 => format!(
                    "127.0.0.1 - - [21/Nov/2026 23:{minute:02}:{second:02}] \"POST /v1/chat/completions HTTP/1.1\" 200 -"
                ),
                1 => format!("{stamp} - INFO - Prompt processing progress: {}/{}", i % 17, 17),
                2 => format!("{stamp} - INFO - Prompt Cache: {} sequences, 0.00 GB", i % 5),
                3 => format!("{stamp} - INFO - - assistant: {} sequences, 0.00 GB", i % 5),
                4 => format!("{stamp} - INFO - - user: 0 sequences, 0.00 GB"),
                5 => format!("{stamp} - INFO - - system: 0 sequences, 0.00 GB"),
                6 => format!(
                    "127.0.0.1 - - [21/Nov/2026 23:{minute:02}:{second:02}] \"GET /health HTTP/1.1\" 200 -"
                ),
                _ => format!(
                    "{stamp} - WARNING - Generation hit max_tokens=512 before an end-of-sequence token"
                ),
            }
        })
        .collect()
}

fn tail(lines: Vec<String>) -> LogTail {
    LogTail {
        server_kind: "mlx_lm".into(),
        lines,
        exit: ExitStatus::Exited { code: 1 },
    }
}

fn batch_miss() -> LogTail {
    tail(healthy_lines(BATCH_LINES))
}

fn batch_hit_last() -> LogTail {
    let mut lines = healthy_lines(BATCH_LINES - 1);
    lines.push(HIT_LINE.into());
    tail(lines)
}

fn batch_hit_first() -> LogTail {
    let mut lines = vec![HIT_LINE.to_string()];
    lines.extend(healthy_lines(BATCH_LINES - 1));
    tail(lines)
}

fn single_miss() -> LogTail {
    tail(healthy_lines(1))
}

fn single_hit() -> LogTail {
    tail(vec![HIT_LINE.into()])
}

/// A repo id and a small (quantized Qwen3) `config.json`.
fn model_source() -> ModelSource {
    let config = r#"{"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","hidden_size":2560,"intermediate_size":9728,"num_hidden_layers":36,"num_attention_heads":32,"num_key_value_heads":8,"max_position_embeddings":40960,"rope_theta":1000000,"vocab_size":151936,"tie_word_embeddings":true,"torch_dtype":"bfloat16","quantization":{"group_size":64,"bits":4}}"#;
    ModelSource {
        repo_id: Some("mlx-community/Qwen3-4B-4bit".into()),
        config_json: Some(config.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Registries with one fixture plugin each.
// ---------------------------------------------------------------------------------------------

/// A registry whose only plugin is one parity fixture. The plugin folder lives as long as it.
struct OnePlugin {
    name: &'static str,
    registry: Registry,
    _folder: TempDir,
}

impl OnePlugin {
    fn wasm() -> OnePlugin {
        let wasm = Path::new(env!("MLX_HOST_GUEST_WASM_DIR")).join("fixture_parity.wasm");
        OnePlugin::install(WASM_PLUGIN, "wasm", "plugin.wasm", |folder| {
            if let Err(error) = std::fs::copy(&wasm, folder.join("plugin.wasm")) {
                panic!("cannot copy {}: {error}", wasm.display());
            }
        })
    }

    fn lua() -> OnePlugin {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lua/parity/init.lua");
        OnePlugin::install(LUA_PLUGIN, "lua", "init.lua", |folder| {
            if let Err(error) = std::fs::copy(&source, folder.join("init.lua")) {
                panic!("cannot copy {}: {error}", source.display());
            }
        })
    }

    fn install(
        name: &'static str,
        kind: &str,
        entry: &str,
        write_entry: impl FnOnce(&Path),
    ) -> OnePlugin {
        let dir = tempfile::tempdir().expect("a temporary plugin folder");
        let folder = dir.path().join(name);
        std::fs::create_dir_all(&folder).expect("a plugin folder");
        write_entry(&folder);
        std::fs::write(
            folder.join("plugin.toml"),
            format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\nkind = \"{kind}\"\nentry = \"{entry}\"\n{MANIFEST_REST}"
            ),
        )
        .expect("plugin.toml");
        let registry = Registry::load(RegistryOptions {
            builtins: false,
            user_dirs: vec![dir.path().to_path_buf()],
            settings: Settings::default(),
            component_cache: None,
            events: None,
            side_effects: Default::default(),
        });
        let plugin = OnePlugin {
            name,
            registry,
            _folder: dir,
        };
        assert_eq!(plugin.state(), PluginState::Loaded, "{name} did not load");
        plugin
    }

    fn state(&self) -> PluginState {
        self.registry
            .info(self.name)
            .unwrap_or_else(|| panic!("{} is not in its registry", self.name))
            .state
    }

    /// The plugin's answer, checked against the native baseline's.
    fn check_detect_error(&self, tail: &LogTail) {
        let answer = self.registry.detect_error(tail).map(|answer| answer.value);
        assert_eq!(
            answer,
            native_detect_error(tail),
            "{} detect-error",
            self.name
        );
    }

    fn check_detect_family(&self, model: &ModelSource) {
        let answer = self
            .registry
            .detect_family(model)
            .map(|answer| answer.value);
        let expected = native_detect_family(model).expect("the baseline parses the config");
        assert!(expected.is_some(), "the family input must get an answer");
        assert_eq!(answer, expected, "{} detect-family", self.name);
    }

    /// Fail the run if any timed call failed (a faulted plugin answers instantly with nothing).
    fn assert_no_failures(&self) {
        let info = self
            .registry
            .info(self.name)
            .unwrap_or_else(|| panic!("{} is not in its registry", self.name));
        assert_eq!(
            info.failures, 0,
            "{} failed calls: {:?}",
            self.name, info.last_error
        );
        assert_eq!(info.state, PluginState::Loaded, "{}", self.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.
// ---------------------------------------------------------------------------------------------

/// Benchmark `detect-error` over `cases` (`(label, tail)`), native first, then WASM and Lua.
fn detect_error_group(
    c: &mut Criterion,
    group_name: &str,
    cases: &[(&str, LogTail)],
    plugins: &[OnePlugin],
) {
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(cases[0].1.lines.len() as u64));
    for (label, tail) in cases {
        for plugin in plugins {
            plugin.check_detect_error(tail);
        }
        group.bench_function(format!("native_{label}"), |b| {
            b.iter(|| native_detect_error(black_box(tail)))
        });
        for plugin in plugins {
            let runtime = plugin.name.trim_start_matches("parity-");
            group.bench_function(format!("{runtime}_{label}"), |b| {
                b.iter(|| plugin.registry.detect_error(black_box(tail)))
            });
            plugin.assert_no_failures();
        }
    }
    group.finish();
}

fn hook_calls(c: &mut Criterion) {
    let plugins = [OnePlugin::wasm(), OnePlugin::lua()];

    detect_error_group(
        c,
        "detect_error_batch100",
        &[
            ("miss", batch_miss()),
            ("hit_last", batch_hit_last()),
            ("hit_first", batch_hit_first()),
        ],
        &plugins,
    );
    detect_error_group(
        c,
        "detect_error_single",
        &[("miss", single_miss()), ("hit", single_hit())],
        &plugins,
    );

    let model = model_source();
    let mut group = c.benchmark_group("detect_family");
    group.throughput(Throughput::Elements(1));
    group.bench_function("native", |b| {
        b.iter(|| native_detect_family(black_box(&model)))
    });
    for plugin in &plugins {
        plugin.check_detect_family(&model);
        let runtime = plugin.name.trim_start_matches("parity-");
        group.bench_function(runtime, |b| {
            b.iter(|| plugin.registry.detect_family(black_box(&model)))
        });
        plugin.assert_no_failures();
    }
    group.finish();
}

/// What a Lua call costs when it takes and returns plain strings, without records or the
/// registry: a bare Lua 5.4 state with the host's sandbox costs (an instruction-count hook that
/// checks a deadline every 1000 instructions, a 32 MiB memory limit) calling a function with
/// one log line. `one_find` is one `string.find` (the shape of the call the issue's ≤ 200 ns
/// Lua target came from); `markers` is the parity plugin's search (three `string.find`s) on
/// the same line, answering the category string or `nil`.
/// What the host's Lua sandbox costs a call: an instruction-count hook every 1000 instructions
/// that checks a (far) deadline, and a 32 MiB memory limit.
fn add_sandbox_costs(lua: &mlua::Lua) {
    use mlua::{HookTriggers, VmState};

    let started = Instant::now();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(1000),
        move |_lua, _debug| {
            if started.elapsed() > Duration::from_secs(3600) {
                Err(mlua::Error::runtime("deadline exceeded"))
            } else {
                Ok(VmState::Continue)
            }
        },
    )
    .expect("an instruction hook");
    lua.set_memory_limit(32 * 1024 * 1024)
        .expect("a memory limit");
}

fn lua_plain_string(c: &mut Criterion) {
    let lua = mlua::Lua::new();
    add_sandbox_costs(&lua);
    let module: mlua::Table = lua
        .load(
            r#"
            local MARKERS = {
              { "Address already in use", "port_in_use" },
              { "No such file or directory", "model_not_found" },
              { "not supported", "unsupported_architecture" },
            }
            return {
              one_find = function(line)
                if line:find("Address already in use", 1, true) then return "port_in_use" end
                return nil
              end,
              markers = function(line)
                for _, marker in ipairs(MARKERS) do
                  if line:find(marker[1], 1, true) then return marker[2] end
                end
                return nil
              end,
            }
            "#,
        )
        .eval()
        .expect("the plain-string functions");
    let line = healthy_lines(1).remove(0);

    let mut group = c.benchmark_group("lua_plain_string");
    group.throughput(Throughput::Elements(1));
    for name in ["one_find", "markers"] {
        let function: mlua::Function = module.get(name).expect("a plain-string function");
        let answer: Option<String> = function.call(line.as_str()).expect("a plain-string call");
        assert_eq!(answer, None, "{name} must miss on a healthy line");
        group.bench_function(format!("{name}_miss"), |b| {
            b.iter(|| function.call::<Option<String>>(black_box(line.as_str())))
        });
    }
    group.finish();
}

fn builtin_options(cache: &Path) -> RegistryOptions {
    RegistryOptions {
        builtins: true,
        user_dirs: Vec::new(),
        settings: Settings::default(),
        component_cache: Some(cache.to_path_buf()),
        events: None,
        side_effects: Default::default(),
    }
}

/// Check that every built-in plugin loaded (a load that fails early would look fast).
fn assert_all_loaded(registry: &Registry) {
    let plugins = registry.list();
    assert!(!plugins.is_empty(), "no built-in plugins");
    for info in &plugins {
        assert_eq!(info.state, PluginState::Loaded, "built-in {}", info.name);
    }
}

fn compiled_components(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
                .collect()
        })
        .unwrap_or_default()
}

fn load_builtins(c: &mut Criterion) {
    let warm_cache = tempfile::tempdir().expect("a temporary cache folder");
    assert_all_loaded(&Registry::load(builtin_options(warm_cache.path())));
    let cached = compiled_components(warm_cache.path());
    assert!(
        !cached.is_empty(),
        "the first load cached no compiled component in {}",
        warm_cache.path().display()
    );

    let mut group = c.benchmark_group("load_builtins");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("warm", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let options = builtin_options(warm_cache.path());
                let started = Instant::now();
                let registry = Registry::load(options);
                timed += started.elapsed();
                assert_all_loaded(&registry);
                drop(black_box(registry));
            }
            timed
        })
    });
    assert_eq!(
        compiled_components(warm_cache.path()).len(),
        cached.len(),
        "a warm load compiled something new"
    );
    group.bench_function("cold", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let cache = tempfile::tempdir().expect("a temporary cache folder");
                let options = builtin_options(cache.path());
                let started = Instant::now();
                let registry = Registry::load(options);
                timed += started.elapsed();
                assert_all_loaded(&registry);
                drop(black_box(registry));
                assert_eq!(
                    compiled_components(cache.path()).len(),
                    cached.len(),
                    "a cold load did not compile every component"
                );
            }
            timed
        })
    });
    group.finish();
}

/// What a one-line `detect_error` costs below the host: the parity fixture's own Lua function
/// called directly with a log-tail table built once (no conversion, no registry, no answer
/// reading), in a bare state without the sandbox costs (`bare_*`) and with them (`sandboxed_*`:
/// the instruction hook and memory limit the host sets), and an empty function taking the same
/// table (mlua's own call cost).
fn lua_floor(c: &mut Criterion) {
    use mlua::{Lua, LuaSerdeExt};

    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lua/parity/init.lua"),
    )
    .expect("the Lua parity fixture");
    let mut group = c.benchmark_group("lua_floor");
    group.throughput(Throughput::Elements(1));
    for sandboxed in [false, true] {
        let lua = Lua::new();
        lua.globals()
            .set("host", lua.create_table().expect("a table"))
            .expect("a host table");
        if sandboxed {
            add_sandbox_costs(&lua);
        }
        let module: mlua::Table = lua.load(&source).eval().expect("the parity module");
        let detect_error: mlua::Function = module.get("detect_error").expect("detect_error");
        let empty: mlua::Function = lua
            .load("return function(tail) return nil end")
            .eval()
            .expect("an empty function");
        let tail = LogTail {
            server_kind: "mlx_lm".into(),
            lines: healthy_lines(1),
            exit: ExitStatus::Exited { code: 1 },
        };
        let record = lua.to_value(&tail).expect("the log-tail record");
        let answer: mlua::Value = detect_error.call(&record).expect("a parity call");
        assert!(
            answer.is_nil(),
            "the parity function must miss on a healthy line"
        );
        let prefix = if sandboxed { "sandboxed" } else { "bare" };
        group.bench_function(format!("{prefix}_empty"), |b| {
            b.iter(|| empty.call::<mlua::Value>(black_box(&record)))
        });
        group.bench_function(format!("{prefix}_parity_miss"), |b| {
            b.iter(|| detect_error.call::<mlua::Value>(black_box(&record)))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = hook_calls, lua_plain_string, lua_floor, load_builtins
}
criterion_main!(benches);
