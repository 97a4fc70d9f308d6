//! What a case body works with: the device under test, the target state it
//! builds, and helpers that observe only what is visible from outside (API,
//! files under the root, the services' own logs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use fixture_app::log::Record;
use lockgates::{LockFile, Profile};
use serde_json::{json, Value};

use crate::client::Client;
use crate::release::{self, AppRelease, Svc};
use crate::steps::StepLog;
use crate::sut::{ContainerView, Device, DeviceFiles, DeviceOpts, Entry};

/// How long a case waits for something that should happen (default).
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The same for targets whose services are containers: they take longer
/// than processes to create, start and stop, and on a loaded engine (CI,
/// with other container tests) the first cells of a run took over 20 s to
/// apply a release.
pub const CONTAINER_EVENT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a case watches a target without reconcile counters before
/// asserting that something did not happen (default).
pub const SETTLE: Duration = Duration::from_millis(1500);

/// How patient cases are with a target.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Longest wait for something that should happen.
    pub event: Duration,
    /// Observation window for something that must not happen, on targets
    /// that do not count their reconcile passes.
    pub settle: Duration,
    /// The target's timings relative to the real supervisor's (1.0 for a
    /// real one; the embedded reference runs faster): a wait for an apply
    /// after a lock is released allows for the retry backoff at this scale.
    pub time_scale: f64,
}

impl Default for Patience {
    fn default() -> Patience {
        Patience {
            event: EVENT_TIMEOUT,
            settle: SETTLE,
            time_scale: 1.0,
        }
    }
}

/// The context of one running cell.
pub struct Ctx {
    /// The profile the target behaves as.
    pub profile: Profile,
    device: Box<dyn Device>,
    /// Scratch dir of this cell (outside the device root).
    pub work: PathBuf,
    /// The target state the case is building.
    pub state: release::Device,
    releases: u32,
    pause_file: Option<PathBuf>,
    /// How long to wait for events and to watch for non-events.
    pub patience: Patience,
    /// Measurements a case reports (e.g. U2 latency), in ms.
    pub metrics: Vec<(String, f64)>,
    step_pause_file: Option<PathBuf>,
    /// The cell's step log; its clock is the cell's.
    steps: StepLog,
}

impl Ctx {
    /// A context over a started device.
    pub fn new(profile: Profile, device: Box<dyn Device>, work: PathBuf, opts: &DeviceOpts) -> Ctx {
        Ctx {
            profile,
            device,
            state: release::Device::default(),
            releases: 0,
            pause_file: opts.pause_file.clone(),
            patience: Patience::default(),
            metrics: Vec::new(),
            step_pause_file: opts.step_pause_file.clone(),
            steps: StepLog::new(&work),
            work,
        }
    }

    /// The API.
    pub fn api(&self) -> &Client {
        self.device.client()
    }

    /// The device's files (on this host or reached through its engine).
    pub fn files(&self) -> &dyn DeviceFiles {
        self.device.files()
    }

