//! One file of a pull: a ranged GET of the hub's `resolve` URL that resumes
//! `blobs/<etag>.incomplete` from where it stopped (after Ctrl-C, a dropped connection or a
//! crash), retries dropped connections from the last byte written, verifies what it wrote while
//! writing (sha256 for LFS files against their oid, the git blob sha1 for the rest, and the size
//! of both), and only then renames the partial file to its blob. hf-hub restarts partial files
//! from byte 0 and verifies nothing, which is why this part is ours.
//!
//! The network side runs on the async runtime (reqwest, with a stall timeout per chunk); writing
//! and hashing run on a blocking thread fed through a small bounded channel, so the two overlap.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lc_rs::digest;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, RANGE};
use tokio::sync::mpsc;

use super::layout::{LayoutError, RepoLayout};
use super::progress::{PullProgress, StopSignal};

/// A chunk may take this long to arrive before the connection counts as dropped.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Failed attempts in a row (without a byte of progress) before a file gives up.
const MAX_ATTEMPTS: u32 = 6;
/// Chunks in flight between the network and the writer.
const WRITE_QUEUE: usize = 32;
/// Read size when hashing an existing partial file.
const HASH_BUFFER: usize = 1 << 20;

/// How the bytes of a file are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// LFS files: the sha256 of the content (the hub's LFS oid and etag).
    Sha256(String),
    /// Other files: the git blob oid, sha1 of `blob <size>\0` + content (the hub's etag).
    GitBlob(String),
}

impl Expected {
    fn name(&self) -> &'static str {
        match self {
            Expected::Sha256(_) => "sha256",
            Expected::GitBlob(_) => "git blob sha1",
        }
    }

    fn hex(&self) -> &str {
        match self {
            Expected::Sha256(hex) | Expected::GitBlob(hex) => hex,
        }
    }
}

/// A file to fetch.
#[derive(Debug, Clone)]
pub struct RemoteFile {
    /// The path inside the repo.
    pub path: String,
    pub size: u64,
    /// The blob's name in the cache (the hub's etag).
    pub etag: String,
    pub expected: Expected,
    pub url: reqwest::Url,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(
        "{path}: the downloaded bytes do not match the hub's {kind} (expected {expected}, got {actual}); the damaged file was deleted. Run the pull again; if this repeats, the hub or a proxy between is serving corrupted data"
    )]
    Integrity {
        path: String,
        kind: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "{path}: the hub sent {got} bytes but listed the file as {expected} bytes; the partial file was deleted, run the pull again"
    )]
    Size {
        path: String,
        expected: u64,
        got: u64,
    },
    #[error("{path}: the hub answered HTTP {status}{hint}")]
    Status {
        path: String,
        status: u16,
        hint: &'static str,
    },
    #[error(
        "{path}: gave up after {attempts} attempts ({reason}); the partial file is kept, run the same command again to resume"
    )]
    Network {
        path: String,
        attempts: u32,
        reason: String,
    },
    #[error("stopped")]
    Stopped,
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{path}: could not {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
}

/// What fetching a file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The blob was already complete in the cache.
    AlreadyThere,
    /// Downloaded; `resumed_from` bytes were already in the partial file.
    Downloaded { resumed_from: u64 },
}

/// Everything a transfer needs besides the file.
pub struct TransferContext<'a> {
    pub client: &'a reqwest::Client,
    /// Sent only to the hub: reqwest drops `Authorization` on redirects to another host.
    pub token: Option<&'a str>,
    pub layout: &'a RepoLayout,
    pub progress: &'a PullProgress,
    pub stop: &'a StopSignal,
}

