//! The case registry: exactly one case per SPEC id, unique names, metadata
//! filled in.

use lockcheck::case;

#[test]
fn every_spec_id_has_exactly_one_case() {
    let cases = case::all();
    for id in case::SPEC_IDS {
        let n = cases.iter().filter(|c| c.id == *id).count();
        assert_eq!(n, 1, "SPEC id {id} has {n} cases");
    }
    for c in &cases {
        assert!(
            case::SPEC_IDS.contains(&c.id),
            "case {} has an id not in the SPEC",
            c.name
        );
    }
}

#[test]
fn names_are_unique_and_metadata_is_filled() {
    let cases = case::all();
    let mut names: Vec<_> = cases.iter().map(|c| c.short_name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "duplicate case names");
    for c in cases {
        assert!(
            !c.title.is_empty() && c.spec.len() > 20,
            "{} lacks a title or SPEC text",
            c.id
        );
        let module = c.short_name().split("::").next().unwrap();
        assert!(
            [
                "locking",
                "locking_races",
                "paths",
                "update_flow",
                "reboot_config",
                "override_lock",
                "crash"
            ]
            .contains(&module),
            "{} lives in an unexpected module",
            c.name
        );
    }
}
