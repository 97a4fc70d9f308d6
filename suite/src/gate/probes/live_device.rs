//! The live check's device: the embedded reference supervisor (`lockcheck
//! refsup`, process runtime, pause hook on) with one app whose service
//! `main` runs a shell command, driven only through its API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lockgates::Profile;
use serde_json::{json, Value};

use crate::sut::{Device, DeviceOpts, Embedded, Sut};

/// How often the device is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(20);

/// A running reference supervisor for one live case.
pub struct LiveDevice {
    device: Box<dyn Device>,
    pause: PathBuf,
    lockcheck: PathBuf,
    idle_log: PathBuf,
    profile: Profile,
}

impl LiveDevice {
    /// Start refsup as `profile` under `work`, pausing after it takes locks.
    pub fn start(profile: &Profile, lockcheck: &Path, work: &Path) -> Result<LiveDevice> {
        let pause = work.join("paused");
        let target = Embedded {
            exe: lockcheck.to_path_buf(),
            faults: Vec::new(),
            time_scale: crate::sut::EMBEDDED_TIME_SCALE,
            runtime: Default::default(),
        };
        let _forking = crate::gate::spawn_guard::forking();
        let device = target
            .device(
                profile,
                work,
                &DeviceOpts {
                    pause_file: Some(pause.clone()),
                    step_pause_file: None,
                },
            )
            .context("starting the reference supervisor")?;
        Ok(LiveDevice {
            device,
            pause,
            lockcheck: lockcheck.to_path_buf(),
            idle_log: work.join("idle.log"),
            profile: profile.clone(),
        })
    }

    /// Run app 1 at `commit` with an idle fixture service `main` until it is
    /// applied, and return the host path of its first lock as the service
    /// itself is told it (lock env vars and `REFSUP_LOCK_DIR`, from the
    /// fixture's start record), mapped the way the fixture app maps it.
    pub fn start_idle(&self, commit: &str, deadline: Instant) -> Result<PathBuf> {
        self.deploy(commit, &self.idle_command())?;
        if !self.wait_applied(commit, deadline)? {
            bail!("refsup did not start the app in time");
        }
        // Running is not yet logged: wait for the service's start record.
        let env = loop {
            let records = fixture_app::log::read(&self.idle_log)?;
            let start = records.iter().find(|r| r.ev == "start");
            if let Some(env) = start
                .and_then(|r| r.rest.get("env"))
                .and_then(Value::as_object)
            {
                break env.clone();
            }
            if Instant::now() >= deadline {
                bail!("the idle service logged no start record in time");
            }
            std::thread::sleep(POLL);
        };
        let file = self.profile.lock_files()[0];
        let var = |name: &str| {
            env.get(name)
                .and_then(Value::as_str)
                .map(std::ffi::OsString::from)
        };
        fixture_app::path_map::resolve(file.service_path, var)
    }

    /// The command of a service that takes no lock and idles.
    pub fn idle_command(&self) -> Vec<String> {
        vec![
            self.lockcheck.display().to_string(),
            "fixture".into(),
            "--log".into(),
            self.idle_log.display().to_string(),
            "--method".into(),
            "none".into(),
        ]
    }

    /// Send a target with app 1 at `commit`, its service `main` running `command`.
    pub fn deploy(&self, commit: &str, command: &[String]) -> Result<()> {
        let body = json!({"local": {"name": "lockcheck-gate", "config": {}, "apps": {"1": {
            "name": "gate", "commit": commit, "releaseId": 1,
            "services": {"main": {"image": format!("gate:{commit}"), "command": command,
                "environment": {}, "labels": {}}}}}}});
        let (status, reply) = self.device.client().post("/v2/local/target-state", &body)?;
        if status != 200 {
            bail!("refsup refused the target state: HTTP {status}: {reply}");
        }
        Ok(())
    }

    /// `GET /v1/device`.
    pub fn info(&self) -> Result<Value> {
        self.device.client().get("/v1/device")
    }

    /// The commit service `main` of app 1 runs, if it runs.
    pub fn running_commit(&self) -> Result<Option<String>> {
        let status = self.device.client().get("/v2/state/status")?;
        Ok(status["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c["appId"] == json!(1) && c["serviceName"] == "main" && c["status"] == "Running"
            })
            .and_then(|c| c["commit"].as_str().map(str::to_string)))
    }

    /// Whether `commit` runs and no update is pending.
    pub fn applied(&self, commit: &str) -> Result<bool> {
        Ok(self.running_commit()?.as_deref() == Some(commit)
            && self.info()?["update_pending"] == false)
    }

    /// Whether refsup is paused holding its locks (the pause file exists).
    pub fn paused(&self) -> bool {
        self.pause.exists()
    }

    /// Let a paused refsup go on.
    pub fn resume(&self) {
        let _ = std::fs::remove_file(&self.pause);
    }

    /// Wait until `commit` is applied, letting refsup go on whenever it pauses;
    /// false if `deadline` passes first.
    pub fn wait_applied(&self, commit: &str, deadline: Instant) -> Result<bool> {
        loop {
            if self.paused() {
                self.resume();
            }
            if self.applied(commit)? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Ask for an update check (`POST /v1/update`) and wait for a whole
    /// reconcile pass that began after it. Returns true if refsup paused
    /// after taking its locks meanwhile (it is left paused).
    pub fn settle(&self, deadline: Instant) -> Result<bool> {
        let started = self.info()?["reconcile_passes_started"]
            .as_u64()
            .context("refsup's /v1/device has no reconcile_passes_started")?;
        self.device.client().post("/v1/update", &json!({}))?;
        loop {
            if self.paused() {
                return Ok(true);
            }
            let finished = self.info()?["reconcile_passes_finished"]
                .as_u64()
                .unwrap_or(0);
            if finished > started {
                return Ok(false);
            }
            if Instant::now() >= deadline {
                bail!("refsup did not finish a reconcile pass in time");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Wait until refsup pauses holding its locks; false if `deadline` passes.
    pub fn wait_paused(&self, deadline: Instant) -> bool {
        while !self.paused() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(POLL);
        }
        true
    }
}

impl Drop for LiveDevice {
    fn drop(&mut self) {
        // A paused refsup would make its shutdown wait on the pause.
        self.resume();
    }
}
