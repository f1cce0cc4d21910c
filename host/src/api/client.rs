//! The CLI's client for the daemon's control API: finds the daemon through its runtime file and
//! authenticates with the token in it. Blocking (the CLI has no async runtime of its own).

use std::io::BufRead as _;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::runtime_file::{DaemonInfo, read, runtime_file};
use crate::paths::Paths;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "the mlx-host daemon is not running; start it with `mlx-host serve` (in another terminal, or in the background)"
    )]
    NotRunning,
    #[error("{0}")]
    Api(String),
    #[error("talking to the daemon at {address} failed: {message}")]
    Transport { address: String, message: String },
}

pub struct Client {
    info: DaemonInfo,
    agent: ureq::Agent,
}

impl Client {
    /// Find the running daemon.
    pub fn connect(paths: &Paths) -> Result<Client, ClientError> {
        let info = read(&runtime_file(paths)).ok_or(ClientError::NotRunning)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { info, agent })
    }

    pub fn info(&self) -> &DaemonInfo {
        &self.info
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.info.address)
    }

    fn transport(&self, error: ureq::Error) -> ClientError {
        match error {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed => ClientError::NotRunning,
            other => ClientError::Transport {
                address: self.info.address.clone(),
                message: other.to_string(),
            },
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<T, ClientError> {
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|error| self.transport(error))?;
        if !status.is_success() {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|value| {
                    value
                        .get("error")
                        .and_then(|e| e.as_str())
                        .map(String::from)
                })
                .unwrap_or_else(|| format!("the daemon answered HTTP {status}"));
            return Err(ClientError::Api(message));
        }
        serde_json::from_str(&body).map_err(|error| ClientError::Transport {
            address: self.info.address.clone(),
            message: format!("unexpected answer: {error}"),
        })
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self
            .agent
            .get(&self.url(path))
            .header("authorization", &format!("Bearer {}", self.info.token))
            .call()
            .map_err(|error| self.transport(error))?;
        self.decode(response)
    }

    pub fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self
            .agent
            .post(&self.url(path))
            .header("authorization", &format!("Bearer {}", self.info.token))
            .send_empty()
            .map_err(|error| self.transport(error))?;
        self.decode(response)
    }

    /// POST a JSON body.
    pub fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let response = self
            .agent
            .post(&self.url(path))
            .header("authorization", &format!("Bearer {}", self.info.token))
            .header("content-type", "application/json")
            .send(
                serde_json::to_vec(body).map_err(|error| ClientError::Transport {
                    address: self.info.address.clone(),
                    message: format!("cannot encode the request: {error}"),
                })?,
            )
            .map_err(|error| self.transport(error))?;
        self.decode(response)
    }

    /// Follow the live event stream, calling `each` with every event's JSON until it returns
    /// false or the daemon goes away.
    pub fn follow_events(
        &self,
        mut each: impl FnMut(serde_json::Value) -> bool,
    ) -> Result<(), ClientError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(&self.url("/v1/events/stream"))
            .header("authorization", &format!("Bearer {}", self.info.token))
            .call()
            .map_err(|error| self.transport(error))?;
        let reader = std::io::BufReader::new(response.body_mut().as_reader());
        for line in reader.lines() {
            let Ok(line) = line else {
                break;
            };
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(value) = serde_json::from_str::<serde_json::Value>(data.trim())
                && !each(value)
            {
                break;
            }
        }
        Ok(())
    }
}