/// Fetch `file` into its blob, resuming and verifying (see the module doc).
pub async fn fetch(
    file: &RemoteFile,
    context: &TransferContext<'_>,
) -> Result<Fetched, TransferError> {
    let layout = context.layout;
    let blob = layout.blob(&file.etag)?;
    if blob_is_complete(&blob, file.size) {
        context.progress.add_bytes(file.size);
        return Ok(Fetched::AlreadyThere);
    }
    let _lock = layout.lock_blob(&file.etag)?;
    let partial_path = layout.partial(&file.etag)?;
    let mut partial = {
        let path = partial_path.clone();
        let expected = file.expected.clone();
        let size = file.size;
        blocking(&partial_path, move || Partial::open(&path, expected, size)).await??
    };
    let resumed_from = partial.len;
    context.progress.add_bytes(partial.len);

    let mut failures = 0;
    while partial.len < file.size {
        if context.stop.reason().is_some() {
            return Err(TransferError::Stopped);
        }
        let before = partial.len;
        let (returned, outcome) = attempt(file, partial, context).await?;
        partial = returned;
        match outcome {
            Ok(()) => {}
            Err(AttemptError::Fatal(error)) => return Err(error),
            Err(AttemptError::Retry(reason)) => {
                failures = if partial.len > before {
                    1
                } else {
                    failures + 1
                };
                tracing::warn!(file = %file.path, bytes = partial.len, %reason, "download interrupted; resuming");
                if failures >= MAX_ATTEMPTS {
                    return Err(TransferError::Network {
                        path: file.path.clone(),
                        attempts: failures,
                        reason,
                    });
                }
                let pause = Duration::from_millis(200u64 << failures.min(5));
                tokio::time::sleep(pause).await;
            }
        }
    }
    if partial.len > file.size {
        let got = partial.len;
        remove_quietly(&partial_path);
        context.progress.remove_bytes(got);
        return Err(TransferError::Size {
            path: file.path.clone(),
            expected: file.size,
            got,
        });
    }
    let actual = partial.verifier.finish();
    if actual != file.expected.hex() {
        remove_quietly(&partial_path);
        context.progress.remove_bytes(partial.len);
        return Err(TransferError::Integrity {
            path: file.path.clone(),
            kind: file.expected.name(),
            expected: file.expected.hex().to_string(),
            actual,
        });
    }
    let done = partial.file;
    let (from, to) = (partial_path.clone(), blob.clone());
    blocking(&partial_path, move || {
        done.sync_all()?;
        drop(done);
        std::fs::rename(&from, &to)
    })
    .await?
    .map_err(|source| TransferError::Io {
        path: blob,
        action: "move the verified download into place",
        source,
    })?;
    Ok(Fetched::Downloaded { resumed_from })
}

enum AttemptError {
    /// A dropped connection, a stall, a 5xx or 429: resume from the last byte written.
    Retry(String),
    Fatal(TransferError),
}

