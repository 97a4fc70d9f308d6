//! helios, balena's Rust supervisor, judged by the suite: runs only when
//! `HELIOS_BIN` points at a built helios (CI here cannot fetch it) and
//! `HELIOS_ENGINE` (default `DOCKER_HOST`) at an engine new enough for it
//! (26.x: `fixtures/helios/engine.sh`). The known differences are
//! `fixtures/helios/expectations.toml`, the README's helios report: the run
//! must fail on nothing else and pass nothing listed there, so the file
//! stays the truth about helios.

use std::path::PathBuf;

use crate::common::lockcheck;

/// The profile helios claims: the balena supervisor's newest behaviour.
const PROFILE: &str = "17.3.5@5.1.0";

fn expectations() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/helios/expectations.toml")
}

#[test]
fn helios_matches_its_report() {
    let Some(bin) = std::env::var_os("HELIOS_BIN") else {
        eprintln!("skipped: HELIOS_BIN not set");
        return;
    };
    let Some(engine) = std::env::var("HELIOS_ENGINE")
        .ok()
        .or_else(|| std::env::var("DOCKER_HOST").ok())
    else {
        eprintln!(
            "skipped: HELIOS_BIN is set but neither HELIOS_ENGINE nor DOCKER_HOST names its engine"
        );
        return;
    };
    let bin = bin.to_string_lossy().into_owned();
    let exp = expectations();
    let exp = exp.to_string_lossy();
    let (code, out, err) = lockcheck(&[
        "run",
        "--target",
        "helios",
        "--helios-bin",
        &bin,
        "--engine",
        &engine,
        "--profile",
        PROFILE,
        "--expectations",
        &exp,
        "--format",
        "json",
        "--no-progress",
    ]);
    assert_eq!(code, 0, "helios failed beyond its report:\n{out}\n{err}");
    assert!(
        !err.contains("matched no cell"),
        "an entry of the report matched nothing:\n{err}"
    );
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    let cells = report["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 31, "one column of every case");
    let surprises: Vec<String> = cells
        .iter()
        .filter(|c| c["unexpected_pass"] == true)
        .map(|c| c["case"].to_string())
        .collect();
    assert!(
        surprises.is_empty(),
        "helios now passes cells its report lists as failing (update fixtures/helios/expectations.toml and the README): {surprises:?}"
    );
}
