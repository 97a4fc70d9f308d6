//! Which lock files exist for a service, as the service sees them and where
//! they live on the host (SPEC section 2). This is the one place the host
//! layout is written down: refsup, the suite and the fuzz crate all ask a
//! [`Profile`] for it.

use std::path::PathBuf;

use crate::{Gate, Profile};

/// Where a lock file lives on the host (SPEC section 2 layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockLocation {
    /// The service's host lock dir ([`Profile::service_lock_dir`]), bound at
    /// `/tmp/resin` (and from 7.22.0 also at `/tmp/balena`) in the service.
    ServiceDir,
    /// The OS 1.x app data dir `<root>/resin-data/<appId>/`, seen as `/data`.
    AppData,
}

/// One lock file the supervisor honours for every service of an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LockFile {
    /// Which host directory it is in.
    pub location: LockLocation,
    /// Its file name there.
    pub name: &'static str,
    /// The path the service uses for it.
    pub service_path: &'static str,
}

impl LockFile {
    /// `/data/resin-updates.lock`.
    pub const DATA: LockFile = LockFile {
        location: LockLocation::AppData,
        name: "resin-updates.lock",
        service_path: "/data/resin-updates.lock",
    };
    /// `/tmp/resin/resin-updates.lock`.
    pub const TMP_RESIN: LockFile = LockFile {
        location: LockLocation::ServiceDir,
        name: "resin-updates.lock",
        service_path: "/tmp/resin/resin-updates.lock",
    };
    /// `/tmp/balena/updates.lock`.
    pub const TMP_BALENA: LockFile = LockFile {
        location: LockLocation::ServiceDir,
        name: "updates.lock",
        service_path: "/tmp/balena/updates.lock",
    };
    /// Every lock file any profile has ever honoured.
    pub const ALL: [LockFile; 3] = [LockFile::DATA, LockFile::TMP_RESIN, LockFile::TMP_BALENA];
}

/// Every file name a supervisor ever used for a lock.
pub const LOCK_NAMES: [&str; 2] = ["updates.lock", "resin-updates.lock"];

impl Profile {
    /// The dir (relative to the device root) under which every host lock dir
    /// of this profile lives: `tmp/resin-supervisor` (4.0.0, one dir per
    /// app), `tmp/resin-supervisor/services` (7.0.0, one per service),
    /// `tmp/balena-supervisor/services` (7.22.0).
    pub fn lock_root(&self) -> PathBuf {
        if self.has(Gate::HostDirBalena) {
            PathBuf::from("tmp/balena-supervisor/services")
        } else if self.has(Gate::HostDirPerService) {
            PathBuf::from("tmp/resin-supervisor/services")
        } else {
            PathBuf::from("tmp/resin-supervisor")
        }
    }

    /// The host dir (relative to the device root) of `app`'s lock dirs.
    pub fn app_lock_dir(&self, app: u32) -> PathBuf {
        self.lock_root().join(app.to_string())
    }

    /// The host lock dir (relative to the device root) of `service` of
    /// `app`, bound at `/tmp/resin` (and `/tmp/balena`) inside it. Before
    /// 7.0.0 an app had one container and one dir, whatever the service.
    pub fn service_lock_dir(&self, app: u32, service: &str) -> PathBuf {
        if self.has(Gate::HostDirPerService) {
            self.app_lock_dir(app).join(service)
        } else {
            self.app_lock_dir(app)
        }
    }

    /// The OS 1.x app data dir (relative to the device root), seen as
    /// `/data`: the real supervisor's `/mnt/root/resin-data/<appId>/`.
    pub fn app_data_dir(&self, app: u32) -> PathBuf {
        PathBuf::from("resin-data").join(app.to_string())
    }

    /// Where `file` of `service` of `app` lives, relative to the device root.
    pub fn lock_path(&self, app: u32, service: &str, file: &LockFile) -> PathBuf {
        match file.location {
            LockLocation::ServiceDir => self.service_lock_dir(app, service).join(file.name),
            LockLocation::AppData => self.app_data_dir(app).join(file.name),
        }
    }
}