/// One GET from `partial.len` on. Always hands the partial file back.
async fn attempt(
    file: &RemoteFile,
    mut partial: Partial,
    context: &TransferContext<'_>,
) -> Result<(Partial, Result<(), AttemptError>), TransferError> {
    let mut request = context.client.get(file.url.clone());
    if partial.len > 0 {
        request = request.header(RANGE, format!("bytes={}-", partial.len));
    }
    if let Some(token) = context.token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Ok((partial, Err(AttemptError::Retry(describe(&error))))),
    };
    let status = response.status();
    match status {
        StatusCode::PARTIAL_CONTENT => {
            let start = response
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|value| value.to_str().ok())
                .and_then(content_range_start);
            if start != Some(partial.len) {
                partial = restart(partial, context.progress).await?;
                return Ok((
                    partial,
                    Err(AttemptError::Retry(format!(
                        "the hub answered a range request with another range ({start:?})"
                    ))),
                ));
            }
        }
        StatusCode::OK => {
            if partial.len > 0 {
                // The server ignored the range: start over.
                partial = restart(partial, context.progress).await?;
            }
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            partial = restart(partial, context.progress).await?;
            return Ok((
                partial,
                Err(AttemptError::Retry(
                    "range not satisfiable; restarting the file".into(),
                )),
            ));
        }
        status if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
            return Ok((
                partial,
                Err(AttemptError::Retry(format!("HTTP {}", status.as_u16()))),
            ));
        }
        status => {
            let hint = match status.as_u16() {
                401 | 403 => {
                    "; the model is private or gated: accept its terms on the hub and set HF_TOKEN (or `hf auth login`)"
                }
                404 => {
                    "; the file is gone from that revision, run the pull again to list it afresh"
                }
                _ => "",
            };
            return Ok((
                partial,
                Err(AttemptError::Fatal(TransferError::Status {
                    path: file.path.clone(),
                    status: status.as_u16(),
                    hint,
                })),
            ));
        }
    }

    let (sender, mut receiver) = mpsc::channel::<bytes::Bytes>(WRITE_QUEUE);
    let writer = tokio::task::spawn_blocking(move || {
        let mut result = Ok(());
        while let Some(chunk) = receiver.blocking_recv() {
            if let Err(error) = partial.append(&chunk) {
                result = Err(error);
                break;
            }
        }
        (partial, result)
    });
    let mut response = response;
    let mut outcome = Ok(());
    loop {
        if context.stop.reason().is_some() {
            outcome = Err(AttemptError::Fatal(TransferError::Stopped));
            break;
        }
        match tokio::time::timeout(STALL_TIMEOUT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let length = chunk.len() as u64;
                if sender.send(chunk).await.is_err() {
                    break; // the writer failed; its error is below
                }
                context.progress.add_bytes(length);
            }
            Ok(Ok(None)) => break,
            Ok(Err(error)) => {
                outcome = Err(AttemptError::Retry(describe(&error)));
                break;
            }
            Err(_) => {
                outcome = Err(AttemptError::Retry(format!(
                    "no data for {} s",
                    STALL_TIMEOUT.as_secs()
                )));
                break;
            }
        }
    }
    drop(sender);
    let (partial, written) = writer.await.map_err(|error| TransferError::Io {
        path: PathBuf::from(&file.path),
        action: "write the download",
        source: io::Error::other(error.to_string()),
    })?;
    written.map_err(|source| TransferError::Io {
        path: PathBuf::from(&file.path),
        action: "write the download",
        source,
    })?;
    if outcome.is_ok() && partial.len < file.size {
        outcome = Err(AttemptError::Retry(format!(
            "the connection closed after {} of {} bytes",
            partial.len, file.size
        )));
    }
    Ok((partial, outcome))
}

/// Empty the partial file and forget its bytes.
async fn restart(partial: Partial, progress: &PullProgress) -> Result<Partial, TransferError> {
    progress.remove_bytes(partial.len);
    let path = partial.path.clone();
    blocking(&path, move || {
        let mut partial = partial;
        partial.truncate()?;
        Ok(partial)
    })
    .await?
}

/// A partial file being written, with the hash of everything in it so far.
struct Partial {
    path: PathBuf,
    file: File,
    len: u64,
    verifier: Verifier,
    expected: Expected,
    size: u64,
}

