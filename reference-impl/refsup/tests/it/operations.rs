//! API operations that take locks themselves: restart-service and shutdown.

use crate::common;

use common::{running, service, target, wait_for, Refsup};
use serde_json::json;

const PROFILE: &str = "17.3.5@5.1.0";

#[test]
fn restart_service_is_423_while_locked_and_force_deletes_the_lock() {
    let (r, pid) = running(PROFILE, &[]);
    let lock = r.lock_dir(1, "main").join("updates.lock");
    std::fs::write(&lock, "").unwrap();
    let (status, body) = r.post(
        "/v2/applications/1/restart-service",
        &json!({"serviceName": "main"}),
    );
    assert_eq!(status, 423, "{body}");
    assert_eq!(
        service(&r, "main").unwrap().2,
        pid,
        "not restarted while locked"
    );
    let (status, body) = r.post(
        "/v2/applications/1/restart-service",
        &json!({"serviceName": "nope"}),
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = r.post(
        "/v2/applications/1/restart-service",
        &json!({"serviceName": "main", "force": true}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(!lock.exists(), "force deletes the user's lock");
    let (_, st, new_pid) = service(&r, "main").unwrap();
    assert_eq!(st, "Running");
    assert_ne!(new_pid, pid, "restarted");
}

#[test]
fn forced_shutdown_stops_services_and_exits() {
    let (mut r, pid) = running(PROFILE, &[]);
    std::fs::write(r.lock_dir(1, "main").join("updates.lock"), "").unwrap();
    assert_eq!(
        r.post("/v1/shutdown", &json!({})).0,
        423,
        "refused while locked"
    );
    assert_eq!(r.post("/v1/shutdown", &json!({"force": true})).0, 202);
    let status = r.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let pid = pid.unwrap() as i32;
    assert_eq!(
        unsafe { libc::kill(pid, 0) },
        -1,
        "service {pid} stopped by the shutdown"
    );
    assert!(
        !r.root.join("tmp/balena-supervisor").exists(),
        "a shutdown loses /tmp like a power-off"
    );
}

#[test]
fn host_config_change_writes_config_txt_and_reboots() {
    let r = Refsup::start(PROFILE, &[]);
    let mut state = target("aaa", &[("main", &["sleep", "1000"])]);
    state["local"]["config"] =
        json!({"BALENA_HOST_CONFIG_gpu_mem": "16", "BALENA_SUPERVISOR_POLL_INTERVAL": "600"});
    assert_eq!(r.post("/v2/local/target-state", &state).0, 200);
    wait_for(20, "the reboot", || {
        (r.get("/v1/device").1["boot_count"] == 2).then_some(())
    });
    let txt = std::fs::read_to_string(r.root.join("mnt/boot/config.txt")).unwrap();
    assert_eq!(txt, "gpu_mem=16\n");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.root.join("mnt/boot/config.json")).unwrap())
            .unwrap();
    assert_eq!(
        cfg["config"],
        json!({"BALENA_SUPERVISOR_POLL_INTERVAL": "600"})
    );
    wait_for(20, "services back after the reboot", || {
        service(&r, "main").filter(|(_, st, _)| st == "Running")
    });
    assert_eq!(
        r.get("/v1/device").1["reboot_pending"],
        serde_json::Value::Null
    );
}
