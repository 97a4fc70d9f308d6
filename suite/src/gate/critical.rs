//! The critical section a holder runs while it has the lock: a small shell
//! script that records `enter`/`leave` (and any SIGTERM) in an append-only
//! witness file the tool knows nothing about. A held section also tells the
//! gate it has entered through a FIFO and stays inside until the gate
//! writes to a second FIFO, so nothing here is timed by sleeps.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::stat::Mode as FileMode;

use super::template::shell_word;

/// How long a section stays inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stay {
    /// Until the gate lets it go ([`Section::let_go`]).
    UntilLetGo,
    /// For a fixed time (the race probe's many short sections).
    For(Duration),
}

/// One critical-section program and the gate's ends of its FIFOs.
#[derive(Debug)]
pub struct Section {
    /// The executable script (`{critical}`).
    pub script: PathBuf,
    /// The witness file it appends to.
    pub witness: PathBuf,
    entered: Option<File>,
    go: Option<File>,
}

impl Section {
    /// Write the script `dir/<id>.critical` (and, for [`Stay::UntilLetGo`],
    /// the FIFOs `dir/<id>.entered` and `dir/<id>.go`), appending to `witness`.
    pub fn new(dir: &Path, id: &str, witness: &Path, stay: Stay) -> Result<Section> {
        let script = dir.join(format!("{id}.critical"));
        let w = shell_word(&witness.to_string_lossy());
        let mut text = format!(
            "#!/bin/sh\n# lockcheck gate: critical section {id}\ntrap 'echo \"sigterm $$\" >> {w}; exit 143' TERM\necho \"enter $$\" >> {w}\n"
        );
        let (mut entered, mut go) = (None, None);
        match stay {
            Stay::UntilLetGo => {
                let ev = dir.join(format!("{id}.entered"));
                let gp = dir.join(format!("{id}.go"));
                entered = Some(fifo(&ev)?);
                go = Some(fifo(&gp)?);
                text.push_str(&format!(
                    "echo \"enter $$\" > {}\nread -r go < {}\n",
                    shell_word(&ev.to_string_lossy()),
                    shell_word(&gp.to_string_lossy())
                ));
            }
            Stay::For(d) => text.push_str(&format!("sleep {:.3}\n", d.as_secs_f64())),
        }
        text.push_str(&format!("echo \"leave $$\" >> {w}\n"));
        super::spawn_guard::write_script(&script, &text)?;
        Ok(Section {
            script,
            witness: witness.to_path_buf(),
            entered,
            go,
        })
    }

    /// The FIFO that becomes readable when the section is entered.
    pub fn entered_fd(&self) -> Option<BorrowedFd<'_>> {
        self.entered.as_ref().map(|f| f.as_fd())
    }

    /// Whether the section has announced itself (reads what is there, never blocks).
    pub fn check_entered(&mut self) -> bool {
        let Some(f) = self.entered.as_mut() else {
            return false;
        };
        let mut buf = [0u8; 256];
        match f.read(&mut buf) {
            Ok(n) => n > 0,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(_) => false,
        }
    }

    /// Wait until the section is entered or `deadline` passes.
    pub fn wait_entered(&mut self, deadline: Instant) -> Result<bool> {
        loop {
            if self.check_entered() {
                return Ok(true);
            }
            let Some(fd) = self.entered_fd() else {
                return Ok(false);
            };
            if !super::holder::poll_readable(&[fd], deadline)? {
                return Ok(self.check_entered());
            }
        }
    }

    /// Let a waiting section leave (it then exits, and the tool releases).
    pub fn let_go(&mut self) -> Result<()> {
        if let Some(go) = self.go.as_mut() {
            go.write_all(b"go\n")
                .context("writing to the critical section's FIFO")?;
        }
        Ok(())
    }
}

/// Make a FIFO and open it read-write and non-blocking: writers never block
/// on open, and what is written stays until read even before a reader opens.
pub fn fifo(path: &Path) -> Result<File> {
    nix::unistd::mkfifo(path, FileMode::from_bits_truncate(0o666))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}
