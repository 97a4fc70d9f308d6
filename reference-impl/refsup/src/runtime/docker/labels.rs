//! The labels every container carries, in the real supervisor's style
//! (`io.balena.*`) plus what refsup needs to rebuild its records from the
//! engine alone (`io.lockcheck.*`): a restarted refsup adopts containers by
//! these, and the suite's cleanup reaps by device, run and cell.

use std::collections::HashMap;

use super::super::ServiceInstance;

/// `true` on every container a supervisor manages.
pub const SUPERVISED: &str = "io.balena.supervised";
/// The app id.
pub const APP_ID: &str = "io.balena.app-id";
/// The service name.
pub const SERVICE_NAME: &str = "io.balena.service-name";
/// The refsup instance the container belongs to (see `device`).
pub const DEVICE: &str = "io.lockcheck.device";
/// `LOCKCHECK_RUN` of the refsup that created it, when set.
pub const RUN: &str = "io.lockcheck.run";
/// `LOCKCHECK_CELL` of the refsup that created it, when set.
pub const CELL: &str = "io.lockcheck.cell";
/// The release commit it was created for.
pub const COMMIT: &str = "io.lockcheck.commit";
/// The release id it was created for.
pub const RELEASE_ID: &str = "io.lockcheck.release-id";
/// Hash of what forces a restart when it changes.
pub const SPEC_HASH: &str = "io.lockcheck.spec-hash";
/// Creation sequence number within the device (orders hand-over pairs).
pub const SEQ: &str = "io.lockcheck.seq";
/// The whole `ServiceInstance` as JSON (command, environment, paths...).
pub const SPEC: &str = "io.lockcheck.spec";

/// Which refsup creates the containers: put on each of them.
#[derive(Debug, Clone)]
pub(super) struct Owner {
    /// `io.lockcheck.device`.
    pub device: String,
    /// `io.lockcheck.run`, from `LOCKCHECK_RUN`.
    pub run: Option<String>,
    /// `io.lockcheck.cell`, from `LOCKCHECK_CELL`.
    pub cell: Option<String>,
}

impl Owner {
    /// The owner `device`, with the run and cell marks of refsup's
    /// environment.
    pub fn new(device: String) -> Owner {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Owner {
            device,
            run: var("LOCKCHECK_RUN"),
            cell: var("LOCKCHECK_CELL"),
        }
    }
}

/// Every label of a new container for `spec`: the service's own labels
/// first, then ours (so a target state cannot move a container to another
/// device or hide it from cleanup).
pub(super) fn for_spec(spec: &ServiceInstance, seq: u64, owner: &Owner) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let spec_json = serde_json::to_string(spec).unwrap_or_default();
    let ours = [
        (SUPERVISED, "true".to_string()),
        (APP_ID, spec.app_id.to_string()),
        (SERVICE_NAME, spec.service.clone()),
        (DEVICE, owner.device.clone()),
        (COMMIT, spec.commit.clone()),
        (RELEASE_ID, spec.release_id.to_string()),
        (SPEC_HASH, spec.spec_hash.clone()),
        (SEQ, seq.to_string()),
        (SPEC, spec_json),
    ];
    for (key, value) in ours {
        labels.insert(key.to_string(), value);
    }
    for (key, value) in [(RUN, &owner.run), (CELL, &owner.cell)] {
        match value {
            Some(v) => labels.insert(key.to_string(), v.clone()),
            None => labels.remove(key),
        };
    }
    labels
}

/// A container's spec and sequence number, rebuilt from its labels: the
/// spec JSON, with the fields that have their own label taken from it.
pub(super) fn parse(labels: &HashMap<String, String>) -> Result<(ServiceInstance, u64), String> {
    let get = |key: &str| labels.get(key).ok_or_else(|| format!("no label {key}"));
    let number = |key: &str| -> Result<u64, String> {
        get(key)?.parse().map_err(|e| format!("label {key}: {e}"))
    };
    let mut spec: ServiceInstance =
        serde_json::from_str(get(SPEC)?).map_err(|e| format!("label {SPEC}: {e}"))?;
    spec.app_id = u32::try_from(number(APP_ID)?).map_err(|e| format!("label {APP_ID}: {e}"))?;
    spec.service = get(SERVICE_NAME)?.clone();
    spec.commit = get(COMMIT)?.clone();
    spec.release_id = number(RELEASE_ID)?;
    spec.spec_hash = get(SPEC_HASH)?.clone();
    Ok((spec, number(SEQ)?))
}

/// The engine filter selecting `device`'s containers.
pub(super) fn device_filter(device: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{DEVICE}={device}")])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn spec() -> ServiceInstance {
        ServiceInstance {
            app_id: 3,
            service: "main".into(),
            commit: "abc".into(),
            release_id: 9,
            image: "busybox:1".into(),
            command: vec!["sleep".into(), "1".into()],
            environment: BTreeMap::from([("A".into(), "1".into())]),
            lock_env: vec![("L".into(), "/tmp/balena/updates.lock".into())],
            labels: BTreeMap::from([
                ("mine".into(), "x".into()),
                (DEVICE.into(), "spoofed".into()),
            ]),
            user: Some(65534),
            spec_hash: "h".into(),
            lock_dir: PathBuf::from("/r/lock"),
            data_dir: None,
        }
    }

    #[test]
    fn labels_round_trip_and_ours_win() {
        let owner = Owner {
            device: "dev".into(),
            run: Some("1:2".into()),
            cell: None,
        };
        let labels = for_spec(&spec(), 4, &owner);
        assert_eq!(labels[DEVICE], "dev");
        assert_eq!(labels[SUPERVISED], "true");
        assert_eq!(labels[RUN], "1:2");
        assert!(!labels.contains_key(CELL));
        assert_eq!(labels["mine"], "x");
        assert_eq!(parse(&labels).unwrap(), (spec(), 4));
        let mut missing = labels.clone();
        missing.remove(SEQ);
        assert!(parse(&missing).unwrap_err().contains(SEQ));
    }
}
