//! Misbehaving plugins, WASM and Lua: an infinite loop, a memory bomb, a trap/panic, a wrong
//! API major, an undeclared capability, a malformed answer. Each must leave the host running
//! and answering, with the failure named in the plugin's state and events.

mod common;

use std::time::{Duration, Instant};

use common::{fixture_wasm, install_lua, install_wasm, registry, settings_with_limit};
use mlx_host::plugins::PluginState;
use mlx_host::settings::Settings;
use mlx_host_plugin_api::types::{ExitStatus, LogTail};

const LIMITS: &str = "[limits]\ntimeout-ms = 50\nmemory-mb = 16\n";

fn tail(first_line: &str) -> LogTail {
    LogTail {
        server_kind: "mlx_lm".into(),
        lines: vec![first_line.to_string(), "second line".to_string()],
        exit: ExitStatus::Exited { code: 1 },
    }
}

const MISBEHAVING_LUA: &str = r#"
local M = {}
function M.detect_error(tail)
  local first = tail.lines[1]
  if first == "spin" then while true do end end
  if first == "bomb" then
    local hoard = {}
    for i = 1, 1e9 do hoard[i] = string.rep("x", 1048576) .. i end
  end
  if first == "panic" then error("fixture asked to fail") end
  if first == "bad" then return { category = "banana", severity = "fatal", summary = "x", hint = "", line = 99 } end
  return { category = "none", severity = "info", summary = "echo: " .. first, hint = "" }
end
return M
"#;

/// Install the misbehaving plugin of one runtime under `name`.
fn install_misbehaving(dir: &std::path::Path, runtime: &str, name: &str, extra: &str) {
    let manifest = format!("api = \"1.0\"\nhooks = [\"detect-error\"]\n{extra}{LIMITS}");
    match runtime {
        "wasm" => {
            install_wasm(dir, name, &fixture_wasm("fixture-misbehaving"), &manifest);
        }
        _ => {
            install_lua(dir, name, MISBEHAVING_LUA, &manifest);
        }
    }
}

fn assert_survives(runtime: &str, trigger: &str, expected_failure: &str) {
    let dir = tempfile::tempdir().unwrap();
    install_misbehaving(dir.path(), runtime, "bad-actor", "");
    let (registry, _) = registry(dir.path(), settings_with_limit(3));
    assert_eq!(
        registry.info("bad-actor").unwrap().state,
        PluginState::Loaded
    );

    let started = Instant::now();
    assert_eq!(
        registry.detect_error(&tail(trigger)),
        None,
        "{runtime} {trigger}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{runtime} {trigger} took {:?}",
        started.elapsed()
    );
    let info = registry.info("bad-actor").unwrap();
    assert_eq!(
        info.failures, 1,
        "{runtime} {trigger}: the failure is counted"
    );
    let last_error = info.last_error.unwrap_or_default();
    assert!(
        last_error.contains(expected_failure),
        "{runtime} {trigger}: expected `{expected_failure}` in `{last_error}`"
    );
    assert_eq!(
        info.state,
        PluginState::Loaded,
        "one failure does not disable"
    );

    // The host keeps answering, and the plugin itself recovers (fresh instance/state).
    let answer = registry
        .detect_error(&tail("hello"))
        .expect("the plugin answers again");
    assert_eq!(answer.value.summary, "echo: hello");
    assert_eq!(&*answer.plugin, "bad-actor");
}

#[test]
fn wasm_infinite_loop_is_stopped_by_the_deadline() {
    assert_survives("wasm", "spin", "deadline");
}

#[test]
fn lua_infinite_loop_is_stopped_by_the_deadline() {
    assert_survives("lua", "spin", "deadline");
}

#[test]
fn wasm_memory_bomb_is_stopped_by_the_memory_cap() {
    assert_survives("wasm", "bomb", "memory");
}

#[test]
fn lua_memory_bomb_is_stopped_by_the_memory_cap() {
    assert_survives("lua", "bomb", "memory");
}

