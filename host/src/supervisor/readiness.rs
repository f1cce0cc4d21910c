//! Is the server really ready? Ready means it answered a real request: a one-token completion
//! (`POST /v1/completions`), not `/health` (which mlx_lm.server answers 200 while the model is
//! still loading, and 503 forever after a failed load). Then, while it runs, is it still
//! answering `/health`? Probes are async HTTP requests on the runtime (one shared client, no
//! proxy, no connection reuse), so a hundred servers' health checks take no blocking threads.

use std::sync::OnceLock;
use std::time::Duration;

/// What one probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A completion came back: the server can answer.
    Ready,
    /// Nothing is listening yet (connection refused).
    NotListening,
    /// Something answered, but not with a completion (status and a short body excerpt).
    NotReady(String),
}

/// Longest a single probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a health probe may take.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this much of a probe's answer is read.
const MAX_PROBE_BODY: usize = 64 * 1024;
const COMPLETION_REQUEST: &str = r#"{"prompt":"hi","max_tokens":1,"temperature":0}"#;

/// The client every probe uses. Probes go to a server on this machine: never through a proxy
/// (`HTTP_PROXY` would otherwise apply), and each on a fresh connection, as a server that
/// closes or hangs must not leave a pooled connection behind.
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .http1_only()
                // Plain HTTP only: do not load the system's certificate store.
                .tls_certs_only(Vec::new())
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|error| format!("cannot create the HTTP client for probes: {error}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Ask `http://host:port` for a one-token completion.
pub async fn probe_completion(host: &str, port: u16) -> Probe {
    let client = match client() {
        Ok(client) => client,
        Err(error) => return Probe::NotReady(error),
    };
    let sent = client
        .post(format!("http://{host}:{port}/v1/completions"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(COMPLETION_REQUEST)
        .timeout(PROBE_TIMEOUT)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = read_some(response).await;
            if status == 200 && body.contains("\"choices\"") {
                Probe::Ready
            } else {
                let excerpt: String = body.chars().take(200).collect();
                Probe::NotReady(format!("HTTP {status}: {excerpt}"))
            }
        }
        Err(error) if error.is_connect() => Probe::NotListening,
        Err(error) => Probe::NotReady(error.to_string()),
    }
}

/// Up to [`MAX_PROBE_BODY`] bytes of an answer, as text (empty if reading fails).
async fn read_some(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_PROBE_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_PROBE_BODY);
    String::from_utf8_lossy(&body).into_owned()
}

/// Is a ready server still answering? `GET /health` must say 200 (mlx_lm.server answers 503 once
/// its generation thread died); servers without `/health` are asked for `/v1/models` instead.
pub async fn probe_health(host: &str, port: u16) -> bool {
    let Ok(client) = client() else {
        return false;
    };
    let get = |path: &str| {
        client
            .get(format!("http://{host}:{port}{path}"))
            .timeout(HEALTH_TIMEOUT)
            .send()
    };
    match get("/health").await {
        Ok(response) if response.status().as_u16() == 404 => get("/v1/models")
            .await
            .is_ok_and(|response| response.status().is_success()),
        Ok(response) => response.status().is_success(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    /// A one-route-table HTTP server on a free loopback port: answers each request whose path
    /// starts with a key with that (status, body); anything else 404. `hang` paths never answer.
    async fn serve(routes: &'static [(&'static str, u16, &'static str)]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut request = vec![0u8; 4096];
                    let read = stream.read(&mut request).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&request[..read]).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let Some((_, status, body)) =
                        routes.iter().find(|(route, _, _)| path.starts_with(route))
                    else {
                        let _ = stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        return;
                    };
                    if *body == "hang" {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        port
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn a_completion_is_ready_anything_else_is_not() {
        assert_eq!(
            probe_completion("127.0.0.1", free_port()).await,
            Probe::NotListening
        );
        let ready = serve(&[("/v1/completions", 200, r#"{"choices":[{"text":"!"}]}"#)]).await;
        assert_eq!(probe_completion("127.0.0.1", ready).await, Probe::Ready);
        let loading = serve(&[("/v1/completions", 503, "loading")]).await;
        assert_eq!(
            probe_completion("127.0.0.1", loading).await,
            Probe::NotReady("HTTP 503: loading".into())
        );
        // A 200 that is not a completion (some other server on the port) is not ready.
        let other = serve(&[("/v1/completions", 200, "<html>hello</html>")]).await;
        assert!(matches!(
            probe_completion("127.0.0.1", other).await,
            Probe::NotReady(detail) if detail.starts_with("HTTP 200")
        ));
    }

    #[tokio::test]
    async fn health_uses_health_then_models_and_gives_up_on_a_hang() {
        assert!(!probe_health("127.0.0.1", free_port()).await);
        let healthy = serve(&[("/health", 200, "ok")]).await;
        assert!(probe_health("127.0.0.1", healthy).await);
        let failed = serve(&[("/health", 503, "dead")]).await;
        assert!(!probe_health("127.0.0.1", failed).await);
        let no_health = serve(&[("/v1/models", 200, "{}")]).await;
        assert!(probe_health("127.0.0.1", no_health).await);
        let hung = serve(&[("/health", 200, "hang")]).await;
        let started = std::time::Instant::now();
        assert!(!probe_health("127.0.0.1", hung).await);
        assert!(started.elapsed() < HEALTH_TIMEOUT + Duration::from_secs(2));
    }
}