impl Partial {
    /// Open (or create) the partial file and hash what it already holds.
    fn open(path: &Path, expected: Expected, size: u64) -> Result<Partial, TransferError> {
        let io_error = |action: &'static str| {
            let path = path.to_path_buf();
            move |source| TransferError::Io {
                path,
                action,
                source,
            }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_error("create the blobs folder"))?;
        }
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_error("open the partial file"))?;
        let mut len = file
            .metadata()
            .map_err(io_error("inspect the partial file"))?
            .len();
        let mut verifier = Verifier::new(&expected, size);
        if len > size {
            file.set_len(0)
                .map_err(io_error("truncate the partial file"))?;
            len = 0;
        }
        let mut buffer = vec![0u8; HASH_BUFFER];
        let mut hashed = 0u64;
        while hashed < len {
            let read = file
                .read(&mut buffer)
                .map_err(io_error("read the partial file"))?;
            if read == 0 {
                break;
            }
            verifier.update(&buffer[..read]);
            hashed += read as u64;
        }
        file.seek(SeekFrom::Start(hashed))
            .map_err(io_error("seek in the partial file"))?;
        Ok(Partial {
            path: path.to_path_buf(),
            file,
            len: hashed,
            verifier,
            expected,
            size,
        })
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.verifier.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn truncate(&mut self) -> Result<(), TransferError> {
        let io_error = |source| TransferError::Io {
            path: self.path.clone(),
            action: "truncate the partial file",
            source,
        };
        self.file.set_len(0).map_err(io_error)?;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|source| TransferError::Io {
                path: self.path.clone(),
                action: "seek in the partial file",
                source,
            })?;
        self.len = 0;
        self.verifier = Verifier::new(&self.expected, self.size);
        Ok(())
    }
}

/// The running hash a file is checked with. aws-lc's digests (the TLS stack's, already in the
/// binary) run at the speed of OpenSSL's assembly, about a third faster than the `sha2` crate
/// here; a pull hashes every byte it writes, so this is most of its CPU time.
struct Verifier(digest::Context);

impl Verifier {
    fn new(expected: &Expected, size: u64) -> Verifier {
        match expected {
            Expected::Sha256(_) => Verifier(digest::Context::new(&digest::SHA256)),
            Expected::GitBlob(_) => {
                let mut context = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
                context.update(format!("blob {size}\0").as_bytes());
                Verifier(context)
            }
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(self) -> String {
        hex::encode(self.0.finish())
    }
}

fn blob_is_complete(blob: &Path, size: u64) -> bool {
    std::fs::metadata(blob).is_ok_and(|meta| meta.is_file() && meta.len() == size)
}

fn remove_quietly(path: &Path) {
    if let Err(error) = std::fs::remove_file(path)
        && error.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "could not remove a damaged partial file");
    }
}

/// `bytes A-B/N` → A.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes ")?;
    range.split(['-', '/']).next()?.trim().parse().ok()
}

/// A reqwest error with its URL cut down to the host (a CDN URL can carry a signed query).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), url.host_str().unwrap_or("the hub"));
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Run blocking work on `path` off the async runtime.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TransferError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| TransferError::Io {
            path: path.to_path_buf(),
            action: "finish its file work",
            source: io::Error::other(error.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_hash_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        let content = b"hello\n";
        let mut verifier = Verifier::new(&Expected::GitBlob(String::new()), content.len() as u64);
        verifier.update(content);
        assert_eq!(
            verifier.finish(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        // FIPS 180-2, appendix B.1, fed in two pieces as a transfer would.
        let mut verifier = Verifier::new(&Expected::Sha256(String::new()), 3);
        verifier.update(b"a");
        verifier.update(b"bc");
        assert_eq!(
            verifier.finish(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn resuming_hashes_the_bytes_already_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("blob.incomplete");
        let content = b"0123456789abcdef";
        let expected = Expected::Sha256(hex::encode(digest::digest(&digest::SHA256, content)));
        std::fs::write(&path, &content[..6]).expect("write");
        let mut partial =
            Partial::open(&path, expected.clone(), content.len() as u64).expect("open");
        assert_eq!(partial.len, 6);
        partial.append(&content[6..]).expect("append");
        assert_eq!(partial.verifier.finish(), expected.hex());
        assert_eq!(std::fs::read(&path).expect("read"), content);
    }

    #[test]
    fn a_partial_file_longer_than_the_file_starts_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("blob.incomplete");
        std::fs::write(&path, b"far too long").expect("write");
        let partial = Partial::open(&path, Expected::Sha256(String::new()), 4).expect("open");
        assert_eq!(partial.len, 0);
    }

    #[test]
    fn content_range_start_parses() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes */200"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }
}
