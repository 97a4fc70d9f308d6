//! What a service's container is made of: its name, image, command,
//! environment, user, labels and bind mounts (the lock dir at `/tmp/balena`
//! and `/tmp/resin`, the data dir at `/data`), with host paths as the
//! engine's host sees them (`--host-root`), and the host's network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};

use super::super::ServiceInstance;
use super::labels::{self, Owner};

/// Variables of refsup's own environment that services inherit (a test
/// harness's marks: `LOCKCHECK_RUN`, `LOCKCHECK_CELL`).
const HARNESS_PREFIX: &str = "LOCKCHECK_";

/// Where the lock dir is mounted in every container.
pub const LOCK_MOUNTS: [&str; 2] = ["/tmp/balena", "/tmp/resin"];

/// Where the data dir is mounted.
pub const DATA_MOUNT: &str = "/data";

/// Services share the host's network (compose `network_mode: host`, which
/// the real supervisor supports). The lock contract needs no network of its
/// own, and a container with one costs the engine a network namespace and a
/// `libnetwork-setkey` hook (dockerd run again) on every start: about 100 ms
/// of CPU per container here, a quarter of a container's life (README,
/// Benchmarks). A bridge is out anyway: some engines, like one in a
/// container without a `docker0` bridge, cannot make one.
pub const NETWORK_MODE: &str = "host";

/// How refsup's paths map to the engine host's.
#[derive(Debug, Clone)]
pub(super) struct HostPaths {
    /// refsup's `--root`.
    pub root: PathBuf,
    /// Where the engine's host sees it.
    pub host_root: PathBuf,
}

impl HostPaths {
    /// `path` (refsup's view) as the engine's host sees it; paths outside
    /// the root are passed unchanged.
    pub fn host(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(rest) => self.host_root.join(rest),
            Err(_) => path.to_path_buf(),
        }
    }
}

/// The container name: unique on the engine (device id and sequence
/// number), readable (app and service, with characters Docker refuses
/// replaced).
pub(super) fn name(device: &str, spec: &ServiceInstance, seq: u64) -> String {
    let service: String = spec
        .service
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("refsup-{device}-{}-{service}-{seq}", spec.app_id)
}

/// The environment: the target's, then the lock variables (paths as the
/// service sees them: the mounts make them true), then the harness marks.
fn environment(spec: &ServiceInstance, harness: &[(String, String)]) -> Vec<String> {
    let mut env: BTreeMap<&str, &str> = spec
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (k, v) in spec.lock_env.iter().chain(harness) {
        env.insert(k, v);
    }
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// The harness marks of refsup's own environment.
pub(super) fn harness_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with(HARNESS_PREFIX))
        .collect()
}

fn bind(source: &Path, target: &str) -> Mount {
    Mount {
        target: Some(target.to_string()),
        source: Some(source.display().to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(false),
        ..Default::default()
    }
}

/// The create request for `spec` as container number `seq` of `owner`.
pub(super) fn body(
    spec: &ServiceInstance,
    seq: u64,
    owner: &Owner,
    paths: &HostPaths,
    harness: &[(String, String)],
) -> ContainerCreateBody {
    let lock_dir = paths.host(&spec.lock_dir);
    let mut mounts: Vec<Mount> = LOCK_MOUNTS.iter().map(|t| bind(&lock_dir, t)).collect();
    if let Some(data) = &spec.data_dir {
        mounts.push(bind(&paths.host(data), DATA_MOUNT));
    }
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        // An empty command keeps the image's CMD, as the real supervisor does.
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        env: Some(environment(spec, harness)),
        // The group is the uid too, as the process runtime runs services.
        user: spec.user.map(|uid| format!("{uid}:{uid}")),
        labels: Some(labels::for_spec(spec, seq, owner)),
        host_config: Some(HostConfig {
            mounts: Some(mounts),
            network_mode: Some(NETWORK_MODE.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceInstance {
        ServiceInstance {
            app_id: 1,
            service: "we!rd/name".into(),
            commit: "c".into(),
            release_id: 1,
            image: "img:1".into(),
            command: vec![],
            environment: BTreeMap::from([
                ("A".into(), "1".into()),
                ("LOCKCHECK_RUN".into(), "fake".into()),
            ]),
            lock_env: vec![("LOCK".into(), "/tmp/balena/updates.lock".into())],
            labels: BTreeMap::new(),
            user: Some(65534),
            spec_hash: "h".into(),
            lock_dir: PathBuf::from("/mnt/root/tmp/x/lock"),
            data_dir: Some(PathBuf::from("/mnt/root/resin-data/1")),
        }
    }

    #[test]
    fn the_body_maps_paths_env_and_user() {
        let paths = HostPaths {
            root: "/mnt/root".into(),
            host_root: "/".into(),
        };
        let owner = Owner::new("dev".into());
        let harness = vec![("LOCKCHECK_RUN".to_string(), "1:2".to_string())];
        let body = body(&spec(), 5, &owner, &paths, &harness);
        assert_eq!(body.cmd, None, "empty command: the image's CMD");
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
        assert_eq!(
            body.env.unwrap(),
            ["A=1", "LOCK=/tmp/balena/updates.lock", "LOCKCHECK_RUN=1:2"]
        );
        let host_config = body.host_config.unwrap();
        assert_eq!(host_config.network_mode.as_deref(), Some("host"));
        let mounts = host_config.mounts.unwrap();
        let pairs: Vec<(String, String)> = mounts
            .into_iter()
            .map(|m| (m.source.unwrap(), m.target.unwrap()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("/tmp/x/lock".to_string(), "/tmp/balena".to_string()),
                ("/tmp/x/lock".to_string(), "/tmp/resin".to_string()),
                ("/resin-data/1".to_string(), "/data".to_string()),
            ]
        );
        assert_eq!(name("dev", &spec(), 5), "refsup-dev-1-we_rd_name-5");
    }
}
