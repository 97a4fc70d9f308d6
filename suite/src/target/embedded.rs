//! The embedded reference: `lockcheck refsup ...` on a fresh root per case.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};
use lockgates::Profile;

use super::{Device, DeviceOpts, Target};
use crate::case::Need;
use crate::client::Client;

/// The reference supervisor, run from the lockcheck binary itself.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The lockcheck executable (it embeds refsup and the fixture app).
    pub exe: PathBuf,
    /// Faults to re-enable (`refsup --fault`).
    pub faults: Vec<String>,
    /// `refsup --time-scale`: the reference's timings (retry backoff, poll
    /// interval, app-lock wait) relative to the real supervisor's.
    pub time_scale: f64,
}

/// The embedded reference's default `--time-scale`: its retry backoff runs
/// 1000 times faster than the real one (a 15-minute cap becomes 0.9 s).
pub const EMBEDDED_TIME_SCALE: f64 = 0.001;

impl Target for Embedded {
    fn describe(&self) -> String {
        "embedded reference (refsup, process runtime)".into()
    }

    fn offers(&self, _need: Need) -> bool {
        true
    }

    fn device(&self, profile: &Profile, work: &Path, opts: &DeviceOpts) -> Result<Box<dyn Device>> {
        let root = work.join("root");
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let mut device = EmbeddedDevice {
            spec: self.clone(),
            profile: profile.clone(),
            root,
            child: None,
            client: Client::new("http://0", None),
        };
        device.spawn(opts)?;
        Ok(Box::new(device))
    }

    fn max_jobs(&self) -> usize {
        64
    }
}

struct EmbeddedDevice {
    spec: Embedded,
    profile: Profile,
    root: PathBuf,
    child: Option<Child>,
    client: Client,
}

impl EmbeddedDevice {
    fn spawn(&mut self, opts: &DeviceOpts) -> Result<()> {
        let mut cmd = Command::new(&self.spec.exe);
        cmd.arg("refsup")
            .arg("--root")
            .arg(&self.root)
            .args([
                "--supervisor-version",
                &self.profile.supervisor().to_string(),
            ])
            .args(["--os-version", &self.profile.os().to_string()])
            .args(["--listen", "127.0.0.1:0", "--stop-timeout", "3"]);
        for fault in &self.spec.faults {
            cmd.args(["--fault", fault]);
        }
        if let Some(pause) = &opts.pause_file {
            cmd.arg("--pause-after-lock").arg(pause);
        }
        if let Some(pause) = &opts.step_pause_file {
            cmd.arg("--pause-between-steps").arg(pause);
        }
        cmd.arg("--time-scale")
            .arg(self.spec.time_scale.to_string());
        let log =
            std::fs::File::create(self.root.parent().unwrap_or(&self.root).join("refsup.log"))?;
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {} refsup", self.spec.exe.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(
                self.root.parent().unwrap_or(&self.root).join("refsup.log"),
            )
            .unwrap_or_default();
            bail!(
                "refsup did not start: {}",
                log.lines().last().unwrap_or("no output")
            );
        };
        self.client = Client::new(&format!("http://{addr}"), None);
        self.child = Some(child);
        Ok(())
    }
}

impl Device for EmbeddedDevice {
    fn client(&self) -> &Client {
        &self.client
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn restart(&mut self, opts: &DeviceOpts) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        self.spawn(opts)
    }
}

impl Drop for EmbeddedDevice {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: refsup stops its services, then exits.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
        }
    }
}
