//! The command line: every user mistake is one line on stderr and exit 2.

use crate::common;

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(common::bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn one_line_error(args: &[&str], needle: &str) {
    let (code, err) = run(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn environment_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let base = |root: &str, sup: &str, os: &str| -> Vec<String> {
        [
            "--root",
            root,
            "--supervisor-version",
            sup,
            "--os-version",
            os,
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let check = |args: Vec<String>, needle: &str| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        one_line_error(&refs, needle);
    };
    check(
        base("/nonexistent/root", "17.3.5", "5.1.0"),
        "/nonexistent/root",
    );
    check(
        base(file.to_str().unwrap(), "17.3.5", "5.1.0"),
        "not a directory",
    );
    check(base(root, "17.3.5", "1.26.0"), "unsupported profile");
    check(base(root, "3.0.0", "2.0.0"), "unsupported profile");
    check(base(root, "banana", "5.1.0"), "--supervisor-version");
    check(base(root, "17.3.5", "5.x"), "--os-version");
    let docker = |flags: &[&str]| {
        let mut args = base(root, "17.3.5", "5.1.0");
        args.extend(flags.iter().map(|s| s.to_string()));
        args
    };
    let no_socket = "unix:///nonexistent/docker.sock";
    check(
        docker(&["--runtime", "docker", "--engine", no_socket]),
        &format!("no container engine at {no_socket}: "),
    );
    check(
        docker(&["--runtime", "docker", "--engine", "tcp://127.0.0.1:1"]),
        "no container engine at tcp://127.0.0.1:1: ",
    );
    check(
        docker(&["--runtime", "docker", "--engine", "ftp://x"]),
        "unsupported engine URL",
    );
    check(
        docker(&[
            "--runtime",
            "docker",
            "--engine",
            no_socket,
            "--device-id",
            "a/b",
        ]),
        "--device-id",
    );
    check(
        docker(&[
            "--runtime",
            "docker",
            "--engine",
            no_socket,
            "--host-root",
            "rel",
        ]),
        "--host-root rel must be an absolute path",
    );
    for flag in ["--engine", "--host-root", "--device-id"] {
        check(
            docker(&[flag, "x"]),
            &format!("{flag} is for --runtime docker only"),
        );
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().to_string();
    let mut args = base(root, "17.3.5", "5.1.0");
    args[7] = busy.clone();
    check(args, &busy);
    one_line_error(&["--root"], "--root");
}

#[test]
fn unwritable_root_is_refused() {
    // As root every dir is writable; a read-only bind mount is not.
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let ok = Command::new("mount")
        .args(["--bind", "-o", "ro"])
        .arg(&ro)
        .arg(&ro)
        .status();
    if !ok.map(|s| s.success()).unwrap_or(false) {
        // read-only bind needs two steps on some kernels
        Command::new("mount")
            .arg("--bind")
            .arg(&ro)
            .arg(&ro)
            .status()
            .unwrap();
        let remount = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&ro)
            .status()
            .unwrap();
        assert!(
            remount.success(),
            "cannot make a read-only mount for this test (needs root)"
        );
    }
    let (code, err) = run(&[
        "--root",
        ro.to_str().unwrap(),
        "--supervisor-version",
        "17.3.5",
        "--os-version",
        "5.1.0",
        "--listen",
        "127.0.0.1:0",
    ]);
    let _ = Command::new("umount").arg(&ro).status();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not writable"), "{err}");
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(common::bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--root",
        "--supervisor-version",
        "--os-version",
        "--listen",
        "--runtime",
        "--api-key",
        "--fault",
        "--pause-after-lock",
        "--stop-timeout",
        "--keep-services-on-exit",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
