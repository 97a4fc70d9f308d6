//! Names helios needs as uuids: the app uuid (a file name and a label) and
//! the release uuid (a container-name suffix), made from the suite's app id
//! and release commit, unique per cell.

/// 32 lowercase hex digits for `(cell, kind, text)`: FNV-1a 128-bit.
pub fn uuid(cell: &str, kind: &str, text: &str) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in cell
        .bytes()
        .chain([0])
        .chain(kind.bytes())
        .chain([0])
        .chain(text.bytes())
    {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::uuid;

    #[test]
    fn uuids_are_hex_stable_and_distinct() {
        let a = uuid("c1", "app", "1");
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, uuid("c1", "app", "1"));
        assert_ne!(a, uuid("c2", "app", "1"));
        assert_ne!(a, uuid("c1", "release", "1"));
    }
}
