//! Reaping what killed runs left on an engine: containers labelled with a
//! run that no longer exists, and per-cell image tags named after one.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};
use lockcheck_reaper::Owner;

use super::cell::remove_containers;
use super::{labels, Engine};

/// What [`reap_dead_runs`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    /// Containers removed.
    pub containers: usize,
    /// Image tags removed.
    pub tags: usize,
}

/// The run a per-cell tag `lockcheck-cell-<pid>-<start>-<n>:latest` names.
pub fn tag_owner(tag: &str) -> Option<Owner> {
    let rest = tag.strip_prefix(labels::CELL_TAG_PREFIX)?;
    let mut parts = rest.split(['-', ':']);
    Some(Owner {
        pid: parts.next()?.parse().ok()?,
        start_time: parts.next()?.parse().ok()?,
    })
}

/// Remove every container whose run label names a dead run, and every
/// per-cell tag of a dead run. Live runs (another lockcheck at work) are
/// left alone.
pub fn reap_dead_runs(engine: &Engine) -> Reaped {
    engine.block_on(async {
        let mut reaped = Reaped::default();
        let filters = HashMap::from([("label", vec![labels::RUN])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = engine
            .docker()
            .list_containers(Some(opts))
            .await
            .unwrap_or_default();
        let dead: Vec<String> = list
            .into_iter()
            .filter(|c| {
                let run = c.labels.as_ref().and_then(|l| l.get(labels::RUN));
                run.and_then(|r| Owner::parse(r))
                    .is_some_and(|o| !o.is_alive())
            })
            .filter_map(|c| c.id)
            .collect();
        remove_containers(engine, &dead).await;
        reaped.containers = dead.len();
        let images = engine
            .docker()
            .list_images(Some(ListImagesOptionsBuilder::default().build()))
            .await
            .unwrap_or_default();
        for image in images {
            for tag in &image.repo_tags {
                if tag_owner(tag).is_some_and(|o| !o.is_alive()) {
                    let opts = RemoveImageOptionsBuilder::default().noprune(true).build();
                    if engine
                        .docker()
                        .remove_image(tag, Some(opts), None)
                        .await
                        .is_ok()
                    {
                        reaped.tags += 1;
                    }
                }
            }
        }
        reaped
    })
}

#[cfg(test)]
mod tests {
    use super::tag_owner;

    #[test]
    fn tag_owner_reads_pid_and_start_time() {
        let o = tag_owner("lockcheck-cell-123-456-7:latest").unwrap();
        assert_eq!((o.pid, o.start_time), (123, 456));
        assert!(tag_owner("lockcheck-fixture:abc").is_none());
        assert!(tag_owner("lockcheck-cell-x-1-2:latest").is_none());
    }
}
