//! What a pull asks the hub, through hf-hub: the commit a revision resolves to
//! (`GET /api/models/{id}/revision/{rev}`), the files at that commit (`GET .../tree/{commit}`,
//! recursive, paged by `Link`), and for LFS files the etag their blob is named by (a `HEAD` of
//! the resolve URL; hf-hub's tree listing leaves `lfs.sha256` empty). The endpoint is
//! `HF_ENDPOINT` and the token `HF_TOKEN` or the standard token file, as in huggingface_hub;
//! the token never appears in an error.

use std::time::Duration;

use futures_util::StreamExt as _;
use hf_hub::repository::{HFRepository, RepoTreeEntry, RepoTypeModel};
use hf_hub::{HFClient, HFError};

use super::transfer::{Expected, RemoteFile};
use crate::models::search::{endpoint, token_file};

/// How long connecting to the hub may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most files a repo may list (a bound on memory for a hostile or broken hub).
const MAX_FILES: usize = 100_000;
/// HEAD requests in flight at once.
const PARALLEL_HEADS: usize = 8;

/// A listed file: path, size, git oid, whether it is stored in LFS.
type ListedFile = (String, u64, String, bool);

/// The hub endpoint and credentials a pull uses.
#[derive(Clone)]
pub struct Hub {
    pub endpoint: String,
    token: Option<String>,
    client: HFClient,
    http: reqwest::Client,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// The files of one commit.
#[derive(Debug, Clone)]
pub struct RemoteRepo {
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "HF_HUB_OFFLINE is set, so nothing can be downloaded; unset it to pull, or use models already in the cache (`mlx-host models list`)"
    )]
    Offline,
    #[error(
        "HF_ENDPOINT `{endpoint}` is not a URL ({reason}); set it to the hub's address, for example https://huggingface.co"
    )]
    BadEndpoint { endpoint: String, reason: String },
    #[error(
        "{repo} was not found at {endpoint}; check the spelling (`mlx-host models search`), or if it is private or gated set HF_TOKEN"
    )]
    RepoNotFound { repo: String, endpoint: String },
    #[error(
        "{repo} has no revision `{revision}` at {endpoint}; give a branch, tag or commit that exists"
    )]
    RevisionNotFound {
        repo: String,
        revision: String,
        endpoint: String,
    },
    #[error(
        "{endpoint} refused access to {repo}: the model is private or gated. Accept its terms on the hub, then set HF_TOKEN or write the token to {token_file}"
    )]
    NeedsToken {
        repo: String,
        endpoint: String,
        token_file: String,
    },
    #[error(
        "{endpoint} rejected the token for {repo} (from HF_TOKEN or {token_file}); check that it is valid and may read this repo"
    )]
    BadToken {
        repo: String,
        endpoint: String,
        token_file: String,
    },
    #[error(
        "could not reach the hub at {endpoint} ({reason}); check the network or HF_ENDPOINT. Models already in the cache still work offline"
    )]
    Unreachable { endpoint: String, reason: String },
    #[error("the hub at {endpoint} answered oddly for {repo}: {reason}")]
    Malformed {
        repo: String,
        endpoint: String,
        reason: String,
    },
    #[error("{repo} lists more than {MAX_FILES} files; mlx-host refuses to pull it")]
    TooManyFiles { repo: String },
}

impl Hub {
    /// The hub from the environment.
    pub fn from_env() -> Result<Hub, HubError> {
        let offline = std::env::var("HF_HUB_OFFLINE")
            .is_ok_and(|value| matches!(value.trim(), "1" | "true" | "TRUE" | "yes" | "ON" | "on"));
        if offline {
            return Err(HubError::Offline);
        }
        Hub::new(endpoint(), crate::models::search::token())
    }

