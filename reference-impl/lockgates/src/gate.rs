//! The names of the version gates, as a closed set the code can match on.

use std::fmt;
use std::str::FromStr;

macro_rules! gates {
    ($($variant:ident => $id:literal,)*) => {
        /// A behaviour that is switched on from (or up to) some supervisor/OS
        /// version. Each variant has exactly one row in `gates.toml`; a unit
        /// test holds the two in step.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Gate { $(#[doc = $id] $variant,)* }

        impl Gate {
            /// Every gate, in table order.
            pub const ALL: &'static [Gate] = &[$(Gate::$variant,)*];

            /// The row id in `gates.toml`.
            pub fn id(self) -> &'static str {
                match self { $(Gate::$variant => $id,)* }
            }
        }

        impl FromStr for Gate {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($id => Ok(Gate::$variant),)*
                    other => Err(format!("unknown gate '{other}'")),
                }
            }
        }
    };
}

gates! {
    LockData => "lock_data",
    LockTmpResin => "lock_tmp_resin",
    LockTmpBalena => "lock_tmp_balena",
    HostDirPerService => "host_dir_per_service",
    HostDirBalena => "host_dir_balena",
    EnvResinLockPath => "env_resin_lock_path",
    EnvBalenaLockPath => "env_balena_lock_path",
    LockOwnerNobody => "lock_owner_nobody",
    DirectoryLockRemovable => "directory_lock_removable",
    ForceSkipsLocks => "force_skips_locks",
    OwnLockScanFollowsLinks => "own_lock_scan_follows_links",
    LocksPerStep => "locks_per_step",
    AppLockWait423 => "app_lock_wait_423",
    BackoffExponential => "backoff_exponential",
    BackoffCapPollInterval => "backoff_cap_poll_interval",
    PollInterval15Min => "poll_interval_15min",
    UpdateFailedField => "update_failed_field",
    LockedLogLine => "locked_log_line",
    MetadataUpdateTakesLocks => "metadata_update_takes_locks",
    MetadataLockAfterDownload => "metadata_lock_after_download",
    RemovalLeavesLock => "removal_leaves_lock",
    HandOverIgnoresLocks => "hand_over_ignores_locks",
    LocalTargetForce => "local_target_force",
    RebootApiChecksLocks => "reboot_api_checks_locks",
    ConfigRebootWaitsForLocks => "config_reboot_waits_for_locks",
    AppActions423 => "app_actions_423",
    HupBreadcrumbsBlock => "hup_breadcrumbs_block",
    HupBreadcrumbsForce => "hup_breadcrumbs_force",
    HupOverrideBypass => "hup_override_bypass",
    HostConfigTakesLocks => "host_config_takes_locks",
    HostConfigNeedsApp => "host_config_needs_app",
    HostnameBypassesLocks => "hostname_bypasses_locks",
    OverrideAppEnvVar => "override_app_env_var",
    OverrideAppConfigVar => "override_app_config_var",
    OverrideSupervisorName => "override_supervisor_name",
    OverrideLegacyConfigVar => "override_legacy_config_var",
    OverrideBalenaPrefix => "override_balena_prefix",
    OverrideLegacyWins => "override_legacy_wins",
    OverrideTrueString => "override_true_string",
    OverrideCaseInsensitive => "override_case_insensitive",
    LeftoverCleanupAtStart => "leftover_cleanup_at_start",
    LeftoverAdopted => "leftover_adopted",
    LeftoverCleanupOnSettle => "leftover_cleanup_on_settle",
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
