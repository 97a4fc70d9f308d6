//! What refsup last read from the engine: the device's containers and
//! which images exist, kept until the engine's event stream (or refsup's
//! own call) says they changed.
//!
//! Without it every reconcile pass and every API read (`/v1/device`,
//! `/v2/state/status`, which a test polls every few ms) listed the
//! device's containers and inspected its images: in a 31-cell matrix run
//! the engine answered 5,243 container lists and 2,027 image inspections
//! for 91 containers, and that engine work, not the containers, was most of
//! the Docker runtime's time on two cores.
//!
//! Correctness rests on one rule: a snapshot is used only while the event
//! stream is known to be subscribed (it has delivered an event) and no
//! change was seen since the read began. Every change the engine reports
//! (a container of this device created, started, killed, died, removed;
//! any image tagged, untagged or deleted) and every change refsup makes
//! itself bumps a generation; a snapshot taken at an older generation is
//! never used. A snapshot is also never older than [`MAX_AGE`], a bound in
//! case an event is lost. If the stream ends, caching stops until a new one
//! delivers an event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bollard::models::EventMessageTypeEnum as Type;
use bollard::query_parameters::EventsOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use super::super::Container;
use super::labels::DEVICE;

/// The oldest snapshot used even with no event since.
pub(super) const MAX_AGE: Duration = Duration::from_secs(1);

/// How long the watcher waits before subscribing again after its stream
/// ended.
const RESUBSCRIBE: Duration = Duration::from_millis(200);

/// A container listing with each container's sequence number.
pub(super) type Listing = Vec<(Container, u64)>;

/// A value read from the engine at a generation.
struct Snapshot<T> {
    generation: u64,
    at: Instant,
    value: T,
}

/// The device's engine state as last read; see the module docs.
#[derive(Default)]
pub(super) struct EngineCache {
    /// The event stream has delivered an event since it was (re)subscribed.
    live: AtomicBool,
    containers_generation: AtomicU64,
    images_generation: AtomicU64,
    containers: Mutex<Option<Snapshot<Listing>>>,
    images: Mutex<HashMap<String, Snapshot<bool>>>,
    /// How many times the engine was asked for the listing (for tests and
    /// benchmarks: the cache is only worth it if this stays low).
    engine_lists: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T> Snapshot<T> {
    fn usable(&self, generation: u64) -> bool {
        self.generation == generation && self.at.elapsed() < MAX_AGE
    }
}

impl EngineCache {
    /// Start following the engine's events for `device`; the task ends
    /// when the cache is dropped (it holds only a weak reference).
    pub fn watch(self: &Arc<Self>, docker: Docker, device: String) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let filters: HashMap<&str, Vec<&str>> =
                    HashMap::from([("type", vec!["container", "image"])]);
                let opts = EventsOptionsBuilder::default().filters(&filters).build();
                let mut events = docker.events(Some(opts));
                while let Some(Ok(event)) = events.next().await {
                    let Some(cache) = weak.upgrade() else { return };
                    let ours = event
                        .actor
                        .as_ref()
                        .and_then(|a| a.attributes.as_ref())
                        .and_then(|a| a.get(DEVICE))
                        .is_some_and(|d| *d == device);
                    match event.typ {
                        Some(Type::CONTAINER) if ours => cache.containers_changed(),
                        Some(Type::IMAGE) => cache.images_changed(),
                        _ => {}
                    }
                    if !cache.live() {
                        // Snapshots from before the subscription may have
                        // missed a change: none of them is used.
                        cache.containers_changed();
                        cache.images_changed();
                        cache.live.store(true, Ordering::SeqCst);
                    }
                }
                let Some(cache) = weak.upgrade() else { return };
                cache.live.store(false, Ordering::SeqCst);
                cache.containers_changed();
                cache.images_changed();
                drop(cache);
                tracing::debug!("engine event stream ended; subscribing again");
                tokio::time::sleep(RESUBSCRIBE).await;
            }
        })
    }

    fn live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    /// Something about the device's containers changed (or may have).
    pub fn containers_changed(&self) {
        self.containers_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Some image was tagged, untagged or removed (or may have been).
    pub fn images_changed(&self) {
        self.images_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The cached listing if it is still good.
    pub fn listing(&self) -> Option<Listing> {
        if !self.live() {
            return None;
        }
        let generation = self.containers_generation.load(Ordering::SeqCst);
        let cached = lock(&self.containers);
        cached
            .as_ref()
            .filter(|s| s.usable(generation))
            .map(|s| s.value.clone())
    }

    /// Call before asking the engine for the listing; pass the result to
    /// [`EngineCache::store_listing`].
    pub fn listing_read_begins(&self) -> u64 {
        self.engine_lists.fetch_add(1, Ordering::SeqCst);
        self.containers_generation.load(Ordering::SeqCst)
    }

    /// Keep a listing read from the engine at `generation`.
    pub fn store_listing(&self, generation: u64, value: &Listing) {
        *lock(&self.containers) = Some(Snapshot {
            generation,
            at: Instant::now(),
            value: value.clone(),
        });
    }

    /// Whether the engine has `image`, if known.
    pub fn image(&self, image: &str) -> Option<bool> {
        if !self.live() {
            return None;
        }
        let generation = self.images_generation.load(Ordering::SeqCst);
        lock(&self.images)
            .get(image)
            .filter(|s| s.usable(generation))
            .map(|s| s.value)
    }

    /// Call before asking the engine about an image.
    pub fn image_read_begins(&self) -> u64 {
        self.images_generation.load(Ordering::SeqCst)
    }

    /// Keep whether `image` exists, read at `generation`.
    pub fn store_image(&self, generation: u64, image: &str, exists: bool) {
        lock(&self.images).insert(
            image.to_string(),
            Snapshot {
                generation,
                at: Instant::now(),
                value: exists,
            },
        );
    }

    /// How many times the listing was read from the engine.
    pub fn engine_lists(&self) -> u64 {
        self.engine_lists.load(Ordering::SeqCst)
    }
}
