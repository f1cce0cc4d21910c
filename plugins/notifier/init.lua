-- Built-in notifier: tells you when a server is ready, fails to start, crashes or recovers, and
-- when a download finishes, as a desktop notification and, if you set one, as a POST to a webhook.
--
-- Settings go in settings.toml; every value is a string:
--
--   [plugin-config.notifier]
--   events = "default, starting"   # Which event kinds to notify about, separated by commas.
--                                  #   "default" = the kinds marked on in EVENT_KINDS below,
--                                  #   "all" = every kind, "" = none.     Default: "default"
--   desktop = "true"               # Desktop notifications: notify-send on Linux (when it is
--                                  #   installed), osascript on macOS.     Default: "true"
--   webhook = "https://hooks.slack.com/services/T000/B000/XXXX"
--                                  # POST each notification as JSON here.  Default: "" (off)
--   min-interval-ms = "60000"      # At most one notification per kind and subject in this
--                                  #   time; "0" = no limit.              Default: "60000"
--   max-per-minute = "10"          # At most this many notifications in any minute, all kinds
--                                  #   and subjects together; "0" = no limit. Default: "10"
--
-- Rate limiting keeps a crash loop from becoming a notification storm. It goes by the events'
-- own timestamps. An event over either limit is not sent but counted, and the next
-- notification that goes out says so: "(19 similar suppressed)" for events of its own kind and
-- subject, "(4 other suppressed)" for the rest.
--
-- The webhook receives `Content-Type: application/json` and this body:
--
--   { "kind": "crashed", "subject": "qwen3-8b", "message": "...", "timestamp_ms": 1767225600000,
--     "diagnosis": { "category": "out_of_memory", "severity": "fatal", "summary": "...",
--                    "hint": "...", "line": 41 },        (only when the event has a diagnosis)
--     "title": "qwen3-8b crashed", "text": "mlx-host: qwen3-8b crashed: ...",
--     "suppressed": { "similar": 0, "other": 0 } }
--
-- `text` is what Slack shows; for Discord hosts the body also has `content` (the same text).
-- The host only lets this plugin POST to the hosts in plugin.toml's allowed-hosts (Slack,
-- Discord and this machine); plugin.toml says how to use another one.
--
-- A missing notify-send, a webhook that is down or refuses the host: each is logged once when
-- it starts failing (and once when it works again), never raised as an error, so the plugin is
-- not disabled for it.

local M = {}

-- Every event kind the host sends: whether it is notified by default, and the notification's
-- title ({subject} becomes the profile, or the plugin for plugin-disabled).
local EVENT_KINDS = {
  ["starting"]          = { default = false, title = "{subject} is starting" },
  ["ready"]             = { default = true,  title = "{subject} is ready" },
  ["start-failed"]      = { default = true,  title = "{subject} failed to start" },
  ["crashed"]           = { default = true,  title = "{subject} crashed" },
  ["restarting"]        = { default = false, title = "{subject} is restarting" },
  ["crash-loop"]        = { default = true,  title = "{subject} keeps crashing" },
  ["unhealthy"]         = { default = true,  title = "{subject} is unhealthy" },
  ["recovered"]         = { default = true,  title = "{subject} recovered" },
  ["stopped"]           = { default = false, title = "{subject} stopped" },
  ["plugin-disabled"]   = { default = true,  title = "Plugin {subject} was disabled" },
  ["download-finished"] = { default = true,  title = "Download finished: {subject}" },
  ["download-failed"]   = { default = true,  title = "Download failed: {subject}" },
  ["events-dropped"]    = { default = false, title = "Some events were not delivered" },
}

-- Put in front of every title, so a notification says where it comes from.
local TITLE_PREFIX = "mlx-host: "

-- Webhook hosts that show the `content` field rather than `text`.
local CONTENT_FIELD_HOSTS = { ["discord.com"] = true, ["discordapp.com"] = true }

local MINUTE_MS = 60000

-- Reading the settings -----------------------------------------------------------------------