#[test]
fn wasm_panic_traps_without_taking_the_host_down() {
    assert_survives("wasm", "panic", "crashed");
}

#[test]
fn lua_runtime_error_is_contained() {
    assert_survives("lua", "panic", "error");
}

#[test]
fn wasm_malformed_answer_is_rejected() {
    assert_survives("wasm", "bad", "malformed");
}

#[test]
fn lua_malformed_answer_is_rejected() {
    assert_survives("lua", "bad", "malformed");
}

#[test]
fn repeated_failures_disable_the_plugin_and_emit_an_event() {
    for runtime in ["wasm", "lua"] {
        let dir = tempfile::tempdir().unwrap();
        install_misbehaving(dir.path(), runtime, "looper", "");
        let (registry, events) = registry(dir.path(), settings_with_limit(3));
        for _ in 0..3 {
            assert_eq!(registry.detect_error(&tail("spin")), None);
        }
        let info = registry.info("looper").unwrap();
        match &info.state {
            PluginState::Faulted(reason) => {
                assert!(
                    reason.contains("3 failures") && reason.contains("deadline"),
                    "{reason}"
                )
            }
            other => panic!("{runtime}: expected faulted, got {other:?}"),
        }
        let disabled: Vec<_> = events
            .events()
            .into_iter()
            .filter(|event| event.kind == "plugin-disabled")
            .collect();
        assert_eq!(disabled.len(), 1, "{runtime}: one plugin-disabled event");
        assert_eq!(disabled[0].subject, "looper");
        assert!(
            disabled[0].message.contains("deadline"),
            "{}",
            disabled[0].message
        );

        // A faulted plugin is skipped at once, not called again.
        let started = Instant::now();
        assert_eq!(registry.detect_error(&tail("spin")), None);
        assert!(
            started.elapsed() < Duration::from_millis(40),
            "{runtime}: skipped"
        );
        assert_eq!(registry.info("looper").unwrap().failures, 3);
    }
}

#[test]
fn a_success_resets_the_count_of_failures_in_a_row() {
    for runtime in ["wasm", "lua"] {
        let dir = tempfile::tempdir().unwrap();
        install_misbehaving(dir.path(), runtime, "flaky", "");
        let (registry, events) = registry(dir.path(), settings_with_limit(3));
        // Two failures, an answer, two failures: never three in a row.
        for input in ["panic", "panic", "ok", "panic", "panic"] {
            let answer = registry.detect_error(&tail(input));
            assert_eq!(answer.is_some(), input == "ok", "{runtime}: {input}");
        }
        let info = registry.info("flaky").unwrap();
        assert_eq!(info.state, PluginState::Loaded, "{runtime}");
        assert_eq!(info.failures, 4, "{runtime}");
        assert!(
            registry.detect_error(&tail("ok")).is_some(),
            "{runtime}: still answering"
        );
        // The third failure in a row after that answer disables it.
        for _ in 0..3 {
            assert_eq!(registry.detect_error(&tail("panic")), None);
        }
        assert!(
            matches!(
                registry.info("flaky").unwrap().state,
                PluginState::Faulted(_)
            ),
            "{runtime}"
        );
        assert_eq!(
            registry.detect_error(&tail("ok")),
            None,
            "{runtime}: skipped"
        );
        let disabled = events
            .events()
            .into_iter()
            .filter(|event| event.kind == "plugin-disabled")
            .count();
        assert_eq!(disabled, 1, "{runtime}");
    }
}

