//! The user's settings file (`settings.toml` in the config folder): which plugins are disabled,
//! which capabilities the user granted to which plugin, per-plugin config overrides, and whether
//! native plugins may load.
//!
//! ```toml
//! [plugins]
//! allow-native = false        # trusted native plugins (shared libraries) load only when true
//! failure-limit = 3           # consecutive failures before a plugin is disabled for the session
//! disabled = ["gemma-oom"]
//!
//! [plugins.grants]            # capabilities granted to user plugins (built-ins are trusted)
//! my-notifier = ["notify", "http"]
//!
//! [plugins.allowed-hosts]     # more hosts a plugin's http capability may POST to, added to
//! notifier = ["ntfy.sh"]      # those its plugin.toml lists (`*.example.com` for subdomains)
//!
//! [plugin-config.my-notifier] # overrides the plugin's own [config] table
//! webhook = "https://hooks.slack.com/services/..."
//! ```
//!
//! Edits go through `toml_edit`, so the user's comments and layout survive; a malformed file is
//! reported with its path and never overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mlx_host_plugin_api::manifest::{ConfigValue, is_allowed_host_pattern, toml_problem};
use serde::Deserialize;

/// Default number of consecutive failures after which a plugin is disabled.
pub const DEFAULT_FAILURE_LIMIT: u32 = 3;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    #[serde(default)]
    pub plugins: PluginSettings,
    #[serde(default)]
    pub plugin_config: BTreeMap<String, BTreeMap<String, ConfigValue>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginSettings {
    #[serde(default)]
    pub allow_native: bool,
    #[serde(default = "default_failure_limit")]
    pub failure_limit: u32,
    #[serde(default)]
    pub disabled: Vec<String>,
    #[serde(default)]
    pub grants: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub allowed_hosts: BTreeMap<String, Vec<String>>,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            allow_native: false,
            failure_limit: DEFAULT_FAILURE_LIMIT,
            disabled: Vec::new(),
            grants: BTreeMap::new(),
            allowed_hosts: BTreeMap::new(),
        }
    }
}

