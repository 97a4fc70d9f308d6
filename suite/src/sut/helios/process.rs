//! One helios process: started unmanaged on its own runtime dir and API
//! port, marked as the cell's (so the cell's cleanup kills it), and killed
//! (SIGKILL, as a crash) or stopped (SIGTERM) by the driver.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cleanup::cell_mark;
use crate::client::Client;

/// A running helios.
pub struct HeliosProcess {
    child: Child,
    /// Its API.
    pub client: Client,
}

/// Where a cell's helios keeps everything: `work/helios`.
pub struct HeliosDirs {
    /// `XDG_RUNTIME_DIR` and `--host-runtime-dir` (they must be the same
    /// dir, or helios ignores every lock).
    pub runtime: PathBuf,
    /// Its own XDG config/state/cache.
    pub xdg: PathBuf,
    /// Its log.
    pub log: PathBuf,
    /// The cell's scratch dir (for the mark).
    pub work: PathBuf,
}

impl HeliosDirs {
    /// Create the dirs under `work`.
    pub fn create(work: &Path) -> Result<HeliosDirs> {
        let base = work.join("helios");
        let dirs = HeliosDirs {
            runtime: base.join("runtime"),
            xdg: base.join("xdg"),
            log: work.join("helios.log"),
            work: work.to_path_buf(),
        };
        for d in [
            &dirs.runtime,
            &dirs.xdg.join("config"),
            &dirs.xdg.join("state"),
            &dirs.xdg.join("cache"),
        ] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(dirs)
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

impl HeliosProcess {
    /// Start helios and wait until `GET /ping` answers.
    pub fn start(
        bin: &Path,
        engine_url: &str,
        uuid: &str,
        dirs: &HeliosDirs,
        retry_ms: u64,
    ) -> Result<HeliosProcess> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&dirs.log)
            .with_context(|| format!("opening {}", dirs.log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.args(["--uuid", uuid, "--host-runtime-dir"])
            .arg(&dirs.runtime)
            .args(["--local-api-address", &format!("127.0.0.1:{port}")])
            .args(["--local-retry-interval-ms", &retry_ms.to_string()])
            .args(["--host-os-version", "balenaOS 6.5.39"])
            .env("DOCKER_HOST", engine_url)
            .env("NO_COLOR", "1")
            .env("XDG_RUNTIME_DIR", &dirs.runtime)
            .env("XDG_CONFIG_HOME", dirs.xdg.join("config"))
            .env("XDG_STATE_HOME", dirs.xdg.join("state"))
            .env("XDG_CACHE_HOME", dirs.xdg.join("cache"))
            .env("HOME", &dirs.xdg)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        cell_mark(&dirs.work).apply(&mut cmd);
        lockcheck_reaper::die_with_parent(&mut cmd, nix::sys::signal::Signal::SIGTERM);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting helios {}", bin.display()))?;
        let client = Client::new(&format!("http://127.0.0.1:{port}"), None);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = client.call("GET", "/ping", None) {
                return Ok(HeliosProcess { child, client });
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "helios exited at start ({status}); see {}",
                    dirs.log.display()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "helios did not answer /ping within 30 s; see {}",
                    dirs.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HeliosProcess {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if !matches!(
            lockcheck_reaper::wait_timeout(&mut self.child, Duration::from_secs(10)),
            Ok(Some(_))
        ) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
