//! The supervisor core: keeps the device converging on its target state under
//! the lock rules of its profile. A new target or a `/v1/update` starts a
//! pass at once; a pass that fails (an update or reboot held back by a lock,
//! a service that cannot start) counts as a failed apply and is retried
//! after the profile's backoff, `min(2^n x 500 ms, cap)`, as the real
//! supervisor does: it never watches the lock files.

mod apply;
mod boot;
mod config_apply;
mod lock_paths;
mod op_error;
mod ops;
mod plan;
pub mod reboot;
mod retry;
mod spec;
mod status;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use lockgates::Profile;
use tokio::sync::{Notify, RwLock};

use crate::fault::Faults;
use crate::layout::Layout;
use crate::locking::LockRules;
use crate::runtime::Runtime;
use crate::store::{DeviceRecord, Store};
use crate::target::TargetState;

pub use op_error::OpError;
pub use status::{AppView, DeviceView, ServiceView};

/// How one supervisor instance behaves.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The device root (`/mnt/root` of the real supervisor).
    pub root: PathBuf,
    /// Which supervisor/OS version to behave as.
    pub profile: Profile,
    /// Historical bugs to re-enable.
    pub faults: Faults,
    /// How long a killed service gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// Test hook (L3): after taking locks and before killing, create this
    /// file and wait until it is removed.
    pub pause_after_lock: Option<PathBuf>,
    /// Test hook (L1 before 16.2.0): after a locking step released its
    /// locks and before the next step takes them, create this file and wait
    /// until it is removed.
    pub pause_between_steps: Option<PathBuf>,
    /// Factor on every supervisor timing (retry backoff, poll interval, the
    /// 10 s app-lock wait): 1.0 is the real schedule; the suite runs the
    /// reference faster.
    pub time_scale: f64,
}

#[derive(Debug, Default)]
struct Shared {
    target: TargetState,
    device: DeviceRecord,
    force_pending: bool,
    blocked: BTreeMap<u32, String>,
    reboot_blocked: Option<String>,
    blockers: BTreeMap<lock_paths::OpKey, std::path::PathBuf>,
    retry: retry::RetryState,
}

/// One running reference supervisor.
pub struct Engine {
    cfg: EngineConfig,
    layout: Layout,
    store: Store,
    runtime: Arc<dyn Runtime>,
    rules: LockRules,
    shared: Mutex<Shared>,
    app_ops: Mutex<BTreeMap<u32, Arc<tokio::sync::Mutex<()>>>>,
    device_op: Arc<RwLock<()>>,
    waker: Arc<Notify>,
    powered_off: Notify,
    passes: PassCounters,
    stopping: std::sync::atomic::AtomicBool,
    stopped: Notify,
}

/// Reconcile passes started and finished, so a client can wait for a whole
/// pass that began after its own action (a reference extension of /v1/device).
#[derive(Debug, Default)]
pub struct PassCounters {
    started: std::sync::atomic::AtomicU64,
    finished: std::sync::atomic::AtomicU64,
}

impl Engine {
    /// Boot a supervisor over `runtime`: detect a reboot, clear what the
    /// profile clears at start, adopt running services, start the rest.
    pub async fn start(cfg: EngineConfig, runtime: Arc<dyn Runtime>) -> Result<Arc<Engine>> {
        let layout = Layout::new(cfg.root.clone(), cfg.profile.clone());
        let store = Store::new(layout.confined().clone(), layout.refsup_state());
        let rules = LockRules::new(&cfg.profile, &cfg.faults, layout.confined().clone());
        let target = store.load_target()?;
        let device = store.load_device()?;
        let engine = Arc::new(Engine {
            cfg,
            layout,
            store,
            runtime,
            rules,
            shared: Mutex::new(Shared {
                target,
                device,
                ..Shared::default()
            }),
            app_ops: Mutex::new(BTreeMap::new()),
            device_op: Arc::new(RwLock::new(())),
            waker: Arc::new(Notify::new()),
            powered_off: Notify::new(),
            passes: PassCounters::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            stopped: Notify::new(),
        });
        engine.boot().await?;
        Ok(engine)
    }

    /// The profile this supervisor behaves as.
    pub fn profile(&self) -> &Profile {
        &self.cfg.profile
    }

    /// The device layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Reconcile forever: at once when woken (new target, `/v1/update`),
    /// after the backoff when the last pass failed, else every poll interval.
    pub async fn run(self: Arc<Self>) {
        use std::sync::atomic::Ordering::SeqCst;
        loop {
            self.passes.started.fetch_add(1, SeqCst);
            let failed = match self.reconcile().await {
                Ok(failure) => failure,
                Err(e) => Some(format!("{e:#}")),
            };
            let next = self.pass_ended(failed);
            self.passes.finished.fetch_add(1, SeqCst);
            tokio::select! {
                _ = self.waker.notified() => {}
                _ = tokio::time::sleep(next) => {}
            }
        }
    }

    /// (passes started, passes finished) so far.
    pub fn passes(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        (
            self.passes.started.load(SeqCst),
            self.passes.finished.load(SeqCst),
        )
    }

    /// Resolves when a shutdown has powered the device off.
    pub async fn powered_off(&self) {
        self.powered_off.notified().await
    }

    /// Ask for a reconcile pass soon.
    pub fn wake(&self) {
        self.waker.notify_one();
    }

    /// A duration of the real supervisor's schedule, scaled by `--time-scale`.
    pub(crate) fn scaled(&self, real: Duration) -> Duration {
        real.mul_f64(self.cfg.time_scale)
    }

    /// Accept a new target state: validated, then durable before this returns.
    pub fn set_target(&self, target: TargetState) -> Result<(), String> {
        target.validate()?;
        // Published under the store's write lock, right after it is durable:
        // what GET returns is always what a restart would load.
        self.store
            .save_target(&target, || {
                self.shared.lock().unwrap().target = target.clone();
            })
            .map_err(|e| format!("cannot persist target state: {e:#}"))?;
        self.wake();
        Ok(())
    }

    /// The accepted target state.
    pub fn target(&self) -> TargetState {
        self.shared.lock().unwrap().target.clone()
    }

    /// `/v1/update`: reconcile now; with `force`, the pending update is
    /// applied once ignoring (and deleting) locks (O4).
    pub fn trigger_update(&self, force: bool) {
        if force {
            self.shared.lock().unwrap().force_pending = true;
        }
        self.wake();
    }

    /// Stop every service (used on a graceful refsup exit).
    pub async fn stop_all_services(&self) {
        // A paused operation would hold the device lock forever: end the pause.
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _device = self.device_op.write().await;
        // Not stop_everything: a pass queued behind this lock must not start
        // the services again between here and the process exit.
        self.runtime.shutdown(self.cfg.stop_grace).await;
    }

    fn app_op(&self, app_id: u32) -> Arc<tokio::sync::Mutex<()>> {
        self.app_ops
            .lock()
            .unwrap()
            .entry(app_id)
            .or_default()
            .clone()
    }

    fn set_blocked(&self, app_id: u32, why: Option<String>) {
        let mut shared = self.shared.lock().unwrap();
        match why {
            Some(why) => {
                if shared.blocked.get(&app_id) != Some(&why) {
                    tracing::info!("app {app_id}: update pending: {why}");
                }
                shared.blocked.insert(app_id, why);
            }
            None => {
                shared.blocked.remove(&app_id);
            }
        }
    }
}
