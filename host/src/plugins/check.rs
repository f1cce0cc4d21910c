//! `mlx-host plugins check PATH`: everything the host would check at load, plus the plugin's own
//! test cases, without installing it.
//!
//! Checks: the manifest (schema, API version), the entry file, declared hooks against what the
//! plugin exports (WASM interfaces, Lua functions), imports against declared capabilities, a real
//! load in the sandbox, and every test case in the plugin's `tests/*.json`:
//!
//! ```json
//! { "hook": "detect-error",
//!   "input": { "server_kind": "mlx_lm", "lines": ["..."], "exit": { "kind": "exited", "code": 1 } },
//!   "expect": { "category": "port_in_use", "severity": "fatal", "summary": "...", "hint": "...", "line": 0 } }
//! ```
//!
//! `expect` is compared as JSON (`null` = "no opinion"). A single `.lua` file is checked as a
//! user hook. Test cases run with `notify` and `http` recorded, not performed (allowed-hosts and
//! sizes are still checked): what a case would have sent is listed in the report's notes. Native
//! plugins are plain machine code, so their test cases really run.

use std::path::{Path, PathBuf};

use mlx_host_plugin_api::{Hook, PluginKind};
use serde::{Deserialize, Serialize};

use super::discover::{Payload, read_plugin_folder, read_single_lua_file};
use super::host_api::{EffectLog, SideEffects};
use super::registry::{PluginState, Registry, RegistryOptions};
use super::wasm::{WasmRuntime, exported_hooks, imported_interfaces};
use crate::settings::Settings;

/// The outcome of a check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub path: PathBuf,
    pub name: Option<String>,
    pub kind: Option<PluginKind>,
    pub hooks: Vec<Hook>,
    /// Everything that stops the plugin from loading or working; empty = the check passed.
    pub problems: Vec<String>,
    /// Things worth knowing that do not fail the check.
    pub notes: Vec<String>,
    pub cases_passed: usize,
    pub cases_failed: usize,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One test case of a plugin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    hook: Hook,
    input: serde_json::Value,
    #[serde(default)]
    expect: serde_json::Value,
}

/// Check the plugin at `path` (a folder with `plugin.toml`, or a single `.lua` file).
pub fn check_plugin(path: &Path, settings: &Settings) -> CheckReport {
    let mut report = CheckReport {
        path: path.to_path_buf(),
        ..CheckReport::default()
    };
    let candidate = if path.is_dir() {
        if !path.join("plugin.toml").is_file() {
            report.problems.push(format!(
                "{} has no plugin.toml; create one (see `mlx-host plugins new`) or point at a single .lua file",
                path.display()
            ));
            return report;
        }
        read_plugin_folder(path)
    } else if path.extension().is_some_and(|ext| ext == "lua") {
        read_single_lua_file(path)
    } else if path.is_file() {
        report.problems.push(format!(
            "{} is neither a plugin folder nor a .lua file",
            path.display()
        ));
        return report;
    } else {
        report
            .problems
            .push(format!("{} does not exist", path.display()));
        return report;
    };
    let candidate = match candidate {
        Ok(candidate) => candidate,
        Err(unreadable) => {
            report.problems.push(unreadable.error.to_string());
            return report;
        }
    };
    report.name = Some(candidate.name.clone());
    if let Some(manifest) = &candidate.manifest {
        report.kind = Some(manifest.kind);
        report.hooks = manifest.hooks.clone();
        if let Payload::Wasm(bytes) = &candidate.payload {
            inspect_component(
                bytes,
                &manifest.hooks,
                &manifest.capabilities.names(),
                &mut report,
            );
        }
        if let Payload::Lua(source) = &candidate.payload {
            inspect_lua_capabilities(source, &manifest.capabilities.names(), &mut report);
        }
    } else {
        report.kind = Some(PluginKind::Lua);
        if let Payload::Lua(source) = &candidate.payload {
            inspect_lua_capabilities(source, &[], &mut report);
        }
    }

    // Load it as the host would, with its declared capabilities granted and native code allowed
    // (checking is the user's explicit request to look at this plugin).
    let mut settings = settings.clone();
    settings
        .plugins
        .disabled
        .retain(|name| name != &candidate.name);
    settings.plugins.allow_native = true;
    // Every test case should run, however many fail before it.
    settings.plugins.failure_limit = u32::MAX;
    if let Some(manifest) = &candidate.manifest {
        settings.plugins.grants.insert(
            candidate.name.clone(),
            manifest
                .capabilities
                .names()
                .into_iter()
                .map(String::from)
                .collect(),
        );
    }
    let effects = EffectLog::default();
    let options = RegistryOptions {
        builtins: false,
        user_dirs: Vec::new(),
        settings,
        component_cache: None,
        events: None,
        side_effects: SideEffects::Recorded(effects.clone()),
    };
    let name = candidate.name.clone();
    let registry = Registry::from_candidates(vec![Ok(candidate)], &options);
    let Some(info) = registry.info(&name) else {
        report
            .problems
            .push(format!("plugin `{name}` was not loaded"));
        return report;
    };
    if let PluginState::Failed(reason) = &info.state {
        report.problems.push(reason.clone());
        return report;
    }
    report.hooks = info.hooks.clone();
    if path.is_dir() {
        run_test_cases(&registry, &name, &path.join("tests"), &effects, &mut report);
    }
    report
}