    /// `rel` (relative to the device root) as [`Ctx::files`] sees it.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.files().root().join(rel)
    }

    // ----- paths (SPEC section 2) -----

    /// Where `file` for `service` of `app` is (the profile's layout, or the
    /// driver's), as [`Ctx::files`] sees it.
    pub fn lock_path(&self, app: u32, service: &str, file: &LockFile) -> PathBuf {
        self.device.lock_path(&self.profile, app, service, file)
    }

    /// A signal file for the fixture of `service` of `app` (`--start-when`,
    /// `--hold-while`): the path the service uses, and where the suite
    /// creates it. It lives in the service's lock dir, the one dir both
    /// sides see on every runtime; supervisors only look at lock names there.
    pub fn signal_file(&self, app: u32, service: &str, name: &str) -> (String, PathBuf) {
        let file = format!("lockcheck-{name}");
        (
            format!("/tmp/balena/{file}"),
            self.device
                .service_lock_dir(&self.profile, app, service)
                .join(file),
        )
    }

    /// The first lock file the profile honours.
    pub fn primary(&self) -> LockFile {
        self.profile.lock_files()[0]
    }

    /// Host path of the primary lock of `service` of app 1.
    pub fn primary_path(&self, service: &str) -> PathBuf {
        let file = self.primary();
        self.lock_path(1, service, &file)
    }

    // ----- target state -----

    /// Put `app` in the target with these services at a new release.
    pub fn set_app(&mut self, app: u32, services: &[(&str, Svc)]) {
        self.releases += 1;
        let release = AppRelease {
            commit: format!("r{}", self.releases),
            generation: format!("g{}", self.releases),
            services: services
                .iter()
                .map(|(n, s)| (n.to_string(), s.clone()))
                .collect(),
        };
        self.state.apps.insert(app, release);
    }

    /// A new release of `app` whose services all change (they restart).
    pub fn bump(&mut self, app: u32) {
        self.releases += 1;
        let release = self.state.apps.get_mut(&app).expect("app in state");
        release.commit = format!("r{}", self.releases);
        release.generation = format!("g{}", self.releases);
    }

    /// A new release of `app` in which no service changes (metadata only).
    pub fn bump_metadata(&mut self, app: u32) {
        self.releases += 1;
        let release = self.state.apps.get_mut(&app).expect("app in state");
        release.commit = format!("r{}", self.releases);
    }

    /// Send the target state; the target must accept it.
    pub fn deploy(&mut self) -> Result<()> {
        self.post_state(false)
    }

    /// Send the target state with a one-time `"force": true` beside it.
    pub fn deploy_with_force(&mut self) -> Result<()> {
        self.post_state(true)
    }

    fn post_state(&mut self, force: bool) -> Result<()> {
        let commits: Vec<String> = self
            .state
            .apps
            .iter()
            .map(|(id, app)| format!("{id}@{}", app.commit))
            .collect();
        let sent = self.device.deploy(&self.state, force);
        self.steps.line(format_args!(
            "deploy {}{}: {}",
            commits.join(" "),
            if force { " (force)" } else { "" },
            match &sent {
                Ok(()) => "sent".to_string(),
                Err(e) => format!("{e:#}"),
            }
        ));
        sent
    }

    /// One app with one idle service `main`, deployed and running.
    pub fn start_simple(&mut self) -> Result<()> {
        self.set_app(1, &[("main", Svc::idle())]);
        self.deploy()?;
        self.wait_applied()
    }

    // ----- observing -----

    /// `GET /v1/device`.
    pub fn device_info(&self) -> Result<Value> {
        self.api().get("/v1/device")
    }

    /// A field of `/v1/device`; `None` when the device reports no such field
    /// or has no `/v1/device` at all (helios), so a case judges it only
    /// where it is visible.
    pub fn device_field(&self, name: &str) -> Option<Value> {
        self.device_info().ok()?.get(name).cloned()
    }

    /// What changes exactly when the device reboots (the reference's boot
    /// count, a real device's kernel boot id).
    pub fn boot_id(&self) -> Result<String> {
        self.device.boot_id()
    }

    /// Wait until the device has rebooted since `boot` was read.
    pub fn wait_rebooted(&self, what: &str, boot: &str) -> Result<()> {
        self.wait_for(what, || Ok((self.boot_id()? != boot).then_some(())))
    }

    /// The service containers the device reports.
    pub fn containers(&self) -> Result<Vec<ContainerView>> {
        self.device.containers()
    }

    /// Whether `service` of `app` runs at `commit`.
    pub fn runs_at(&self, app: u32, service: &str, commit: &str) -> Result<bool> {
        Ok(self
            .containers()?
            .iter()
            .any(|c| c.app_id == app && c.service == service && c.commit == commit && c.running))
    }

    /// Whether every service of every app in the state runs at its target
    /// commit (and nothing else of those apps runs).
    pub fn is_applied(&self) -> Result<bool> {
        let containers = self.containers()?;
        for (id, app) in &self.state.apps {
            for name in app.services.keys() {
                let ok = containers.iter().any(|c| {
                    c.app_id == *id && &c.service == name && c.commit == app.commit && c.running
                });
                if !ok {
                    return Ok(false);
                }
            }
            let extra = containers
                .iter()
                .any(|c| c.app_id == *id && !app.services.contains_key(&c.service));
            if extra {
                return Ok(false);
            }
        }
        let gone = containers
            .iter()
            .any(|c| !self.state.apps.contains_key(&c.app_id));
        Ok(!gone && !self.device.update_pending()?)
    }

    /// Wait until the target state is applied. A real supervisor retries a
    /// locked apply only after its backoff (`min(2^n x 500 ms, cap)`, never
    /// watching the lock), so this allows the event timeout plus the longest
    /// retry delay the profile could have reached in this cell: each delay
    /// at most doubles the time failed so far, and never passes the cap.
    pub fn wait_applied(&self) -> Result<()> {
        let cap = self.profile.retry_cap();
        let failing = self.steps.elapsed() * 2 + Duration::from_secs(1);
        let backoff = cap.min(failing.div_f64(self.patience.time_scale.max(1e-6)));
        let patience = self.patience.event + backoff.mul_f64(self.patience.time_scale);
        self.wait_within(patience, "the target state to be applied", || {
            self.is_applied().map(|ok| ok.then_some(()))
        })
        .map_err(|e| anyhow::anyhow!("{e:#}; {}", self.seen()))
    }

    /// What the device shows now, for a timed-out wait's message: its
    /// containers and whether an update is pending.
    fn seen(&self) -> String {
        let containers = match self.containers() {
            Ok(list) if list.is_empty() => "no containers".to_string(),
            Ok(list) => list
                .iter()
                .map(|c| {
                    let state = if c.running { "running" } else { "not running" };
                    format!("{}/{}@{} {state}", c.app_id, c.service, c.commit)
                })
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("containers unreadable ({e:#})"),
        };
        let pending = match self.device.update_pending() {
            Ok(p) => format!("update_pending {p}"),
            Err(e) => format!("update_pending unreadable ({e:#})"),
        };
        format!("the device shows {containers}; {pending}")
    }

    /// Wait until `f` yields a value; errors from `f` end the wait.
    pub fn wait_for<T>(&self, what: &str, f: impl FnMut() -> Result<Option<T>>) -> Result<T> {
        self.wait_within(self.patience.event, what, f)
    }

    /// [`Ctx::wait_for`] with its own deadline.
    pub fn wait_within<T>(
        &self,
        patience: Duration,
        what: &str,
        mut f: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        let began = Instant::now();
        let deadline = began + patience;
        loop {
            match f() {
                Ok(Some(v)) => {
                    let took = began.elapsed().as_secs_f64();
                    self.steps
                        .line(format_args!("waited {took:.3}s for {what}"));
                    return Ok(v);
                }
                Ok(None) => {}
                Err(e) => {
                    self.steps
                        .line(format_args!("error while waiting for {what}: {e:#}"));
                    return Err(e);
                }
            }
            if Instant::now() > deadline {
                let why = format!(
                    "timed out after {:.1}s waiting for {what}",
                    patience.as_secs_f64()
                );
                self.steps.line(format_args!("{why}"));
                bail!(why);
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    /// Wait until the target has finished a whole reconcile pass that began
    /// after this call (the reference counts passes in /v1/device); a target
    /// without the counters is watched for the settle window instead.
    pub fn settled(&self) -> Result<()> {
        // A target without /v1/device (helios) or without the reference's
        // counters is watched for the settle window.
        let dev = self.device_info().unwrap_or_default();
        let Some(started) = dev["reconcile_passes_started"].as_u64() else {
            std::thread::sleep(self.patience.settle);
            return Ok(());
        };
        self.api().post("/v1/update", &json!({}))?;
        self.wait_for("a reconcile pass", || {
            let finished = self.device_info()?["reconcile_passes_finished"]
                .as_u64()
                .unwrap_or(0);
            Ok((finished > started).then_some(()))
        })
    }

    /// Settle, then require the update to be pending, not applied.
    pub fn wait_pending(&self) -> Result<()> {
        self.settled()?;
        ensure!(
            !self.is_applied()?,
            "expected the update to stay pending, but it was applied"
        );
        ensure!(
            self.device.update_pending()?,
            "expected update_pending to be true"
        );
        Ok(())
    }

    /// Set (or with `None` remove) an environment variable of a service.
    pub fn set_env(&mut self, app: u32, service: &str, key: &str, value: Option<&str>) {
        let svc = self
            .state
            .apps
            .get_mut(&app)
            .and_then(|a| a.services.get_mut(service))
            .expect("service in state");
        match value {
            Some(v) => svc.env.insert(key.into(), v.into()),
            None => svc.env.remove(key),
        };
    }

    /// Set (or remove) a config var.
    pub fn set_config(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.state.config.insert(key.into(), v.into()),
            None => self.state.config.remove(key),
        };
    }

    /// The records the fixture of `service` of `app` logged.
    pub fn records(&self, app: u32, service: &str) -> Result<Vec<Record>> {
        self.device.services().records(app, service)
    }

    /// Wait for the service's `start` record and return it. The fixture
    /// installs its signal handlers before it writes `start`, so a SIGTERM
    /// after this is always logged; one before it ends the process unlogged.
    pub fn wait_started(&self, app: u32, service: &str) -> Result<Record> {
        self.wait_for(&format!("{service}'s start record"), || {
            Ok(self
                .records(app, service)?
                .into_iter()
                .find(|r| r.ev == "start"))
        })
    }

    /// How many SIGTERMs the service's processes have received so far.
    pub fn sigterms(&self, app: u32, service: &str) -> Result<usize> {
        Ok(self
            .records(app, service)?
            .iter()
            .filter(|r| r.ev == "sigterm")
            .count())
    }

    /// SIGTERM counts of every service of the state, to compare later.
    pub fn kill_snapshot(&self) -> Result<Vec<((u32, String), usize)>> {
        let mut out = Vec::new();
        for (id, app) in &self.state.apps {
            for name in app.services.keys() {
                out.push(((*id, name.clone()), self.sigterms(*id, name)?));
            }
        }
        Ok(out)
    }

    /// Fail if any service of `app` got a SIGTERM since `before`.
    pub fn ensure_not_killed(&self, before: &[((u32, String), usize)], app: u32) -> Result<()> {
        for ((id, name), count) in before {
            if *id == app {
                let now = self.sigterms(*id, name)?;
                ensure!(
                    now == *count,
                    "expected no service of app {app} killed while locked, but {name} got SIGTERM"
                );
            }
        }
        Ok(())
    }

    // ----- locks -----

    /// Take a lock as an app should (exclusive create), creating the dir.
    pub fn user_lock(&self, path: &Path) -> Result<()> {
        self.user_lock_as(path, None)
    }

    /// [`Ctx::user_lock`] with the file owned by `uid`.
    pub fn user_lock_as(&self, path: &Path, uid: Option<u32>) -> Result<()> {
        // Like a well-behaved app: if the supervisor holds it right now
        // (it may still be finishing the last update), wait for it.
        self.wait_for(
            &format!("the lock at {} to be free", path.display()),
            || Ok(self.files().create_excl(path, uid)?.then_some(())),
        )
    }

    /// Take a lock once, failing if anything is there.
    pub fn take_now(&self, path: &Path) -> Result<()> {
        ensure!(
            self.files().create_excl(path, None)?,
            "expected the lock at {} to be free",
            path.display()
        );
        Ok(())
    }

    /// Remove a lock entry (file, symlink or empty dir).
    pub fn release_lock(&self, path: &Path) -> Result<()> {
        self.files().remove(path)
    }

    /// Whether anything is at `path` (lstat).
    pub fn held(&self, path: &Path) -> bool {
        self.entry(path).is_some()
    }

    /// What is at `path` (lstat), if anything; an error reads as nothing.
    pub fn entry(&self, path: &Path) -> Option<Entry> {
        self.files().entry(path).ok().flatten()
    }

    /// Run the real `touch` on `path`.
    pub fn touch(&self, path: &Path) -> Result<()> {
        self.files().touch(path)
    }

    // ----- supervisor control -----

    /// The file the paused supervisor creates.
    pub fn pause_file(&self) -> Result<&Path> {
        self.pause_file
            .as_deref()
            .context("this case runs without the pause hook")
    }

    /// Wait until the supervisor pauses between taking locks and killing.
    pub fn wait_paused(&self) -> Result<()> {
        let file = self.pause_file()?.to_path_buf();
        self.wait_for("the supervisor to pause after taking its locks", || {
            Ok(file.exists().then_some(()))
        })
    }

    /// Let a paused supervisor go on.
    pub fn resume(&self) -> Result<()> {
        std::fs::remove_file(self.pause_file()?).context("removing the pause file")
    }

    /// Ask the supervisor to pause once between two locking steps of the
    /// next update (the hook is one-shot: it pauses while `FILE.arm` exists).
    pub fn arm_step_pause(&self) -> Result<()> {
        let file = self
            .step_pause_file
            .as_deref()
            .context("this case runs without the step pause hook")?;
        std::fs::write(file.with_extension("arm"), "").context("arming the step pause")
    }

    /// Wait until the supervisor pauses between two locking steps (after
    /// one step released its locks, before the next takes them).
    pub fn wait_step_paused(&self) -> Result<()> {
        let file = self
            .step_pause_file
            .clone()
            .context("this case runs without the step pause hook")?;
        self.wait_for("the supervisor to pause between two locking steps", || {
            Ok(file.exists().then_some(()))
        })
    }

    /// Let a supervisor paused between steps go on.
    pub fn resume_step(&self) -> Result<()> {
        let file = self
            .step_pause_file
            .as_deref()
            .context("this case runs without the step pause hook")?;
        std::fs::remove_file(file).context("removing the step pause file")
    }

    /// Crash the supervisor (SIGKILL) and start it again, with or without
    /// the pause hook.
    pub fn restart_supervisor(&mut self, pause: bool) -> Result<()> {
        let opts = DeviceOpts {
            pause_file: if pause { self.pause_file.clone() } else { None },
            step_pause_file: None,
        };
        self.device.restart(&opts)
    }

    /// Ask the device to apply now, with a one-time override when `force`
    /// (`POST /v1/update` on the balena API); 204 when accepted.
    pub fn update_now(&self, force: bool) -> Result<u16> {
        self.device.update_now(force)
    }

    /// The local target state's config vars, `None` on a device without any.
    pub fn local_config(&self) -> Result<Option<Value>> {
        self.device.local_config()
    }

    /// `POST` with a `{"force": force}` body; returns the status.
    pub fn post_force(&self, path: &str, force: bool) -> Result<u16> {
        Ok(self.api().post(path, &json!({"force": force}))?.0)
    }
}
