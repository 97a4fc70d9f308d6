//! The cache key of an image: a SHA-256 over every entry of its context (the
//! `Dockerfile` included) in path order, each as its kind, path, mode and
//! content or link target. Timestamps and owners play no part, so the same
//! inputs give the same key on every run.

use sha2::{Digest, Sha256};

use crate::snapshot::{Entry, Kind};

/// Bumped when the key's layout changes, so old cache tags stop matching.
const FORMAT: &[u8] = b"lockcheck-images/1\0";

/// How many hex digits of the digest go into the image tag.
pub const TAG_HEX: usize = 16;

/// The lowercase hex SHA-256 of `entries`.
pub fn digest(entries: &[Entry]) -> String {
    let mut sha = Sha256::new();
    sha.update(FORMAT);
    for entry in entries {
        let (kind, body): (&[u8], &[u8]) = match &entry.kind {
            Kind::File(content) => (b"f", content),
            Kind::Dir => (b"d", b""),
            Kind::Symlink(target) => (b"l", target.as_bytes()),
        };
        sha.update(kind);
        sha.update(entry.path.as_bytes());
        sha.update(b"\0");
        sha.update(format!("{:o}\0", entry.mode).as_bytes());
        sha.update((body.len() as u64).to_le_bytes());
        sha.update(body);
    }
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, mode: u32, content: &[u8]) -> Entry {
        Entry {
            path: path.into(),
            mode,
            kind: Kind::File(content.to_vec()),
        }
    }

    #[test]
    fn path_mode_and_content_all_count() {
        let base = digest(&[file("a", 0o644, b"x")]);
        assert_eq!(base.len(), 64);
        assert_eq!(base, digest(&[file("a", 0o644, b"x")]));
        assert_ne!(base, digest(&[file("b", 0o644, b"x")]));
        assert_ne!(base, digest(&[file("a", 0o755, b"x")]));
        assert_ne!(base, digest(&[file("a", 0o644, b"y")]));
    }

    #[test]
    fn entry_boundaries_are_unambiguous() {
        let one = digest(&[file("a", 0o644, b"bc")]);
        let two = digest(&[file("a", 0o644, b""), file("bc", 0o644, b"")]);
        assert_ne!(one, two);
    }
}
