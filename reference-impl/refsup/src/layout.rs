//! Where everything lives under `--root` (SPEC section 2), in one place.

use std::path::{Path, PathBuf};

use lockgates::{LockFile, Profile};
use updatelock::Beneath;

/// The host layout of one supervised device, rooted like the real
/// supervisor's `/mnt/root`. Where the lock dirs are depends on the
/// profile; the profile (lockgates) is the one place that says so.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    profile: Profile,
    confined: Beneath,
}

impl Layout {
    /// A layout rooted at `root` (which must be absolute) for `profile`.
    pub fn new(root: PathBuf, profile: Profile) -> Layout {
        Layout {
            confined: Beneath::new(root.clone()),
            root,
            profile,
        }
    }

    /// The root itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// File operations confined to the root: every path the supervisor
    /// writes or removes goes through this, so a symlink planted in the
    /// tree (apps can write their lock dirs) is refused, never followed.
    pub fn confined(&self) -> &Beneath {
        &self.confined
    }

    /// `<root>/tmp`: tmpfs on a device, wiped by a reboot.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `<root>/tmp/balena-supervisor`: the supervisor's own tmp dir (boot
    /// marker, reboot breadcrumb).
    pub fn supervisor_tmp(&self) -> PathBuf {
        self.tmp().join("balena-supervisor")
    }

    /// The dir holding every host lock dir of this profile.
    pub fn lock_root(&self) -> PathBuf {
        self.root.join(self.profile.lock_root())
    }

    /// The dir holding `app_id`'s lock dirs.
    pub fn app_lock_dir(&self, app_id: u32) -> PathBuf {
        self.root.join(self.profile.app_lock_dir(app_id))
    }

    /// A service's host lock dir, seen as `/tmp/resin` (and `/tmp/balena`).
    pub fn service_lock_dir(&self, app_id: u32, service: &str) -> PathBuf {
        self.root
            .join(self.profile.service_lock_dir(app_id, service))
    }

    /// `<root>/resin-data`: all OS 1.x app data dirs.
    pub fn data_root(&self) -> PathBuf {
        self.root.join("resin-data")
    }

    /// OS 1.x app data dir, seen as `/data`.
    pub fn app_data_dir(&self, app_id: u32) -> PathBuf {
        self.root.join(self.profile.app_data_dir(app_id))
    }

    /// Host path of one lock file of one service.
    pub fn lock_path(&self, app_id: u32, service: &str, file: &LockFile) -> PathBuf {
        self.root
            .join(self.profile.lock_path(app_id, service, file))
    }

    /// `<root>/mnt/state`: the state partition (HUP breadcrumbs live here).
    pub fn state_partition(&self) -> PathBuf {
        self.root.join("mnt/state")
    }

    /// The HUP rollback breadcrumbs that block updates and reboots (R4).
    pub fn hup_breadcrumbs(&self) -> [PathBuf; 2] {
        let state = self.state_partition();
        [
            state.join("rollback-health-breadcrumb"),
            state.join("rollback-altboot-breadcrumb"),
        ]
    }

    /// `<root>/mnt/state/refsup`: the reference's own crash-safe state.
    pub fn refsup_state(&self) -> PathBuf {
        self.state_partition().join("refsup")
    }

    /// Where the runtime keeps its own records (the process runtime its
    /// container records, the Docker runtime a `docker/` dir of hints).
    pub fn runtime_state(&self) -> PathBuf {
        self.refsup_state().join("runtime")
    }

    /// Where service stdout/stderr go.
    pub fn service_logs(&self) -> PathBuf {
        self.refsup_state().join("logs")
    }

    /// Marker of the current boot; its absence at start means the device
    /// (re)booted, since `<root>/tmp` is wiped by a reboot.
    pub fn boot_marker(&self) -> PathBuf {
        self.supervisor_tmp().join("boot-id")
    }

    /// Reboot breadcrumb: a reboot-requiring change waits to be rebooted into.
    pub fn reboot_breadcrumb(&self) -> PathBuf {
        self.supervisor_tmp().join("reboot-after-apply")
    }

    /// `<root>/mnt/boot`: the boot partition.
    pub fn boot_partition(&self) -> PathBuf {
        self.root.join("mnt/boot")
    }

    /// Host config (`HOST_CONFIG_*` keys as `key=value` lines), applied by a reboot.
    pub fn config_txt(&self) -> PathBuf {
        self.boot_partition().join("config.txt")
    }

    /// Device config: hostname and the non-reboot config vars, applied at once.
    pub fn config_json(&self) -> PathBuf {
        self.boot_partition().join("config.json")
    }
}
