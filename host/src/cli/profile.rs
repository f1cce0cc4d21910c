//! `mlx-host profile add|list|show|edit|rm`: saved server profiles in the state database. These
//! work without the daemon; `rm` of a profile whose server runs is refused unless `--stop`.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};

use crate::api::client::{Client, ClientError};
use crate::store::profiles::{parse_env_pair, parse_port};
use crate::store::{Profile, RestartPolicy, ServerKind, Store, StoreError, db_path};

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Save a new profile.
    Add(ProfileFields),
    /// List the profiles.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one profile.
    Show {
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a profile: only the options given change (extra arguments replace the old ones).
    Edit(ProfileFields),
    /// Remove a profile (refused while its server runs, unless --stop).
    Rm {
        name: String,
        /// Stop the profile's server first (needs the daemon).
        #[arg(long)]
        stop: bool,
    },
}

#[derive(Debug, Args)]
pub struct ProfileFields {
    /// The profile's name (lowercase letters, digits, - and _).
    name: String,
    /// A local model folder or a Hugging Face repo id (org/name). Required for `add`.
    #[arg(long)]
    model: Option<String>,
    /// mlx_lm, mlx-openai-server, mlx_vlm or command (then the extra arguments are the command;
    /// `{port}`, `{host}` and `{model}` in them are filled in).
    #[arg(long)]
    server: Option<String>,
    /// Port (default: a free port at each start).
    #[arg(long)]
    port: Option<String>,
    /// Address the server binds to (default 127.0.0.1).
    #[arg(long)]
    host: Option<String>,
    /// never, on-failure (default) or always.
    #[arg(long)]
    restart: Option<String>,
    /// Extra environment variables, KEY=VALUE (repeatable; replaces the old list on edit).
    #[arg(long = "env")]
    env: Vec<String>,
    /// Seconds the server may take to become ready (default 300).
    #[arg(long)]
    ready_timeout: Option<u32>,
    /// Do not download a --model repo id that is missing from the cache.
    #[arg(long)]
    no_pull: bool,
    /// Extra arguments for the server, after `--`.
    #[arg(last = true)]
    extra: Vec<String>,
}

fn open_store() -> anyhow::Result<Store> {
    let (paths, _) = super::load_environment()?;
    Store::open(&db_path(&paths.data_dir)).context("cannot open the state database")
}

