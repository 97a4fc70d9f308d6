//! What the probes put at the lock path before the tool runs: the
//! supervisor's own lock file (as procmail's `lockfile -r 0` makes it, owned
//! as the profile says), an empty directory, symlinks.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use lockgates::Profile;
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{chown, Gid, Uid};

/// What procmail's `lockfile` writes into a lock it creates.
pub const LOCKFILE_CONTENT: &[u8] = b"0";

/// A supervisor lock at `path`: `content`, mode 0444, owned by the uid the
/// profile's supervisor locks as (65534 from 13.1.0, else 0), modified
/// `age` ago. Returns a note when it cannot be owned that way (not root).
pub fn supervisor_lock(
    path: &Path,
    profile: &Profile,
    content: &[u8],
    age: Duration,
) -> Result<Option<String>> {
    std::fs::write(path, content).with_context(|| format!("creating {}", path.display()))?;
    let uid = profile.lock_owner_uid();
    let mut note = None;
    if let Err(e) = chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(uid))) {
        note = Some(format!(
            "could not chown it to uid {uid} ({e}): it is owned by uid {} instead",
            nix::unistd::geteuid()
        ));
    }
    set_mtime(path, age)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))
        .with_context(|| format!("chmod 0444 {}", path.display()))?;
    Ok(note)
}

/// Set `path`'s mtime (and atime) to `age` ago, without following links.
pub fn set_mtime(path: &Path, age: Duration) -> Result<()> {
    let when = SystemTime::now() - age;
    let since = when
        .duration_since(SystemTime::UNIX_EPOCH)
        .context("a time before 1970")?;
    let ts = TimeSpec::from_duration(since);
    utimensat(None, path, &ts, &ts, UtimensatFlags::NoFollowSymlink)
        .with_context(|| format!("setting the mtime of {}", path.display()))
}

/// A pid that is certainly not running: a child that has exited and been reaped.
pub fn dead_pid() -> Result<u32> {
    let mut child = {
        let _forking = crate::gate::spawn_guard::forking();
        std::process::Command::new("/bin/true")
            .spawn()
            .context("running /bin/true")?
    };
    let pid = child.id();
    child.wait()?;
    Ok(pid)
}

/// `10 min`, `2 h`: how the probes name an age.
pub fn age_text(age: Duration) -> String {
    let s = age.as_secs();
    let (hours, rest) = (s / 3600, s % 3600);
    if hours > 0 && rest == 0 {
        format!("{hours} h")
    } else if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}