    pub fn new(endpoint: String, token: Option<String>) -> Result<Hub, HubError> {
        let bad_endpoint = |reason: String| HubError::BadEndpoint {
            endpoint: endpoint.clone(),
            reason,
        };
        reqwest::Url::parse(&endpoint).map_err(|error| bad_endpoint(error.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("mlx-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| bad_endpoint(error.without_url().to_string()))?;
        let mut builder = HFClient::builder()
            .endpoint(endpoint.clone())
            .client(http.clone())
            .retry_max_attempts(3)
            .retry_base_delay(Duration::from_millis(200));
        if let Some(token) = &token {
            builder = builder.token(token.clone());
        }
        let client = builder
            .build()
            .map_err(|error| bad_endpoint(error.to_string()))?;
        Ok(Hub {
            endpoint,
            token,
            client,
            http,
        })
    }

    /// The HTTP client file transfers use.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Resolve `revision` and list the files to fetch.
    pub async fn remote_repo(&self, repo_id: &str, revision: &str) -> Result<RemoteRepo, HubError> {
        let (owner, name) = repo_id.split_once('/').unwrap_or(("", repo_id));
        let repo = self.client.model(owner, name);
        let info = match repo.info().revision(revision.to_string()).send().await {
            Ok(info) => info,
            // hf-hub reports any 404 of a revision lookup as a missing revision; tell a missing
            // repo apart so the message points at the right mistake.
            Err(HFError::RevisionNotFound { .. })
                if !repo.exists().send().await.unwrap_or(true) =>
            {
                return Err(HubError::RepoNotFound {
                    repo: repo_id.to_string(),
                    endpoint: self.endpoint.clone(),
                });
            }
            Err(error) => return Err(self.classify(error, repo_id, revision)),
        };
        let commit = info
            .sha
            .filter(|sha| sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.malformed(repo_id, "the model info has no commit sha"))?;

        let mut entries = Vec::new();
        {
            let stream = repo
                .list_tree()
                .revision(commit.clone())
                .recursive(true)
                .send()
                .map_err(|error| self.classify(error, repo_id, revision))?;
            futures_util::pin_mut!(stream);
            while let Some(entry) = stream.next().await {
                let entry = entry.map_err(|error| self.classify(error, repo_id, revision))?;
                if let RepoTreeEntry::File {
                    oid,
                    size,
                    path,
                    lfs,
                    ..
                } = entry
                {
                    if entries.len() >= MAX_FILES {
                        return Err(HubError::TooManyFiles {
                            repo: repo_id.to_string(),
                        });
                    }
                    entries.push((path, size, oid, lfs.is_some()));
                }
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));

        // LFS blobs are named by their sha256, which the tree listing leaves out: HEAD them.
        // Futures made up front: a stream holding the closure trips rustc's higher-ranked
        // lifetime check for `Send` (rust-lang/rust#102211).
        let pending: Vec<_> = entries
            .into_iter()
            .map(|entry| self.remote_file(&repo, repo_id, revision, &commit, entry))
            .collect();
        let heads = futures_util::stream::iter(pending)
            .buffered(PARALLEL_HEADS)
            .collect::<Vec<Result<RemoteFile, HubError>>>()
            .await;
        let files = heads.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(RemoteRepo { commit, files })
    }

    /// One listed file, with the etag its blob is named by.
    async fn remote_file(
        &self,
        repo: &HFRepository<RepoTypeModel>,
        repo_id: &str,
        revision: &str,
        commit: &str,
        (path, size, oid, lfs): ListedFile,
    ) -> Result<RemoteFile, HubError> {
        let (etag, expected) = if lfs {
            let meta = repo
                .get_file_metadata()
                .filepath(path.clone())
                .revision(commit)
                .send()
                .await
                .map_err(|error| self.classify(error, repo_id, revision))?;
            let sha256 = meta.etag.to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(self.malformed(
                    repo_id,
                    &format!("{path} is an LFS file but its etag is not a sha256"),
                ));
            }
            (sha256.clone(), Expected::Sha256(sha256))
        } else {
            let oid = oid.to_ascii_lowercase();
            (oid.clone(), Expected::GitBlob(oid))
        };
        let url = self.resolve_url(repo_id, commit, &path)?;
        Ok(RemoteFile {
            path,
            size,
            etag,
            expected,
            url,
        })
    }

    /// `{endpoint}/{org}/{name}/resolve/{commit}/{path}`, every segment percent-encoded.
    fn resolve_url(
        &self,
        repo_id: &str,
        commit: &str,
        path: &str,
    ) -> Result<reqwest::Url, HubError> {
        let mut url =
            reqwest::Url::parse(&self.endpoint).map_err(|error| HubError::BadEndpoint {
                endpoint: self.endpoint.clone(),
                reason: error.to_string(),
            })?;
        url.path_segments_mut()
            .map_err(|()| HubError::BadEndpoint {
                endpoint: self.endpoint.clone(),
                reason: "it cannot have a path".into(),
            })?
            .pop_if_empty()
            .extend(repo_id.split('/'))
            .push("resolve")
            .push(commit)
            .extend(path.split('/'));
        Ok(url)
    }

    fn malformed(&self, repo_id: &str, reason: &str) -> HubError {
        HubError::Malformed {
            repo: repo_id.to_string(),
            endpoint: self.endpoint.clone(),
            reason: reason.to_string(),
        }
    }

    fn classify(&self, error: HFError, repo_id: &str, revision: &str) -> HubError {
        let repo = repo_id.to_string();
        let endpoint = self.endpoint.clone();
        let token_file = token_file().display().to_string();
        match error {
            HFError::RepoNotFound { .. } => HubError::RepoNotFound { repo, endpoint },
            HFError::RevisionNotFound { .. } => HubError::RevisionNotFound {
                repo,
                revision: revision.to_string(),
                endpoint,
            },
            HFError::AuthRequired { .. } | HFError::Forbidden { .. } if self.token.is_some() => {
                HubError::BadToken {
                    repo,
                    endpoint,
                    token_file,
                }
            }
            HFError::AuthRequired { .. } | HFError::Forbidden { .. } => HubError::NeedsToken {
                repo,
                endpoint,
                token_file,
            },
            HFError::Request { source, .. } => {
                let source = source.without_url();
                let mut reason = source.to_string();
                let mut cause = std::error::Error::source(&source);
                while let Some(inner) = cause {
                    reason.push_str(": ");
                    reason.push_str(&inner.to_string());
                    cause = inner.source();
                }
                HubError::Unreachable { endpoint, reason }
            }
            other => HubError::Malformed {
                repo,
                endpoint,
                reason: scrub(&other.to_string(), self.token.as_deref()),
            },
        }
    }
}

/// Remove the token from text that came from elsewhere, should it ever contain it.
fn scrub(text: &str, token: Option<&str>) -> String {
    match token {
        Some(token) if !token.is_empty() => text.replace(token, "<token>"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_urls_encode_each_segment() {
        let hub = Hub::new("http://127.0.0.1:9/prefix/".into(), None).expect("hub");
        let url = hub
            .resolve_url("org/some--name", &"c".repeat(40), "sub dir/a#b.json")
            .expect("url");
        assert_eq!(
            url.as_str(),
            format!(
                "http://127.0.0.1:9/prefix/org/some--name/resolve/{}/sub%20dir/a%23b.json",
                "c".repeat(40)
            )
        );
    }

    #[test]
    fn a_bad_endpoint_is_refused_with_a_hint() {
        let error = Hub::new("not a url".into(), None).expect_err("bad endpoint");
        assert!(error.to_string().contains("HF_ENDPOINT"), "{error}");
    }

    #[test]
    fn the_token_is_never_printed() {
        let hub = Hub::new("http://127.0.0.1:9".into(), Some("hf_secret".into())).expect("hub");
        assert!(!format!("{hub:?}").contains("hf_secret"));
        assert_eq!(scrub("x hf_secret y", Some("hf_secret")), "x <token> y");
    }
}
