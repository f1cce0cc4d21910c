//! The `plugin.toml` manifest: its schema (unknown fields rejected) and its validation.
//!
//! ```toml
//! name = "gemma-oom"            # [a-z0-9][a-z0-9_-]*, at most 64 characters
//! version = "0.3.1"             # MAJOR.MINOR.PATCH
//! api = "1.0"                   # plugin API this plugin was built for
//! kind = "wasm"                 # wasm | lua | native
//! entry = "gemma_oom.wasm"      # relative to the manifest's folder
//! description = "Explains Metal OOM crashes"   # optional
//! hooks = ["detect-error"]      # detect-family | launch-options | detect-error | on-event
//! priority = 100                # higher runs first; ties by name; default 0
//!
//! [capabilities]                # optional; every capability is denied unless listed here
//! notify = true
//! http = { allowed-hosts = ["hooks.slack.com"] }
//!
//! [limits]                      # optional; per call
//! timeout-ms = 50               # default 250, at most 10000
//! memory-mb = 16                # default 32, at most 1024
//!
//! [config]                      # optional; strings, numbers or booleans, read with config.get
//! threshold = "0.8"
//! ```

use crate::hooks::Hook;
use crate::version::{API_VERSION, ApiVersion};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Default per-call deadline.
pub const DEFAULT_TIMEOUT_MS: u32 = 250;
/// Largest per-call deadline a manifest may ask for.
pub const MAX_TIMEOUT_MS: u32 = 10_000;
/// Default memory cap.
pub const DEFAULT_MEMORY_MB: u32 = 32;
/// Largest memory cap a manifest may ask for.
pub const MAX_MEMORY_MB: u32 = 1024;

