//! The `names` target: strings as app ids, service names and config vars,
//! the parts of a target state that become paths and config lines.
//!
//! Checked: an app id that parses prints back to exactly the input (no
//! second spelling of one id: `007`, `+7`); a service name that validates
//! is one plain path component, and the lock paths refsup's `Layout` builds
//! from it stay in the lock root; a config var that validates makes exactly
//! one `name=value` line that splits back into the same name and value.

use std::path::{Component, Path};

use arbitrary::Arbitrary;
use lockgates::{LockFile, Profile};
use refsup::layout::Layout;
use refsup::target::{parse_app_id, validate_component, validate_config_var};

/// One input: an app id, a service name and a config var.
#[derive(Arbitrary, Debug, Clone)]
pub struct Names {
    /// Tried as an app id.
    pub app_id: String,
    /// Tried as a service name.
    pub service: String,
    /// Tried as a config var name.
    pub key: String,
    /// Tried as its value.
    pub value: String,
}

/// Check one input; `Err` names the broken rule.
pub fn check_names(n: &Names) -> Result<(), String> {
    if let Ok(id) = parse_app_id(&n.app_id) {
        if id.to_string() != n.app_id {
            return Err(format!(
                "app id {:?} parses to {id}, a second spelling",
                n.app_id
            ));
        }
    }
    if validate_component("service name", &n.service).is_ok() {
        let mut parts = Path::new(&n.service).components();
        if !matches!(
            (parts.next(), parts.next()),
            (Some(Component::Normal(_)), None)
        ) {
            return Err(format!(
                "service name {:?} is not one path component",
                n.service
            ));
        }
        let profile: Profile = "17.3.5@5.1.0".parse().map_err(|e| format!("{e}"))?;
        let layout = Layout::new("/fuzz-root".into(), profile);
        for file in LockFile::ALL {
            let path = layout.lock_path(1, &n.service, &file);
            let base = if file == LockFile::DATA {
                layout.app_data_dir(1)
            } else {
                layout.lock_root()
            };
            if !path.starts_with(&base)
                || path
                    .components()
                    .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
            {
                return Err(format!(
                    "service name {:?} puts its lock at {}",
                    n.service,
                    path.display()
                ));
            }
        }
    }
    if validate_config_var(&n.key, &n.value).is_ok() {
        let line = format!("{}={}", n.key, n.value);
        if line.lines().count() != 1 || line.split_once('=') != Some((&n.key, &n.value)) {
            return Err(format!(
                "config var {:?}={:?} is not one name=value line",
                n.key, n.value
            ));
        }
    }
    Ok(())
}
