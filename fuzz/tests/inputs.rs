//! The input fuzzers' bodies on stable: every committed seed of
//! `corpus/{api_body,profile,names}/` and hand-written hostile inputs, each
//! through the same function the fuzz target calls.

use std::path::PathBuf;

use arbitrary::{Arbitrary, Unstructured};
use lockcheck_fuzz::{check_api_body, check_names, check_profile, Names};
use refsup::api::{check_body, Body};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{target}: the seeds are committed");
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn corpus_api_body() {
    for (path, bytes) in corpus("api_body") {
        check_api_body(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn corpus_profile() {
    for (path, bytes) in corpus("profile") {
        let text = String::from_utf8(bytes).unwrap();
        check_profile(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn corpus_names() {
    for (path, bytes) in corpus("names") {
        if let Ok(names) = Names::arbitrary_take_rest(Unstructured::new(&bytes)) {
            check_names(&names).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn api_bodies_accept_one_json_value_only() {
    assert!(check_body(Body::Force, b"{\"force\":true}").is_ok());
    assert!(check_body(Body::Force, b" \n").is_ok(), "blank is {{}}");
    for bad in [
        &b"{\"force\":true} {}"[..],
        b"{\"force\":\"yes\"}",
        b"\xff",
        b"null",
    ] {
        let err = check_body(Body::Force, bad).unwrap_err();
        assert!(err.starts_with("invalid JSON body"), "{err}");
        check_api_body(bad).unwrap();
    }
    // Found by this target: serde reads a struct from an array too, so
    // refsup takes `[true]` as `{"force": true}`, where the real supervisor
    // (`req.body.force` of an array) would not force. Pinned until refsup
    // decides; not a panic or a hang.
    assert!(check_body(Body::Force, b"[true]").is_ok());
    assert!(check_body(Body::RestartService, b"{\"serviceName\":\"main\"}").is_ok());
    assert!(check_body(Body::HostConfig, b"{\"network\":{\"hostname\":7}}").is_err());
    // Found by the fuzzer in its first seconds: invalid UTF-8 inside a
    // field `{"force"}` ignores is skipped unchecked, so the body is
    // accepted; the invariant reads it as a Node parser would (replaced).
    let ignored = b"{\"local\":{\"a\xff\":1},\"force\":true}";
    assert!(check_body(Body::Force, ignored).is_ok());
    check_api_body(ignored).unwrap();
    let deep = "[".repeat(100_000);
    check_api_body(deep.as_bytes()).unwrap();
}

#[test]
fn profiles_hostile() {
    for text in [
        "",
        "@",
        "17.3.5",
        "17.3.5@",
        "17.3.5@5.1.0@1.0.0",
        "v17.3.5@v5.1.0",
        " 17.3.5 @ 5.1.0 ",
        "18446744073709551616.0.0@1.0.0",
        "17.3.5-\u{0}@5.1.0",
        "17.3.5+\u{202e}@5.1.0",
    ] {
        check_profile(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}

#[test]
fn names_hostile() {
    for (app_id, service, key, value) in [
        ("007", "..", "a=b", "x\ny"),
        ("4294967296", "a/b", "[all]", "\r"),
        ("+7", ".hidden", "", ""),
        ("0", "a..b", "ok", "\0"),
        ("4294967295", &"s".repeat(300), "k", &"v".repeat(5000)),
    ] {
        let names = Names {
            app_id: app_id.into(),
            service: service.into(),
            key: key.into(),
            value: value.into(),
        };
        check_names(&names).unwrap_or_else(|e| panic!("{names:?}: {e}"));
    }
    assert!(refsup::target::parse_app_id("007").is_err());
    assert_eq!(refsup::target::parse_app_id("4294967295"), Ok(u32::MAX));
}
