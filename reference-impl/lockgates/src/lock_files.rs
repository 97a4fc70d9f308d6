//! Which lock files exist for a service, as the service sees them and where
//! they live on the host.

/// Where a lock file lives on the host (SPEC section 2 layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockLocation {
    /// The per-service lock dir `<root>/tmp/balena-supervisor/services/<appId>/<service>/`,
    /// mounted at both `/tmp/balena` and `/tmp/resin` inside the service.
    ServiceDir,
    /// The OS 1.x app data dir `<root>/mnt/data/resin-data/<appId>/`, seen as `/data`.
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
