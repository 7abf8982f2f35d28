//! Checking a configuration with the real binaries: `deepinfra-shim --check-config` and
//! `shimctl check-config`. Every problem in one run with `file:line`, tabs explained, the file
//! named, files other users could rewrite reported, cleartext upstreams refused.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::daemon::{Daemon, Finished};

fn check_with_daemon(yaml: &str) -> (Finished, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let f = daemon_check(&path);
    (f, path, dir)
}

fn daemon_check(path: &Path) -> Finished {
    Daemon::builder()
        .arg("--config")
        .arg(path)
        .arg("--check-config")
        .run(Duration::from_secs(20))
}

/// `shimctl [--socket S] check-config ARGS` with a clean environment rooted at `home`.
fn shimctl(home: &Path, socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .arg("--socket")
        .arg(socket)
        .arg("check-config")
        .args(args)
        .output()
        .expect("running shimctl")
}

fn out(o: &Output) -> (i32, String, String) {
    (
        o.status.code().expect("exited by a signal"),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A type error, an out-of-range port, an unknown key and a bad URL: all four, each with its
/// line, from both binaries.
const SEVERAL: &str = "listen:\n  port: 99999\nupstream:\n  timeout_ms: \"abc\"\n  url: not a url\nlog:\n  levl: info\n";

fn assert_several(err: &str, path: &Path) {
    let p = path.display().to_string();
    for (line, needle) in [
        (2, "listen.port: expected a number 0-65535, got '99999'"),
        (
            4,
            "upstream.timeout_ms: expected a whole number of milliseconds > 0, got text 'abc'",
        ),
        (5, "upstream.url: expected an http:// or https:// URL"),
        (7, "unknown key `log.levl`"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("{p}:{line}")) && l.contains(needle)),
            "{needle} at {p}:{line} in:\n{err}"
        );
    }
    assert!(err.contains(&format!("{p}: invalid (4 problems)")), "{err}");
}

#[test]
fn the_daemon_reports_every_problem_with_its_line() {
    let (f, path, _dir) = check_with_daemon(SEVERAL);
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert_several(&f.stderr, &path);
    assert!(!f.stderr.contains("Listening on"), "{}", f.stderr);
}

#[test]
fn shimctl_reports_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("several.yaml");
    std::fs::write(&path, SEVERAL).unwrap();
    let (code, _, err) = out(&shimctl(
        dir.path(),
        &dir.path().join("none.sock"),
        &[path.to_str().unwrap()],
    ));
    assert_eq!(code, 1, "{err}");
    assert_several(&err, &path);
}

#[test]
fn a_tab_is_explained_with_its_line() {
    let yaml = "listen:\n  port: 8000\nlog:\n\tlevel: debug\n";
    let (f, path, dir) = check_with_daemon(yaml);
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    let want = format!(
        "{}:4: YAML forbids tabs; indent with spaces",
        path.display()
    );
    assert!(f.stderr.contains(&want), "{}", f.stderr);
    assert!(!f.stderr.contains("cannot start any token"), "{}", f.stderr);

    let (code, _, err) = out(&shimctl(
        dir.path(),
        &dir.path().join("none.sock"),
        &[path.to_str().unwrap()],
    ));
    assert_eq!(code, 1);
    assert!(err.contains(&want), "{err}");
}

#[test]
fn a_missing_file_is_named_and_not_blamed_on_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let (code, _, err) = out(&shimctl(
        dir.path(),
        &dir.path().join("none.sock"),
        &[missing.to_str().unwrap()],
    ));
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("config file {} does not exist", missing.display())),
        "{err}"
    );
    assert!(!err.contains("--config"), "{err}");
    // A relative path is shown absolute.
    let (code, _, err) = out(&Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .args(["--socket", "none.sock", "check-config", "rel.yaml"])
        .output()
        .unwrap());
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "config file {} does not exist",
            dir.path().join("rel.yaml").display()
        )),
        "{err}"
    );
    // The daemon's own flag, on the other hand, is named.
    let f = daemon_check(&missing);
    assert_eq!(f.code(), Some(1));
    assert!(
        f.stderr.contains(&format!(
            "--config: config file {} does not exist",
            missing.display()
        )),
        "{}",
        f.stderr
    );
}

