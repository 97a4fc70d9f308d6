//! Every gate of the table on both sides of its boundary, the refused
//! profiles, and the behaviour answers built from the gates.

use std::path::Path;
use std::time::Duration;

use lockgates::{gate_table, Gate, GateRow, LockFile, OverrideSource, Profile, ProfileError};
use rstest::rstest;
use semver::Version;

fn p(s: &str) -> Profile {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The tag `v1.2.3` as a version.
fn tag(t: &str) -> Version {
    Version::parse(t.trim_start_matches('v')).unwrap_or_else(|e| panic!("tag {t}: {e}"))
}

/// An OS version the row's OS requirement accepts (OS 1.x where it must be).
fn os_for(row: &GateRow) -> Version {
    ["1.26.0", "2.88.0", "5.1.0"]
        .iter()
        .map(|v| Version::parse(v).unwrap())
        .find(|v| row.os.matches(v))
        .expect("an OS version for the row")
}

/// A test per gate row: open at its `since` tag, closed at `last_without`
/// and (for a range) at `until`. The requirement and the recorded tags are
/// written separately, so a typo in either fails here.
#[test]
fn every_gate_holds_at_its_boundary_tags() {
    let table = gate_table();
    for row in &table.gate {
        let gate: Gate = row.id.parse().unwrap();
        let os = os_for(row);
        let open = |t: &str| table.is_open(gate, &tag(t), &os);
        assert!(
            open(&row.since),
            "{}: closed at since {}",
            row.id,
            row.since
        );
        assert!(
            !open(&row.last_without),
            "{}: open at last_without {}",
            row.id,
            row.last_without
        );
        assert!(
            tag(&row.last_without) < tag(&row.since),
            "{}: last_without is not before since",
            row.id
        );
        if let Some(until) = &row.until {
            assert!(!open(until), "{}: open at until {until}", row.id);
            assert!(
                tag(until) > tag(&row.since),
                "{}: until before since",
                row.id
            );
        }
    }
}

/// Every row says where it comes from: a commit of the real supervisor, or
/// (modelled) a sentence why the source cannot settle it.
#[test]
fn every_row_cites_a_commit_or_says_why_not() {
    let table = gate_table();
    let rows = table
        .gate
        .iter()
        .map(|r| (&r.id, &r.source, &r.commits, &r.why))
        .chain(
            table
                .refuse
                .iter()
                .map(|r| (&r.id, &r.source, &r.commits, &r.why)),
        );
    for (id, source, commits, why) in rows {
        assert!(
            ["src", "changelog", "seed", "modelled"].contains(&source.as_str()),
            "{id}: unknown source {source}"
        );
        for c in commits {
            assert!(
                c.len() >= 8 && c.chars().all(|ch| ch.is_ascii_hexdigit()),
                "{id}: commit {c:?} is not 8+ hex digits"
            );
        }
        if source == "modelled" {
            assert!(
                why.as_ref().is_some_and(|w| w.len() > 20),
                "{id}: a modelled row must say why the source cannot settle it"
            );
        } else {
            assert!(!commits.is_empty(), "{id}: source {source} but no commit");
        }
    }
}

/// `README.md` carries the table generated from `gates.toml`; regenerate
/// it with `LOCKGATES_BLESS=1 cargo test -p lockgates`.
#[test]
fn readme_table_is_generated_from_the_table() {
    let table = lockgates::readme_table();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (begin, end) = ("<!-- gates:begin -->\n", "<!-- gates:end -->");
    let start = readme
        .find(begin)
        .expect("README has the gates:begin marker")
        + begin.len();
    let stop = readme.find(end).expect("README has the gates:end marker");
    if readme[start..stop] != table {
        if std::env::var_os("LOCKGATES_BLESS").is_some() {
            let fresh = format!("{}{table}{}", &readme[..start], &readme[stop..]);
            std::fs::write(path, fresh).unwrap();
        } else {
            panic!(
                "README.md's gate table is stale: run LOCKGATES_BLESS=1 cargo test -p lockgates"
            );
        }
    }
}

#[test]
fn newer_versions_behave_like_the_newest_known_with_a_warning() {
    let newest = gate_table().newest_known.clone();
    assert!(p(&format!("{newest}@5.1.0")).beyond_known().is_none());
    let newer = p("99.0.0@5.1.0");
    let warning = newer.beyond_known().expect("a warning");
    assert!(warning.contains("newest"), "{warning}");
    for gate in Gate::ALL {
        assert_eq!(
            newer.has(*gate),
            p(&format!("{newest}@5.1.0")).has(*gate),
            "{gate}"
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
#[case("0.0.16@1.0.0", "no_update_locks_yet")]
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
#[case("4.1.1@1.26.0", &["/data/resin-updates.lock", "/tmp/resin/resin-updates.lock"])]
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
#[case("6.6.8@2.9.0", "on", true)]
#[case("6.6.8@2.9.0", "TRUE", false)]
#[case("9.14.7@2.31.5", "TRUE", true)]
#[case("9.14.7@2.31.5", "On", true)]
#[case("2.8.2@1.20.0", "1", true)]
#[case("17.3.5@5.1.0", "0", false)]
#[case("17.3.5@5.1.0", "yes", false)]
fn override_truthiness(#[case] profile: &str, #[case] value: &str, #[case] on: bool) {
    assert_eq!(p(profile).override_truthy(value), on);
}

/// O2: who wins when names disagree, per era (audit B9).
#[rstest]
// 1.3.0 - 6.x: either name truthy switches it on (app env, then app config).
#[case("2.4.0@1.20.0", &[("RESIN_OVERRIDE_LOCK", "1"), ("RESIN_SUPERVISOR_OVERRIDE_LOCK", "0")], OverrideSource::AppEnv, true)]
#[case("6.6.8@2.9.0", &[("RESIN_OVERRIDE_LOCK", "0"), ("RESIN_SUPERVISOR_OVERRIDE_LOCK", "1")], OverrideSource::Config, true)]
#[case("1.2.1@1.20.0", &[("RESIN_SUPERVISOR_OVERRIDE_LOCK", "1")], OverrideSource::AppEnv, false)]
// 7.0.0 - 9.2.6: either truthy.
#[case("7.16.6@2.15.1", &[("RESIN_OVERRIDE_LOCK", "1"), ("RESIN_SUPERVISOR_OVERRIDE_LOCK", "0")], OverrideSource::Config, true)]
// 9.2.7 - 9.6.3: the legacy name is ignored (typo).
#[case("9.3.0@2.29.2", &[("RESIN_OVERRIDE_LOCK", "1")], OverrideSource::Config, false)]
// 9.6.4+: a set legacy name decides, "0" beats "1".
#[case("9.15.7@2.31.5", &[("RESIN_OVERRIDE_LOCK", "0"), ("RESIN_SUPERVISOR_OVERRIDE_LOCK", "1")], OverrideSource::Config, false)]
#[case("17.3.5@5.1.0", &[("RESIN_OVERRIDE_LOCK", "1"), ("BALENA_SUPERVISOR_OVERRIDE_LOCK", "0")], OverrideSource::Config, true)]
// 7.25.0+: BALENA_ wins over its RESIN_ twin; before it is not read.
#[case("7.25.0@2.29.0", &[("BALENA_SUPERVISOR_OVERRIDE_LOCK", "0"), ("RESIN_SUPERVISOR_OVERRIDE_LOCK", "1")], OverrideSource::Config, false)]
#[case("7.22.0@2.26.0", &[("BALENA_SUPERVISOR_OVERRIDE_LOCK", "1")], OverrideSource::Config, false)]
fn override_precedence(
    #[case] profile: &str,
    #[case] set: &[(&str, &str)],
    #[case] source: OverrideSource,
    #[case] on: bool,
) {
    let profile = p(profile);
    let got = profile.override_active(|n| {
        (n.source == source)
            .then(|| set.iter().find(|(k, _)| *k == n.name).map(|(_, v)| *v))
            .flatten()
    });
    assert_eq!(got, on, "{profile} with {set:?}");
}

#[rstest]
#[case("1.4.0@1.20.0", 1, 500)]
#[case("1.4.0@1.20.0", 3, 1500)]
#[case("1.5.0@1.20.0", 1, 1000)]
#[case("1.5.0@1.20.0", 10, 30_000)]
#[case("6.6.8@2.9.0", 10, 60_000)]
#[case("7.16.6@2.15.1", 10, 30_000)]
#[case("9.15.7@2.31.5", 10, 60_000)]
#[case("17.3.5@5.1.0", 3, 4000)]
#[case("17.3.5@5.1.0", 40, 900_000)]
fn retry_delay_per_era(#[case] profile: &str, #[case] failures: u32, #[case] ms: u64) {
    assert_eq!(p(profile).retry_delay(failures), Duration::from_millis(ms));
}

#[rstest]
#[case("2.8.2@1.20.0", 1, "main", "tmp/resin-supervisor/1")]
#[case("4.1.1@2.0.6", 1, "main", "tmp/resin-supervisor/1")]
#[case("7.16.6@2.15.1", 1, "main", "tmp/resin-supervisor/services/1/main")]
#[case("7.22.0@2.26.0", 7, "db", "tmp/balena-supervisor/services/7/db")]
fn host_layout_per_version(
    #[case] profile: &str,
    #[case] app: u32,
    #[case] service: &str,
    #[case] dir: &str,
) {
    assert_eq!(p(profile).service_lock_dir(app, service), Path::new(dir));
    assert_eq!(
        p(profile).lock_path(1, "x", &LockFile::DATA),
        Path::new("resin-data/1/resin-updates.lock")
    );
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
    let want = if names.len() == 2 {
        "/tmp/balena/updates.lock"
    } else {
        "/tmp/resin/resin-updates.lock"
    };
    assert!(p(profile).lock_env_vars().iter().all(|(_, v)| *v == want));
}

#[test]
fn a_broken_table_is_refused() {
    assert!(
        lockgates::GateTable::parse("newest_known = \"1.0.0\"\ngate = []")
            .unwrap_err()
            .contains("has no row")
    );
    let dup = format!(
        "{}\n{}",
        include_str!("../gates.toml"),
        "[[gate]]\nid = \"lock_data\"\nsince = \"v1.0.0\"\nlast_without = \"v0.9.0\"\nsource = \"x\"\nnote = \"y\"\n"
    );
    assert!(lockgates::GateTable::parse(&dup)
        .unwrap_err()
        .contains("two rows"));
}
