//! Telling a statically linked executable from a dynamic one by its ELF
//! program headers: a static one has no `PT_INTERP` (no dynamic loader) and
//! no `DT_NEEDED` entry (no shared library), so it runs in a `FROM scratch`
//! image as it is.

use std::path::Path;

use anyhow::{bail, Context, Result};

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;

/// Fails, naming `path` and why, unless it is a statically linked x86-64
/// (little-endian, 64-bit) ELF executable.
pub fn check_static(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match dynamic_reason(&bytes) {
        Ok(None) => Ok(()),
        Ok(Some(why)) => bail!("{} is not statically linked: {why}", path.display()),
        Err(e) => Err(e.context(format!("{} is not a usable ELF executable", path.display()))),
    }
}

/// `None` if `elf` is static, else what makes it dynamic.
fn dynamic_reason(elf: &[u8]) -> Result<Option<String>> {
    if elf.get(..4) != Some(b"\x7fELF") {
        bail!("no ELF magic");
    }
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        bail!("not a little-endian 64-bit ELF file");
    }
    let phoff = u64_at(elf, 0x20)? as usize;
    let phentsize = u16_at(elf, 0x36)? as usize;
    let phnum = u16_at(elf, 0x38)? as usize;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32_at(elf, ph)?;
        if p_type == PT_INTERP {
            return Ok(Some("it has a program interpreter (PT_INTERP)".to_string()));
        }
        if p_type == PT_DYNAMIC {
            let offset = u64_at(elf, ph + 0x08)? as usize;
            let size = u64_at(elf, ph + 0x20)? as usize;
            if needs_libraries(elf, offset, size)? {
                return Ok(Some("it needs shared libraries (DT_NEEDED)".to_string()));
            }
        }
    }
    Ok(None)
}

/// Whether the dynamic section at `offset..offset + size` has a `DT_NEEDED`.
fn needs_libraries(elf: &[u8], offset: usize, size: usize) -> Result<bool> {
    for entry in (offset..offset + size).step_by(16) {
        match u64_at(elf, entry)? {
            DT_NULL => break,
            DT_NEEDED => return Ok(true),
            _ => {}
        }
    }
    Ok(false)
}

fn field<const N: usize>(elf: &[u8], at: usize) -> Result<[u8; N]> {
    elf.get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("truncated at byte {at}"))
}

fn u16_at(elf: &[u8], at: usize) -> Result<u16> {
    field(elf, at).map(u16::from_le_bytes)
}

fn u32_at(elf: &[u8], at: usize) -> Result<u32> {
    field(elf, at).map(u32::from_le_bytes)
}

fn u64_at(elf: &[u8], at: usize) -> Result<u64> {
    field(elf, at).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_tools_are_recognised() {
        let flock = Path::new("/usr/bin/flock");
        if flock.exists() {
            let err = check_static(flock).unwrap_err().to_string();
            assert!(err.contains("not statically linked"), "{err}");
        }
    }

    #[test]
    fn static_busybox_passes() {
        let busybox = Path::new("/bin/busybox");
        if busybox.exists() {
            check_static(busybox).unwrap();
        }
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(dynamic_reason(b"#!/bin/sh\n").is_err());
        assert!(dynamic_reason(b"\x7fELF\x02\x01").is_err());
    }
}
