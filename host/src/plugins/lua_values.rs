//! Hand-written conversions between the records of the hottest Lua hooks and Lua tables.
//!
//! `detect-error` (and `detect-family`'s small input) run often enough that going through
//! mlua's serde support showed up as most of a call's cost: the serde path takes mlua's lock and
//! a registry slot for every value. These functions build and read the tables directly (the
//! `log-tail` record through a small Lua entry function) and give the same shapes as the serde
//! forms the other hooks still use: snake_case fields, absent optional fields left `nil`, `exit`
//! as `{ kind = "exited", code = 1 }`, lists as sequences carrying mlua's array metatable.
//! Reading a diagnosis is as strict as the serde form: unknown fields, missing fields and wrong
//! types are refused.

use mlua::{Function, Lua, LuaSerdeExt, LuaString, Table, Value};
use mlx_host_plugin_api::types as api;

/// Why a table returned by a plugin is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("expected a table for {record}, got {found}")]
    NotATable {
        record: &'static str,
        found: &'static str,
    },
    #[error("{record}: {message}")]
    Invalid {
        record: &'static str,
        message: String,
    },
    #[error("{record}: missing field `{field}`")]
    MissingField {
        record: &'static str,
        field: &'static str,
    },
    #[error("{record}.{field}: expected {expected}, got {found}")]
    WrongType {
        record: &'static str,
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("{record}: cannot read the table: {message}")]
    Lua {
        record: &'static str,
        message: String,
    },
}

/// Makes the Lua function through which the host calls a plugin's `detect_error`. That function
/// builds the `log-tail` record inside the VM from the values [`log_tail_args`] gives and
/// tail-calls the plugin with it: constructing the two small tables in Lua costs a fraction of
/// creating them one mlua call at a time, and every argument crosses as a reference or an
/// integer, so pushing them needs no protected call while the plugin's memory limit is set. It is
/// loaded before the sandbox prelude and keeps the real `setmetatable` as an upvalue no plugin
/// can reach.
const DETECT_ERROR_ENTRY: &str = r#"
local setmetatable, array_metatable = setmetatable, ...
return function(detect_error)
  return function(server_kind, exit_kind, exit_value, lines)
    local exit
    if exit_kind == 1 then
      exit = { kind = "exited", code = exit_value }
    elseif exit_kind == 2 then
      exit = { kind = "signaled", signal = exit_value }
    else
      exit = { kind = "running" }
    end
    setmetatable(lines, array_metatable)
    return detect_error({ server_kind = server_kind, lines = lines, exit = exit })
  end
end
"#;

/// Load the maker of `detect_error` entries into `lua` (before the sandbox prelude runs). Called
/// with a plugin's `detect_error`, it returns the entry that calls it.
pub fn load_detect_error_entry_maker(lua: &Lua) -> mlua::Result<Function> {
    lua.load(DETECT_ERROR_ENTRY)
        .set_name("=detect_error entry")
        .call(lua.array_metatable())
}

/// The arguments the `detect_error` entry takes for `tail`:
/// the server kind, the exit as a kind number (0 running, 1 exited, 2 signaled) and its value,
/// and the lines as one sequence filled by a single mlua call.
pub fn log_tail_args(lua: &Lua, tail: &api::LogTail) -> mlua::Result<(LuaString, i32, i32, Table)> {
    let (exit_kind, exit_value) = match tail.exit {
        api::ExitStatus::Running => (0, 0),
        api::ExitStatus::Exited { code } => (1, code),
        api::ExitStatus::Signaled { signal } => (2, signal),
    };
    let lines = lua.create_sequence_from(tail.lines.iter().map(String::as_str))?;
    let server_kind = lua.create_string(&tail.server_kind)?;
    Ok((server_kind, exit_kind, exit_value, lines))
}

/// The `ModelSource` as the table a Lua `detect_family` receives.
pub fn model_source_to_lua(lua: &Lua, model: &api::ModelSource) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(0, 2)?;
    if let Some(repo_id) = &model.repo_id {
        table.raw_set("repo_id", repo_id.as_str())?;
    }
    if let Some(config_json) = &model.config_json {
        table.raw_set("config_json", config_json.as_str())?;
    }
    Ok(table)
}

const DIAGNOSIS: &str = "diagnosis";

/// Read the table a Lua `detect_error` returned (not `nil`) as a `Diagnosis`.
///
/// One pass of `Table::for_each` (one protected `lua_next` loop, keys taken as plain Rust
/// strings) instead of `Table::pairs`, which protects every step and takes a value handle for
/// every key and value: reading a diagnosis that way cost more than the rest of a call.
pub fn diagnosis_from_lua(value: Value) -> Result<api::Diagnosis, RecordError> {
    let Value::Table(table) = value else {
        return Err(RecordError::NotATable {
            record: DIAGNOSIS,
            found: value.type_name(),
        });
    };
    let mut category = None;
    let mut severity = None;
    let mut summary = None;
    let mut hint = None;
    let mut line = None;
    let mut problem = None;
    let read = table.for_each(|key: String, value: Value| {
        let field = match key.as_str() {
            "category" => text(value, "category").map(|text| category = Some(text)),
            "severity" => text(value, "severity")
                .and_then(|name| severity_from(&name))
                .map(|found| severity = Some(found)),
            "summary" => text(value, "summary").map(|text| summary = Some(text)),
            "hint" => text(value, "hint").map(|text| hint = Some(text)),
            "line" => line_index(value).map(|index| line = Some(index)),
            _ => Err(RecordError::Invalid {
                record: DIAGNOSIS,
                message: format!("unknown field `{key}`"),
            }),
        };
        match field {
            Ok(()) => Ok(()),
            Err(error) => {
                problem = Some(error);
                // Stop at the first problem; `problem` says what it was.
                Err(mlua::Error::runtime("invalid diagnosis"))
            }
        }
    });
    if let Some(error) = problem {
        return Err(error);
    }
    read.map_err(|error| RecordError::Lua {
        record: DIAGNOSIS,
        message: error.to_string(),
    })?;
    let missing = |field| RecordError::MissingField {
        record: DIAGNOSIS,
        field,
    };
    Ok(api::Diagnosis {
        category: category.ok_or_else(|| missing("category"))?,
        severity: severity.ok_or_else(|| missing("severity"))?,
        summary: summary.ok_or_else(|| missing("summary"))?,
        hint: hint.ok_or_else(|| missing("hint"))?,
        line,
    })
}

