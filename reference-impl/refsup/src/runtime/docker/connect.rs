//! Reaching the engine: `--engine URL` (`unix:///path` or `tcp://host:port`;
//! default `DOCKER_HOST`, else the local socket), API version negotiation
//! (bollard speaks a newer API than a 20.10 engine's 1.41) and a ping, so a
//! refsup without an engine fails at start with one line, not at the first
//! service.

use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

/// The local socket used when neither `--engine` nor `DOCKER_HOST` is set.
pub const DEFAULT_ENGINE: &str = "unix:///var/run/docker.sock";

/// Seconds any one engine call may take (a stop's own grace is added to
/// its call).
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// How long the start-up check waits for an engine that does not answer.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// The engine URL to use: `flag`, else `DOCKER_HOST`, else the local socket.
pub fn engine_url(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| DEFAULT_ENGINE.to_string())
}

/// Connect to `url`, negotiate the API version and ping. The error is the
/// reason alone (the caller says "no container engine at URL").
pub async fn connect(url: &str) -> Result<Docker, String> {
    let docker = client(url)?;
    let checked = async {
        let docker = docker.negotiate_version().await.map_err(|e| chain(&e))?;
        docker.ping().await.map_err(|e| chain(&e))?;
        Ok::<_, String>(docker)
    };
    tokio::time::timeout(PING_TIMEOUT, checked)
        .await
        .map_err(|_| format!("no answer within {PING_TIMEOUT:?}"))?
}

/// An error with its causes, `a: b: c` (hyper's own message alone is
/// only "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

/// A client for `url` (nothing is sent yet).
fn client(url: &str) -> Result<Docker, String> {
    if let Some(path) = url.strip_prefix("unix://") {
        if path.is_empty() {
            return Err("the unix:// URL has no socket path".into());
        }
        // bollard only checks that the path exists; say more when it is
        // there but not a socket or not ours to use.
        let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
        if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            return Err(format!("{path} is not a socket"));
        }
        return Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
            .map_err(|e| e.to_string());
    }
    if url.starts_with("tcp://") || url.starts_with("http://") {
        return Docker::connect_with_http(url, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
            .map_err(|e| e.to_string());
    }
    Err("unsupported engine URL (use unix:///path/to/docker.sock or tcp://host:port)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment() {
        assert_eq!(engine_url(Some("tcp://h:1")), "tcp://h:1");
    }

    #[tokio::test]
    async fn bad_urls_say_why() {
        let why = connect("ftp://x").await.unwrap_err();
        assert!(why.contains("unsupported engine URL"), "{why}");
        let why = connect("unix:///nonexistent/docker.sock")
            .await
            .unwrap_err();
        assert!(why.contains("/nonexistent/docker.sock"), "{why}");
        let why = connect("unix:///").await.unwrap_err();
        assert!(why.contains("not a socket"), "{why}");
    }
}
