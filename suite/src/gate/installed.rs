//! Is a tool's Debian package installed, and which version? Asked of
//! `dpkg-query`; without dpkg (not Debian) the answer is "unknown" and the
//! path probe finds out whether the tool runs at all.

use std::process::Command;

/// What dpkg says about a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Installed at this version.
    Yes(String),
    /// Not installed; the reason says how to get it.
    No(String),
    /// No dpkg here.
    Unknown,
}

/// Ask dpkg about `package`.
pub fn check(package: &str) -> Installed {
    let out = {
        let _forking = super::spawn_guard::forking();
        Command::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Abbrev}\t${Version}", package])
            .output()
    };
    let Ok(out) = out else {
        return Installed::Unknown;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    match text.split_once('\t') {
        Some((status, version)) if out.status.success() && status.starts_with("ii") => {
            Installed::Yes(version.trim().to_string())
        }
        _ => Installed::No(format!(
            "not installed: Debian package {package} is not installed (apt-get install {package})"
        )),
    }
}
