//! The `target_state` target: bytes as the JSON body of
//! `POST /v2/local/target-state`, parsed and validated as refsup does.
//!
//! Checked for every state that validates: no app id or service name, joined
//! under a root (raw, and through refsup's `Layout` lock paths), escapes that
//! root; and the state survives the store's JSON round trip unchanged (a
//! restarted supervisor must read back what it accepted). Never a panic.

use std::path::{Component, Path};

use lockgates::LockFile;
use refsup::layout::Layout;
use refsup::target::{parse_app_id, TargetState};

/// Check one input; `Err` names the broken invariant. Input that does not
/// parse or validate is fine: refsup answers it with 400.
pub fn check_target_state(bytes: &[u8]) -> Result<(), String> {
    let Ok(state) = serde_json::from_slice::<TargetState>(bytes) else {
        return Ok(());
    };
    if state.validate().is_err() {
        return Ok(());
    }
    let root = Path::new("/fuzz-root");
    let profile: lockgates::Profile = "17.3.5@5.1.0".parse().expect("profile");
    let layout = Layout::new(root.to_path_buf(), profile);
    for (id, app) in &state.local.apps {
        stays_under(root, &root.join(id), "app id", id)?;
        let app_id = parse_app_id(id)
            .map_err(|e| format!("app id {id:?} validated but does not parse: {e}"))?;
        stays_under(root, &layout.app_data_dir(app_id), "app id", id)?;
        for name in app.services.keys() {
            stays_under(root, &root.join(name), "service name", name)?;
            let lock_dir = layout.service_lock_dir(app_id, name);
            stays_under(&layout.lock_root(), &lock_dir, "service name", name)?;
            for file in LockFile::ALL {
                stays_under(
                    root,
                    &layout.lock_path(app_id, name, &file),
                    "service name",
                    name,
                )?;
            }
        }
    }
    let bytes = serde_json::to_vec(&state).map_err(|e| format!("re-serialising: {e}"))?;
    match serde_json::from_slice::<TargetState>(&bytes) {
        Ok(again) if again == state => Ok(()),
        Ok(again) => Err(format!("the store round trip changed the state: {again:?}")),
        Err(e) => Err(format!("the store round trip does not parse: {e}")),
    }
}

/// `path` is `base` plus plain names only (no `..`, `.`, or root).
fn stays_under(base: &Path, path: &Path, what: &str, name: &str) -> Result<(), String> {
    let rest = path.strip_prefix(base).map_err(|_| {
        format!(
            "{what} {name:?} moves {} out of {}",
            path.display(),
            base.display()
        )
    })?;
    match rest
        .components()
        .find(|c| !matches!(c, Component::Normal(_)))
    {
        None => Ok(()),
        Some(c) => Err(format!(
            "{what} {name:?} puts {c:?} into {} under {}",
            path.display(),
            base.display()
        )),
    }
}
