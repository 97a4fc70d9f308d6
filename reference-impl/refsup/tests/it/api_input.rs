//! Bad input at the API: every case a 4xx with a message, never a panic,
//! never a file outside the root; and the API key.

use crate::common;

use common::{request, target, Refsup};
use serde_json::json;

const PROFILE: &str = "17.3.5@5.1.0";

fn files_outside_root(r: &Refsup) -> Vec<String> {
    let parent = r.root.parent().unwrap();
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "root" && n != lockcheck_reaper::MARKER)
        .collect()
}

#[test]
fn invalid_target_states_are_400_with_a_message() {
    let r = Refsup::start(PROFILE, &[]);
    let long = "x".repeat(256);
    let cases: Vec<(String, &str)> = vec![
        ("{".into(), "malformed JSON"),
        ("[]".into(), "not an object"),
        ("{}".into(), "missing local"),
        (json!({"local": {"apps": {"1": {"commit": 5, "services": {}}}}}).to_string(), "commit of the wrong type"),
        (json!({"local": {"apps": {"../1": {"commit": "a", "services": {}}}}}).to_string(), "appId with .."),
        (json!({"local": {"apps": {"1/2": {"commit": "a", "services": {}}}}}).to_string(), "appId with /"),
        (json!({"local": {"apps": {"01": {"commit": "a", "services": {}}}}}).to_string(), "appId with a leading zero"),
        (json!({"local": {"apps": {"1": {"commit": "a", "services": {"a/b": {"image": "i"}}}}}}).to_string(), "service with /"),
        (json!({"local": {"apps": {"1": {"commit": "a", "services": {"..": {"image": "i"}}}}}}).to_string(), "service .."),
        (json!({"local": {"apps": {"1": {"commit": "a", "services": {"a\u{0}b": {"image": "i"}}}}}}).to_string(), "service with NUL"),
        (json!({"local": {"apps": {"1": {"commit": "a", "services": {long.clone(): {"image": "i"}}}}}}).to_string(), "service over 255 bytes"),
        (json!({"local": {"apps": {"1": {"commit": "a", "services": {"m": {"image": "i", "user": "root"}}}}}}).to_string(), "non-numeric user"),
        (json!({"local": {"apps": {"1": {"commit": "a", "services": {"m": {"image": "i", "labels": {"io.balena.update.strategy": "yolo"}}}}}}}).to_string(), "unknown strategy"),
        (json!({"local": {"apps": {"1": {"commit": "a", "services": {"m": {"image": "i", "command": "sleep 1"}}}}}}).to_string(), "command not a list"),
        (json!({"local": {"config": {"A": 1}}}).to_string(), "config value not a string"),
    ];
    for (body, what) in &cases {
        let (status, reply) = r.post_raw("/v2/local/target-state", body);
        assert_eq!(status, 400, "{what}: {reply}");
        assert!(
            reply["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: no message in {reply}"
        );
    }
    let (status, _) = r.post_raw(
        "/v2/local/target-state",
        // Just over the limit: the rest fits in the socket buffers, so the
        // early 413 cannot race the client's write into a broken pipe.
        &format!("\"{}\"", "x".repeat(refsup::api::MAX_BODY + 1024)),
    );
    assert_eq!(status, 413, "oversized body");
    let (_, t) = r.get("/v2/local/target-state");
    assert_eq!(
        t["state"]["local"]["apps"],
        json!({}),
        "nothing invalid was accepted"
    );
    assert_eq!(files_outside_root(&r), Vec::<String>::new());
    let (status, _) = r.get("/ping");
    assert_eq!(status, 200, "still serving");
}

#[test]
fn bad_paths_and_bodies_on_other_endpoints() {
    let r = Refsup::start(PROFILE, &[]);
    assert_eq!(r.post("/v2/applications/..%2F1/restart", &json!({})).0, 400);
    assert_eq!(r.post("/v2/applications/abc/restart", &json!({})).0, 400);
    assert_eq!(r.post("/v2/applications/7/restart", &json!({})).0, 404);
    assert_eq!(
        r.post(
            "/v2/applications/1/restart-service",
            &json!({"serviceName": "../x"})
        )
        .0,
        400
    );
    assert_eq!(r.post_raw("/v1/update", "{\"force\": \"yes\"}").0, 400);
    assert_eq!(r.post_raw("/v1/reboot", "nope").0, 400);
    let (s, _) = request(
        "PATCH",
        &format!("{}/v1/device/host-config", r.url),
        Some("{\"network\":{\"hostname\":\"a/b\"}}".into()),
        None,
    );
    assert_eq!(s, 400);
    assert_eq!(r.get("/v3/nothing").0, 404);
}

#[test]
fn api_key_is_enforced_on_every_call() {
    let r = Refsup::start(PROFILE, &["--api-key", "s3cret"]);
    for path in [
        "/ping",
        "/v1/device",
        "/v2/state/status",
        "/v2/local/target-state",
    ] {
        assert_eq!(r.get(path).0, 401, "{path} without key");
        assert_eq!(
            request("GET", &format!("{}{path}", r.url), None, Some("wrong")).0,
            401,
            "{path} wrong key"
        );
        assert_eq!(
            request("GET", &format!("{}{path}", r.url), None, Some("s3cret")).0,
            200,
            "{path} bearer"
        );
        assert_eq!(
            r.get(&format!("{path}?apikey=s3cret")).0,
            200,
            "{path} query key"
        );
    }
    let (s, _) = r.post(
        "/v2/local/target-state",
        &target("a", &[("main", &["sleep", "1"])]),
    );
    assert_eq!(s, 401, "no state change without the key");
}

#[test]
fn version_and_ping() {
    let r = Refsup::start(PROFILE, &[]);
    assert_eq!(r.get("/ping"), (200, json!("OK")));
    assert_eq!(
        r.get("/v2/version"),
        (200, json!({"status": "success", "version": "17.3.5"}))
    );
}