fn wrong_type(field: &'static str, expected: &'static str, found: String) -> RecordError {
    RecordError::WrongType {
        record: DIAGNOSIS,
        field,
        expected,
        found,
    }
}

fn severity_from(name: &str) -> Result<api::Severity, RecordError> {
    match name {
        "info" => Ok(api::Severity::Info),
        "warning" => Ok(api::Severity::Warning),
        "error" => Ok(api::Severity::Error),
        "fatal" => Ok(api::Severity::Fatal),
        _ => Err(wrong_type(
            "severity",
            "one of info, warning, error, fatal",
            format!("`{name}`"),
        )),
    }
}

/// A field that must be a UTF-8 string.
fn text(value: Value, field: &'static str) -> Result<String, RecordError> {
    match value {
        Value::String(text) => text
            .to_str()
            .map(|text| text.to_string())
            .map_err(|_| wrong_type(field, "a UTF-8 string", "invalid UTF-8".into())),
        other => Err(wrong_type(field, "a string", other.type_name().into())),
    }
}

/// `line`: an integer that fits a `u32` (a float is refused, as the serde form refuses it).
fn line_index(value: Value) -> Result<u32, RecordError> {
    match value {
        Value::Integer(number) => u32::try_from(number)
            .map_err(|_| wrong_type("line", "an index from 0 to 4294967295", number.to_string())),
        other => Err(wrong_type("line", "an integer", other.type_name().into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::serde::SerializeOptions;

    fn serde_form(lua: &Lua, value: &impl serde::Serialize) -> serde_json::Value {
        let options = SerializeOptions::new()
            .serialize_none_to_null(false)
            .serialize_unit_to_null(false);
        let lua_value = lua.to_value_with(value, options).unwrap();
        lua.from_value(lua_value).unwrap()
    }

    #[test]
    fn log_tails_have_the_serde_shape() {
        let lua = Lua::new();
        let identity: Function = lua.load("return function(t) return t end").eval().unwrap();
        let maker = load_detect_error_entry_maker(&lua).unwrap();
        let entry: Function = maker.call(identity).unwrap();
        for exit in [
            api::ExitStatus::Running,
            api::ExitStatus::Exited { code: 1 },
            api::ExitStatus::Signaled { signal: 9 },
        ] {
            for lines in [vec![], vec!["a".to_string(), "b c".to_string()]] {
                let tail = api::LogTail {
                    server_kind: "mlx_lm".into(),
                    lines,
                    exit,
                };
                let table: Value = entry.call(log_tail_args(&lua, &tail).unwrap()).unwrap();
                let ours: serde_json::Value = lua.from_value(table).unwrap();
                assert_eq!(ours, serde_form(&lua, &tail));
            }
        }
    }

    #[test]
    fn model_sources_have_the_serde_shape() {
        let lua = Lua::new();
        for (repo_id, config_json) in [
            (None, None),
            (Some("org/model".to_string()), None),
            (None, Some("{}".to_string())),
        ] {
            let model = api::ModelSource {
                repo_id,
                config_json,
            };
            let table = model_source_to_lua(&lua, &model).unwrap();
            let ours: serde_json::Value = lua.from_value(Value::Table(table)).unwrap();
            assert_eq!(ours, serde_form(&lua, &model));
        }
    }

    fn read(lua: &Lua, source: &str) -> Result<api::Diagnosis, RecordError> {
        diagnosis_from_lua(lua.load(source).eval::<Value>().unwrap())
    }

    #[test]
    fn diagnoses_are_read_strictly() {
        let lua = Lua::new();
        let full = read(
            &lua,
            r#"return { category = "killed", severity = "error", summary = "s", hint = "h", line = 3 }"#,
        )
        .unwrap();
        assert_eq!(full.line, Some(3));
        assert_eq!(full.severity, api::Severity::Error);
        let no_line = read(
            &lua,
            r#"return { category = "killed", severity = "info", summary = "s", hint = "h" }"#,
        )
        .unwrap();
        assert_eq!(no_line.line, None);

        let refused = [
            r#"return "port_in_use""#,
            r#"return { category = "killed", severity = "loud", summary = "s", hint = "h" }"#,
            r#"return { category = "killed", severity = "info", summary = "s" }"#,
            r#"return { category = "killed", severity = "info", summary = "s", hint = "h", extra = 1 }"#,
            r#"return { category = "killed", severity = "info", summary = 5, hint = "h" }"#,
            r#"return { category = "killed", severity = "info", summary = "s", hint = "h", line = 1.5 }"#,
            r#"return { category = "killed", severity = "info", summary = "s", hint = "h", line = -1 }"#,
            r#"return { "killed" }"#,
            r#"return { category = "killed", severity = "info", summary = "s", hint = "h", [true] = 1 }"#,
            r#"return { category = "killed", severity = "info", summary = "\xff", hint = "h" }"#,
            r#"return setmetatable({}, { __index = function() return "x" end })"#,
        ];
        for source in refused {
            assert!(read(&lua, source).is_err(), "{source}");
        }
    }
}
