//! The Hugging Face cache layout a pull writes, exactly as huggingface_hub (and hf-hub) do, so
//! every MLX server finds the model: `models--org--name/blobs/<etag>` holds each file's bytes
//! (`<etag>.incomplete` while downloading), `snapshots/<commit>/<path>` are relative symlinks to
//! the blobs, `refs/<revision>` names the commit a branch or tag resolved to, and
//! `<cache>/.locks/models--org--name/<etag>.lock` is the per-blob lock huggingface_hub also
//! takes, so two pulls (ours or Python's) never write one blob at once.

use std::fs::File;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::models::cache::repo_folder;

/// Paths of one repo in one cache.
#[derive(Debug, Clone)]
pub struct RepoLayout {
    cache: PathBuf,
    folder: PathBuf,
}

/// A held blob lock; released when dropped.
#[derive(Debug)]
pub struct BlobLock {
    _lock: Flock<File>,
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "the hub listed a file with an unsafe path `{0}` (absolute or with `..`); refusing to write it"
    )]
    UnsafePath(String),
    #[error("the hub gave a file an unusable etag `{0}`; refusing to use it as a file name")]
    UnsafeEtag(String),
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "another download is writing {path} right now (a second `models pull` of the same model, or huggingface_hub); wait for it to finish"
    )]
    Busy { path: PathBuf },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LayoutError {
    let path = path.to_path_buf();
    move |source| LayoutError::Io {
        action,
        path,
        source,
    }
}

impl RepoLayout {
    pub fn new(cache: &Path, repo_id: &str) -> RepoLayout {
        RepoLayout {
            cache: cache.to_path_buf(),
            folder: repo_folder(cache, repo_id),
        }
    }

    /// `<cache>/models--org--name`.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// `blobs/<etag>`.
    pub fn blob(&self, etag: &str) -> Result<PathBuf, LayoutError> {
        check_etag(etag)?;
        Ok(self.folder.join("blobs").join(etag))
    }

    /// `blobs/<etag>.incomplete`.
    pub fn partial(&self, etag: &str) -> Result<PathBuf, LayoutError> {
        check_etag(etag)?;
        Ok(self.folder.join("blobs").join(format!("{etag}.incomplete")))
    }

    /// `snapshots/<commit>`.
    pub fn snapshot(&self, commit: &str) -> Result<PathBuf, LayoutError> {
        check_etag(commit)?;
        Ok(self.folder.join("snapshots").join(commit))
    }

    /// `snapshots/<commit>/<path>`.
    pub fn pointer(&self, commit: &str, path_in_repo: &str) -> Result<PathBuf, LayoutError> {
        Ok(self.snapshot(commit)?.join(safe_relative(path_in_repo)?))
    }

    /// Take the lock for writing `etag`'s blob without waiting.
    pub fn lock_blob(&self, etag: &str) -> Result<BlobLock, LayoutError> {
        check_etag(etag)?;
        let dir = self
            .cache
            .join(".locks")
            .join(self.folder.file_name().unwrap_or_default());
        std::fs::create_dir_all(&dir).map_err(io_error("create the lock folder", &dir))?;
        let path = dir.join(format!("{etag}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error("open the lock file", &path))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(BlobLock { _lock: lock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(LayoutError::Busy { path }),
            Err((_, errno)) => Err(LayoutError::Io {
                action: "lock",
                path,
                source: io::Error::from(errno),
            }),
        }
    }

    /// Point `snapshots/<commit>/<path>` at `blobs/<etag>` with a relative symlink, replacing
    /// whatever was there.
    pub fn link(&self, commit: &str, path_in_repo: &str, etag: &str) -> Result<(), LayoutError> {
        let pointer = self.pointer(commit, path_in_repo)?;
        let parent = pointer.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io_error("create the snapshot folder", parent))?;
        let depth = safe_relative(path_in_repo)?.components().count() + 1;
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(etag);
        match std::fs::symlink_metadata(&pointer) {
            Ok(_) => std::fs::remove_file(&pointer)
                .map_err(io_error("replace the snapshot link", &pointer))?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_error("inspect the snapshot link", &pointer)(err)),
        }
        symlink(&target, &pointer).map_err(io_error("create the snapshot link", &pointer))
    }

    /// Whether `snapshots/<commit>/<path>` resolves to the complete blob `etag`.
    pub fn is_linked(&self, commit: &str, path_in_repo: &str, etag: &str) -> bool {
        let (Ok(pointer), Ok(blob)) = (self.pointer(commit, path_in_repo), self.blob(etag)) else {
            return false;
        };
        match (pointer.canonicalize(), blob.canonicalize()) {
            (Ok(resolved), Ok(blob)) => resolved == blob,
            _ => false,
        }
    }

    /// Write `refs/<revision>` = `commit` (skipped when the revision is the commit itself).
    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<(), LayoutError> {
        if revision == commit {
            return Ok(());
        }
        let path = self.folder.join("refs").join(safe_relative(revision)?);
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io_error("create the refs folder", parent))?;
        std::fs::write(&path, commit).map_err(io_error("write", &path))
    }

    /// Every `blobs/*.incomplete` file of this repo.
    pub fn partial_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.folder.join("blobs")) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "incomplete"))
            .collect()
    }

    /// Remove the partial files; then, when nothing complete is left (no snapshot and no blob),
    /// the repo folder itself. The number of partial files removed.
    pub fn remove_partials(&self) -> Result<usize, LayoutError> {
        let partials = self.partial_files();
        for path in &partials {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_error("remove the partial file", path)(err)),
            }
        }
        let blobs_left = std::fs::read_dir(self.folder.join("blobs"))
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        let snapshots_left = std::fs::read_dir(self.folder.join("snapshots"))
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        if !blobs_left && !snapshots_left && self.folder.exists() {
            std::fs::remove_dir_all(&self.folder)
                .map_err(io_error("remove the empty repo folder", &self.folder))?;
        }
        Ok(partials.len())
    }
}

