//! What happens every time the supervisor starts (and after a simulated
//! reboot): boot detection, the start-time lock clean-ups of the profile, and
//! adopting or restarting the services.

use anyhow::{Context, Result};

use crate::store::atomic_write;

use super::Engine;

impl Engine {
    pub(super) async fn boot(&self) -> Result<()> {
        let layout = &self.layout;
        for dir in [
            layout.data_root(),
            layout.state_partition(),
            layout.boot_partition(),
        ] {
            layout
                .confined()
                .create_dir_all(&dir, 0o755)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        self.ensure_lock_dir(&layout.lock_root());
        // A missing boot marker means /tmp was wiped: the device booted.
        if !layout.boot_marker().exists() {
            let device = {
                let mut shared = self.shared.lock().unwrap();
                shared.device.boot_count += 1;
                shared.device.clone()
            };
            self.store.save_device(&device)?;
            atomic_write(
                layout.confined(),
                &layout.boot_marker(),
                device.boot_count.to_string().as_bytes(),
            )?;
            tracing::info!("boot {}", device.boot_count);
        }
        self.clear_start_locks()?;
        // Adopt what runs; start what should run but does not.
        for c in self.runtime.list().await? {
            if c.status != crate::runtime::ContainerStatus::Running {
                self.ensure_lock_dir(&c.spec.lock_dir);
                if let Err(e) = self.runtime.start(&c.id).await {
                    tracing::error!("starting {}: {e}", c.id);
                }
            }
        }
        self.wake();
        Ok(())
    }

    /// P3: the `/data` lock is cleared at every start where the profile
    /// honours it. C1: 13.1.0 - 16.1.x, entry.sh deletes every regular
    /// `*updates.lock` file owned by nobody under the lock dirs (which also
    /// removes a nobody-owned user lock: C3).
    fn clear_start_locks(&self) -> Result<()> {
        let profile = &self.cfg.profile;
        let confined = self.layout.confined();
        if profile.clears_data_lock_at_start() {
            for found in confined.find_locks(&self.layout.data_root(), &["resin-updates.lock"])? {
                tracing::info!("clearing /data lock {} at start", found.path.display());
                confined.release(&found.path)?;
            }
        }
        if profile.cleans_leftover_locks_at_start() {
            for found in confined.find_locks(&self.layout.lock_root(), &lockgates::LOCK_NAMES)? {
                if found.holder.uid == lockgates::NOBODY_UID
                    && found.holder.kind == updatelock::EntryKind::File
                {
                    tracing::info!("removing leftover lock {}", found.path.display());
                    confined.release(&found.path)?;
                }
            }
        }
        Ok(())
    }
}
