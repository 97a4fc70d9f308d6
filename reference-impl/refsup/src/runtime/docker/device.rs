//! The device id: which refsup a container belongs to. Many refsups share
//! one engine (the suite runs cells in parallel), so every container carries
//! `io.lockcheck.device=<id>` and every query filters on it. The id is
//! `--device-id` when given, else a stable hash of the canonical `--root`
//! as the engine's host sees it (`--host-root`, which defaults to it), so
//! a refsup restarted on the same root finds (adopts) its containers.

use std::path::Path;

/// Longest accepted device id (it is part of container names).
const MAX_LEN: usize = 64;

/// FNV-1a, 64 bit, as 16 hex digits.
pub(super) fn fnv_hex(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The device id: `given` (checked) or `root-<hash of root>`, `root` being
/// the device root as the engine's host sees it.
pub fn device_id(given: Option<&str>, root: &Path) -> Result<String, String> {
    match given {
        Some(id) => check(id).map(|()| id.to_string()),
        None => Ok(format!(
            "root-{}",
            fnv_hex(root.as_os_str().as_encoded_bytes())
        )),
    }
}

/// Device ids become part of container names: `[A-Za-z0-9][A-Za-z0-9_.-]*`,
/// at most 64 characters.
fn check(id: &str) -> Result<(), String> {
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && id.len() <= MAX_LEN {
        Ok(())
    } else {
        Err(format!(
            "--device-id {id:?} must be 1 to {MAX_LEN} of A-Z a-z 0-9 _ . - (starting with a letter or digit)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_gives_a_stable_id_and_a_flag_is_checked() {
        let a = device_id(None, Path::new("/tmp/a")).unwrap();
        assert_eq!(a, device_id(None, Path::new("/tmp/a")).unwrap());
        assert_ne!(a, device_id(None, Path::new("/tmp/b")).unwrap());
        assert!(a.starts_with("root-") && a.len() == 21, "{a}");
        assert_eq!(
            device_id(Some("cell-7.x_y"), Path::new("/")).unwrap(),
            "cell-7.x_y"
        );
        for bad in ["", "-a", "a/b", "a b", &"x".repeat(65)] {
            assert!(device_id(Some(bad), Path::new("/")).is_err(), "{bad:?}");
        }
    }
}