fn default_failure_limit() -> u32 {
    DEFAULT_FAILURE_LIMIT
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "settings file {path} is not valid: {message}. Fix or remove the file; it was left untouched"
    )]
    Parse { path: PathBuf, message: String },
    #[error("cannot write settings file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Settings {
    /// Read the settings file; a missing file means defaults.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::parse(&text, path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(SettingsError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let settings: Settings = toml::from_str(text).map_err(|error| SettingsError::Parse {
            path: path.to_path_buf(),
            message: toml_problem(error.message(), error.span(), text),
        })?;
        if settings.plugins.failure_limit == 0 {
            return Err(SettingsError::Parse {
                path: path.to_path_buf(),
                message: "plugins.failure-limit must be at least 1".to_string(),
            });
        }
        for (plugin, hosts) in &settings.plugins.allowed_hosts {
            if let Some(host) = hosts.iter().find(|host| !is_allowed_host_pattern(host)) {
                return Err(SettingsError::Parse {
                    path: path.to_path_buf(),
                    message: format!(
                        "plugins.allowed-hosts.{plugin} contains `{host}`; give bare host names such as ntfy.sh or *.example.com (no scheme, port or path)"
                    ),
                });
            }
        }
        Ok(settings)
    }

    pub fn is_disabled(&self, plugin: &str) -> bool {
        self.plugins.disabled.iter().any(|name| name == plugin)
    }

    /// Capabilities the user granted to `plugin`.
    pub fn grants(&self, plugin: &str) -> &[String] {
        self.plugins
            .grants
            .get(plugin)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Hosts the user allows `plugin`'s http capability to reach besides its manifest's.
    pub fn extra_allowed_hosts(&self, plugin: &str) -> &[String] {
        self.plugins
            .allowed_hosts
            .get(plugin)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Config overrides for `plugin`, as strings.
    pub fn plugin_config(&self, plugin: &str) -> BTreeMap<String, String> {
        self.plugin_config
            .get(plugin)
            .map(|table| {
                table
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Set whether `plugin` is in `plugins.disabled`, keeping the rest of the file as it was.
/// Returns whether the file changed.
pub fn set_plugin_disabled(
    path: &Path,
    plugin: &str,
    disabled: bool,
) -> Result<bool, SettingsError> {
    edit(path, |document| {
        let Some(list) = string_array(document, &["plugins"], "disabled") else {
            return false;
        };
        let present = list.iter().any(|value| value.as_str() == Some(plugin));
        match (disabled, present) {
            (true, false) => {
                list.push(plugin);
                true
            }
            (false, true) => {
                list.retain(|value| value.as_str() != Some(plugin));
                true
            }
            _ => false,
        }
    })
}

/// Add (`grant = true`) or remove capabilities granted to `plugin`. Returns whether the file
/// changed.
pub fn set_grants(
    path: &Path,
    plugin: &str,
    capabilities: &[String],
    grant: bool,
) -> Result<bool, SettingsError> {
    edit(path, |document| {
        let Some(list) = string_array(document, &["plugins", "grants"], plugin) else {
            return false;
        };
        let mut changed = false;
        for capability in capabilities {
            let present = list.iter().any(|value| value.as_str() == Some(capability));
            if grant && !present {
                list.push(capability.as_str());
                changed = true;
            } else if !grant && present {
                list.retain(|value| value.as_str() != Some(capability.as_str()));
                changed = true;
            }
        }
        changed
    })
}

fn edit(
    path: &Path,
    change: impl FnOnce(&mut toml_edit::DocumentMut) -> bool,
) -> Result<bool, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(SettingsError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    // Validate against the schema first, so a malformed file is reported and left alone.
    Settings::parse(&text, path)?;
    let mut document: toml_edit::DocumentMut =
        text.parse()
            .map_err(|error: toml_edit::TomlError| SettingsError::Parse {
                path: path.to_path_buf(),
                message: toml_problem(error.message(), error.span(), &text),
            })?;
    if !change(&mut document) {
        return Ok(false);
    }
    let write_error = |source| SettingsError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, document.to_string()).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(write_error)?;
    Ok(true)
}

/// The array at `tables...key`, created (with its tables) when missing. `None` only when the
/// document holds a non-table where a table belongs, which the schema check already rejects.
fn string_array<'d>(
    document: &'d mut toml_edit::DocumentMut,
    tables: &[&str],
    key: &str,
) -> Option<&'d mut toml_edit::Array> {
    let mut table: &mut dyn toml_edit::TableLike = document.as_table_mut();
    for name in tables {
        if table.get(name).is_none() {
            table.insert(name, toml_edit::Item::Table(toml_edit::Table::new()));
        }
        table = table.get_mut(name)?.as_table_like_mut()?;
    }
    if table.get(key).is_none() {
        table.insert(key, toml_edit::value(toml_edit::Array::new()));
    }
    table.get_mut(key)?.as_array_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load(&dir.path().join("settings.toml")).unwrap();
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.plugins.failure_limit, DEFAULT_FAILURE_LIMIT);
    }

    #[test]
    fn disable_and_enable_keep_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        std::fs::write(
            &path,
            "# my settings\n[plugins]\nallow-native = false # keep me\n",
        )
        .unwrap();
        assert!(set_plugin_disabled(&path, "gemma", true).unwrap());
        assert!(!set_plugin_disabled(&path, "gemma", true).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# my settings") && text.contains("# keep me"),
            "{text}"
        );
        assert!(Settings::load(&path).unwrap().is_disabled("gemma"));
        assert!(set_plugin_disabled(&path, "gemma", false).unwrap());
        assert!(!Settings::load(&path).unwrap().is_disabled("gemma"));
    }

    #[test]
    fn grants_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        set_grants(&path, "hooky", &["notify".into(), "http".into()], true).unwrap();
        assert_eq!(
            Settings::load(&path).unwrap().grants("hooky"),
            ["notify", "http"]
        );
        set_grants(&path, "hooky", &["http".into()], false).unwrap();
        assert_eq!(Settings::load(&path).unwrap().grants("hooky"), ["notify"]);
    }

    #[test]
    fn allowed_hosts_are_read_and_checked() {
        let path = Path::new("settings.toml");
        let settings = Settings::parse(
            "[plugins.allowed-hosts]\nnotifier = [\"ntfy.sh\", \"*.example.com\"]\n",
            path,
        )
        .unwrap();
        assert_eq!(
            settings.extra_allowed_hosts("notifier"),
            ["ntfy.sh", "*.example.com"]
        );
        assert!(settings.extra_allowed_hosts("other").is_empty());

        let error = Settings::parse(
            "[plugins.allowed-hosts]\nnotifier = [\"https://ntfy.sh/topic\"]\n",
            path,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("plugins.allowed-hosts.notifier") && error.contains("bare host names"),
            "{error}"
        );
    }

    #[test]
    fn malformed_file_is_reported_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        let original = "[plugins\nallow-native = true\n";
        std::fs::write(&path, original).unwrap();
        let error = set_plugin_disabled(&path, "x", true)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("settings.toml") && error.contains("untouched"),
            "{error}"
        );
        // One line that says where: the toml crate's own text is a multi-line excerpt.
        assert!(
            error.contains("line 1, column 9: unclosed table") && !error.contains('\n'),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
        let unknown = "[plugins]\nallow-nativ = true\n";
        std::fs::write(&path, unknown).unwrap();
        let error = Settings::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("line 2, column 1: unknown field `allow-nativ`"),
            "{error}"
        );
    }
}