#[test]
fn a_failing_plugin_falls_through_to_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    install_misbehaving(dir.path(), "wasm", "high", "priority = 50\n");
    install_misbehaving(dir.path(), "lua", "low", "priority = 10\n");
    let (registry, _) = registry(dir.path(), settings_with_limit(3));
    // `high` answers first when it can.
    assert_eq!(&*registry.detect_error(&tail("ok")).unwrap().plugin, "high");
    // The WASM plugin traps on "panic"; the Lua one errors too, so nobody answers...
    assert_eq!(registry.detect_error(&tail("panic")), None);
    // ...but an input only the WASM plugin chokes on falls through to the Lua plugin.
    let dir2 = tempfile::tempdir().unwrap();
    install_misbehaving(dir2.path(), "wasm", "high", "priority = 50\n");
    install_lua(
        dir2.path(),
        "low",
        r#"return { detect_error = function(tail) return { category = "none", severity = "info", summary = "lua saw " .. tail.lines[1], hint = "" } end }"#,
        "api = \"1.0\"\nhooks = [\"detect-error\"]\npriority = 10\n",
    );
    let (registry, _) = common::registry(dir2.path(), settings_with_limit(3));
    let answer = registry
        .detect_error(&tail("spin"))
        .expect("the lower plugin answers");
    assert_eq!(&*answer.plugin, "low");
    assert_eq!(answer.value.summary, "lua saw spin");
}

#[test]
fn wrong_api_major_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = format!("api = \"2.0\"\nhooks = [\"detect-error\"]\n{LIMITS}");
    install_wasm(
        dir.path(),
        "future-wasm",
        &fixture_wasm("fixture-misbehaving"),
        &manifest,
    );
    install_lua(dir.path(), "future-lua", MISBEHAVING_LUA, &manifest);
    let newer_minor = format!("api = \"1.9\"\nhooks = [\"detect-error\"]\n{LIMITS}");
    install_lua(dir.path(), "newer-minor", MISBEHAVING_LUA, &newer_minor);
    let (registry, _) = registry(dir.path(), Settings::default());
    for name in ["future-wasm", "future-lua"] {
        match registry.info(name).unwrap().state {
            PluginState::Failed(reason) => {
                assert!(reason.contains("2.0") && reason.contains("1.0"), "{reason}")
            }
            other => panic!("{name}: expected failed, got {other:?}"),
        }
    }
    match registry.info("newer-minor").unwrap().state {
        PluginState::Failed(reason) => assert!(reason.contains("upgrade mlx-host"), "{reason}"),
        other => panic!("expected failed, got {other:?}"),
    }
    // The host still works without them.
    assert_eq!(registry.detect_error(&tail("x")), None);
}

#[test]
fn wasm_import_of_an_undeclared_capability_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = fixture_wasm("fixture-notifying");
    install_wasm(
        dir.path(),
        "undeclared",
        &wasm,
        "api = \"1.0\"\nhooks = [\"on-event\"]\n",
    );
    install_wasm(
        dir.path(),
        "ungranted",
        &wasm,
        "api = \"1.0\"\nhooks = [\"on-event\"]\n[capabilities]\nnotify = true\n",
    );
    install_wasm(
        dir.path(),
        "granted",
        &wasm,
        "api = \"1.0\"\nhooks = [\"on-event\"]\n[capabilities]\nnotify = true\n",
    );
    let mut settings = Settings::default();
    settings
        .plugins
        .grants
        .insert("granted".into(), vec!["notify".into()]);
    let (registry, _) = common::registry(dir.path(), settings);
    match registry.info("undeclared").unwrap().state {
        PluginState::Failed(reason) => assert!(
            reason.contains("mlx:plugin/notify") && reason.contains("[capabilities]"),
            "{reason}"
        ),
        other => panic!("expected failed, got {other:?}"),
    }
    match registry.info("ungranted").unwrap().state {
        PluginState::Failed(reason) => {
            assert!(
                reason.contains("plugins grant ungranted notify"),
                "{reason}"
            )
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(registry.info("granted").unwrap().state, PluginState::Loaded);
}

#[test]
fn lua_without_a_capability_cannot_reach_it() {
    let dir = tempfile::tempdir().unwrap();
    install_lua(
        dir.path(),
        "sneaky",
        r#"return { on_event = function(event) host.notify("t", "b") end }"#,
        "api = \"1.0\"\nhooks = [\"on-event\"]\n",
    );
    let (registry, _) = registry(dir.path(), Settings::default());
    assert_eq!(registry.info("sneaky").unwrap().state, PluginState::Loaded);
    let event = mlx_host_plugin_api::types::Event {
        kind: "ready".into(),
        subject: "p".into(),
        message: "ready".into(),
        timestamp_ms: 0,
        diagnosis: None,
    };
    // host.notify is not there: the call fails and is counted, the host carries on.
    assert_eq!(registry.on_event(&event), 0);
    assert_eq!(registry.info("sneaky").unwrap().failures, 1);
}

#[test]
fn broken_manifests_are_listed_with_the_reason_and_do_not_stop_others() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("typo");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("plugin.toml"),
        "name = \"typo\"\nversion = \"1.0.0\"\napi = \"1.0\"\nkind = \"lua\"\nentry = \"init.lua\"\nhooks = [\"detect-error\"]\npriorty = 3\n",
    )
    .unwrap();
    install_misbehaving(dir.path(), "lua", "fine", "");
    let (registry, _) = registry(dir.path(), Settings::default());
    match registry.info("typo").unwrap().state {
        PluginState::Failed(reason) => assert!(reason.contains("priorty"), "{reason}"),
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(&*registry.detect_error(&tail("x")).unwrap().plugin, "fine");
}

