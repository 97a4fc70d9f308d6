//! Fixture logs read through the engine. A fixture in a container logs to
//! its stdout; the engine keeps that only while the container exists, and a
//! supervisor removes replaced containers. So every container started from
//! the cell's fixture image is followed from its `start` event on, its
//! lines kept here, keyed by the `LOCKCHECK_SERVICE` env var the suite put in
//! its target state (the one mark every supervisor passes through).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bollard::container::LogOutput;
use bollard::query_parameters::{
    EventsOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder, LogsOptionsBuilder,
};
use fixture_app::log::Record;
use futures_util::StreamExt;

use super::Engine;
use crate::sut::services::SERVICE_ENV;

/// One container's log as collected so far.
#[derive(Debug, Default)]
struct Followed {
    /// `(app, service)` from its environment; `None`: not a fixture.
    key: Option<(u32, String)>,
    /// Complete lines.
    lines: Vec<String>,
    /// An incomplete last line.
    partial: String,
}

#[derive(Debug, Default)]
struct Collected {
    /// By container id.
    by_id: HashMap<String, Followed>,
    /// Container ids in the order they were first seen.
    order: Vec<String>,
    /// The event stream has delivered an event, so it is subscribed and
    /// every later start reaches the watcher.
    live: bool,
    /// The containers were listed once after the stream was live: nothing
    /// started before the subscription is missing any more.
    caught_up: bool,
}

type Shared = Arc<Mutex<Collected>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Collected> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Follows the logs of every container started from one image.
pub struct LogCollector {
    engine: Arc<Engine>,
    image: String,
    shared: Shared,
    watcher: tokio::task::JoinHandle<()>,
}

impl LogCollector {
    /// Start watching the engine's `start` events for containers of `image`.
    pub fn start(engine: &Arc<Engine>, image: &str) -> LogCollector {
        let shared: Shared = Arc::default();
        let watcher = {
            let (engine2, shared, image) = (Arc::clone(engine), shared.clone(), image.to_string());
            engine.spawn(async move {
                // Not the engine's `image` filter: it matches by image id,
                // and every cell's tag names the same image.
                let filters: HashMap<&str, Vec<&str>> =
                    HashMap::from([("type", vec!["container"]), ("event", vec!["start"])]);
                let opts = EventsOptionsBuilder::default().filters(&filters).build();
                let mut events = engine2.docker().events(Some(opts));
                while let Some(Ok(event)) = events.next().await {
                    lock(&shared).live = true;
                    let Some(actor) = event.actor else { continue };
                    let named = actor
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get("image"))
                        .is_some_and(|i| *i == image);
                    if let (true, Some(id)) = (named, actor.id) {
                        follow(&engine2, &shared, id).await;
                    }
                }
            })
        };
        LogCollector {
            engine: Arc::clone(engine),
            image: image.to_string(),
            shared,
            watcher,
        }
    }

    /// Every record the fixture of `service` of `app` logged, across all its
    /// containers (in the order they were first seen). Until the event
    /// stream is known to be subscribed, containers of the image it may have
    /// missed are caught up from a listing first (once more after it is, and
    /// then never again: cases poll this, and listing every container on
    /// the engine at each poll of each cell is needless engine work).
    pub fn records(&self, app: u32, service: &str) -> Result<Vec<Record>> {
        let (live, caught_up) = {
            let c = lock(&self.shared);
            (c.live, c.caught_up)
        };
        if !caught_up {
            let (engine, shared, image) = (&self.engine, &self.shared, self.image.clone());
            engine.block_on(async {
                for id in created_from(engine, &image).await {
                    follow(engine, shared, id).await;
                }
            });
            lock(&self.shared).caught_up = live;
        }
        let collected = lock(&self.shared);
        let mut out = Vec::new();
        for id in &collected.order {
            let followed = &collected.by_id[id];
            if followed.key.as_ref() != Some(&(app, service.to_string())) {
                continue;
            }
            out.extend(
                followed
                    .lines
                    .iter()
                    .filter_map(|l| serde_json::from_str::<Record>(l).ok()),
            );
        }
        Ok(out)
    }
}

impl Drop for LogCollector {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Every container (running or not) created with exactly the reference
/// `image` (not the engine's `ancestor` filter, which matches by image id:
/// all cells' tags name one image).
pub async fn created_from(engine: &Engine, image: &str) -> Vec<String> {
    let opts = ListContainersOptionsBuilder::default().all(true).build();
    let list = engine
        .docker()
        .list_containers(Some(opts))
        .await
        .unwrap_or_default();
    list.into_iter()
        .filter(|c| c.image.as_deref() == Some(image))
        .filter_map(|c| c.id)
        .collect()
}

/// Start following container `id` unless it already is: read its env for
/// the service key, then stream its stdout from the beginning.
async fn follow(engine: &Arc<Engine>, shared: &Shared, id: String) {
    {
        let mut c = lock(shared);
        if c.by_id.contains_key(&id) {
            return;
        }
        c.by_id.insert(id.clone(), Followed::default());
        c.order.push(id.clone());
    }
    let key = engine
        .docker()
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|i| i.config?.env)
        .and_then(|env| service_key(&env));
    if let Some(f) = lock(shared).by_id.get_mut(&id) {
        f.key = key;
    }
    let (engine2, shared) = (Arc::clone(engine), shared.clone());
    engine.spawn(async move {
        let opts = LogsOptionsBuilder::default()
            .follow(true)
            .stdout(true)
            .stderr(false)
            .build();
        let mut stream = engine2.docker().logs(&id, Some(opts));
        while let Some(Ok(out)) = stream.next().await {
            let bytes = match out {
                LogOutput::StdOut { message } | LogOutput::Console { message } => message,
                _ => continue,
            };
            let mut c = lock(&shared);
            let Some(f) = c.by_id.get_mut(&id) else {
                return;
            };
            f.partial.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = f.partial.find('\n') {
                let line: String = f.partial.drain(..=end).collect();
                f.lines.push(line.trim_end().to_string());
            }
        }
    });
}

/// `(app, service)` from a container's `LOCKCHECK_SERVICE=<app>/<service>`.
fn service_key(env: &[String]) -> Option<(u32, String)> {
    let value = env
        .iter()
        .find_map(|e| e.strip_prefix(SERVICE_ENV)?.strip_prefix('='))?;
    let (app, service) = value.split_once('/')?;
    Some((app.parse().ok()?, service.to_string()))
}

#[cfg(test)]
mod tests {
    use super::service_key;

    #[test]
    fn service_key_reads_the_suite_env_var() {
        let env = vec!["A=1".to_string(), "LOCKCHECK_SERVICE=3/main".to_string()];
        assert_eq!(service_key(&env), Some((3, "main".to_string())));
        assert_eq!(service_key(&["LOCKCHECK_SERVICEX=1/a".to_string()]), None);
        assert_eq!(service_key(&["LOCKCHECK_SERVICE=x/a".to_string()]), None);
    }
}
