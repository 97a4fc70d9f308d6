//! The shared libraries a dynamically linked host program needs, found with
//! `ldd`, so that the program can be copied into an image together with
//! everything it loads, each at the path the loader looks for it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The files `program` loads at run time: its dynamic loader (such as
/// `/lib64/ld-linux-x86-64.so.2`) and every shared library, by the path the
/// loader resolves (which may be a symlink on the host). Empty for a static
/// program. Fails if `ldd` is missing or a library is not found.
pub fn shared_libs(program: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(program)
        .output()
        .context("cannot run ldd (from libc-bin) to find shared libraries")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        if text.contains("not a dynamic executable") || is_static_message(&output.stderr) {
            return Ok(Vec::new());
        }
        bail!(
            "ldd {} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    parse(&text).with_context(|| format!("ldd {}", program.display()))
}

fn is_static_message(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("not a dynamic executable")
}

/// The loaded files named in `ldd` output.
fn parse(text: &str) -> Result<Vec<PathBuf>> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.contains("statically linked") {
            continue;
        }
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)",
        // "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)".
        let target = match line.split_once("=>") {
            Some((name, target)) => {
                let target = target.trim();
                if target.starts_with("not found") {
                    bail!("shared library {} not found", name.trim());
                }
                target
            }
            None => line,
        };
        let path = target.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') && !libs.iter().any(|l: &PathBuf| l == Path::new(path)) {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldd_output() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tliblockfile.so.1 => /lib/x86_64-linux-gnu/liblockfile.so.1 (0x00007f)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        let libs = parse(out).unwrap();
        assert_eq!(
            libs,
            [
                "/lib/x86_64-linux-gnu/liblockfile.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn missing_library_is_an_error() {
        let err = parse("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(err.to_string().contains("libfoo.so.1"), "{err}");
    }

    #[test]
    fn real_flock_needs_the_loader() {
        let flock = Path::new("/usr/bin/flock");
        if flock.exists() {
            let libs = shared_libs(flock).unwrap();
            assert!(
                libs.iter().any(|l| l.ends_with("ld-linux-x86-64.so.2")),
                "{libs:?}"
            );
        }
    }
}