#[test]
fn a_file_others_can_write_is_a_warning_not_an_error() {
    let (f, path, dir) = check_with_daemon("log: { level: debug }\n");
    assert_eq!(f.code(), Some(0), "{}", f.stderr);
    assert!(!f.stderr.contains("warning"), "{}", f.stderr);
    assert!(
        f.stdout
            .contains(&format!("configuration OK ({})", path.display())),
        "{}",
        f.stdout
    );

    set_mode(&path, 0o666);
    let f = daemon_check(&path);
    assert_eq!(
        f.code(),
        Some(0),
        "the exit status does not change: {}",
        f.stderr
    );
    let warning = format!(
        "warning: the config file {} is writable by other users (mode 0666)",
        path.display()
    );
    assert!(f.stderr.contains(&warning), "{}", f.stderr);
    assert!(f.stderr.contains("chmod go-w"), "{}", f.stderr);

    let (code, stdout, err) = out(&shimctl(
        dir.path(),
        &dir.path().join("none.sock"),
        &[path.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(err.contains(&warning), "{err}");

    // An invalid file gets the warning too, and keeps its exit status.
    std::fs::write(&path, "listen: { port: 99999 }\n").unwrap();
    let f = daemon_check(&path);
    assert_eq!(f.code(), Some(1));
    assert!(f.stderr.contains(&warning), "{}", f.stderr);
}

#[test]
fn cleartext_to_a_remote_host_is_refused_unless_allowed() {
    let (f, path, _dir) = check_with_daemon("upstream:\n  url: http://203.0.113.7/v1\n");
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert!(
        f.stderr.contains(&format!(
            "{}:2 upstream.url: http:// to 203.0.113.7, which is not loopback, would send the \
             token in cleartext; use https:// or set upstream.allow_insecure: true",
            path.display()
        )),
        "{}",
        f.stderr
    );
    let (f, _, _dir) = check_with_daemon(
        "upstream:\n  url: http://203.0.113.7/v1\n  allow_insecure: true\nupstreams:\n  lan: { url: 'http://192.0.2.9:8000/v1', allow_insecure: true }\n",
    );
    assert_eq!(f.code(), Some(0), "{}", f.stderr);

    // A named upstream must opt in itself.
    let (f, path, _dir) = check_with_daemon(
        "upstream:\n  allow_insecure: true\nupstreams:\n  lan:\n    url: http://192.0.2.9:8000/v1\n",
    );
    assert_eq!(f.code(), Some(1), "{}", f.stderr);
    assert!(
        f.stderr
            .contains(&format!("{}:5 upstreams.lan.url:", path.display())),
        "{}",
        f.stderr
    );
    assert!(
        f.stderr.contains("set upstreams.lan.allow_insecure: true"),
        "{}",
        f.stderr
    );

    // At start it is a one-line refusal with exit status 2, nothing bound.
    let f = Daemon::builder()
        .arg("--upstream")
        .arg("http://203.0.113.7/v1")
        .run(Duration::from_secs(20));
    assert_eq!(f.code(), Some(2), "{}", f.stderr);
    assert!(
        f.stderr.contains("--upstream: http:// to 203.0.113.7"),
        "{}",
        f.stderr
    );
    assert!(!f.stderr.contains("Listening on"), "{}", f.stderr);
}

#[test]
fn shimctl_without_a_path_checks_the_running_daemons_file() {
    let d = Daemon::builder()
        .config_yaml("log: { level: debug }\n")
        .start();
    let socket = d.control_socket().unwrap().to_owned();
    let file = d.config_path().unwrap().to_owned();
    // Not the file a daemon started from this shell would read (there is none).
    let home = tempfile::tempdir().unwrap();
    let (code, stdout, err) = out(&shimctl(home.path(), &socket, &[]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("checking the running daemon's config file"),
        "{err}"
    );
    assert!(
        stdout.contains(&format!("{}: configuration OK", file.display())),
        "{stdout}"
    );
    // The daemon's file goes bad: that is what gets checked.
    std::fs::write(&file, "log: { level: loud }\n").unwrap();
    let (code, _, err) = out(&shimctl(home.path(), &socket, &[]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{}:1 log.level", file.display())),
        "{err}"
    );
}

#[test]
fn shimctl_without_a_path_or_a_daemon_checks_the_default_file_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let default = home.path().join("config/deepinfra-shim/config.yaml");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::write(&default, "listen: { port: 99999 }\n").unwrap();
    let socket = home.path().join("nobody.sock");
    let (code, _, err) = out(&shimctl(home.path(), &socket, &[]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no daemon answered"), "{err}");
    assert!(err.contains("checking the default config file"), "{err}");
    assert!(
        err.contains(&format!("{}:1 listen.port", default.display())),
        "{err}"
    );

    std::fs::remove_file(&default).unwrap();
    let (code, stdout, err) = out(&shimctl(home.path(), &socket, &[]));
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains(&format!(
            "{} (missing: built-in defaults): configuration OK",
            default.display()
        )),
        "{stdout}"
    );
}
