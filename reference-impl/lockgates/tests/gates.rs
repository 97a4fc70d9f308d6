//! Every gate of the table on both sides of its boundary, the refused
//! profiles, and the behaviour answers built from the gates.

use lockgates::{gate_table, Gate, LockFile, OverrideSource, Profile, ProfileError};
use rstest::rstest;

fn p(s: &str) -> Profile {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[rstest]
// paths
#[case(Gate::LockData, "3.9.9@1.26.0", true)]
#[case(Gate::LockData, "6.99.99@1.26.0", true)]
#[case(Gate::LockData, "4.1.1@2.0.6", false)]
#[case(Gate::LockTmpResin, "3.9.9@1.26.0", false)]
#[case(Gate::LockTmpResin, "4.0.0@1.26.0", true)]
#[case(Gate::LockTmpResin, "17.3.5@5.1.0", true)]
#[case(Gate::LockTmpBalena, "7.21.9@2.26.0", false)]
#[case(Gate::LockTmpBalena, "7.22.0@2.26.0", true)]
#[case(Gate::EnvResinLockPath, "6.99.0@2.9.0", false)]
#[case(Gate::EnvResinLockPath, "7.0.0@2.9.0", true)]
#[case(Gate::EnvBalenaLockPath, "7.21.99@2.9.0", false)]
#[case(Gate::EnvBalenaLockPath, "7.22.0@2.9.0", true)]
// locking
#[case(Gate::LockOwnerNobody, "13.0.99@2.88.0", false)]
#[case(Gate::LockOwnerNobody, "13.1.0@2.88.0", true)]
#[case(Gate::DirectoryLockRemovable, "14.0.9@2.95.0", false)]
#[case(Gate::DirectoryLockRemovable, "14.0.10@2.95.0", true)]
#[case(Gate::SymlinkLockHeld, "16.2.8@2.113.0", false)]
#[case(Gate::SymlinkLockHeld, "16.2.9@2.113.0", true)]
#[case(Gate::OneLockOperationPerApp, "15.99.99@2.113.0", false)]
#[case(Gate::OneLockOperationPerApp, "16.0.0@2.113.0", true)]
// update flow
#[case(Gate::MetadataChangeWithoutLocks, "17.3.4@5.1.0", false)]
#[case(Gate::MetadataChangeWithoutLocks, "17.3.5@5.1.0", true)]
#[case(Gate::RemovalLeavesNoLock, "16.12.6@4.0.0", false)]
#[case(Gate::RemovalLeavesNoLock, "16.12.7@4.0.0", true)]
// reboots and config
#[case(Gate::RebootDeferredWhileLocked, "7.1.16@2.15.1", false)]
#[case(Gate::RebootDeferredWhileLocked, "7.1.17@2.15.1", true)]
#[case(Gate::RebootApi423, "12.2.10@2.85.0", false)]
#[case(Gate::RebootApi423, "12.2.11@2.85.0", true)]
#[case(Gate::HupBreadcrumbsBlock, "12.8.9@2.85.0", false)]
#[case(Gate::HupBreadcrumbsBlock, "12.8.10@2.85.0", true)]
#[case(Gate::HupBreadcrumbsForce, "12.9.2@2.85.0", false)]
#[case(Gate::HupBreadcrumbsForce, "12.9.3@2.85.0", true)]
#[case(Gate::HostConfigRefusedWhileLocked, "12.11.33@2.85.0", false)]
#[case(Gate::HostConfigRefusedWhileLocked, "12.11.34@2.85.0", true)]
#[case(Gate::HostConfigTakesLocks, "16.7.99@2.113.0", false)]
#[case(Gate::HostConfigTakesLocks, "16.8.0@2.113.0", true)]
// override
#[case(Gate::OverrideAppEnvVar, "6.99.0@2.9.0", true)]
#[case(Gate::OverrideAppEnvVar, "7.0.0@2.9.0", false)]
#[case(Gate::OverrideBalenaPrefix, "7.21.0@2.26.0", false)]
#[case(Gate::OverrideBalenaPrefix, "7.22.0@2.26.0", true)]
#[case(Gate::OverrideTrueString, "6.6.7@2.9.0", false)]
#[case(Gate::OverrideTrueString, "6.6.8@2.9.0", true)]
// cleanup
#[case(Gate::LeftoverLockCleanup, "13.0.9@2.88.0", false)]
#[case(Gate::LeftoverLockCleanup, "13.1.0@2.88.0", true)]
fn gate_boundary(#[case] gate: Gate, #[case] profile: &str, #[case] open: bool) {
    assert_eq!(p(profile).has(gate), open, "{gate} on {profile}");
}

#[test]
fn every_gate_is_in_the_boundary_table() {
    // The rstest table above names each gate; keep this list in step so a new
    // gate without boundary cases fails here.
    let text = include_str!("gates.rs");
    for gate in Gate::ALL {
        let name = format!("Gate::{gate:?},");
        assert!(
            text.matches(&name).count() >= 2,
            "{gate} lacks boundary cases"
        );
    }
}

#[test]
fn every_row_names_a_source_and_spec_ids() {
    for row in &gate_table().gate {
        assert!(!row.source.is_empty(), "{} has no source", row.id);
        assert!(!row.spec.is_empty(), "{} names no SPEC id", row.id);
    }
}

#[rstest]
#[case("3.9.9@2.0.0", "legacy_supervisor_on_os2")]
#[case("7.0.0@1.26.0", "os1_on_supervisor_7")]
#[case("17.3.5@1.30.0", "os1_on_supervisor_7")]
fn unsupported_profiles_are_refused(#[case] profile: &str, #[case] gate: &str) {
    match profile.parse::<Profile>() {
        Err(ProfileError::Unsupported { gate: g, .. }) => assert_eq!(g, gate),
        other => panic!("{profile}: expected Unsupported, got {other:?}"),
    }
}

#[rstest]
#[case("3.9.9@1.26.0")]
#[case("4.0.0@2.0.0")]
#[case("6.99.99@1.26.0")]
fn supported_edges_are_accepted(#[case] profile: &str) {
    assert!(profile.parse::<Profile>().is_ok(), "{profile}");
}

#[rstest]
#[case("17.3.5")]
#[case("")]
#[case("17.3.5@")]
#[case("banana@2.0.0")]
#[case("17.3@2.0.0")]
#[case("17.3.5@2.x.0")]
fn garbage_is_refused_with_a_message(#[case] profile: &str) {
    let err = profile.parse::<Profile>().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(profile) || msg.contains("SUPERVISOR@OS"),
        "{msg}"
    );
}

