//! The behaviour questions a supervisor (or a judge of one) asks of a profile.
//! Each answer is read from the gate table; nothing here names a version.

use std::time::Duration;

use crate::{Gate, LockFile, Profile};

/// Where an override variable is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideSource {
    /// A device (or, before 7.0.0, app) configuration variable: `local.config`
    /// in the target state.
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
    /// Whether this is a legacy `*_OVERRIDE_LOCK` name (not
    /// `*_SUPERVISOR_OVERRIDE_LOCK`).
    pub legacy: bool,
}

/// uid of supervisor-made locks before 13.1.0.
pub const ROOT_UID: u32 = 0;
/// uid of supervisor-made locks from 13.1.0 (nobody).
pub const NOBODY_UID: u32 = 65534;

/// The first retry delay unit of a failed apply (`backoffIncrement`).
pub const BACKOFF_INCREMENT: Duration = Duration::from_millis(500);
/// The retry cap where it is not the poll interval.
pub const BACKOFF_FIXED_CAP: Duration = Duration::from_secs(30);

impl Profile {
    /// The lock files the supervisor honours (and takes) for each service, in
    /// the order it takes them: `/data` first (OS 1.x), then `updates.lock`,
    /// then `resin-updates.lock`.
    pub fn lock_files(&self) -> Vec<LockFile> {
        let mut files = Vec::new();
        if self.has(Gate::LockData) {
            files.push(LockFile::DATA);
        }
        if self.has(Gate::LockTmpBalena) {
            files.push(LockFile::TMP_BALENA);
        }
        if self.has(Gate::LockTmpResin) {
            files.push(LockFile::TMP_RESIN);
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

    /// Lock-path environment variables given to services: (name, the path
    /// inside the service). From 7.22.0 both name `/tmp/balena/updates.lock`.
    pub fn lock_env_vars(&self) -> Vec<(&'static str, &'static str)> {
        let path = if self.has(Gate::EnvBalenaLockPath) {
            LockFile::TMP_BALENA.service_path
        } else {
            LockFile::TMP_RESIN.service_path
        };
        let mut vars = Vec::new();
        if self.has(Gate::EnvResinLockPath) {
            vars.push(("RESIN_APP_LOCK_PATH", path));
        }
        if self.has(Gate::EnvBalenaLockPath) {
            vars.push(("BALENA_APP_LOCK_PATH", path));
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

    /// Whether force/override may remove an empty directory at a lock path (L5).
    pub fn directory_lock_removable(&self) -> bool {
        self.has(Gate::DirectoryLockRemovable)
    }

    /// Whether force/override skip the lock files altogether (before 7.0.0):
    /// nothing blocks, and a user's lock file is unlinked only after its
    /// container stopped.
    pub fn force_skips_locks(&self) -> bool {
        self.has(Gate::ForceSkipsLocks)
    }

    /// Whether a dangling symlink lock puts every take, even a forced one,
    /// into an error loop (16.2.0 - 16.2.8, L6 hazard).
    pub fn own_lock_scan_follows_links(&self) -> bool {
        self.has(Gate::OwnLockScanFollowsLinks)
    }

    /// Whether locks are taken and released around each step (7.0.0 -
    /// 16.1.x), rather than held across the whole update (L1 hazard).
    pub fn locks_per_step(&self) -> bool {
        self.has(Gate::LocksPerStep)
    }

    /// Whether an API caller waiting for the in-process app lock gets 423
    /// after [`Profile::app_lock_wait`] (L9); before, it waits its turn.
    pub fn app_lock_wait_423(&self) -> bool {
        self.has(Gate::AppLockWait423)
    }

    /// How long an API caller waits for the in-process app lock (16.7.8).
    pub fn app_lock_wait(&self) -> Duration {
        Duration::from_secs(10)
    }

    /// The app update poll interval's default.
    pub fn poll_interval(&self) -> Duration {
        if self.has(Gate::PollInterval15Min) {
            Duration::from_millis(900_000)
        } else {
            Duration::from_millis(60_000)
        }
    }

    /// The cap on the retry delay of a failed apply.
    pub fn retry_cap(&self) -> Duration {
        if self.has(Gate::BackoffCapPollInterval) {
            self.poll_interval()
        } else {
            BACKOFF_FIXED_CAP
        }
    }

    /// How long the supervisor waits before retrying an apply that has failed
    /// `failures` times in a row (U2): `min(2^n x 500 ms, cap)`, or `n x
    /// 500 ms` before 1.5.0. `failures` counts the failure just seen.
    pub fn retry_delay(&self, failures: u32) -> Duration {
        let n = failures.min(40);
        let delay = if self.has(Gate::BackoffExponential) {
            BACKOFF_INCREMENT.saturating_mul(1u32 << n.min(31))
        } else {
            BACKOFF_INCREMENT.saturating_mul(n)
        };
        delay.min(self.retry_cap())
    }

    /// Whether `/v1/device` has `update_failed`.
    pub fn update_failed_field(&self) -> bool {
        self.has(Gate::UpdateFailedField)
    }

    /// Whether a locked apply logs "Updates are locked, retrying in ...".
    pub fn locked_log_line(&self) -> bool {
        self.has(Gate::LockedLogLine)
    }

    /// Whether a release change that kills nothing still takes the locks (U4);
    /// before 7.0.0 there is no such change.
    pub fn metadata_update_takes_locks(&self) -> bool {
        self.has(Gate::MetadataUpdateTakesLocks)
    }

    /// Whether removing an app leaves its supervisor locks behind (U5 hazard).
    pub fn removal_leaves_lock(&self) -> bool {
        self.has(Gate::RemovalLeavesLock)
    }

    /// Whether a hand-over update ignores user locks (U3 hazard, 16.2.0).
    pub fn hand_over_ignores_locks(&self) -> bool {
        self.has(Gate::HandOverIgnoresLocks)
    }

    /// Whether `POST /v2/local/target-state` takes a one-time `force`.
    pub fn local_target_force(&self) -> bool {
        self.has(Gate::LocalTargetForce)
    }

    /// Whether the reboot/shutdown API takes the locks (423 while locked);
    /// before 2.8.0 it reboots regardless (R3).
    pub fn reboot_api_checks_locks(&self) -> bool {
        self.has(Gate::RebootApiChecksLocks)
    }

    /// Whether a reboot-requiring config change waits for locks (R1).
    pub fn config_reboot_waits_for_locks(&self) -> bool {
        self.has(Gate::ConfigRebootWaitsForLocks)
    }

    /// Whether the reboot/shutdown API honours the lock override config var
    /// (from 7.0.0 it goes through the same locking as updates, B5).
    pub fn reboot_api_honours_override(&self) -> bool {
        self.has(Gate::ConfigRebootWaitsForLocks)
    }

    /// HTTP status of an app or service action refused by a lock.
    pub fn locked_action_status(&self) -> u16 {
        if self.has(Gate::AppActions423) {
            423
        } else {
            503
        }
    }

    /// Whether HUP rollback breadcrumbs block reboots and shutdowns (R4).
    pub fn hup_breadcrumbs_block(&self) -> bool {
        self.has(Gate::HupBreadcrumbsBlock)
    }

    /// Whether `force` overrides the HUP breadcrumbs (R4).
    pub fn hup_breadcrumbs_force(&self) -> bool {
        self.has(Gate::HupBreadcrumbsForce)
    }

    /// Whether the override config var also bypasses the breadcrumbs on the
    /// reboot API (12.9.3 - 14.4.x).
    pub fn hup_override_bypass(&self) -> bool {
        self.has(Gate::HupOverrideBypass)
    }

    /// Whether host-config PATCH takes the locks (423 while locked) (R5).
    pub fn host_config_takes_locks(&self) -> bool {
        self.has(Gate::HostConfigTakesLocks)
    }

    /// Whether host-config PATCH with no app answers 503 (12.11.34 - 14.0.8).
    pub fn host_config_needs_app(&self) -> bool {
        self.has(Gate::HostConfigNeedsApp)
    }

    /// Whether a hostname change bypasses the locks (R5 hazard).
    pub fn hostname_bypasses_locks(&self) -> bool {
        self.has(Gate::HostnameBypassesLocks)
    }

    /// The override variable names this profile reads (O2), current
    /// (`*_SUPERVISOR_OVERRIDE_LOCK`) names first, `BALENA_` before `RESIN_`.
    pub fn override_names(&self) -> Vec<OverrideName> {
        let source = if self.has(Gate::OverrideAppEnvVar) {
            OverrideSource::AppEnv
        } else {
            OverrideSource::Config
        };
        let balena = self.has(Gate::OverrideBalenaPrefix);
        let mut names = Vec::new();
        let mut add = |name, legacy| {
            names.push(OverrideName {
                name,
                source,
                legacy,
            })
        };
        if balena {
            add("BALENA_SUPERVISOR_OVERRIDE_LOCK", false);
        }
        if self.has(Gate::OverrideSupervisorName) {
            add("RESIN_SUPERVISOR_OVERRIDE_LOCK", false);
        }
        let legacy = self.has(Gate::OverrideAppEnvVar)
            || self.has(Gate::OverrideAppConfigVar)
            || self.has(Gate::OverrideLegacyConfigVar);
        if legacy && balena {
            add("BALENA_OVERRIDE_LOCK", true);
        }
        if legacy {
            add("RESIN_OVERRIDE_LOCK", true);
        }
        names
    }

    /// Whether the override is on, given how to look a name up (O2): within
    /// the current and the legacy names the first one set counts (a `BALENA_`
    /// name wins over its `RESIN_` twin); from 9.6.4 a set legacy name
    /// decides alone, before the override is on if either is truthy.
    pub fn override_active<'a>(&self, lookup: impl Fn(&OverrideName) -> Option<&'a str>) -> bool {
        let names = self.override_names();
        let first_set = |legacy: bool| {
            names
                .iter()
                .filter(|n| n.legacy == legacy)
                .find_map(&lookup)
        };
        let (current, legacy) = (first_set(false), first_set(true));
        let truthy = |v: Option<&str>| v.is_some_and(|v| self.override_truthy(v));
        if self.has(Gate::OverrideLegacyWins) && legacy.is_some() {
            return truthy(legacy);
        }
        truthy(current) || truthy(legacy)
    }

    /// Whether an override variable's value switches the override on (O3):
    /// `"1"`; from 6.6.8 also `"true"` and `"on"`, from 9.14.7 in any case.
    pub fn override_truthy(&self, value: &str) -> bool {
        if value == "1" {
            return true;
        }
        if !self.has(Gate::OverrideTrueString) {
            return false;
        }
        if self.has(Gate::OverrideCaseInsensitive) {
            let lower = value.to_ascii_lowercase();
            lower == "true" || lower == "on"
        } else {
            value == "true" || value == "on"
        }
    }

    /// Whether the supervisor deletes uid-65534 `*updates.lock` files at
    /// start (13.1.0 - 16.1.x; C1, and the C3 hazard).
    pub fn cleans_leftover_locks_at_start(&self) -> bool {
        self.has(Gate::LeftoverCleanupAtStart)
    }

    /// Whether uid-65534 lock files count as the supervisor's own (16.2.0):
    /// they never block it and are removed when it releases (C1, C3).
    pub fn adopts_leftover_locks(&self) -> bool {
        self.has(Gate::LeftoverAdopted)
    }

    /// Whether adopted leftovers are removed once the app's state settles.
    pub fn leftover_cleanup_on_settle(&self) -> bool {
        self.has(Gate::LeftoverCleanupOnSettle)
    }
}
