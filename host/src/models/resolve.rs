//! What the user's MODEL argument names: a local model folder, or a Hugging Face repo id that is
//! already in the local cache (`HF_HUB_CACHE`, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`, in the standard `models--org--name/snapshots/<rev>` layout).

use std::path::{Path, PathBuf};

/// A model that can be served without the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedModel {
    /// A folder on disk (canonical path).
    Local(PathBuf),
    /// A repo id found in the Hugging Face cache, with the snapshot folder it resolves to.
    Cached { repo_id: String, snapshot: PathBuf },
}

impl ResolvedModel {
    /// What to pass to the server as the model.
    pub fn server_argument(&self) -> String {
        match self {
            ResolvedModel::Local(path) => path.display().to_string(),
            ResolvedModel::Cached { repo_id, .. } => repo_id.clone(),
        }
    }

    /// The folder holding the checkpoint's files.
    pub fn folder(&self) -> &Path {
        match self {
            ResolvedModel::Local(path) => path,
            ResolvedModel::Cached { snapshot, .. } => snapshot,
        }
    }

    /// The repo id, when the model came from the cache.
    pub fn repo_id(&self) -> Option<&str> {
        match self {
            ResolvedModel::Local(_) => None,
            ResolvedModel::Cached { repo_id, .. } => Some(repo_id),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("model folder {0} does not exist")]
    MissingFolder(PathBuf),
    #[error("`{0}` is neither a model folder nor a Hugging Face repo id (org/name)")]
    NotAModel(String),
    #[error(
        "{repo_id} is not in the Hugging Face cache at {cache}; pull it with `mlx-host models pull {repo_id}`, or give a local folder"
    )]
    NotCached { repo_id: String, cache: PathBuf },
}

/// Resolve a MODEL argument.
pub fn resolve(argument: &str) -> Result<ResolvedModel, ResolveError> {
    let path = expand_home(argument);
    if path.is_dir() {
        let canonical = path.canonicalize().unwrap_or(path);
        return Ok(ResolvedModel::Local(canonical));
    }
    if looks_like_path(argument) {
        return Err(ResolveError::MissingFolder(path));
    }
    if !is_repo_id(argument) {
        return Err(ResolveError::NotAModel(argument.to_string()));
    }
    let cache = hub_cache_dir();
    match cached_snapshot(&cache, argument) {
        Some(snapshot) => Ok(ResolvedModel::Cached {
            repo_id: argument.to_string(),
            snapshot,
        }),
        None => Err(ResolveError::NotCached {
            repo_id: argument.to_string(),
            cache,
        }),
    }
}

fn expand_home(argument: &str) -> PathBuf {
    match (argument.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(argument),
    }
}

fn looks_like_path(argument: &str) -> bool {
    argument.starts_with('/')
        || argument.starts_with("./")
        || argument.starts_with("../")
        || argument.starts_with('~')
        || argument.matches('/').count() > 1
}

/// `org/name` with the characters the hub allows.
pub fn is_repo_id(text: &str) -> bool {
    let Some((org, name)) = text.split_once('/') else {
        return false;
    };
    let part_ok = |part: &str| {
        !part.is_empty()
            && part.len() <= 96
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !part.starts_with(['-', '.'])
            && !part.contains("..")
    };
    part_ok(org) && part_ok(name)
}

/// The hub cache folder, as huggingface_hub decides it.
pub fn hub_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("HF_HOME").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(home).join("hub");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/huggingface/hub")
}

/// The snapshot `refs/main` points at, or the only snapshot there is.
fn cached_snapshot(cache: &Path, repo_id: &str) -> Option<PathBuf> {
    let repo = cache.join(format!("models--{}", repo_id.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    if let Ok(commit) = std::fs::read_to_string(repo.join("refs/main")) {
        let folder = snapshots.join(commit.trim());
        if folder.is_dir() {
            return Some(folder);
        }
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    if folders.len() == 1 {
        folders.pop()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        assert!(is_repo_id("mlx-community/Qwen3-8B-4bit"));
        assert!(is_repo_id("org/name--with--dashes"));
        assert!(!is_repo_id("no-slash"));
        assert!(!is_repo_id("a/b/c"));
        assert!(!is_repo_id("org/../x"));
        assert!(!is_repo_id("/abs"));
    }

    #[test]
    fn local_folders_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let resolved = resolve(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(
            resolved,
            ResolvedModel::Local(dir.path().canonicalize().unwrap())
        );
        let missing = dir.path().join("nope");
        assert!(matches!(
            resolve(missing.to_str().unwrap()),
            Err(ResolveError::MissingFolder(_))
        ));
        assert!(matches!(
            resolve("not a model"),
            Err(ResolveError::NotAModel(_))
        ));
    }

    #[test]
    fn cached_snapshots_follow_refs_main() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("models--org--name--x");
        std::fs::create_dir_all(repo.join("snapshots/abc")).unwrap();
        std::fs::create_dir_all(repo.join("snapshots/def")).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "def\n").unwrap();
        assert_eq!(
            cached_snapshot(dir.path(), "org/name--x"),
            Some(repo.join("snapshots/def"))
        );
        assert_eq!(cached_snapshot(dir.path(), "org/other"), None);
    }
}
