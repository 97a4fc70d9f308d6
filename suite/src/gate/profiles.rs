//! The built-in tool profiles: one TOML file of command templates per tool
//! in `suite/tools/`, compiled into the binary. They say only how to drive
//! a tool; what it does against the supervisor is measured, never written
//! down here.

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::tool::{Shape, Tool};

/// Every profile file, in the order `--all` lists them.
const FILES: &[(&str, &str)] = &[
    ("reference.toml", include_str!("../../tools/reference.toml")),
    ("lockfile.toml", include_str!("../../tools/lockfile.toml")),
    ("flock.toml", include_str!("../../tools/flock.toml")),
    ("touch.toml", include_str!("../../tools/touch.toml")),
    ("mkdir.toml", include_str!("../../tools/mkdir.toml")),
    (
        "lockfile-progs.toml",
        include_str!("../../tools/lockfile-progs.toml"),
    ),
    (
        "dotlockfile.toml",
        include_str!("../../tools/dotlockfile.toml"),
    ),
    (
        "python-lockfile.toml",
        include_str!("../../tools/python-lockfile.toml"),
    ),
    ("filelock.toml", include_str!("../../tools/filelock.toml")),
    (
        "filelock-soft.toml",
        include_str!("../../tools/filelock-soft.toml"),
    ),
    ("fasteners.toml", include_str!("../../tools/fasteners.toml")),
    (
        "portalocker.toml",
        include_str!("../../tools/portalocker.toml"),
    ),
    (
        "proper-lockfile.toml",
        include_str!("../../tools/proper-lockfile.toml"),
    ),
];

/// One profile file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    title: String,
    package: Option<String>,
    acquire: Option<String>,
    release: Option<String>,
    hold: Option<String>,
    notes: Option<String>,
}

/// Parse one profile file's text.
pub fn parse(file: &str, text: &str) -> Result<Tool> {
    let p: ProfileFile =
        toml::from_str(text).with_context(|| format!("tool profile {file} is not valid"))?;
    let shape = Shape::from_templates(
        &p.name,
        p.acquire.as_deref(),
        p.release.as_deref(),
        p.hold.as_deref(),
    )
    .with_context(|| format!("tool profile {file}"))?;
    Ok(Tool {
        name: p.name,
        title: p.title,
        package: p.package,
        shape,
        notes: p.notes,
    })
}

/// Every built-in tool, in table order.
pub fn all() -> Vec<Tool> {
    FILES
        .iter()
        .map(|(file, text)| parse(file, text).expect("built-in tool profiles are valid"))
        .collect()
}

/// The built-in tool called `name`.
pub fn find(name: &str) -> Result<Tool> {
    let tools = all();
    if let Some(tool) = tools.iter().find(|t| t.name == name) {
        return Ok(tool.clone());
    }
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    bail!("no built-in tool '{name}' (known: {})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_tools_dir_is_built_in_and_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(f, _)| f.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "suite/tools/*.toml and FILES differ");
        let tools = all();
        for (tool, (file, _)) in tools.iter().zip(FILES) {
            assert_eq!(
                format!("{}.toml", tool.name),
                *file,
                "file named after its tool"
            );
        }
    }

    #[test]
    fn bad_profiles_name_the_file_and_the_problem() {
        let e = parse(
            "x.toml",
            "name = \"x\"\ntitle = \"X\"\nacquire = \"touch /tmp/a\"\nrelease = \"rm {path}\"\n",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("has no {path}"), "{e:#}");
        let e = parse(
            "x.toml",
            "name = \"x\"\ntitle = \"X\"\nhold = \"flock {path} {critical}\"\nfoo = 1\n",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("x.toml"), "{e:#}");
        assert!(find("nope")
            .unwrap_err()
            .to_string()
            .contains("known: reference"));
    }
}