#[test]
fn single_file_lua_hooks_load_without_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("my-hook.lua"),
        r#"
        local M = { priority = 42 }
        function M.detect_error(tail)
          if tail.lines[1]:find("widget", 1, true) then
            return { category = "environment_error", severity = "fatal", summary = tail.lines[1], hint = "cool it", line = 0 }
          end
        end
        return M
        "#,
    )
    .unwrap();
    let (registry, _) = registry(dir.path(), Settings::default());
    let info = registry.info("my-hook").unwrap();
    assert_eq!(info.state, PluginState::Loaded);
    assert_eq!(info.priority, 42);
    assert_eq!(info.hooks, vec![mlx_host_plugin_api::Hook::DetectError]);
    let answer = registry.detect_error(&tail("widget overheated")).unwrap();
    assert_eq!(answer.value.category, "environment_error");
}

#[test]
fn native_plugins_load_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("native-echo");
    std::fs::create_dir_all(&folder).unwrap();
    let library = folder.join("libecho.so");
    let root = common::repo_root();
    let status = std::process::Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-shared")
        .arg("-fPIC")
        .arg("-I")
        .arg(root.join("plugin-api/include"))
        .arg(root.join("tests/fixtures/native/echo_plugin.c"))
        .arg("-o")
        .arg(&library)
        .status()
        .expect("a C compiler (cc) is needed to build the native fixture");
    assert!(status.success());
    std::fs::write(
        folder.join("plugin.toml"),
        "name = \"native-echo\"\nversion = \"1.0.0\"\napi = \"1.0\"\nkind = \"native\"\nentry = \"libecho.so\"\nhooks = [\"detect-error\"]\n",
    )
    .unwrap();

    let (registry, _) = registry(dir.path(), Settings::default());
    match registry.info("native-echo").unwrap().state {
        PluginState::Failed(reason) => assert!(reason.contains("allow-native = true"), "{reason}"),
        other => panic!("expected refused, got {other:?}"),
    }

    let mut settings = Settings::default();
    settings.plugins.allow_native = true;
    let (registry, _) = common::registry(dir.path(), settings);
    assert_eq!(
        registry.info("native-echo").unwrap().state,
        PluginState::Loaded
    );
    let answer = registry
        .detect_error(&LogTail {
            server_kind: "mlx_lm".into(),
            lines: vec!["OSError: [Errno 98] Address already in use".into()],
            exit: ExitStatus::Running,
        })
        .expect("the native plugin answers");
    assert_eq!(answer.value.category, "port_in_use");
    assert_eq!(&*answer.plugin, "native-echo");
    assert_eq!(registry.detect_error(&tail("quiet")), None);
}
