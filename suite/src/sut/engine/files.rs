//! Device files reached through the engine: an observer container from the
//! fixture image with the device root bind-mounted at `/host`, and every
//! file operation a busybox command run in it (exec). This is how the suite
//! sees lock dirs on a device that is not this host (a balenaOS device in
//! development mode: its engine on 2375, its root `/`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::CreateContainerOptionsBuilder;

use super::cell::remove_containers;
use super::exec::exec;
use super::{labels, Engine};
use crate::sut::files::{DeviceFiles, Entry, EntryKind};

/// Where the observer sees the device root.
pub const MOUNT: &str = "/host";

/// Exit status the scripts use for "something is already there" / "absent".
const HELD: i64 = 3;

/// The observer container and the operations run in it.
pub struct EngineFiles {
    engine: Arc<Engine>,
    id: String,
    root: PathBuf,
}

impl EngineFiles {
    /// Start an observer from `image` with `device_root` (as the engine's
    /// host sees it) at `/host`, labelled with the cell's `mark`.
    pub fn start(
        engine: &Arc<Engine>,
        image: &str,
        device_root: &Path,
        mark: &lockcheck_reaper::Mark,
    ) -> Result<EngineFiles> {
        let labels = HashMap::from([
            (labels::RUN.to_string(), mark.owner.to_string()),
            (labels::CELL.to_string(), mark.scope.clone()),
            (labels::ROLE.to_string(), "observer".to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["/bin/sleep".into(), "2147483647".into()]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:{MOUNT}", device_root.display())]),
                // Back after a device reboot, like the services.
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                network_mode: Some("none".into()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let id = engine
            .block_on(async {
                let opts = CreateContainerOptionsBuilder::default().build();
                let created = engine.docker().create_container(Some(opts), body).await?;
                engine
                    .docker()
                    .start_container(
                        &created.id,
                        None::<bollard::query_parameters::StartContainerOptions>,
                    )
                    .await?;
                Ok::<_, bollard::errors::Error>(created.id)
            })
            .with_context(|| format!("starting the observer container from {image}"))?;
        Ok(EngineFiles {
            engine: Arc::clone(engine),
            id,
            root: PathBuf::from(MOUNT),
        })
    }

    /// Run `script` with `sh -c` in the observer (args as `$1`...), as root;
    /// returns the exit code and stdout.
    pub fn sh(&self, script: &str, args: &[&str]) -> Result<(i64, Vec<u8>)> {
        let mut cmd = vec!["/bin/sh", "-c", script, "sh"];
        cmd.extend_from_slice(args);
        let out = self
            .engine
            .block_on(exec(&self.engine, &self.id, None, &cmd))
            .with_context(|| format!("running `{script}` in the observer container"))?;
        let text = String::from_utf8_lossy(&out.stderr);
        if out.code != 0 && out.code != HELD && !text.trim().is_empty() {
            eprintln!("lockcheck: observer: {}", text.trim());
        }
        Ok((out.code, out.stdout))
    }

    fn run(&self, what: &str, script: &str, args: &[&str]) -> Result<i64> {
        let (code, _) = self.sh(script, args)?;
        if code != 0 && code != HELD {
            bail!("{what}: exit status {code} in the observer container");
        }
        Ok(code)
    }

    /// The kernel's boot id as the device sees it.
    pub fn boot_id(&self) -> Result<String> {
        let (code, out) = self.sh("cat /proc/sys/kernel/random/boot_id", &[])?;
        anyhow::ensure!(code == 0, "cannot read the device's boot id");
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

impl DeviceFiles for EngineFiles {
    fn root(&self) -> &Path {
        &self.root
    }

    fn entry(&self, path: &Path) -> Result<Option<Entry>> {
        let (code, out) = self.sh(
            r#"[ -e "$1" ] || [ -L "$1" ] || exit 3; stat -c '%u %F' "$1""#,
            &[p(path)],
        )?;
        if code == HELD {
            return Ok(None);
        }
        anyhow::ensure!(code == 0, "stat {} failed in the observer", path.display());
        let text = String::from_utf8_lossy(&out);
        let (uid, kind) = text.trim().split_once(' ').context("stat output")?;
        let kind = match kind {
            "regular file" | "regular empty file" => EntryKind::File,
            "directory" => EntryKind::Dir,
            "symbolic link" => EntryKind::Symlink,
            _ => EntryKind::Other,
        };
        Ok(Some(Entry {
            kind,
            uid: uid.parse().context("stat uid")?,
        }))
    }

    fn create_excl(&self, path: &Path, uid: Option<u32>) -> Result<bool> {
        let uid = uid.map(|u| u.to_string()).unwrap_or_default();
        // ash's noclobber (`set -C`) opens with O_CREAT|O_EXCL.
        let code = self.run(
            "exclusive create",
            r#"mkdir -p "$(dirname "$1")" || exit 2
set -C
if ( : > "$1" ) 2>/dev/null; then
  [ -z "$2" ] || chown "$2:$2" "$1"
elif [ -e "$1" ] || [ -L "$1" ]; then exit 3
else exit 2; fi"#,
            &[p(path), &uid],
        )?;
        Ok(code == 0)
    }

    fn remove(&self, path: &Path) -> Result<()> {
        self.run(
            &format!("removing {}", path.display()),
            r#"if [ -d "$1" ] && [ ! -L "$1" ]; then rmdir "$1"; else rm -f "$1"; fi"#,
            &[p(path)],
        )
        .map(drop)
    }

    fn touch(&self, path: &Path) -> Result<()> {
        self.run(
            &format!("touch {}", path.display()),
            r#"mkdir -p "$(dirname "$1")" && touch "$1""#,
            &[p(path)],
        )
        .map(drop)
    }

    fn symlink(&self, target: &str, link: &Path) -> Result<()> {
        self.run(
            &format!("symlink {}", link.display()),
            r#"mkdir -p "$(dirname "$2")" && ln -s "$1" "$2""#,
            &[target, p(link)],
        )
        .map(drop)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.run(
            &format!("rename {} to {}", from.display(), to.display()),
            r#"mv -f "$1" "$2""#,
            &[p(from), p(to)],
        )
        .map(drop)
    }

    fn write(&self, path: &Path, content: &[u8]) -> Result<()> {
        let text = std::str::from_utf8(content).context("the observer writes text only")?;
        self.run(
            &format!("writing {}", path.display()),
            r#"mkdir -p "$(dirname "$1")" && printf '%s' "$2" > "$1""#,
            &[p(path), text],
        )
        .map(drop)
    }

    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let (code, out) = self.sh(r#"[ -e "$1" ] || exit 3; cat "$1""#, &[p(path)])?;
        match code {
            0 => Ok(Some(out)),
            HELD => Ok(None),
            c => bail!(
                "reading {}: exit status {c} in the observer",
                path.display()
            ),
        }
    }

    fn clear_locks(&self, dir: &Path) -> Result<()> {
        let mut script = String::from(r#"[ -d "$1" ] || exit 0; find "$1" \( "#);
        for (i, name) in lockgates::LOCK_NAMES.iter().enumerate() {
            if i > 0 {
                script.push_str(" -o ");
            }
            script.push_str(&format!("-name '{name}'"));
        }
        script.push_str(r#" \) -exec rm -rf {} +"#);
        self.run(
            &format!("clearing the locks under {}", dir.display()),
            &script,
            &[p(dir)],
        )
        .map(drop)
    }

    fn mkdir_all(&self, path: &Path) -> Result<()> {
        self.run(
            &format!("creating {}", path.display()),
            r#"mkdir -p "$1""#,
            &[p(path)],
        )
        .map(drop)
    }
}

impl Drop for EngineFiles {
    fn drop(&mut self) {
        let engine = &self.engine;
        engine.block_on(remove_containers(engine, std::slice::from_ref(&self.id)));
    }
}