/// The runtime a plugin needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Wasm,
    Lua,
    Native,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Wasm => "wasm",
            PluginKind::Lua => "lua",
            PluginKind::Native => "native",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed and validated `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub api: String,
    pub kind: PluginKind,
    pub entry: String,
    #[serde(default)]
    pub description: Option<String>,
    pub hooks: Vec<Hook>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub config: BTreeMap<String, ConfigValue>,
}

/// Host imports beyond `log` and `config`, each denied unless declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Capabilities {
    #[serde(default)]
    pub notify: bool,
    #[serde(default)]
    pub http: Option<HttpCapability>,
}

impl Capabilities {
    /// Names of the declared capabilities (`notify`, `http`).
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.notify {
            names.push("notify");
        }
        if self.http.is_some() {
            names.push("http");
        }
        names
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpCapability {
    /// Host names the plugin may POST to (exact match, or `*.example.com`).
    pub allowed_hosts: Vec<String>,
}

/// Per-call resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            memory_mb: DEFAULT_MEMORY_MB,
        }
    }
}

fn default_timeout_ms() -> u32 {
    DEFAULT_TIMEOUT_MS
}

fn default_memory_mb() -> u32 {
    DEFAULT_MEMORY_MB
}

/// A `[config]` value: plugins read every value as a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::String(text) => f.write_str(text),
            ConfigValue::Integer(number) => write!(f, "{number}"),
            ConfigValue::Float(number) => write!(f, "{number}"),
            ConfigValue::Bool(flag) => write!(f, "{flag}"),
        }
    }
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read plugin manifest {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plugin manifest {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("plugin manifest {path}: `{field}` {reason}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("plugin `{name}` ({path}) cannot be loaded: {reason}")]
    IncompatibleApi {
        path: PathBuf,
        name: String,
        reason: String,
    },
}

impl Manifest {
    /// Read and validate `plugin.toml` at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::parse(&text, path)
    }

    /// Parse and validate manifest text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|error| ManifestError::Parse {
            path: path.to_path_buf(),
            message: toml_problem(error.message(), error.span(), text),
        })?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    /// The declared API version (valid after [`Manifest::parse`]).
    pub fn api_version(&self) -> Option<ApiVersion> {
        self.api.parse().ok()
    }

    /// Check every field; `path` is only used in error messages.
    pub fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        let invalid = |field: &'static str, reason: String| ManifestError::Invalid {
            path: path.to_path_buf(),
            field,
            reason,
        };
        if let Err(reason) = check_plugin_name(&self.name) {
            return Err(invalid("name", reason));
        }
        if !is_semver(&self.version) {
            return Err(invalid(
                "version",
                format!(
                    "is `{}`; write it as MAJOR.MINOR.PATCH, for example \"1.0.0\"",
                    self.version
                ),
            ));
        }
        let api: ApiVersion =
            self.api
                .parse()
                .map_err(|error: crate::version::ApiVersionParseError| {
                    invalid("api", error.to_string())
                })?;
        if let Some(reason) = api.incompatibility(API_VERSION) {
            return Err(ManifestError::IncompatibleApi {
                path: path.to_path_buf(),
                name: self.name.clone(),
                reason,
            });
        }
        check_entry(&self.entry, self.kind).map_err(|reason| invalid("entry", reason))?;
        if self.hooks.is_empty() {
            return Err(invalid(
                "hooks",
                format!(
                    "is empty; list at least one of: {}",
                    Hook::ALL.map(Hook::name).join(", ")
                ),
            ));
        }
        let mut seen = Vec::new();
        for hook in &self.hooks {
            if seen.contains(hook) {
                return Err(invalid("hooks", format!("lists `{hook}` twice")));
            }
            seen.push(*hook);
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&self.limits.timeout_ms) {
            return Err(invalid(
                "limits.timeout-ms",
                format!(
                    "is {}; it must be between 1 and {MAX_TIMEOUT_MS}",
                    self.limits.timeout_ms
                ),
            ));
        }
        if !(1..=MAX_MEMORY_MB).contains(&self.limits.memory_mb) {
            return Err(invalid(
                "limits.memory-mb",
                format!(
                    "is {}; it must be between 1 and {MAX_MEMORY_MB}",
                    self.limits.memory_mb
                ),
            ));
        }
        if let Some(http) = &self.capabilities.http {
            if http.allowed_hosts.is_empty() {
                return Err(invalid(
                    "capabilities.http.allowed-hosts",
                    "is empty; list the host names the plugin may POST to".to_string(),
                ));
            }
            for host in &http.allowed_hosts {
                if !is_allowed_host_pattern(host) {
                    return Err(invalid(
                        "capabilities.http.allowed-hosts",
                        format!("contains `{host}`; give bare host names such as hooks.slack.com"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `[config]` table as strings.
    pub fn config_strings(&self) -> BTreeMap<String, String> {
        self.config
            .iter()
            .map(|(key, value)| (key.clone(), value.to_string()))
            .collect()
    }
}

/// Whether `host` has the form an allowed-hosts entry must have: a bare host name
/// (`hooks.slack.com`) or a subdomain pattern (`*.example.com`), without scheme, port or path.
/// The manifest's `capabilities.http.allowed-hosts` and the user's `[plugins.allowed-hosts]`
/// follow the same rule.
pub fn is_allowed_host_pattern(host: &str) -> bool {
    !host.is_empty() && !host.contains(['/', ':', ' '])
}

/// A TOML parse or schema error as one line: `line 2, column 11: <what is wrong>` (the toml
/// crate's own text spans several lines with an ASCII-art excerpt, which does not fit in one
/// error message).
pub fn toml_problem(message: &str, span: Option<std::ops::Range<usize>>, text: &str) -> String {
    let message = message.trim().replace('\n', " ");
    let Some(span) = span else {
        return message;
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |start| start.chars().count())
        + 1;
    format!("line {line}, column {column}: {message}")
}

/// Check a plugin name: lowercase ASCII letters, digits, `-` and `_`, starting with a letter or
/// digit, at most 64 characters.
pub fn check_plugin_name(name: &str) -> Result<(), String> {
    let valid_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let valid_rest = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if name.len() <= 64 && valid_start && valid_rest {
        Ok(())
    } else {
        Err(format!(
            "is `{name}`; use 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter or digit"
        ))
    }
}

fn is_semver(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

fn check_entry(entry: &str, kind: PluginKind) -> Result<(), String> {
    let path = Path::new(entry);
    let stays_inside = path
        .components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    if entry.is_empty() || !stays_inside {
        return Err(format!(
            "is `{entry}`; give a file name relative to the plugin's folder, without `..` or a leading `/`"
        ));
    }
    let expected = match kind {
        PluginKind::Wasm => &["wasm"][..],
        PluginKind::Lua => &["lua"][..],
        PluginKind::Native => &["so", "dylib", "dll"][..],
    };
    let extension = path.extension().and_then(|ext| ext.to_str()).unwrap_or("");
    if !expected.contains(&extension) {
        return Err(format!(
            "is `{entry}`; a {kind} plugin's entry must end in .{}",
            expected.join(" or .")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "gemma-oom"
version = "0.3.1"
api = "1.0"
kind = "wasm"
entry = "gemma_oom.wasm"
hooks = ["detect-error", "detect-family"]
priority = 100

[capabilities]
notify = true
http = { allowed-hosts = ["hooks.slack.com"] }

[limits]
timeout-ms = 50
memory-mb = 16

[config]
threshold = "0.8"
retries = 3
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("plugin.toml"))
    }

    #[test]
    fn parses_a_full_manifest() {
        let manifest = parse(GOOD).expect("valid manifest");
        assert_eq!(manifest.hooks, vec![Hook::DetectError, Hook::DetectFamily]);
        assert_eq!(manifest.limits.timeout_ms, 50);
        assert_eq!(manifest.capabilities.names(), vec!["notify", "http"]);
        assert_eq!(manifest.config_strings()["retries"], "3");
    }

    #[test]
    fn defaults_apply() {
        let manifest = parse(
            "name = \"x\"\nversion = \"1.0.0\"\napi = \"1.0\"\nkind = \"lua\"\nentry = \"init.lua\"\nhooks = [\"on-event\"]\n",
        )
        .expect("valid manifest");
        assert_eq!(manifest.priority, 0);
        assert_eq!(manifest.limits, Limits::default());
        assert!(manifest.capabilities.names().is_empty());
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let error = parse(&format!("{GOOD}\n[extra]\nx = 1\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("extra"), "{error}");
        let error = parse(&GOOD.replace("priority", "prio"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("prio"), "{error}");
    }

    #[test]
    fn parse_errors_are_one_line_with_the_position() {
        let error = parse("name = \"x\"\nversion = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 2, column 11: invalid type: integer `1`, expected a string")
                && !error.contains('\n'),
            "{error}"
        );
        assert_eq!(toml_problem("bad\nthing", None, ""), "bad thing");
    }

    #[test]
    fn wrong_api_major_names_both_versions() {
        let error = parse(&GOOD.replace("api = \"1.0\"", "api = \"2.0\""))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("2.0") && error.contains("1.0") && error.contains("gemma-oom"),
            "{error}"
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (GOOD.replace("gemma-oom", "Gemma OOM"), "name"),
            (GOOD.replace("0.3.1", "0.3"), "version"),
            (GOOD.replace("gemma_oom.wasm", "../escape.wasm"), "entry"),
            (GOOD.replace("gemma_oom.wasm", "plugin.lua"), "entry"),
            (
                GOOD.replace("timeout-ms = 50", "timeout-ms = 0"),
                "timeout-ms",
            ),
            (
                GOOD.replace("\"detect-family\"", "\"detect-error\""),
                "twice",
            ),
            (
                GOOD.replace("\"detect-family\"", "\"detect-weather\""),
                "detect-weather",
            ),
            (
                GOOD.replace("hooks.slack.com", "https://hooks.slack.com/x"),
                "allowed-hosts",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(&text).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "expected `{expected}` in: {error}"
            );
        }
    }
}
