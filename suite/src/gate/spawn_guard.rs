//! Writing scripts that other processes exec, while threads fork. A child
//! forked while a script is open for writing holds that descriptor until
//! it execs (close-on-exec or not), and exec of the script meanwhile fails
//! with ETXTBSY ("Text file busy"). So the gate writes its scripts under a
//! write lock and forks only under a read lock: no fork ever sees one open.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard};

use anyhow::{Context, Result};

static FORK: RwLock<()> = RwLock::new(());

/// Write `text` to `path` as an executable (mode 0755) script.
pub fn write_script(path: &Path, text: &str) -> Result<()> {
    let _no_fork = FORK.write().unwrap_or_else(|e| e.into_inner());
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod 0755 {}", path.display()))
}

/// Hold while starting a process (`Command::spawn` returns once the child
/// has exec'd, so its copies of our descriptors are gone by then).
pub fn forking() -> RwLockReadGuard<'static, ()> {
    FORK.read().unwrap_or_else(|e| e.into_inner())
}
