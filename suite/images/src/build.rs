//! One image build on the engine: the recipe's context as a tar through the
//! build API (classic builder), labelled, tagged with the cache tag. A
//! failure is one error naming the image, with the last lines of its log.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use bollard::query_parameters::BuildImageOptionsBuilder;
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
        // The RUN steps need no network, and a missing bridge cannot fail them.
        .networkmode("none")
        .build();
    let mut log: Vec<String> = Vec::new();
    let mut stream = docker.build_image(options, None, Some(body_full(tar.into())));
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream {
                    log.extend(
                        text.lines()
                            .filter(|l| !l.trim().is_empty())
                            .map(String::from),
                    );
                }
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    return Err(failure(tag, &error, &log));
                }
            }
            Err(e) => return Err(failure(tag, &e.to_string(), &log)),
        }
    }
    if docker.inspect_image(tag).await.is_err() {
        bail!(
            "{}",
            failure(tag, "the build finished without the image", &log)
        );
    }
    Ok(())
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
