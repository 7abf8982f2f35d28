//! `shimctl logs` on Linux, against a stand-in `journalctl` on PATH.
//!
//! Contract checked here: it runs `journalctl --user -u deepinfra-shim` with `-f`, `-n N` and
//! (output not a terminal) `--no-pager`; its exit status is journalctl's; when the journal
//! shows nothing the user gets the volatile-journal advice on stderr (and the log command
//! still runs); without journalctl, a hint and exit 1. The real journalctl is exercised by
//! tests/user_service.rs.
// Test code: a panic is how a check fails.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A `journalctl` that records its arguments, prints one line (none for the probe when
/// `EMPTY` is set) and exits with `$RC`.
const FAKE: &str = r#"#!/bin/sh
printf '%s\n' "$*" >>"$CALLS"
case " $* " in
*" -o cat "*) [ -n "${EMPTY:-}" ] || echo "last entry" ;;
*) echo "the log"; exit "${RC:-0}" ;;
esac
"#;

fn run(bin_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shimctl"));
    cmd.arg("logs")
        .args(args)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", bin_dir)
        .env("CALLS", bin_dir.join("calls"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn calls(dir: &Path) -> Vec<String> {
    let c = std::fs::read_to_string(dir.join("calls")).unwrap_or_default();
    let _ = std::fs::remove_file(dir.join("calls"));
    c.lines().map(str::to_owned).collect()
}

#[test]
fn runs_journalctl_for_the_user_unit_and_passes_its_exit_status_through() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("journalctl");
    std::fs::write(&fake, FAKE).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = run(dir.path(), &["-f", "-n", "30"], &[("RC", "4")]);
    assert_eq!(out.status.code(), Some(4), "journalctl's exit status");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "the log\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        calls(dir.path()),
        [
            "--user -u deepinfra-shim -n 1 -q --no-pager -o cat",
            "--user -u deepinfra-shim -f -n 30 --no-pager"
        ]
    );

    // Nothing in the user journal: the advice, then the log command all the same.
    let out = run(dir.path(), &[], &[("EMPTY", "1")]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("journalctl _SYSTEMD_USER_UNIT=deepinfra-shim.service"),
        "{err}"
    );
    assert!(err.contains("/var/log/journal"), "{err}");
    assert_eq!(
        calls(dir.path()).last().unwrap(),
        "--user -u deepinfra-shim --no-pager"
    );

    // No journalctl at all.
    std::fs::remove_file(&fake).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shimctl"));
    let out = cmd
        .arg("logs")
        .env_clear()
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("journalctl not found"), "{err}");
}
