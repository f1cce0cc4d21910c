---@meta
-- LuaLS type stubs for mlx-host Lua plugins.
--
-- GENERATED from plugin-api/wit/plugin.wit by plugin-api/tests/lua_stubs.rs: do not edit.
-- Regenerate with scripts/gen-lua-stubs.
--
-- Use: add this folder to LuaLS's library, e.g. in your plugin folder's .luarc.json:
--   { "workspace.library": ["/path/to/mlx-host/plugin-api/lua"] }
-- then annotate your module table:
--   ---@type mlx.Plugin
--   local M = {}
--   function M.detect_error(tail) ... end   -- tail: mlx.LogTail
--   return M
--
-- Values cross as the serde forms of the host's Rust types: records are tables with snake_case
-- fields; an absent optional field is nil; enums are strings; a variant is a table tagged by
-- `kind`; list<T> is a sequence (1-based); tuple<A, B> is a two-element sequence { a, b }.
--
-- Plugin API of WIT package mlx:plugin@1.0.0:
-- The mlx-host plugin contract, API level 1.
--
-- Compatibility rule: nothing in a released `1.x` package is changed or removed before 2.0.
-- Additive changes (a new interface, a new host import) bump the minor version; a plugin built
-- against `1.N` loads in every host that speaks `1.M` with `M >= N`.
--
-- Stable codes travel as strings (diagnosis categories, model kinds, event kinds) so that a
-- newer host can add codes without breaking older plugins; the documented values are listed
-- next to each field and the host rejects anything else as bad plugin output.

-- interface `types` ------------------------------------------------------------------------------
-- Records shared by the hooks.

---How a server process ended, or that it is still running.
---A table tagged by `kind`: check `kind` before reading the other fields.
---@alias mlx.ExitStatus mlx.ExitStatus.Running|mlx.ExitStatus.Exited|mlx.ExitStatus.Signaled

---The process is still alive (a load failure that keeps the server up, a hang).
---@class mlx.ExitStatus.Running
---@field kind "running"

---The process exited by itself with this code.
---@class mlx.ExitStatus.Exited
---@field kind "exited"
---@field code integer

---The process was ended by this signal number (9 = SIGKILL, 11 = SIGSEGV, 15 = SIGTERM).
---@class mlx.ExitStatus.Signaled
---@field kind "signaled"
---@field signal integer

---@alias mlx.Severity
---| "info"
---| "warning"
---| "error"
---| "fatal"

---The input of `detect-error`: the tail of one run's log and how the run ended.
---@class mlx.LogTail
---`mlx_lm`, `mlx-openai-server`, `mlx_vlm` or `command`.
---@field server_kind string
---The last lines of the run's combined stdout/stderr, oldest first, without newlines.
---@field lines string[]
---@field exit mlx.ExitStatus

---What went wrong with a run and what the user should do about it.
---@class mlx.Diagnosis
---One of: port_in_use, model_not_found, unsupported_architecture, corrupt_weights,
---missing_tokenizer, bad_argument, out_of_memory, killed, request_error,
---environment_error, none.
---@field category string
---@field severity mlx.Severity
---One line that quotes the decisive evidence.
---@field summary string
---What to do next, in one or two sentences.
---@field hint string
---Index into `log-tail.lines` of the decisive line, when there is one.
---In Lua this stays 0-based: `tail.lines[line + 1]` is the decisive line.
---@field line? integer

---The input of `detect-family`: what is known about a checkpoint.
---@class mlx.ModelSource
---Hugging Face repo id (`mlx-community/Qwen3-8B-4bit`) when known.
---@field repo_id? string
---The raw text of the checkpoint's `config.json`, when it has one.
---@field config_json? string

---What a checkpoint is.
---@class mlx.FamilyInfo
---Our family key, e.g. `qwen3`, `llama`, `gemma3`, `mistral`.
---@field family string
---One of: lm, multimodal, embeddings, audio, image.
---@field kind string
---@field context_length? integer
---@field quantization_bits? integer
---@field tool_calls boolean
---@field reasoning boolean
---The oldest mlx-lm release known to load this family, e.g. `0.28.0`.
---@field min_mlx_lm? string

---The input of `plan-launch`: the server to start and the model to serve.
---@class mlx.LaunchRequest
---`mlx_lm`, `mlx-openai-server`, `mlx_vlm` or `command`.
---@field server_kind string
---The installed server's version, when known.
---@field server_version? string
---A local model folder or a repo id.
---@field model string
---@field host string
---@field port integer
---What `detect-family` said about the model, when it said anything.
---@field family? mlx.FamilyInfo
---The installed executable's `--help` text (for mlx-openai-server: `launch --help`).
---@field server_help? string

---An argv and environment to start a server with. Planners fold over it: each one receives
---the plan built so far and returns the plan to pass on.
---@class mlx.LaunchPlan
---Program and arguments; never a shell string.
---@field argv string[]
---@field env { [1]: string, [2]: string }[]

