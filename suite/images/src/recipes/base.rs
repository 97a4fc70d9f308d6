//! What every image gets: a static busybox with its applets, a world-
//! writable sticky `/tmp`, and `/etc/passwd` and `/etc/group` with root and
//! nobody (65534).

use std::path::Path;

use anyhow::{bail, Result};

use crate::context::Context;
use crate::elf::check_static;

/// Where Debian's `busybox-static` puts busybox, on the host and in images.
pub const BUSYBOX: &str = "/bin/busybox";

/// The Dockerfile step that installs busybox's applets as symlinks in `/bin`
/// (the classic builder runs it with busybox itself as the only program).
pub const INSTALL_APPLETS: &str = r#"RUN ["/bin/busybox", "--install", "-s", "/bin"]"#;

/// The `PATH` of the images: the real lock tools in `/usr/bin` come before
/// busybox's applets of the same name in `/bin`.
pub const PATH_ENV: &str = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

/// Adds busybox, `/tmp`, `/root` and the user and group files to `ctx`.
pub fn add(ctx: &Context) -> Result<()> {
    let busybox = Path::new(BUSYBOX);
    if !busybox.is_file() {
        bail!("{BUSYBOX} not found: install busybox-static (apt-get install busybox-static)");
    }
    check_static(busybox)?;
    ctx.copy(busybox, BUSYBOX, 0o755)?;
    ctx.dir("/tmp", 0o1777)?;
    ctx.dir("/root", 0o700)?;
    ctx.write("/etc/passwd", PASSWD.as_bytes(), 0o644)?;
    ctx.write("/etc/group", GROUP.as_bytes(), 0o644)?;
    Ok(())
}
