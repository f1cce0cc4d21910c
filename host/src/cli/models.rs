//! `mlx-host models inspect MODEL`: what a checkpoint is (through the detect-family plugins) and
//! the command line each server would be started with (through the launch-options plugins).
//!
//! `models list`: the models on disk (the Hugging Face cache and mlx-host's model folders) with
//! size, family, kind, revision and the profiles that use them. `models rm REPO`: remove a cached
//! repo; refused while a server the daemon reports running uses it (`--force` never overrides
//! that), and refused without `--force` while a saved profile names it. `models search QUERY`:
//! the hub's MLX models, most downloaded first, marked when already downloaded. `models pull`
//! and `models downloads` live in [`super::pull`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use mlx_host_plugin_api::types::{FamilyInfo, LaunchPlan, LaunchRequest, ModelSource};
use serde::Serialize;

use crate::api::client::{Client, ClientError};
use crate::api::server::PsEntry;
use crate::models::cache::{self, CachedRepo, human_size};
use crate::models::resolve::resolve;
use crate::models::search::{self, DEFAULT_LIMIT, HubModel, SearchRequest};
use crate::paths::Paths;
use crate::plugins::{Registry, RegistryOptions};
use crate::runtimes::SERVER_KINDS;
use crate::runtimes::inspect::{installed_runtimes, server_help};
use crate::store::{Profile, Store, db_path};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Family, kind, context length, quantization, capabilities, and the planned command line
    /// for each installed server.
    Inspect {
        /// A local model folder, or a repo id in the Hugging Face cache.
        model: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// A Python venv to search first for servers.
        #[arg(long, env = "MLX_HOST_VENV")]
        venv: Option<PathBuf>,
    },
    /// Models on disk: the Hugging Face cache (HF_HUB_CACHE / HF_HOME) and mlx-host's model
    /// folders, with size, family, kind, revision and the profiles that use them.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a model from the Hugging Face cache (its whole `models--org--name` folder).
    /// Refused while a running server uses it, even with --force.
    Rm {
        /// The repo id, `org/name`.
        repo: String,
        /// Remove it even though saved profiles name it (they will need it downloaded again).
        #[arg(long)]
        force: bool,
    },
    /// Download a model repo into the Hugging Face cache (HF_HUB_CACHE / HF_HOME), where every
    /// MLX server finds it. Resumes partial files, verifies every file (sha256 for large files),
    /// and runs in the daemon when it is up, so the pull survives this command exiting.
    /// HF_ENDPOINT and HF_TOKEN (or the token file) are honoured.
    Pull {
        /// The repo id, `org/name`.
        repo: String,
        /// A branch, tag or commit.
        #[arg(long, default_value = "main", conflicts_with = "cancel")]
        revision: String,
        /// Stop the repo's pull (in the daemon or another terminal) and remove its partial files.
        #[arg(long)]
        cancel: bool,
        /// Print the outcome as JSON (and no progress).
        #[arg(long)]
        json: bool,
    },
    /// Recent and running downloads, newest first.
    Downloads {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the Hugging Face hub (HF_ENDPOINT) for MLX models, most downloaded first.
    Search {
        /// Words to look for in model names.
        query: String,
        /// Only models of this user or organisation.
        #[arg(long)]
        author: Option<String>,
        /// How many models to show (1 to 1000).
        #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Serialize)]
struct Inspection {
    model: String,
    family: Option<String>,
    kind: Option<String>,
    context_length: Option<u32>,
    quantization_bits: Option<u8>,
    tool_calls: bool,
    reasoning: bool,
    min_mlx_lm: Option<String>,
    /// What would be passed to mlx-openai-server (the installed one, else the newest known).
    tool_call_parser: Option<String>,
    reasoning_parser: Option<String>,
    /// Planned argv per server; servers that are not installed are planned for their newest
    /// known version with the program name unresolved.
    commands: BTreeMap<String, Vec<String>>,
}

pub fn run(command: ModelsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelsCommand::Inspect { model, json, venv } => inspect(model, json, venv),
        ModelsCommand::List { json } => list(json),
        ModelsCommand::Rm { repo, force } => remove(&repo, force),
        ModelsCommand::Pull {
            repo,
            revision,
            cancel,
            json,
        } => super::pull::pull_command(&repo, &revision, cancel, json),
        ModelsCommand::Downloads { json } => super::pull::downloads_command(json),
        ModelsCommand::Search {
            query,
            author,
            limit,
            json,
        } => search_hub(query, author, limit, json),
    }
}

fn inspect(model: String, json: bool, venv: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (paths, settings) = super::load_environment()?;
    let resolved = resolve(&model)?;
    let registry = Registry::load(RegistryOptions::for_paths(&paths, settings));
    let source = ModelSource {
        repo_id: resolved.repo_id().map(String::from),
        config_json: std::fs::read_to_string(resolved.folder().join("config.json")).ok(),
    };
    let family: Option<FamilyInfo> = registry.detect_family(&source).map(|answer| answer.value);
    let runtime = super::async_runtime()?;
    let installed = runtime.block_on(installed_runtimes(venv.as_deref(), &paths));

    let mut commands = BTreeMap::new();
    for server in SERVER_KINDS {
        let found = installed.iter().find(|info| info.server == server);
        let help = match found {
            Some(info) if server == "mlx-openai-server" => runtime.block_on(server_help(
                server,
                &info.executable,
                info.version.as_deref(),
                &paths,
            )),
            _ => None,
        };
        let request = LaunchRequest {
            server_kind: server.to_string(),
            server_version: found.and_then(|info| info.version.clone()),
            model: resolved.server_argument(),
            host: "127.0.0.1".into(),
            port: 8080,
            family: family.clone(),
            server_help: help,
        };
        let mut argv = registry
            .plan_launch(&request, LaunchPlan::default())
            .plan
            .argv;
        if let (Some(info), Some(first)) = (found, argv.first_mut()) {
            *first = info.executable.display().to_string();
        }
        commands.insert(server.to_string(), argv);
    }
    let openai = commands
        .get("mlx-openai-server")
        .cloned()
        .unwrap_or_default();
    let inspection = Inspection {
        model: resolved.server_argument(),
        family: family.as_ref().map(|info| info.family.clone()),
        kind: family.as_ref().map(|info| info.kind.clone()),
        context_length: family.as_ref().and_then(|info| info.context_length),
        quantization_bits: family.as_ref().and_then(|info| info.quantization_bits),
        tool_calls: family.as_ref().is_some_and(|info| info.tool_calls),
        reasoning: family.as_ref().is_some_and(|info| info.reasoning),
        min_mlx_lm: family.as_ref().and_then(|info| info.min_mlx_lm.clone()),
        tool_call_parser: flag_value(&openai, "--tool-call-parser"),
        reasoning_parser: flag_value(&openai, "--reasoning-parser"),
        commands,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
        return Ok(ExitCode::SUCCESS);
    }
    let text = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    println!("model:            {}", inspection.model);
    println!("family:           {}", text(inspection.family.clone()));
    println!("kind:             {}", text(inspection.kind.clone()));
    println!(
        "context length:   {}",
        text(inspection.context_length.map(|n| n.to_string()))
    );
    println!(
        "quantization:     {}",
        text(
            inspection
                .quantization_bits
                .map(|bits| format!("{bits}-bit"))
        )
    );
    println!("tool calls:       {}", inspection.tool_calls);
    println!("reasoning:        {}", inspection.reasoning);
    println!("min mlx-lm:       {}", text(inspection.min_mlx_lm.clone()));
    println!(
        "tool-call parser: {}",
        text(inspection.tool_call_parser.clone())
    );
    println!(
        "reasoning parser: {}",
        text(inspection.reasoning_parser.clone())
    );
    for (server, argv) in &inspection.commands {
        let installed_note = if installed.iter().any(|info| &info.server == server) {
            ""
        } else {
            " (not installed)"
        };
        println!("{server}{installed_note}:\n  {}", argv.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

fn flag_value(argv: &[String], flag: &str) -> Option<String> {
    argv.iter()
        .position(|arg| arg == flag)
        .and_then(|index| argv.get(index + 1))
        .cloned()
}

/// One row of `models list`.
#[derive(Debug, Serialize)]
struct ListedModel {
    /// The repo id for cached models, the folder for local ones.
    name: String,
    /// `hf-cache` or `folder`.
    source: &'static str,
    repo_id: Option<String>,
    /// The repo's cache folder, or the model folder.
    path: PathBuf,
    /// The folder a server would load (the current snapshot, or the model folder).
    snapshot: Option<PathBuf>,
    revision: Option<String>,
    revisions: Vec<String>,
    size_bytes: u64,
    family: Option<String>,
    kind: Option<String>,
    profiles: Vec<String>,
}

/// The saved profiles, without creating a database when there is none yet.
fn saved_profiles(paths: &Paths) -> anyhow::Result<Vec<Profile>> {
    let path = db_path(&paths.data_dir);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    Ok(Store::open(&path)?.profiles().list()?)
}

fn list(json: bool) -> anyhow::Result<ExitCode> {
    let (paths, settings) = super::load_environment()?;
    let hub_cache = cache::hub_cache_dir();
    let profiles = saved_profiles(&paths)?;
    let mut rows = Vec::new();
    for repo in cache::scan_hub_cache(&hub_cache)? {
        rows.push(ListedModel {
            name: repo.repo_id.clone(),
            source: "hf-cache",
            repo_id: Some(repo.repo_id.clone()),
            profiles: profiles
                .iter()
                .filter(|profile| cache::profile_uses_repo(&profile.model, &repo))
                .map(|profile| profile.name.clone())
                .collect(),
            path: repo.folder,
            snapshot: repo.snapshot,
            revision: repo.revision,
            revisions: repo.revisions,
            size_bytes: repo.size_bytes,
            family: None,
            kind: None,
        });
    }
    let mut folders = cache::local_models_in(&paths.data_dir.join("models"));
    for profile in &profiles {
        let path = std::path::Path::new(&profile.model);
        if path.is_absolute()
            && !path.starts_with(&hub_cache)
            && !folders
                .iter()
                .any(|model| cache::profile_uses_folder(&profile.model, &model.folder))
        {
            folders.extend(cache::local_model(path));
        }
    }
    for model in folders {
        rows.push(ListedModel {
            name: model.folder.display().to_string(),
            source: "folder",
            repo_id: None,
            profiles: profiles
                .iter()
                .filter(|profile| cache::profile_uses_folder(&profile.model, &model.folder))
                .map(|profile| profile.name.clone())
                .collect(),
            snapshot: Some(model.folder.clone()),
            path: model.folder,
            revision: None,
            revisions: Vec::new(),
            size_bytes: model.size_bytes,
            family: None,
            kind: None,
        });
    }
    if !rows.is_empty() {
        // One registry for every model: loading it costs milliseconds, a call microseconds.
        let registry = Registry::load(RegistryOptions::for_paths(&paths, settings));
        for row in &mut rows {
            let config_json = row
                .snapshot
                .as_ref()
                .and_then(|folder| std::fs::read_to_string(folder.join("config.json")).ok());
            if config_json.is_none() {
                continue;
            }
            let source = ModelSource {
                repo_id: row.repo_id.clone(),
                config_json,
            };
            if let Some(answer) = registry.detect_family(&source) {
                row.family = Some(answer.value.family);
                row.kind = Some(answer.value.kind);
            }
        }
    }
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&rows)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "no models in the Hugging Face cache at {} or in {}",
            hub_cache.display(),
            paths.data_dir.join("models").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.name.clone(),
                row.kind.clone().unwrap_or_else(|| "-".into()),
                row.family.clone().unwrap_or_else(|| "-".into()),
                human_size(row.size_bytes),
                row.revision
                    .as_deref()
                    .map(|rev| rev.chars().take(12).collect())
                    .unwrap_or_else(|| "-".into()),
                if row.profiles.is_empty() {
                    "-".into()
                } else {
                    row.profiles.join(",")
                },
            ]
        })
        .collect();
    emit(&format_table(
        &["MODEL", "KIND", "FAMILY", "SIZE", "REVISION", "PROFILES"],
        &table,
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Write to stdout; a closed pipe (`mlx-host models list | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

/// Left-aligned columns, two spaces apart, one line per row.
fn format_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[derive(Debug, thiserror::Error)]
enum RemoveError {
    #[error(
        "{repo_id} is in use by the running server of profile(s) {}; stop it first (`mlx-host stop {}`). --force never removes a model a running server uses",
        profiles.join(", "),
        profiles.first().map(String::as_str).unwrap_or("NAME")
    )]
    Running {
        repo_id: String,
        profiles: Vec<String>,
    },
    #[error(
        "cannot ask the daemon whether a server uses {repo_id}: {source}. Retry, or stop the daemon (nothing runs without it)"
    )]
    DaemonUnknown {
        repo_id: String,
        #[source]
        source: ClientError,
    },
    #[error(
        "profile(s) {} use {repo_id}; they could not start until it is downloaded again. Pass --force to remove it anyway, or remove the profiles first",
        profiles.join(", ")
    )]
    Referenced {
        repo_id: String,
        profiles: Vec<String>,
    },
}

/// The profiles whose server the daemon reports running with this repo's model. Without a
/// daemon nothing runs.
fn running_users(paths: &Paths, repo: &CachedRepo) -> Result<Vec<String>, RemoveError> {
    let entries =
        match Client::connect(paths).and_then(|client| client.get::<Vec<PsEntry>>("/v1/ps")) {
            Ok(entries) => entries,
            Err(ClientError::NotRunning) => return Ok(Vec::new()),
            Err(source) => {
                return Err(RemoveError::DaemonUnknown {
                    repo_id: repo.repo_id.clone(),
                    source,
                });
            }
        };
    Ok(entries
        .into_iter()
        .filter(|entry| !matches!(entry.state.as_str(), "stopped" | "failed" | "crash-loop"))
        .filter(|entry| cache::profile_uses_repo(&entry.model, repo))
        .map(|entry| entry.name)
        .collect())
}

fn remove(repo_id: &str, force: bool) -> anyhow::Result<ExitCode> {
    let (paths, _settings) = super::load_environment()?;
    let hub_cache = cache::hub_cache_dir();
    let repo = cache::find_repo(&hub_cache, repo_id)?;
    let running = running_users(&paths, &repo)?;
    if !running.is_empty() {
        return Err(RemoveError::Running {
            repo_id: repo.repo_id,
            profiles: running,
        }
        .into());
    }
    let users: Vec<String> = saved_profiles(&paths)?
        .into_iter()
        .filter(|profile| cache::profile_uses_repo(&profile.model, &repo))
        .map(|profile| profile.name)
        .collect();
    if !users.is_empty() && !force {
        return Err(RemoveError::Referenced {
            repo_id: repo.repo_id,
            profiles: users,
        }
        .into());
    }
    cache::remove_repo(&hub_cache, &repo)?;
    println!(
        "removed {} ({}) from {}",
        repo.repo_id,
        human_size(repo.size_bytes),
        hub_cache.display()
    );
    if !users.is_empty() {
        eprintln!(
            "warning: profile(s) {} use {}; download it again before starting them",
            users.join(", "),
            repo.repo_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct SearchResult {
    #[serde(flatten)]
    model: HubModel,
    /// Already in the local Hugging Face cache.
    downloaded: bool,
}

fn search_hub(
    query: String,
    author: Option<String>,
    limit: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let endpoint = search::endpoint();
    let token = search::token();
    let request = SearchRequest {
        query,
        author,
        limit,
    };
    let hub_cache = cache::hub_cache_dir();
    let results: Vec<SearchResult> = search::search(&endpoint, token.as_deref(), &request)?
        .into_iter()
        .map(|model| SearchResult {
            downloaded: cache::is_cached(&hub_cache, &model.id),
            model,
        })
        .collect();
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&results)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    if results.is_empty() {
        println!("no MLX models on {endpoint} match `{}`", request.query);
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<[String; 5]> = results
        .iter()
        .map(|result| {
            [
                result.model.id.clone(),
                result.model.downloads.to_string(),
                result.model.likes.to_string(),
                result
                    .model
                    .size_bytes
                    .map(human_size)
                    .unwrap_or_else(|| "-".into()),
                if result.downloaded { "yes" } else { "-" }.to_string(),
            ]
        })
        .collect();
    emit(&format_table(
        &["MODEL", "DOWNLOADS", "LIKES", "SIZE", "DOWNLOADED"],
        &table,
    ))?;
    Ok(ExitCode::SUCCESS)
}