pub fn run(command: ProfileCommand) -> anyhow::Result<ExitCode> {
    match command {
        ProfileCommand::Add(fields) => {
            let Some(model) = fields.model.clone() else {
                bail!("`profile add` needs --model (a local folder or a repo id)");
            };
            let no_pull = fields.no_pull;
            let mut profile = Profile::new(fields.name.clone(), absolute_model(&model));
            apply(&mut profile, fields)?;
            let warnings = profile.validate()?;
            let store = open_store()?;
            let saved = store.profiles().insert(&profile)?;
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            println!("added profile {}", saved.name);
            pull_if_missing(&saved.model, no_pull)
        }
        ProfileCommand::List { json } => {
            let profiles = open_store()?.profiles().list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&profiles)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<16} {:<18} {:<6} {:<11} MODEL",
                "NAME", "SERVER", "PORT", "RESTART"
            );
            for profile in profiles {
                println!(
                    "{:<16} {:<18} {:<6} {:<11} {}",
                    profile.name,
                    profile.server.as_str(),
                    profile
                        .port
                        .map(|port| port.to_string())
                        .unwrap_or_else(|| "auto".into()),
                    profile.restart.as_str(),
                    profile.model
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Show { name, json } => {
            let Some(profile) = open_store()?.profiles().get(&name)? else {
                bail!("no profile named `{name}`; `mlx-host profile list` shows them");
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&profile)?);
            } else {
                println!("name:          {}", profile.name);
                println!("model:         {}", profile.model);
                println!("server:        {}", profile.server.as_str());
                println!("host:          {}", profile.host);
                println!(
                    "port:          {}",
                    profile
                        .port
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "auto".into())
                );
                println!("restart:       {}", profile.restart.as_str());
                println!("ready timeout: {} s", profile.ready_timeout_secs);
                let keys: Vec<&str> = profile.env.iter().map(|(key, _)| key.as_str()).collect();
                println!(
                    "env:           {}",
                    if keys.is_empty() {
                        "-".to_string()
                    } else {
                        keys.join(", ")
                    }
                );
                println!("extra args:    {}", profile.extra_args.join(" "));
            }
            Ok(ExitCode::SUCCESS)
        }
        ProfileCommand::Edit(fields) => {
            let store = open_store()?;
            let Some(mut profile) = store.profiles().get(&fields.name)? else {
                bail!(
                    "no profile named `{}`; `mlx-host profile list` shows them",
                    fields.name
                );
            };
            let new_model = fields.model.is_some();
            let no_pull = fields.no_pull;
            if let Some(model) = &fields.model {
                profile.model = absolute_model(model);
            }
            apply(&mut profile, fields)?;
            let warnings = profile.validate()?;
            store.profiles().update(&profile)?;
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            println!("updated profile {}", profile.name);
            if new_model {
                pull_if_missing(&profile.model, no_pull)
            } else {
                Ok(ExitCode::SUCCESS)
            }
        }
        ProfileCommand::Rm { name, stop } => {
            if stop {
                let (paths, _) = super::load_environment()?;
                match Client::connect(&paths) {
                    Ok(client) => match client
                        .post::<serde_json::Value>(&format!("/v1/profiles/{name}/stop"))
                    {
                        Ok(_) | Err(ClientError::Api(_)) => {}
                        Err(error) => return Err(error.into()),
                    },
                    Err(ClientError::NotRunning) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            let store = open_store()?;
            let logs = store.profiles().delete(&name).map_err(|error| {
                let running = matches!(error, StoreError::ProfileRunning { .. });
                anyhow::anyhow!(
                    "{error}{}",
                    if running && !stop {
                        " (`--stop` stops it first)"
                    } else {
                        ""
                    }
                )
            })?;
            for log in logs {
                let _ = std::fs::remove_file(log);
            }
            println!("removed profile {name}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Local folders are stored as absolute paths so the daemon finds them from anywhere.
/// Download the profile's model when it is a repo id missing from the cache (the profile is
/// already saved, so a failed pull loses nothing).
fn pull_if_missing(model: &str, no_pull: bool) -> anyhow::Result<ExitCode> {
    let missing = crate::models::resolve::is_repo_id(model)
        && !std::path::Path::new(model).exists()
        && !crate::models::cache::is_cached(&crate::models::resolve::hub_cache_dir(), model);
    if !missing {
        return Ok(ExitCode::SUCCESS);
    }
    if no_pull {
        println!("{model} is not downloaded yet; `mlx-host models pull {model}` fetches it");
        return Ok(ExitCode::SUCCESS);
    }
    let (paths, settings) = super::load_environment()?;
    let runtime = super::async_runtime()?;
    let pulled = super::pull::pull_missing(&paths, settings, model, super::pull::PullFor::Daemon);
    match runtime.block_on(pulled) {
        Ok(outcome) => {
            println!("pulled {model} ({})", outcome.snapshot.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(error.context(format!(
            "the profile is saved, but {model} could not be downloaded; fix the cause and run `mlx-host models pull {model}`"
        ))),
    }
}

fn absolute_model(model: &str) -> String {
    let path = std::path::Path::new(model);
    if path.exists() {
        path.canonicalize()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|_| model.to_string())
    } else {
        model.to_string()
    }
}

fn apply(profile: &mut Profile, fields: ProfileFields) -> anyhow::Result<()> {
    if let Some(server) = &fields.server {
        profile.server = server.parse::<ServerKind>()?;
    }
    if let Some(port) = &fields.port {
        profile.port = if port == "auto" {
            None
        } else {
            Some(parse_port(port)?)
        };
    }
    if let Some(host) = fields.host {
        profile.host = host;
    }
    if let Some(restart) = &fields.restart {
        profile.restart = restart.parse::<RestartPolicy>()?;
    }
    if !fields.env.is_empty() {
        profile.env = fields
            .env
            .iter()
            .map(|pair| parse_env_pair(pair))
            .collect::<Result<_, _>>()?;
    }
    if let Some(timeout) = fields.ready_timeout {
        profile.ready_timeout_secs = timeout;
    }
    if !fields.extra.is_empty() {
        profile.extra_args = fields.extra;
    }
    Ok(())
}