#[test]
fn profile_round_trips_and_accepts_v_prefix() {
    assert_eq!(p("v17.3.5@2.115.0").to_string(), "17.3.5@2.115.0");
    assert_eq!(p("4.1.1@2.0.6").supervisor().to_string(), "4.1.1");
}

#[rstest]
#[case("2.8.2@1.20.0", &["/data/resin-updates.lock"])]
#[case("4.1.1@1.26.0", &["/tmp/resin/resin-updates.lock", "/data/resin-updates.lock"])]
#[case("4.1.1@2.0.6", &["/tmp/resin/resin-updates.lock"])]
#[case("7.21.9@2.26.0", &["/tmp/resin/resin-updates.lock"])]
#[case("7.22.0@2.26.0", &["/tmp/balena/updates.lock", "/tmp/resin/resin-updates.lock"])]
fn lock_files_per_profile(#[case] profile: &str, #[case] expected: &[&str]) {
    let got: Vec<_> = p(profile)
        .lock_files()
        .iter()
        .map(|f| f.service_path)
        .collect();
    assert_eq!(got, expected);
    let ignored = p(profile).ignored_lock_files();
    assert_eq!(ignored.len() + got.len(), LockFile::ALL.len());
}

#[rstest]
#[case("6.6.7@2.9.0", "true", false)]
#[case("6.6.8@2.9.0", "true", true)]
#[case("2.8.2@1.20.0", "1", true)]
#[case("17.3.5@5.1.0", "0", false)]
#[case("17.3.5@5.1.0", "yes", false)]
fn override_truthiness(#[case] profile: &str, #[case] value: &str, #[case] on: bool) {
    assert_eq!(p(profile).override_truthy(value), on);
}

#[test]
fn supervisor_override_name_wins_over_legacy() {
    let profile = p("6.6.8@2.9.0");
    // legacy app env var says 1, config var says 0: the config var wins.
    let on = profile.override_active(|n| match n.source {
        OverrideSource::AppEnv => Some("1"),
        OverrideSource::Config => Some("0"),
    });
    assert!(!on);
    let on = profile.override_active(|n| (n.source == OverrideSource::AppEnv).then_some("1"));
    assert!(on, "legacy name alone still works before 7.0.0");
    let newer = p("7.22.0@2.26.0");
    let on = newer.override_active(|n| match n.name {
        "BALENA_SUPERVISOR_OVERRIDE_LOCK" => Some("0"),
        "RESIN_SUPERVISOR_OVERRIDE_LOCK" => Some("1"),
        _ => None,
    });
    assert!(!on, "BALENA_ name decides when both prefixes are set");
}

#[rstest]
#[case("13.0.9@2.88.0", 0)]
#[case("13.1.0@2.88.0", 65534)]
fn lock_owner(#[case] profile: &str, #[case] uid: u32) {
    assert_eq!(p(profile).lock_owner_uid(), uid);
}

#[rstest]
#[case("6.9.0@2.9.0", &[])]
#[case("7.0.0@2.9.0", &["RESIN_APP_LOCK_PATH"])]
#[case("7.22.0@2.26.0", &["RESIN_APP_LOCK_PATH", "BALENA_APP_LOCK_PATH"])]
fn lock_env_vars(#[case] profile: &str, #[case] names: &[&str]) {
    let got: Vec<_> = p(profile).lock_env_vars().iter().map(|(n, _)| *n).collect();
    assert_eq!(got, names);
}

#[test]
fn a_broken_table_is_refused() {
    assert!(lockgates::GateTable::parse("gate = []")
        .unwrap_err()
        .contains("has no row"));
    let dup = format!(
        "{}\n{}",
        include_str!("../gates.toml"),
        "[[gate]]\nid = \"lock_data\"\nsource = \"x\"\nnote = \"y\"\n"
    );
    assert!(lockgates::GateTable::parse(&dup)
        .unwrap_err()
        .contains("two rows"));
}
