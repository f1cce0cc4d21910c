//! The plugin host's shared machinery: the on-disk cache of compiled components (a warm start
//! does not recompile), the built-in plugins loading from a fresh clone's build, and the
//! bounded event queue in front of notifier plugins (overflow counted and reported).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{install_lua, registry};
use mlx_host::plugins::fanout::EventFanout;
use mlx_host::plugins::{PluginState, Registry, RegistryOptions};
use mlx_host::settings::Settings;
use mlx_host_plugin_api::types::Event;

fn builtin_options(cache: Option<std::path::PathBuf>) -> RegistryOptions {
    RegistryOptions {
        builtins: true,
        user_dirs: Vec::new(),
        settings: Settings::default(),
        component_cache: cache,
        events: None,
        side_effects: Default::default(),
    }
}

#[test]
fn a_warm_start_loads_compiled_components_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let cold = Registry::load(builtin_options(Some(cache.path().to_path_buf())));
    let wasm_builtins = cold
        .list()
        .iter()
        .filter(|plugin| plugin.kind == Some(mlx_host_plugin_api::PluginKind::Wasm))
        .count() as u64;
    assert!(wasm_builtins >= 2, "expected the WASM built-ins");
    assert_eq!(cold.wasm_stats().compiled, wasm_builtins);
    assert_eq!(cold.wasm_stats().from_cache, 0);
    let files = std::fs::read_dir(cache.path()).unwrap().count() as u64;
    assert_eq!(files, wasm_builtins, "one cached artifact per component");

    let warm = Registry::load(builtin_options(Some(cache.path().to_path_buf())));
    assert_eq!(
        warm.wasm_stats().compiled,
        0,
        "a warm start must not recompile"
    );
    assert_eq!(warm.wasm_stats().from_cache, wasm_builtins);
    for plugin in warm.list() {
        assert_eq!(plugin.state, PluginState::Loaded, "{}", plugin.name);
    }

    // A corrupted cache entry is ignored and rebuilt, not fatal.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let repaired = Registry::load(builtin_options(Some(cache.path().to_path_buf())));
    assert_eq!(repaired.wasm_stats().compiled, wasm_builtins);
    for plugin in repaired.list() {
        assert_eq!(plugin.state, PluginState::Loaded, "{}", plugin.name);
    }
}

#[test]
fn builtins_answer_through_the_registry() {
    let registry = Registry::load(builtin_options(None));
    let family = registry
        .detect_family(&mlx_host_plugin_api::types::ModelSource {
            repo_id: Some("mlx-community/Qwen3-8B-4bit".into()),
            config_json: Some(
                r#"{"model_type": "qwen3", "max_position_embeddings": 40960, "quantization": {"bits": 4, "group_size": 64}}"#
                    .into(),
            ),
        })
        .expect("family-detector answers");
    assert_eq!(&*family.plugin, "family-detector");
    assert_eq!(family.value.family, "qwen3");
    assert_eq!(family.value.kind, "lm");
    assert_eq!(family.value.quantization_bits, Some(4));

    let plan = registry.plan_launch(
        &mlx_host_plugin_api::types::LaunchRequest {
            server_kind: "mlx_lm".into(),
            server_version: None,
            model: "/models/tiny".into(),
            host: "127.0.0.1".into(),
            port: 8123,
            family: None,
            server_help: None,
        },
        Default::default(),
    );
    assert_eq!(plan.planners, vec!["launch-planner"]);
    assert_eq!(
        plan.plan.argv,
        [
            "mlx_lm.server",
            "--model",
            "/models/tiny",
            "--host",
            "127.0.0.1",
            "--port",
            "8123"
        ]
    );
}

fn event(index: usize) -> Event {
    Event {
        kind: "ready".into(),
        subject: format!("profile-{index}"),
        message: "ready".into(),
        timestamp_ms: index as u64,
        diagnosis: None,
    }
}

#[test]
fn notifiers_get_events_and_an_overflow_is_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    // A slow notifier (a busy loop per event), so a burst of events overflows the queue.
    install_lua(
        dir.path(),
        "slow-notifier",
        r#"
        return { on_event = function(event)
          local x = 0
          for i = 1, 400000 do x = x + i end
          host.log("info", event.kind .. " " .. event.subject)
        end }
        "#,
        "api = \"1.0\"\nhooks = [\"on-event\"]\n[limits]\ntimeout-ms = 2000\n",
    );
    let (registry, _) = registry(dir.path(), Settings::default());
    assert_eq!(
        registry.info("slow-notifier").unwrap().state,
        PluginState::Loaded
    );
    let registry = Arc::new(registry);
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    let fanout = EventFanout::start(
        registry.clone(),
        2,
        Some(Arc::new(move |event: Event| {
            sink.lock().unwrap().push(event)
        })),
    )
    .unwrap();

    // Publishing never blocks, even with a full queue.
    let started = Instant::now();
    for index in 0..50 {
        fanout.publish(event(index));
    }
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "publish blocked"
    );
    assert!(fanout.pending_dropped() > 0, "a 2-slot queue must overflow");
    fanout.publish(event(99));
    fanout.shutdown();

    let reports = reports.lock().unwrap().clone();
    assert!(!reports.is_empty(), "the overflow was not reported");
    let dropped: u64 = reports
        .iter()
        .map(|report| {
            assert_eq!(report.kind, "events-dropped");
            report
                .message
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(dropped > 0 && dropped <= 50, "dropped {dropped}");
    assert_eq!(registry.info("slow-notifier").unwrap().failures, 0);
}