fn inspect_component(
    bytes: &[u8],
    declared: &[Hook],
    capabilities: &[&str],
    report: &mut CheckReport,
) {
    let runtime = match WasmRuntime::new(None) {
        Ok(runtime) => runtime,
        Err(error) => {
            report.problems.push(error.to_string());
            return;
        }
    };
    let label = format!("the component at {}", report.path.display());
    match exported_hooks(&runtime, bytes, &label) {
        Ok(exported) => {
            for hook in declared {
                if !exported.contains(hook) {
                    report.problems.push(format!(
                        "hook `{hook}` is declared in plugin.toml but the component does not export {}",
                        hook.wit_interface()
                    ));
                }
            }
            // Plugins built with the Rust SDK export every hook interface; only the declared
            // ones are called, so extra exports are normal and not worth a note.
        }
        Err(error) => {
            report.problems.push(error.to_string());
            return;
        }
    };
    let label = format!("the component at {}", report.path.display());
    match exported_hooks(&runtime, bytes, &label) {
        Ok(exported) => {
            for hook in declared {
                if !exported.contains(hook) {
                    report.problems.push(format!(
                        "hook `{hook}` is declared in plugin.toml but the component does not export {}",
                        hook.wit_interface()
                    ));
                }
            }
            let extra: Vec<String> = exported
                .iter()
                .filter(|hook| !declared.contains(hook))
                .map(|hook| hook.to_string())
                .collect();
            if !extra.is_empty() {
                report.notes.push(format!(
                    "the component also exports {}, which the host will not call because plugin.toml does not declare them",
                    extra.join(", ")
                ));
            }
        }
        Err(error) => {
            report.problems.push(error.to_string());
            return;
        }
    }
    if let Ok(imports) = imported_interfaces(&runtime, bytes, &label) {
        for (capability, interface) in
            [("notify", "mlx:plugin/notify"), ("http", "mlx:plugin/http")]
        {
            let imported = imports.iter().any(|name| name.starts_with(interface));
            let declared = capabilities.contains(&capability);
            if imported && !declared {
                report.problems.push(format!(
                    "the component imports {interface} but plugin.toml does not declare the `{capability}` capability; add it under [capabilities]"
                ));
            } else if declared && !imported {
                report.notes.push(format!(
                    "plugin.toml declares the `{capability}` capability but the component never imports {interface}; remove it to ask users for less"
                ));
            }
        }
    }
}

fn inspect_lua_capabilities(source: &str, capabilities: &[&str], report: &mut CheckReport) {
    for (capability, function) in [("notify", "host.notify"), ("http", "host.http_post")] {
        if source.contains(function) && !capabilities.contains(&capability) {
            report.problems.push(format!(
                "the Lua code calls {function} but the plugin does not declare the `{capability}` capability{}",
                if report.kind.is_some() && !report.path.is_dir() {
                    "; single-file hooks get no capabilities: make it a folder with plugin.toml"
                } else {
                    "; add it under [capabilities] in plugin.toml"
                }
            ));
        }
    }
}

fn run_test_cases(
    registry: &Registry,
    name: &str,
    tests_dir: &Path,
    effects: &EffectLog,
    report: &mut CheckReport,
) {
    let Ok(entries) = std::fs::read_dir(tests_dir) else {
        report.notes.push(
            "no tests/ folder: add tests/*.json cases so `plugins check` can run them".into(),
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    for file in files {
        let label = file.display().to_string();
        let case: TestCase = match std::fs::read_to_string(&file)
            .map_err(|error| error.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|error| error.to_string()))
        {
            Ok(case) => case,
            Err(error) => {
                report.cases_failed += 1;
                report
                    .problems
                    .push(format!("test case {label} cannot be read: {error}"));
                continue;
            }
        };
        let result = registry.invoke_json(name, case.hook, case.input);
        for effect in effects.take() {
            report.notes.push(format!(
                "test case {label} would have sent (not sent during a check): {effect}"
            ));
        }
        match result {
            Ok(answer) if answer == case.expect => report.cases_passed += 1,
            Ok(answer) => {
                report.cases_failed += 1;
                report.problems.push(format!(
                    "test case {label}: expected {} but the plugin answered {}",
                    case.expect, answer
                ));
            }
            Err(error) => {
                report.cases_failed += 1;
                report.problems.push(format!("test case {label}: {error}"));
            }
        }
    }
}