local function trim(text)
  return (text:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function sorted_keys(map)
  local keys = {}
  for key in pairs(map) do
    keys[#keys + 1] = key
  end
  table.sort(keys)
  return keys
end

local function config_string(key, default)
  local value = host.config(key)
  if value == nil then
    return default
  end
  return trim(value)
end

local function config_bool(key, default)
  local value = config_string(key, nil)
  if value == nil then
    return default
  end
  local word = value:lower()
  if word == "true" or word == "yes" or word == "on" or word == "1" then
    return true
  elseif word == "false" or word == "no" or word == "off" or word == "0" then
    return false
  end
  host.log("warn", ("config `%s` is %q; use \"true\" or \"false\" (using %s)"):format(key, value, tostring(default)))
  return default
end

local function config_count(key, default)
  local value = config_string(key, nil)
  if value == nil then
    return default
  end
  local number = math.tointeger(tonumber(value))
  if number == nil or number < 0 then
    host.log("warn", ("config `%s` is %q; use a whole number of 0 or more (using %d)"):format(key, value, default))
    return default
  end
  return number
end

-- `events`: the kinds to notify about. Returns a set of kinds and whether every kind is wanted.
local function config_events()
  local wanted, all = {}, false
  for word in config_string("events", "default"):gmatch("[^,%s]+") do
    if word == "all" then
      all = true
    elseif word == "default" then
      for kind, info in pairs(EVENT_KINDS) do
        if info.default then
          wanted[kind] = true
        end
      end
    else
      if EVENT_KINDS[word] == nil then
        host.log("warn", ("config `events` names `%s`, which is not an event kind this plugin knows (%s); notifying about it anyway")
          :format(word, table.concat(sorted_keys(EVENT_KINDS), ", ")))
      end
      wanted[word] = true
    end
  end
  return wanted, all
end

local function url_host(url)
  local host_name = url:match("^%a[%w+.-]*://([^/?#]+)")
  if host_name == nil then
    return nil
  end
  host_name = host_name:gsub("^.*@", ""):gsub(":%d*$", "")
  return host_name:lower()
end

local settings = {}
settings.events, settings.all_events = config_events()
settings.desktop = config_bool("desktop", true)
settings.webhook = config_string("webhook", "")
settings.min_interval_ms = config_count("min-interval-ms", 60000)
settings.max_per_minute = config_count("max-per-minute", 10)
settings.webhook_uses_content = CONTENT_FIELD_HOSTS[url_host(settings.webhook) or ""] == true

if settings.webhook ~= "" and url_host(settings.webhook) == nil then
  host.log("warn", ("config `webhook` is %q, which is not an http:// or https:// URL"):format(settings.webhook))
end
if not settings.desktop and settings.webhook == "" then
  host.log("info", "desktop notifications are off and no webhook is set; nothing will be sent")
end

-- Rate limiting --------------------------------------------------------------------------------

local last_sent = {}        -- "kind subject" -> timestamp of the last notification sent for it
local similar = {}          -- "kind subject" -> its events suppressed since the last notification
local suppressed_total = 0  -- every event suppressed since the last notification went out
local sent_recently = {}    -- timestamps of the notifications sent in the last minute

-- Whether a notification for `key` may go out at time `now`.
local function allowed(key, now)
  local last = last_sent[key]
  -- (A timestamp earlier than the last one means the clock was set back: let it through.)
  if last ~= nil and now >= last and now - last < settings.min_interval_ms then
    return false
  end
  if settings.max_per_minute > 0 then
    local kept = {}
    for _, at in ipairs(sent_recently) do
      if at <= now and now - at < MINUTE_MS then
        kept[#kept + 1] = at
      end
    end
    sent_recently = kept
    if #sent_recently >= settings.max_per_minute then
      return false
    end
  end
  return true
end

local function suppress(key)
  similar[key] = (similar[key] or 0) + 1
  suppressed_total = suppressed_total + 1
end

-- Record a notification that goes out; returns the suppressed counts it must report.
local function record_sent(key, now)
  local counts = { similar = similar[key] or 0 }
  counts.other = suppressed_total - counts.similar
  similar, suppressed_total = {}, 0
  for other_key, at in pairs(last_sent) do
    if at > now or now - at >= settings.min_interval_ms then
      last_sent[other_key] = nil -- expired: forget it, so this table stays small
    end
  end
  last_sent[key] = now
  if settings.max_per_minute > 0 then
    sent_recently[#sent_recently + 1] = now
  end
  return counts
end

-- Text --------------------------------------------------------------------------------------

local function one_line(text)
  return trim((text or ""):gsub("%s+", " "))
end

local function title_for(event)
  local kind = EVENT_KINDS[event.kind]
  local template = kind and kind.title or ("{subject}: " .. event.kind)
  return (template:gsub("{subject}", function() return one_line(event.subject) end))
end

local function suppressed_note(counts)
  if counts.similar > 0 and counts.other > 0 then
    return ("(%d similar and %d other suppressed)"):format(counts.similar, counts.other)
  elseif counts.similar > 0 then
    return ("(%d similar suppressed)"):format(counts.similar)
  elseif counts.other > 0 then
    return ("(%d other suppressed)"):format(counts.other)
  end
  return nil
end

-- One line: the event's message, the diagnosis's summary and hint, and the suppressed counts.
local function body_for(event, counts)
  local parts = {}
  local function add(text)
    text = one_line(text)
    if text ~= "" then
      parts[#parts + 1] = text
    end
  end
  add(event.message)
  local diagnosis = event.diagnosis
  if diagnosis ~= nil then
    if one_line(diagnosis.summary) ~= one_line(event.message) then
      add(diagnosis.summary)
    end
    add(diagnosis.hint)
  end
  local body = table.concat(parts, " — ")
  local note = suppressed_note(counts)
  if note ~= nil then
    body = (body == "") and note or (body .. " " .. note)
  end
  return body
end

-- Delivery ------------------------------------------------------------------------------------

-- Whether each channel worked the last time: a failure is logged when a channel starts failing
-- and a line when it works again, so a machine without notify-send gets one warning, not one per
-- event.
local working = { desktop = true, webhook = true }

local function delivered(channel, ok, problem, level)
  if ok and not working[channel] then
    host.log("info", channel .. " notifications work again")
  elseif not ok and working[channel] then
    host.log(level or "warn", ("%s notification failed: %s (logged once until it works again)"):format(channel, problem))
  end
  working[channel] = ok
end

local function send_desktop(title, body)
  if host.notify == nil then
    delivered("desktop", false, "the notify capability is not granted")
    return
  end
  local ok, problem = host.notify(title, body)
  if not ok and problem and problem:find("cannot run notify-send", 1, true) then
    -- No notify-send is the normal state of a server, a container or CI, where desktop
    -- notifications cannot be shown anyway: say so at info level (-v), not as a warning on
    -- every command that sends an event.
    delivered("desktop", false, problem .. "; install notify-send (libnotify) to get them, or set desktop = \"false\"", "info")
    return
  end
  delivered("desktop", ok, problem)
end

local function send_webhook(event, title, text, counts)
  if host.http_post == nil then
    delivered("webhook", false, "the http capability is not granted")
    return
  end
  local payload = {
    kind = event.kind,
    subject = event.subject,
    message = event.message,
    timestamp_ms = event.timestamp_ms,
    diagnosis = event.diagnosis,
    title = title,
    text = text,
    suppressed = counts,
  }
  if settings.webhook_uses_content then
    payload.content = text
  end
  local status, problem = host.http_post(settings.webhook, "application/json", host.json.encode(payload))
  if status ~= nil and (status < 200 or status > 299) then
    problem = ("POST to %s answered HTTP %d"):format(url_host(settings.webhook) or settings.webhook, status)
    status = nil
  end
  delivered("webhook", status ~= nil, problem)
end

-- The hook ------------------------------------------------------------------------------------

---@param event mlx.Event
function M.on_event(event)
  if not (settings.all_events or settings.events[event.kind]) then
    return
  end
  if not settings.desktop and settings.webhook == "" then
    return
  end
  local now = math.tointeger(event.timestamp_ms) or 0
  local key = event.kind .. " " .. event.subject
  if not allowed(key, now) then
    suppress(key)
    return
  end
  local counts = record_sent(key, now)
  local title = title_for(event)
  local body = body_for(event, counts)
  if settings.desktop then
    send_desktop(TITLE_PREFIX .. title, body)
  end
  if settings.webhook ~= "" then
    local text = TITLE_PREFIX .. title .. ((body ~= "") and (": " .. body) or "")
    send_webhook(event, title, text, counts)
  end
end

return M
