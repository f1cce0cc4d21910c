//! `mlx-host plugins ...` end to end: the real binary, a temporary MLX_HOST_HOME, real plugin
//! folders, and for the Rust scaffold a real `cargo build --target wasm32-wasip2`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mlx-host"))
            .args(args)
            .env("MLX_HOST_HOME", self.dir.path())
            .env_remove("RUST_LOG")
            .output()
            .expect("mlx-host runs")
    }

    fn run_ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "mlx-host {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn list(&self) -> Vec<Value> {
        serde_json::from_str(&self.run_ok(&["plugins", "list", "--json"])).unwrap()
    }
}

fn find<'a>(plugins: &'a [Value], name: &str) -> &'a Value {
    plugins
        .iter()
        .find(|plugin| plugin["name"] == name)
        .unwrap_or_else(|| panic!("no plugin {name} in {plugins:?}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn list_json_describes_the_builtin_plugins() {
    let home = Home::new();
    let plugins = home.list();
    let planner = find(&plugins, "launch-planner");
    for field in [
        "name", "version", "kind", "api", "hooks", "priority", "enabled", "source", "path",
    ] {
        assert!(planner.get(field).is_some(), "missing {field} in {planner}");
    }
    assert_eq!(planner["kind"], "lua");
    assert_eq!(planner["source"], "builtin");
    assert_eq!(planner["enabled"], true);
    assert_eq!(planner["state"], "loaded");
    assert_eq!(planner["hooks"][0], "launch-options");
    // Every built-in plugin loads.
    for plugin in &plugins {
        assert_eq!(plugin["state"], "loaded", "{plugin}");
    }
}

#[test]
fn lua_scaffold_passes_check_and_runs_its_cases() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_str().unwrap();
    home.run_ok(&["plugins", "new", "overheat", "--lang", "lua", "--dir", dir]);
    let folder = work.path().join("overheat");
    let out = home.run_ok(&["plugins", "check", folder.to_str().unwrap()]);
    assert!(
        out.contains("ok: overheat (lua)") && out.contains("2 test case(s) passed"),
        "{out}"
    );

    // Installed into the plugin folder it loads and appears in the list.
    copy_dir(&folder, &home.plugins_dir().join("overheat"));
    let plugins = home.list();
    let plugin = find(&plugins, "overheat");
    assert_eq!(plugin["state"], "loaded");
    assert_eq!(plugin["source"], "user");

    // A scaffold refuses to overwrite.
    let again = home.run(&["plugins", "new", "overheat", "--lang", "lua", "--dir", dir]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn rust_scaffold_builds_to_wasm_and_passes_check() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    home.run_ok(&[
        "plugins",
        "new",
        "overheat-rs",
        "--lang",
        "rust",
        "--dir",
        work.path().to_str().unwrap(),
    ]);
    let folder = work.path().join("overheat-rs");

    // Reuse the guest build's target folder so the SDK's dependencies are already compiled.
    let target_dir = Path::new(env!("MLX_HOST_GUEST_WASM_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(&cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&folder)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "cargo build failed: {}",
        stderr(&build)
    );
    let artifact = target_dir.join("wasm32-wasip2/release/overheat_rs.wasm");
    let entry = folder.join("target/wasm32-wasip2/release/overheat_rs.wasm");
    std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
    std::fs::copy(&artifact, &entry).unwrap();

    let out = home.run_ok(&["plugins", "check", folder.to_str().unwrap()]);
    assert!(
        out.contains("ok: overheat-rs (wasm)") && out.contains("2 test case(s) passed"),
        "{out}"
    );

    // The scaffold's own unit test runs natively.
    let test = Command::new(&cargo)
        .args(["test", "--quiet"])
        .current_dir(&folder)
        .env("CARGO_TARGET_DIR", target_dir.join("scaffold-native"))
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "cargo test failed: {}{}",
        stdout(&test),
        stderr(&test)
    );
    assert!(stdout(&test).contains("1 passed"), "{}", stdout(&test));
}

#[test]
fn check_explains_what_is_wrong_and_exits_non_zero() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let root = work.path();

    let cases: [(&str, String, &str); 4] = [
        (
            "typo",
            "name = \"typo\"\nversion = \"1.0.0\"\napi = \"1.0\"\nkind = \"lua\"\nentry = \"init.lua\"\nhooks = [\"detect-error\"]\ncolour = \"red\"\n".into(),
            "colour",
        ),
        (
            "future",
            "name = \"future\"\nversion = \"1.0.0\"\napi = \"2.0\"\nkind = \"lua\"\nentry = \"init.lua\"\nhooks = [\"detect-error\"]\n".into(),
            "2.0",
        ),
        (
            "missing-hook",
            "name = \"missing-hook\"\nversion = \"1.0.0\"\napi = \"1.0\"\nkind = \"lua\"\nentry = \"init.lua\"\nhooks = [\"detect-family\"]\n".into(),
            "detect_family",
        ),
        (
            "needs-notify",
            "name = \"needs-notify\"\nversion = \"1.0.0\"\napi = \"1.0\"\nkind = \"lua\"\nentry = \"notify.lua\"\nhooks = [\"on-event\"]\n".into(),
            "notify",
        ),
    ];
    for (name, manifest, expected) in &cases {
        let folder = root.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("plugin.toml"), manifest).unwrap();
        std::fs::write(
            folder.join("init.lua"),
            "return { detect_error = function(tail) return nil end }",
        )
        .unwrap();
        std::fs::write(
            folder.join("notify.lua"),
            "return { on_event = function(e) host.notify('x', 'y') end }",
        )
        .unwrap();
        let output = home.run(&["plugins", "check", folder.to_str().unwrap()]);
        assert!(!output.status.success(), "{name} should fail the check");
        let text = stdout(&output);
        assert!(
            text.contains("FAILED") && text.contains(expected),
            "{name}: {text}"
        );
    }

    // A failing test case is reported with what was expected and what came back.
    let folder = root.join("wrong-case");
    std::fs::create_dir_all(folder.join("tests")).unwrap();
    std::fs::write(
        folder.join("plugin.toml"),
        "name = \"wrong-case\"\nversion = \"1.0.0\"\napi = \"1.0\"\nkind = \"lua\"\nentry = \"init.lua\"\nhooks = [\"detect-error\"]\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("init.lua"),
        "return { detect_error = function(tail) return nil end }",
    )
    .unwrap();
    std::fs::write(
        folder.join("tests/case.json"),
        r#"{"hook": "detect-error", "input": {"server_kind": "mlx_lm", "lines": ["x"], "exit": {"kind": "running"}}, "expect": {"category": "none"}}"#,
    )
    .unwrap();
    let output = home.run(&["plugins", "check", folder.to_str().unwrap(), "--json"]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["cases_failed"], 1);
    assert!(
        report["problems"][0].as_str().unwrap().contains("expected"),
        "{report}"
    );

    let output = home.run(&["plugins", "check", root.join("nowhere").to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(stdout(&output).contains("does not exist"));
}

#[test]
fn disable_enable_grant_and_revoke_change_what_loads() {
    let home = Home::new();
    let plugins_dir = home.plugins_dir();
    common::install_lua(
        &plugins_dir,
        "bell",
        "return { on_event = function(e) end }",
        "api = \"1.0\"\nhooks = [\"on-event\"]\n[capabilities]\nnotify = true\n",
    );
    let plugins = home.list();
    let bell = find(&plugins, "bell");
    assert_eq!(bell["state"], "failed");
    assert!(
        bell["reason"]
            .as_str()
            .unwrap()
            .contains("plugins grant bell notify"),
        "{bell}"
    );

    assert!(
        home.run_ok(&["plugins", "grant", "bell", "notify"])
            .contains("granted notify")
    );
    assert_eq!(find(&home.list(), "bell")["state"], "loaded");

    home.run_ok(&["plugins", "disable", "bell"]);
    let plugins = home.list();
    assert_eq!(find(&plugins, "bell")["state"], "disabled");
    assert_eq!(find(&plugins, "bell")["enabled"], false);
    assert!(
        home.run_ok(&["plugins", "disable", "bell"])
            .contains("already disabled")
    );

    home.run_ok(&["plugins", "disable", "launch-planner"]);
    assert_eq!(find(&home.list(), "launch-planner")["enabled"], false);
    home.run_ok(&["plugins", "enable", "launch-planner"]);
    home.run_ok(&["plugins", "enable", "bell"]);
    assert_eq!(find(&home.list(), "bell")["state"], "loaded");

    home.run_ok(&["plugins", "revoke", "bell", "notify"]);
    assert_eq!(find(&home.list(), "bell")["state"], "failed");

    let unknown = home.run(&["plugins", "disable", "nope"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no plugin named `nope`"),
        "{}",
        stderr(&unknown)
    );

    let info = home.run(&["plugins", "info", "nope"]);
    assert!(!info.status.success());
    let info = home.run_ok(&["plugins", "info", "launch-planner"]);
    assert!(
        info.contains("launch-options") && info.contains("builtin"),
        "{info}"
    );
}

#[test]
fn a_malformed_settings_file_is_reported_and_kept() {
    let home = Home::new();
    let settings = home.dir.path().join("config/settings.toml");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "[plugins\n").unwrap();
    let output = home.run(&["plugins", "disable", "launch-planner"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("settings.toml"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "[plugins\n");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn every_first_party_lua_plugin_passes_check_with_its_own_cases() {
    let home = Home::new();
    let plugins = common::repo_root().join("plugins");
    let mut checked = 0;
    for entry in std::fs::read_dir(&plugins).unwrap() {
        let folder = entry.unwrap().path();
        let manifest = folder.join("plugin.toml");
        if !manifest.is_file()
            || !std::fs::read_to_string(&manifest)
                .unwrap()
                .contains("kind = \"lua\"")
        {
            continue;
        }
        let out = home.run_ok(&["plugins", "check", folder.to_str().unwrap()]);
        assert!(out.starts_with("ok:"), "{}: {out}", folder.display());
        assert!(
            !out.contains(" 0 test case(s)"),
            "{} has no test cases: {out}",
            folder.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected the launch planner and the notifier, checked {checked}"
    );
}

#[test]
fn check_runs_test_cases_without_notifying_or_posting() {
    // Regression: a plugin's test cases sent real desktop notifications and real POSTs during
    // `plugins check`. A listener stands where the plugin posts; it must see no connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = Home::new();
    let folder = home.dir.path().join("poster");
    std::fs::create_dir_all(folder.join("tests")).unwrap();
    std::fs::write(
        folder.join("plugin.toml"),
        "name = \"poster\"\nversion = \"0.1.0\"\napi = \"1.0\"\nkind = \"lua\"\nentry = \"init.lua\"\nhooks = [\"on-event\"]\n\n[capabilities]\nnotify = true\nhttp = { allowed-hosts = [\"127.0.0.1\"] }\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("init.lua"),
        format!(
            r#"local M = {{}}
function M.on_event(event)
  local status, problem = host.http_post("http://127.0.0.1:{port}/hook", "application/json", host.json.encode({{ kind = event.kind }}))
  if status ~= 200 then error("post failed: " .. tostring(problem)) end
  local ok, why = host.notify("poster: " .. event.kind, event.message)
  if not ok then error("notify failed: " .. tostring(why)) end
end
return M
"#
        ),
    )
    .unwrap();
    std::fs::write(
        folder.join("tests/crashed.json"),
        r#"{ "hook": "on-event", "input": { "kind": "crashed", "subject": "qwen", "message": "it crashed", "timestamp_ms": 1 }, "expect": null }"#,
    )
    .unwrap();

    let out = home.run_ok(&["plugins", "check", folder.to_str().unwrap()]);
    assert!(
        out.starts_with("ok:") && out.contains("1 test case(s) passed"),
        "{out}"
    );
    assert!(
        out.contains(&format!("would have sent (not sent during a check): POST http://127.0.0.1:{port}/hook (application/json, 18 bytes)")),
        "{out}"
    );
    assert!(
        out.contains("would have sent (not sent during a check): desktop notification \"poster: crashed\": \"it crashed\""),
        "{out}"
    );
    match listener.accept() {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the check posted for real: {other:?}"),
    }
}

/// Regression: `mlx-host plugins list | head` panicked with "failed printing to stdout: Broken
/// pipe"; a report command now ends quietly when its reader goes away.
#[test]
fn a_closed_output_pipe_ends_a_report_quietly() {
    let home = Home::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlx-host"))
        .args(["plugins", "list", "--json"])
        .env("MLX_HOST_HOME", home.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = stderr(&output);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
