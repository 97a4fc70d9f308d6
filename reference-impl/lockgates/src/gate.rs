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
    EnvResinLockPath => "env_resin_lock_path",
    EnvBalenaLockPath => "env_balena_lock_path",
    LockOwnerNobody => "lock_owner_nobody",
    DirectoryLockRemovable => "directory_lock_removable",
    SymlinkLockHeld => "symlink_lock_held",
    OneLockOperationPerApp => "one_lock_operation_per_app",
    MetadataChangeWithoutLocks => "metadata_change_without_locks",
    RemovalLeavesNoLock => "removal_leaves_no_lock",
    RebootDeferredWhileLocked => "reboot_deferred_while_locked",
    RebootApi423 => "reboot_api_423",
    HupBreadcrumbsBlock => "hup_breadcrumbs_block",
    HupBreadcrumbsForce => "hup_breadcrumbs_force",
    HostConfigRefusedWhileLocked => "host_config_refused_while_locked",
    HostConfigTakesLocks => "host_config_takes_locks",
    OverrideAppEnvVar => "override_app_env_var",
    OverrideBalenaPrefix => "override_balena_prefix",
    OverrideTrueString => "override_true_string",
    LeftoverLockCleanup => "leftover_lock_cleanup",
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
