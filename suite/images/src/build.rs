//! One image build on the engine: the recipe's context as a tar through the
//! build API (classic builder), labelled, tagged with the cache tag. A
//! failure is one error naming the image, with the last lines of its log.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use bollard::models::BuildInfo;
use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptions};
use bollard::{body_full, Docker};
use futures_util::StreamExt;

use crate::recipe::Recipe;
use crate::tarball::tarball;

/// Label every built image carries: the image name (`fixture`, `refsup`).
pub const IMAGE_LABEL: &str = "io.lockcheck.image";

/// Label with the full hex SHA-256 of the image's context.
pub const CONTEXT_LABEL: &str = "io.lockcheck.context";

/// How many of the build log's last lines a failure reports.
const LOG_TAIL: usize = 20;

/// Builds `recipe` as `tag`; `no_cache`: ignore the engine's layer cache.
pub async fn build(docker: &Docker, recipe: &Recipe, tag: &str, no_cache: bool) -> Result<()> {
    let tar = tarball(recipe.entries())?;
    let labels = HashMap::from([
        (IMAGE_LABEL.to_string(), recipe.name().to_string()),
        (CONTEXT_LABEL.to_string(), recipe.digest().to_string()),
    ]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .labels(&labels)
        .rm(true)
        .forcerm(true)
        // No bridge endpoint for RUN steps: nothing is fetched, and some
        // engines (this machine's) have no docker0 bridge to attach to.
        .networkmode("none")
        .nocache(no_cache)
        .build();
    let mut log: Vec<String> = Vec::new();
    let stream = docker.build_image(options, None, Some(body_full(tar.into())));
    let outcome = match follow(stream, &mut log).await {
        Ok(()) if docker.inspect_image(tag).await.is_err() => {
            Err("the build finished without the image".to_string())
        }
        other => other,
    };
    if let Err(why) = outcome {
        remove_steps(docker, &log).await;
        return Err(failure(tag, &why, &log));
    }
    Ok(())
}

/// Read the build's output into `log` until it ends; `Err` with the
/// engine's reason if it failed.
async fn follow(
    mut stream: impl futures_util::Stream<Item = Result<BuildInfo, bollard::errors::Error>> + Unpin,
    log: &mut Vec<String>,
) -> Result<(), String> {
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| e.to_string())?;
        if let Some(text) = info.stream {
            log.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(String::from),
            );
        }
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            return Err(error);
        }
    }
    Ok(())
}

/// The images the classic builder made for the steps that succeeded (its
/// ` ---> <12 hex>` lines), last first.
fn step_images(log: &[String]) -> Vec<&str> {
    log.iter()
        .rev()
        .filter_map(|l| l.trim().strip_prefix("---> "))
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect()
}

/// After a failed build: remove the untagged images of its finished steps,
/// which nothing names and nothing would remove. One that a tagged image
/// builds on (a cached step) is refused by the engine and stays.
async fn remove_steps(docker: &Docker, log: &[String]) {
    for id in step_images(log) {
        let _ = docker
            .remove_image(id, None::<RemoveImageOptions>, None)
            .await;
    }
}

fn failure(tag: &str, why: &str, log: &[String]) -> anyhow::Error {
    let tail = &log[log.len().saturating_sub(LOG_TAIL)..];
    let mut message = format!("building image {tag} failed: {}", why.trim());
    if !tail.is_empty() {
        message.push_str("\nlast build output:\n");
        message.push_str(&tail.join("\n"));
    }
    anyhow!(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_images_are_read_from_the_builders_arrows_last_first() {
        let log: Vec<String> = [
            "Step 1/3 : FROM scratch",
            " --->",
            "Step 2/3 : COPY rootfs/ /",
            " ---> 5c967bae2af5",
            "Step 3/3 : RUN [\"/bin/x\"]",
            " ---> Running in 0123456789ab",
            " ---> Using cache",
            " ---> d2c5bc22e2c0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(step_images(&log), ["d2c5bc22e2c0", "5c967bae2af5"]);
    }
}