/// A path inside the repo, refused when absolute or climbing out.
fn safe_relative(path_in_repo: &str) -> Result<PathBuf, LayoutError> {
    let path = Path::new(path_in_repo);
    let safe = !path_in_repo.is_empty()
        && path
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if safe {
        Ok(path.to_path_buf())
    } else {
        Err(LayoutError::UnsafePath(path_in_repo.to_string()))
    }
}

/// Etags and commits become file names: hex-ish characters only.
fn check_etag(etag: &str) -> Result<(), LayoutError> {
    let ok = !etag.is_empty()
        && etag.len() <= 128
        && etag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(LayoutError::UnsafeEtag(etag.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_and_resolve_to_the_blob() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = RepoLayout::new(dir.path(), "org/some--name");
        let etag = "a".repeat(64);
        let commit = "c".repeat(40);
        let blob = layout.blob(&etag).expect("blob");
        std::fs::create_dir_all(blob.parent().expect("parent")).expect("mkdir");
        std::fs::write(&blob, b"bytes").expect("write");
        layout
            .link(&commit, "sub/dir/file.bin", &etag)
            .expect("link");
        let pointer = layout
            .pointer(&commit, "sub/dir/file.bin")
            .expect("pointer");
        let target = std::fs::read_link(&pointer).expect("readlink");
        assert_eq!(target, Path::new("../../../../blobs").join(&etag));
        assert_eq!(std::fs::read(&pointer).expect("read"), b"bytes");
        assert!(layout.is_linked(&commit, "sub/dir/file.bin", &etag));
        assert!(
            layout.folder().ends_with("models--org--some--name"),
            "{}",
            layout.folder().display()
        );
    }

    #[test]
    fn unsafe_paths_and_etags_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = RepoLayout::new(dir.path(), "org/name");
        for path in ["../escape", "/abs", "a/../../b", ""] {
            assert!(
                matches!(
                    layout.pointer(&"c".repeat(40), path),
                    Err(LayoutError::UnsafePath(_))
                ),
                "{path}"
            );
        }
        assert!(matches!(
            layout.blob("../x"),
            Err(LayoutError::UnsafeEtag(_))
        ));
    }

    #[test]
    fn a_second_lock_on_the_same_blob_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = RepoLayout::new(dir.path(), "org/name");
        let held = layout.lock_blob("abc").expect("first lock");
        assert!(matches!(
            layout.lock_blob("abc"),
            Err(LayoutError::Busy { .. })
        ));
        drop(held);
        layout.lock_blob("abc").expect("lock again after release");
    }

    #[test]
    fn removing_partials_removes_an_otherwise_empty_repo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = RepoLayout::new(dir.path(), "org/name");
        let partial = layout.partial("abc").expect("partial");
        std::fs::create_dir_all(partial.parent().expect("parent")).expect("mkdir");
        std::fs::write(&partial, b"half").expect("write");
        assert_eq!(layout.remove_partials().expect("remove"), 1);
        assert!(!layout.folder().exists());
    }

    #[test]
    fn refs_are_written_for_branches_not_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = RepoLayout::new(dir.path(), "org/name");
        let commit = "c".repeat(40);
        layout.write_ref("main", &commit).expect("ref");
        layout.write_ref(&commit, &commit).expect("no ref");
        let refs = layout.folder().join("refs");
        assert_eq!(
            std::fs::read_to_string(refs.join("main")).expect("read"),
            commit
        );
        assert_eq!(std::fs::read_dir(&refs).expect("refs").count(), 1);
    }
}
