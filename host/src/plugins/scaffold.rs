//! `mlx-host plugins new NAME --lang rust|lua`: a plugin folder that passes `plugins check`
//! (after `cargo build` for Rust) and has a test: a `detect-error` hook that recognises a
//! made-up "widget overheated" message, a `tests/*.json` case that `plugins check` runs, and
//! for Rust a unit test for `cargo test`.

use std::path::{Path, PathBuf};

use mlx_host_plugin_api::manifest::check_plugin_name;

/// The languages `plugins new` can start a plugin in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    Lua,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("plugin name {0}")]
    BadName(String),
    #[error("{0} already exists; pick another name or folder, nothing was written")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the scaffold's Rust plugin finds the SDK: this checkout's `plugin-api` when it exists.
fn sdk_dependency() -> String {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-api");
    match local.canonicalize() {
        Ok(path) => format!(
            "mlx-host-plugin-api = {{ path = {:?}, features = [\"guest\"] }}",
            path.display().to_string()
        ),
        Err(_) => format!(
            "mlx-host-plugin-api = {{ version = \"{}\", features = [\"guest\"] }}",
            env!("CARGO_PKG_VERSION")
        ),
    }
}

/// Create `parent/NAME/` with a working plugin. Returns the folder.
pub fn create(name: &str, language: Language, parent: &Path) -> Result<PathBuf, ScaffoldError> {
    check_plugin_name(name).map_err(ScaffoldError::BadName)?;
    let folder = parent.join(name);
    if folder.exists() {
        return Err(ScaffoldError::Exists(folder));
    }
    let files = match language {
        Language::Lua => lua_files(name),
        Language::Rust => rust_files(name),
    };
    for (relative, contents) in files {
        let path = folder.join(relative);
        let write = |path: &Path| -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, contents)
        };
        write(&path).map_err(|source| ScaffoldError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(folder)
}

const TEST_CASE: &str = r#"{
  "hook": "detect-error",
  "input": {
    "server_kind": "mlx_lm",
    "lines": ["loading model", "RuntimeError: widget overheated at 451F"],
    "exit": { "kind": "exited", "code": 1 }
  },
  "expect": {
    "category": "environment_error",
    "severity": "fatal",
    "summary": "RuntimeError: widget overheated at 451F",
    "hint": "Let the widget cool down, then start the server again.",
    "line": 1
  }
}
"#;

const QUIET_CASE: &str = r#"{
  "hook": "detect-error",
  "input": {
    "server_kind": "mlx_lm",
    "lines": ["Starting httpd at 127.0.0.1 on port 8080..."],
    "exit": { "kind": "running" }
  },
  "expect": null
}
"#;

fn lua_files(name: &str) -> Vec<(String, String)> {
    vec![
        (
            "plugin.toml".into(),
            format!(
                r#"name = "{name}"
version = "0.1.0"
api = "1.0"
kind = "lua"
entry = "init.lua"
description = "Explains widget overheating"
hooks = ["detect-error"]
priority = 50

[limits]
timeout-ms = 100
memory-mb = 16
"#
            ),
        ),
        (
            "init.lua".into(),
            r#"-- A detect-error hook: return nil for "no opinion", or a diagnosis table.
-- Types: see plugin-api/lua/mlx.d.lua (tail.lines, tail.exit.kind, ...).
local M = {}

local NEEDLE = "widget overheated"

---@param tail mlx.LogTail
---@return mlx.Diagnosis|nil
function M.detect_error(tail)
  for i = #tail.lines, 1, -1 do
    local line = tail.lines[i]
    if line:find(NEEDLE, 1, true) then
      return {
        category = "environment_error",
        severity = "fatal",
        summary = line,
        hint = "Let the widget cool down, then start the server again.",
        line = i - 1, -- 0-based index into tail.lines
      }
    end
  end
  return nil
end

return M
"#
            .into(),
        ),
        ("tests/overheated.json".into(), TEST_CASE.into()),
        ("tests/quiet.json".into(), QUIET_CASE.into()),
    ]
}

fn rust_files(name: &str) -> Vec<(String, String)> {
    let crate_name = name.replace('-', "_");
    vec![
        (
            "Cargo.toml".into(),
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
{sdk}

[profile.release]
# Speed over size: the plugin's own code is a large part of every hook call.
opt-level = 3
lto = true
strip = true

# Keep this plugin out of any enclosing workspace.
[workspace]
"#,
                sdk = sdk_dependency()
            ),
        ),
        (
            "plugin.toml".into(),
            format!(
                r#"name = "{name}"
version = "0.1.0"
api = "1.0"
kind = "wasm"
# Build with: cargo build --release --target wasm32-wasip2
entry = "target/wasm32-wasip2/release/{crate_name}.wasm"
description = "Explains widget overheating"
hooks = ["detect-error"]
priority = 50

[limits]
timeout-ms = 100
memory-mb = 16
"#
            ),
        ),
        (
            "src/lib.rs".into(),
            r#"//! A detect-error plugin for mlx-host. Build: `cargo build --release --target wasm32-wasip2`,
//! then `mlx-host plugins check .` and copy the folder into the plugins folder.

use mlx_host_plugin_api::guest::{Diagnosis, LogTail, Plugin, Severity};

const NEEDLE: &str = "widget overheated";

/// The decision, kept apart from the WASM glue so `cargo test` can check it natively.
pub fn explain(lines: &[String]) -> Option<Diagnosis> {
    let index = lines.iter().rposition(|line| line.contains(NEEDLE))?;
    Some(Diagnosis {
        category: "environment_error".into(),
        severity: Severity::Fatal,
        summary: lines[index].clone(),
        hint: "Let the widget cool down, then start the server again.".into(),
        line: Some(index as u32),
    })
}

struct Overheat;

impl Plugin for Overheat {
    fn detect_error(tail: LogTail) -> Result<Option<Diagnosis>, String> {
        Ok(explain(&tail.lines))
    }
}

mlx_host_plugin_api::export_plugin!(Overheat);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_overheated_line() {
        let lines = vec!["ok".to_string(), "RuntimeError: widget overheated at 451F".to_string()];
        let diagnosis = explain(&lines).expect("a diagnosis");
        assert_eq!(diagnosis.category, "environment_error");
        assert_eq!(diagnosis.line, Some(1));
        assert!(explain(&["all good".to_string()]).is_none());
    }
}
"#
            .into(),
        ),
        (".gitignore".into(), "/target\n".into()),
        ("tests/overheated.json".into(), TEST_CASE.into()),
        ("tests/quiet.json".into(), QUIET_CASE.into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_names_and_existing_folders() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            create("Bad Name", Language::Lua, dir.path()),
            Err(ScaffoldError::BadName(_))
        ));
        create("good", Language::Lua, dir.path()).unwrap();
        assert!(matches!(
            create("good", Language::Lua, dir.path()),
            Err(ScaffoldError::Exists(_))
        ));
    }
}