---A lifecycle event.
---@class mlx.Event
---One of: starting, ready, start-failed, crashed, restarting, crash-loop, unhealthy,
---recovered, stopped, plugin-disabled, download-finished, download-failed,
---events-dropped.
---@field kind string
---What the event is about: the profile (daemon servers), the model (`mlx-host run`), the
---repo (downloads) or the plugin (plugin-disabled).
---@field subject string
---A one-line human-readable description.
---@field message string
---Milliseconds since the Unix epoch.
---@field timestamp_ms integer
---The diagnosis that goes with start-failed, crashed and crash-loop events.
---@field diagnosis? mlx.Diagnosis

-- interface `log` --------------------------------------------------------------------------------
-- Host import, always available: write to the host's log, tagged with the plugin's name.

---@alias mlx.LogLevel
---| "trace"
---| "debug"
---| "info"
---| "warn"
---| "error"

-- the hooks --------------------------------------------------------------------------------------

---The table a Lua plugin's chunk returns (`return M`). Define the functions of the hooks
---that plugin.toml's `hooks` lists; a single-file hook (NAME.lua without plugin.toml) gets
---the hooks whose functions it defines.
---@class mlx.Plugin
---Hook `detect-family`: say what a checkpoint is. `none` means no opinion.
---Manifest hook `detect-family`; WIT `mlx:plugin/family-detector@1.0.0`.
---Return nil for no opinion. Raise an error (`error("...")`) to report a failure;
---it counts as no answer and the next plugin is asked.
---@field detect_family? fun(model: mlx.ModelSource): mlx.FamilyInfo?
---Hook `launch-options`: return the plan to pass on to the next planner.
---Manifest hook `launch-options`; WIT `mlx:plugin/launch-planner@1.0.0`.
---Return the plan, changed or not (nil is a malformed answer). Raise an error to
---report a failure; the plan then passes on as it was.
---@field plan_launch? fun(request: mlx.LaunchRequest, plan: mlx.LaunchPlan): mlx.LaunchPlan
---Hook `detect-error`: classify a log tail and exit status. `none` means no opinion.
---Manifest hook `detect-error`; WIT `mlx:plugin/error-detector@1.0.0`.
---Return nil for no opinion. Raise an error (`error("...")`) to report a failure;
---it counts as no answer and the next plugin is asked.
---@field detect_error? fun(tail: mlx.LogTail): mlx.Diagnosis?
---Hook `on-event`: hear about lifecycle events.
---Manifest hook `on-event`; WIT `mlx:plugin/notifier@1.0.0`.
---The return value is ignored. Raise an error to report a failure.
---@field on_event? fun(event: mlx.Event)
---Single-file hooks only: dispatch priority (higher runs first for detect-*; runs
---later, with the last word, for launch-options). Default 100. Ignored when the
---plugin has a plugin.toml: its `priority` applies.
---@field priority? integer

-- the `host` global ------------------------------------------------------------------------------

---The global `host`: what a Lua plugin may call back into. `log`, `config` and `json` are always
---there; `notify` and `http_post` only when the plugin's manifest declares the capability and
---the user granted it (`mlx-host plugins grant NAME notify|http`); single-file hooks get neither.
---`print(...)` also writes to the host's log, at info level.
---@class mlx.Host
---The plugin API version the host speaks, e.g. "1.0".
---@field api_version string
---The plugin API major version (the API level), e.g. 1.
---@field api_level integer
---This plugin's name (from plugin.toml, or the file name of a single-file hook).
---@field plugin string
---JSON helpers.
---@field json mlx.HostJson
---Capability `notify`: show a desktop notification. Returns true, or false and why not.
---@field notify? fun(title: string, body: string): ok: boolean, error: string?
---Capability `http`: POST `body` to `url` (http or https; the host must be in the manifest's
---`capabilities.http.allowed-hosts`; body at most 256 KiB; 5 s deadline; no redirects).
---Returns the HTTP status code, or nil and why not.
---@field http_post? fun(url: string, content_type: string, body: string): status: integer?, error: string?
host = {}

---Write to the host's log, tagged with the plugin's name (messages over 4 KiB are cut).
---`"warning"` is accepted as a synonym of `"warn"`; any other level raises an error.
---@param level mlx.LogLevel
---@param message string
function host.log(level, message) end

---A value of the plugin's `[config]` table (manifest), overlaid with the user's
---`[plugin-config.NAME]` in settings.toml. Every value is a string; nil when the key is not set.
---@param key string
---@return string?
function host.config(key) end

---@class mlx.HostJson
local json = {}

---Parse JSON text: objects and arrays become tables, JSON null becomes nil. Raises an error
---on invalid JSON.
---@param text string
---@return any
function json.decode(text) end

---Serialize a Lua value (nil, boolean, number, string or table) as compact JSON. Raises an
---error on values JSON cannot hold (functions, ...).
---@param value any
---@return string
function json.encode(value) end
