//! The tar stream of a context that the engine's build API takes: every entry
//! owned by root, timestamps zero, modes exactly as in the context.

use anyhow::Result;
use tar::{Builder, EntryType, Header};

use crate::snapshot::{Entry, Kind};

/// `entries` as an uncompressed tar archive.
pub fn tarball(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut tar = Builder::new(Vec::new());
    for entry in entries {
        let mut header = Header::new_gnu();
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        match &entry.kind {
            Kind::File(content) => {
                header.set_entry_type(EntryType::Regular);
                header.set_size(content.len() as u64);
                tar.append_data(&mut header, &entry.path, content.as_slice())?;
            }
            Kind::Dir => {
                header.set_entry_type(EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, format!("{}/", entry.path), std::io::empty())?;
            }
            Kind::Symlink(target) => {
                header.set_entry_type(EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, &entry.path, target)?;
            }
        }
    }
    Ok(tar.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_kinds_and_modes() {
        let entries = vec![
            Entry {
                path: "rootfs".into(),
                mode: 0o755,
                kind: Kind::Dir,
            },
            Entry {
                path: "rootfs/tmp".into(),
                mode: 0o1777,
                kind: Kind::Dir,
            },
            Entry {
                path: "rootfs/x".into(),
                mode: 0o755,
                kind: Kind::File(b"hi".to_vec()),
            },
            Entry {
                path: "rootfs/y".into(),
                mode: 0o777,
                kind: Kind::Symlink("x".into()),
            },
        ];
        let bytes = tarball(&entries).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let seen: Vec<(String, u32, EntryType)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                (path, e.header().mode().unwrap(), e.header().entry_type())
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("rootfs/".to_string(), 0o755, EntryType::Directory),
                ("rootfs/tmp/".to_string(), 0o1777, EntryType::Directory),
                ("rootfs/x".to_string(), 0o755, EntryType::Regular),
                ("rootfs/y".to_string(), 0o777, EntryType::Symlink),
            ]
        );
    }
}
