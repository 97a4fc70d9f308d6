//! The behaviour questions a supervisor (or a judge of one) asks of a profile.
//! Each answer is read from the gate table; nothing here names a version.

use crate::{Gate, LockFile, Profile};

/// Where an override variable is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideSource {
    /// A device/fleet configuration variable (`local.config` in the target state).
    Config,
    /// An environment variable of the app's services.
    AppEnv,
}

/// One variable name that can switch the lock override on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverrideName {
    /// The variable name.
    pub name: &'static str,
    /// Where it is read from.
    pub source: OverrideSource,
    /// Whether this is a legacy name that loses to a `SUPERVISOR_OVERRIDE_LOCK`
    /// name when both are set and disagree.
    pub legacy: bool,
}

/// uid of supervisor-made locks before 13.1.0.
pub const ROOT_UID: u32 = 0;
/// uid of supervisor-made locks from 13.1.0 (nobody).
pub const NOBODY_UID: u32 = 65534;

impl Profile {
    /// The lock files the supervisor honours (and takes) for each service, in
    /// the order it takes them.
    pub fn lock_files(&self) -> Vec<LockFile> {
        let mut files = Vec::new();
        if self.has(Gate::LockTmpBalena) {
            files.push(LockFile::TMP_BALENA);
        }
        if self.has(Gate::LockTmpResin) {
            files.push(LockFile::TMP_RESIN);
        }
        if self.has(Gate::LockData) {
            files.push(LockFile::DATA);
        }
        files
    }

    /// Every lock file a service could try that this profile ignores (P2).
    pub fn ignored_lock_files(&self) -> Vec<LockFile> {
        let honoured = self.lock_files();
        LockFile::ALL
            .into_iter()
            .filter(|f| {
                !honoured
                    .iter()
                    .any(|h| h.location == f.location && h.name == f.name)
            })
            .collect()
    }

    /// Whether the `/data` lock is cleared every time the supervisor starts
    /// (the documented issue #20 hazard, P3).
    pub fn clears_data_lock_at_start(&self) -> bool {
        self.has(Gate::LockData)
    }

    /// Lock-path environment variables given to services: (name, service path).
    pub fn lock_env_vars(&self) -> Vec<(&'static str, &'static str)> {
        let mut vars = Vec::new();
        if self.has(Gate::EnvResinLockPath) {
            vars.push(("RESIN_APP_LOCK_PATH", LockFile::TMP_RESIN.service_path));
        }
        if self.has(Gate::EnvBalenaLockPath) {
            vars.push(("BALENA_APP_LOCK_PATH", LockFile::TMP_BALENA.service_path));
        }
        vars
    }

    /// The uid owning locks the supervisor creates (L4).
    pub fn lock_owner_uid(&self) -> u32 {
        if self.has(Gate::LockOwnerNobody) {
            NOBODY_UID
        } else {
            ROOT_UID
        }
    }

    /// Whether force/override may remove a directory at a lock path (L5).
    pub fn directory_lock_removable(&self) -> bool {
        self.has(Gate::DirectoryLockRemovable)
    }

    /// Whether a symlink at a lock path is held as such (true) or followed,
    /// so that a dangling link does not count (false) (L6).
    pub fn symlink_lock_held(&self) -> bool {
        self.has(Gate::SymlinkLockHeld)
    }

    /// Whether concurrent lock operations on one app are serialised, an API
    /// caller that would wait getting 423 (L9).
    pub fn one_lock_operation_per_app(&self) -> bool {
        self.has(Gate::OneLockOperationPerApp)
    }

    /// Whether a release change that kills nothing skips the locks (U4).
    pub fn metadata_change_without_locks(&self) -> bool {
        self.has(Gate::MetadataChangeWithoutLocks)
    }

    /// Whether removing an app leaves no supervisor lock behind (U5).
    pub fn removal_leaves_no_lock(&self) -> bool {
        self.has(Gate::RemovalLeavesNoLock)
    }

    /// Whether a reboot-requiring config change waits for locks (R1).
    pub fn reboot_deferred_while_locked(&self) -> bool {
        self.has(Gate::RebootDeferredWhileLocked)
    }

    /// HTTP status of a refused reboot/shutdown while locked (R3).
    pub fn locked_reboot_status(&self) -> u16 {
        if self.has(Gate::RebootApi423) {
            423
        } else {
            500
        }
    }

    /// Whether HUP rollback breadcrumbs block updates and reboots (R4).
    pub fn hup_breadcrumbs_block(&self) -> bool {
        self.has(Gate::HupBreadcrumbsBlock)
    }

    /// Whether `force` overrides the HUP breadcrumbs (R4).
    pub fn hup_breadcrumbs_force(&self) -> bool {
        self.has(Gate::HupBreadcrumbsForce)
    }

    /// Whether host-config PATCH is refused with 423 while locked (R5).
    pub fn host_config_refused_while_locked(&self) -> bool {
        self.has(Gate::HostConfigRefusedWhileLocked)
    }

    /// Whether host-config PATCH takes the locks by exclusive create (R5).
    pub fn host_config_takes_locks(&self) -> bool {
        self.has(Gate::HostConfigTakesLocks)
    }

    /// The override variable names this profile reads, current names first (O2).
    pub fn override_names(&self) -> Vec<OverrideName> {
        let mut names = Vec::new();
        if self.has(Gate::OverrideBalenaPrefix) {
            names.push(OverrideName {
                name: "BALENA_SUPERVISOR_OVERRIDE_LOCK",
                source: OverrideSource::Config,
                legacy: false,
            });
        }
        names.push(OverrideName {
            name: "RESIN_SUPERVISOR_OVERRIDE_LOCK",
            source: OverrideSource::Config,
            legacy: false,
        });
        if self.has(Gate::OverrideAppEnvVar) {
            names.push(OverrideName {
                name: "RESIN_OVERRIDE_LOCK",
                source: OverrideSource::AppEnv,
                legacy: true,
            });
        }
        names
    }

    /// Whether the override is on, given how to look a name up: the first
    /// name (in [`Profile::override_names`] order) that is set decides, so a
    /// `SUPERVISOR_OVERRIDE_LOCK` name wins over a legacy one that disagrees.
    pub fn override_active<'a>(&self, lookup: impl Fn(&OverrideName) -> Option<&'a str>) -> bool {
        self.override_names()
            .iter()
            .find_map(lookup)
            .is_some_and(|v| self.override_truthy(v))
    }

    /// Whether an override variable's value switches the override on (O3).
    pub fn override_truthy(&self, value: &str) -> bool {
        value == "1" || (value == "true" && self.has(Gate::OverrideTrueString))
    }

    /// Whether the supervisor removes its own leftover (uid 65534) locks at
    /// start (C1), which also removes a nobody-owned user lock (C3).
    pub fn cleans_leftover_locks(&self) -> bool {
        self.has(Gate::LeftoverLockCleanup)
    }
}
