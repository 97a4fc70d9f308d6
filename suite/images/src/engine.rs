//! Reaching a container engine: which address, and whether it answers.

use std::time::Duration;

use anyhow::{anyhow, Result};
use bollard::Docker;

/// How long connecting (version negotiation plus one ping) may take before
/// the engine counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine address used when none is given: `DOCKER_HOST`, else the local
/// socket `unix:///var/run/docker.sock`.
pub fn default_url() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// Connects to `url` (`unix://...`, `tcp://...`; `None`: [`default_url`]),
/// negotiates the API version and pings it. Returns the client and the
/// address it reached; the error is one line, "no container engine at URL:
/// why".
pub async fn connect(url: Option<&str>) -> Result<(Docker, String)> {
    let url = url.map(str::to_string).unwrap_or_else(default_url);
    let attempt = async {
        let docker = Docker::connect_with_host(&url)?;
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        Ok::<_, bollard::errors::Error>(docker)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(docker)) => Ok((docker, url)),
        Ok(Err(e)) => Err(anyhow!("no container engine at {url}: {e}")),
        Err(_) => Err(anyhow!(
            "no container engine at {url}: no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// Whether an engine answers at `url` (`None`: [`default_url`]).
pub async fn engine_available(url: Option<&str>) -> bool {
    connect(url).await.is_ok()
}
