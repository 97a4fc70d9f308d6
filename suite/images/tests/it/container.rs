//! Running one command in a throwaway container and collecting its output;
//! the container is removed when its guard drops, also when a test fails.

use anyhow::{Context, Result};
use bollard::container::LogOutput;
use bollard::errors::Error;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{LogsOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use lockcheck_images::Images;

/// Label on every container these tests create.
const TEST_LABEL: &str = "io.lockcheck.test";

/// What a container did.
#[derive(Debug)]
pub struct Ran {
    /// Its exit code.
    pub code: i64,
    /// Its stdout and stderr, interleaved.
    pub output: String,
}

/// Removes its container (forced) when dropped.
struct Guard {
    url: String,
    id: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let (url, id) = (self.url.clone(), self.id.clone());
        // A fresh runtime and connection on a thread of its own: the test's
        // runtime may be the one dropping us, or already panicking.
        let removal = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let docker = Docker::connect_with_host(&url)?.negotiate_version().await?;
                let options = RemoveContainerOptionsBuilder::default().force(true).build();
                docker.remove_container(&id, Some(options)).await?;
                Ok::<_, anyhow::Error>(())
            })
        });
        if let Ok(Err(e)) = removal.join() {
            eprintln!("cannot remove test container {}: {e:#}", self.id);
        }
    }
}

/// Runs `cmd` (after the image's entrypoint, if any) in a container of
/// `image` as `user` (`None`: the image's), to its end.
pub async fn run(images: &Images, image: &str, user: Option<&str>, cmd: &[&str]) -> Result<Ran> {
    let docker = images.docker();
    let config = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        user: user.map(str::to_string),
        labels: Some([(TEST_LABEL.to_string(), "lockcheck-images".to_string())].into()),
        host_config: Some(HostConfig {
            network_mode: Some("none".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker
        .create_container(None, config)
        .await
        .with_context(|| format!("cannot create a container of {image}"))?
        .id;
    let _guard = Guard {
        url: images.url().to_string(),
        id: id.clone(),
    };
    docker
        .start_container(&id, None)
        .await
        .context("cannot start the container")?;
    let code = match docker.wait_container(&id, None).next().await {
        Some(Ok(done)) => done.status_code,
        Some(Err(Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(e).context("cannot wait for the container"),
        None => anyhow::bail!("the engine said nothing about the container's end"),
    };
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = docker.logs(&id, Some(options));
    let mut output = String::new();
    while let Some(chunk) = logs.next().await {
        match chunk.context("cannot read the container's log")? {
            LogOutput::StdOut { message }
            | LogOutput::StdErr { message }
            | LogOutput::Console { message } => output.push_str(&String::from_utf8_lossy(&message)),
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok(Ran { code, output })
}

/// [`run`], failing unless the command exits 0.
pub async fn run_ok(
    images: &Images,
    image: &str,
    user: Option<&str>,
    cmd: &[&str],
) -> Result<String> {
    let ran = run(images, image, user, cmd).await?;
    anyhow::ensure!(
        ran.code == 0,
        "{cmd:?} in {image} exited {}:\n{}",
        ran.code,
        ran.output
    );
    Ok(ran.output)
}
