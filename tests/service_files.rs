//! The service files and install scripts: `systemd/deepinfra-shim.service`,
//! `launchd/com.deepinfra.shim.plist`, `packaging/install.sh` and `packaging/uninstall.sh`.
//!
//! Contract checked here:
//! - the checked-in unit has the documented settings, and `systemd-analyze --user verify`
//!   accepts both it and the unit the installer writes (skipped with a message when
//!   `systemd-analyze` is missing, a failure under `CI=true`);
//! - the plist parses (python3's plistlib, the most faithful plist reader on Linux) and has the
//!   LaunchAgent keys; the installed one has absolute paths and a socket path macOS accepts;
//! - `install.sh` into a temp `DESTDIR`/prefix writes binaries, unit, config and env file with
//!   the right modes and paths, never prints the token, keeps an existing config, and a second
//!   run changes nothing; `uninstall.sh` reverses it;
//! - the daemon started exactly as the installed unit starts it (its `ExecStart`, specifiers
//!   expanded, the `EnvironmentFile` parsed as systemd does, `NOTIFY_SOCKET`, `WATCHDOG_*`,
//!   `UMask`) reports READY/WATCHDOG/STOPPING, serves `/health`, sends the env file's token
//!   upstream, reloads through `ExecReload`, and `shimctl status` finds it by default;
//! - the LaunchAgent's `ProgramArguments` (run with /bin/sh here) load the env file and exec the
//!   daemon, so launchd's SIGTERM reaches the daemon itself.
//!
//! Nothing here talks to a real service manager: scripts run with a cleared environment (no
//! `XDG_RUNTIME_DIR`, no D-Bus address) and uninstall only runs against a `DESTDIR`, so a
//! developer's own running service is never touched.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A fake provider token; the tests check it never shows up in the installer's output.
const TOKEN: &str = "test-token-7f3a9c";
/// Generous upper bound for anything to happen (start, ping, exit); never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(30);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether a missing tool is a failure (CI) rather than a skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// True when `tool` runs. Missing: panics under `CI=true`, else says so and returns false.
fn have_tool(tool: &str, why: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "`{tool}` is required under CI=true ({why}); install it in .ci/run"
        );
        eprintln!("SKIPPED: `{tool}` is not on PATH, so {why} is not checked here");
    }
    ok
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// A temp home, prefix and binaries, and the scripts run against them.

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let fx = Fixture {
            dir: tempfile::Builder::new()
                .prefix("dsh-svc")
                .tempdir()
                .unwrap(),
        };
        for sub in ["home", "bins", "tmp", "rt"] {
            std::fs::create_dir_all(fx.path(sub)).unwrap();
        }
        std::fs::set_permissions(fx.path("rt"), std::fs::Permissions::from_mode(0o700)).unwrap();
        // install.sh --bin-dir takes prebuilt binaries; link (or copy) Cargo's so the test
        // neither rebuilds the crate nor depends on target/ staying put while it runs.
        for (name, src) in [
            ("deepinfra-shim", env!("CARGO_BIN_EXE_deepinfra-shim")),
            ("shimctl", env!("CARGO_BIN_EXE_shimctl")),
        ] {
            let dst = fx.path("bins").join(name);
            if std::fs::hard_link(src, &dst).is_err() {
                std::fs::copy(src, &dst).unwrap();
            }
        }
        fx
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn home(&self) -> PathBuf {
        self.path("home")
    }
    fn prefix(&self) -> PathBuf {
        self.path("prefix")
    }
    fn config_dir(&self) -> PathBuf {
        self.home().join(".config/deepinfra-shim")
    }
    fn unit_path(&self) -> PathBuf {
        self.home()
            .join(".config/systemd/user/deepinfra-shim.service")
    }
    fn plist_path(&self) -> PathBuf {
        self.home()
            .join("Library/LaunchAgents/com.deepinfra.shim.plist")
    }

    /// Runs a script under /bin/sh (POSIX sh: dash on Debian) with a cleared environment.
    fn script(&self, name: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg(repo().join("packaging").join(name))
            .args(args)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", self.home())
            .env("TMPDIR", self.path("tmp"))
            .stdin(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains(TOKEN), "{name} printed the token:\n{text}");
        out
    }

    /// install.sh with the prebuilt binaries and the temp prefix; must succeed.
    fn install(&self, extra: &[&str], envs: &[(&str, &str)]) -> String {
        let bins = self.path("bins");
        let prefix = self.prefix();
        let mut args = vec![
            "--bin-dir",
            bins.to_str().unwrap(),
            "--prefix",
            prefix.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = self.script("install.sh", &args, envs);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "install.sh {args:?} failed ({}):\n{text}",
            out.status
        );
        text
    }
}

/// Every file and directory under `root`: mode, and for files size, mtime, inode and content
/// hash. Equal manifests mean nothing was rewritten, re-moded or replaced.
fn manifest(root: &Path) -> BTreeMap<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let md = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if md.is_dir() {
                stack.push(path.clone());
                out.insert(rel, format!("dir {:o}", md.mode() & 0o7777));
            } else {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&path).unwrap().hash(&mut h);
                let desc = format!(
                    "file {:o} len={} mtime={}.{} ino={} hash={:x}",
                    md.mode() & 0o7777,
                    md.len(),
                    md.mtime(),
                    md.mtime_nsec(),
                    md.ino(),
                    h.finish()
                );
                out.insert(rel, desc);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading unit files, env files and plists.

/// A systemd unit file as (section, key, value) entries, in order.
struct Unit(Vec<(String, String, String)>);

impl Unit {
    fn parse(text: &str) -> Unit {
        let mut section = String::new();
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            assert!(
                !line.ends_with('\\'),
                "line continuations are not expected: {line}"
            );
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {line}"));
            entries.push((section.clone(), k.trim().to_owned(), v.trim().to_owned()));
        }
        Unit(entries)
    }

    fn all(&self, section: &str, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    }

    /// The value in force (the last assignment), panicking when the key is absent.
    fn get(&self, section: &str, key: &str) -> &str {
        self.all(section, key)
            .last()
            .unwrap_or_else(|| panic!("[{section}] {key}= missing"))
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(_, k, _)| k.as_str()).collect()
    }
}

/// Expands the specifiers the unit uses (%h, %t, %%); any other specifier fails the test, so a
/// new one in the unit cannot be run here with the wrong meaning.
fn expand(value: &str, home: &Path, runtime: &Path) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(home.to_str().unwrap()),
            Some('t') => out.push_str(runtime.to_str().unwrap()),
            Some('%') => out.push('%'),
            other => panic!("specifier %{other:?} in `{value}` is not handled by this test"),
        }
    }
    out
}

/// An `Exec*=` line as argv: specifiers expanded, split on whitespace (the unit uses no quotes).
fn exec_argv(value: &str, home: &Path, runtime: &Path) -> Vec<String> {
    assert!(
        !value.contains('"') && !value.contains('\''),
        "quoted Exec lines are not expected: {value}"
    );
    assert!(
        !value.starts_with(['-', '@', '+', '!', ':']),
        "Exec prefixes are not expected: {value}"
    );
    expand(value, home, runtime)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// An `EnvironmentFile=` as systemd reads it: KEY=value lines, `#`/`;` comments, surrounding
/// whitespace dropped, one level of matching quotes removed.
fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("env file line without '=': {line}"));
        let v = v.trim();
        let v = match v.as_bytes() {
            [b'"', .., b'"'] | [b'\'', .., b'\''] if v.len() >= 2 => &v[1..v.len() - 1],
            _ => v,
        };
        vars.push((k.trim().to_owned(), v.to_owned()));
    }
    vars
}

/// The plist as JSON, through python3's plistlib; None (after a message) when python3 is missing
/// outside CI.
fn plist_json(path: &Path) -> Option<serde_json::Value> {
    if !have_tool("python3", "the plist (parsed with plistlib)") {
        return None;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plistlib rejects {}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

// ---------------------------------------------------------------------------------------------
// The systemd unit.

#[test]
fn checked_in_unit_has_the_documented_settings() {
    let text = read(&repo().join("systemd/deepinfra-shim.service"));
    let unit = Unit::parse(&text);
    let s = "Service";
    assert_eq!(unit.get(s, "Type"), "notify");
    assert_eq!(unit.get(s, "NotifyAccess"), "main");
    let start = unit.get(s, "ExecStart");
    assert!(
        start.starts_with("%h/.cargo/bin/deepinfra-shim "),
        "{start}"
    );
    assert!(
        start.contains("--control-socket %t/deepinfra-shim/control.sock"),
        "{start}"
    );
    let reload = unit.get(s, "ExecReload");
    assert!(reload.starts_with("%h/.cargo/bin/shimctl "), "{reload}");
    assert!(
        reload.contains("--socket %t/deepinfra-shim/control.sock") && reload.ends_with(" reload"),
        "{reload}"
    );
    assert_eq!(
        unit.get(s, "EnvironmentFile"),
        "-%h/.config/deepinfra-shim/env"
    );
    assert_eq!(unit.get(s, "Restart"), "on-failure");
    assert!(unit.get(s, "RestartSec").parse::<u32>().unwrap() >= 1);
    assert_eq!(unit.get(s, "WatchdogSec"), "30");
    // Above the default drain timeout (shutdown.drain_timeout_ms = 30 s).
    assert!(unit.get(s, "TimeoutStopSec").parse::<u32>().unwrap() > 30);
    assert_eq!(unit.get(s, "RuntimeDirectory"), "deepinfra-shim");
    assert_eq!(unit.get(s, "RuntimeDirectoryMode"), "0700");
    assert_eq!(unit.get(s, "UMask"), "0077");
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallArchitectures", "native"),
        ("SystemCallFilter", "@system-service"),
    ] {
        assert_eq!(unit.get(s, key), value, "{key}");
    }
    // docs/security.md#bounds: enough descriptors for limits.max_connections' default (1024
    // client connections and one upstream connection each), no core dumps holding the token,
    // and the cgroup limits a user manager is delegated.
    assert!(unit.get(s, "LimitNOFILE").parse::<u32>().unwrap() > 2 * 1024);
    assert_eq!(unit.get(s, "LimitCORE"), "0");
    let memory = unit.get(s, "MemoryMax");
    assert!(memory.ends_with('G') || memory.ends_with('M'), "{memory}");
    assert!(unit.get(s, "TasksMax").parse::<u32>().unwrap() >= 512);
    // Options that need a mount namespace (unavailable to many user managers) stay out, and
    // so does anything newer than Debian 12's systemd 252.
    for key in unit.keys() {
        assert!(
            !(key.starts_with("Protect") || key.starts_with("Private") || key.ends_with("Paths")),
            "{key}= needs namespaces in a user unit"
        );
        assert!(
            !matches!(key, "RestartSteps" | "RestartMaxDelaySec"),
            "{key}= needs systemd 254+"
        );
    }
    assert_eq!(unit.get("Install", "WantedBy"), "default.target");
    for (_, key, value) in &unit.0 {
        assert!(
            !value.contains("network-online.target"),
            "{key}={value}: a user unit cannot order on it"
        );
    }
}

/// `systemd-analyze --user verify` on `unit`, with `home` as $HOME (for %h) and a temp
/// runtime dir; fails on a non-zero exit or any complaint about our unit.
fn systemd_verify(unit: &Path, home: &Path, runtime: &Path) {
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(unit)
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("deepinfra-shim"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify {} ({}):\n{stderr}{}",
        unit.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn systemd_analyze_verify_accepts_the_checked_in_and_the_installed_unit() {
    if !have_tool("systemd-analyze", "`systemd-analyze verify` on the unit") {
        return;
    }
    let fx = Fixture::new();
    // The checked-in unit as is, for someone who ran `cargo install --path .`: binaries in
    // $HOME/.cargo/bin.
    let cargo_bin = fx.home().join(".cargo/bin");
    std::fs::create_dir_all(&cargo_bin).unwrap();
    for name in ["deepinfra-shim", "shimctl"] {
        std::fs::hard_link(fx.path("bins").join(name), cargo_bin.join(name))
            .or_else(|_| {
                std::fs::copy(fx.path("bins").join(name), cargo_bin.join(name)).map(|_| ())
            })
            .unwrap();
    }
    systemd_verify(
        &repo().join("systemd/deepinfra-shim.service"),
        &fx.home(),
        &fx.path("rt"),
    );

    // The installed unit (absolute paths into the temp prefix), default and custom config home.
    fx.install(&[], &[]);
    systemd_verify(&fx.unit_path(), &fx.home(), &fx.path("rt"));
    let alt = fx.path("alt-config");
    fx.install(&[], &[("XDG_CONFIG_HOME", alt.to_str().unwrap())]);
    let alt_unit = alt.join("systemd/user/deepinfra-shim.service");
    systemd_verify(&alt_unit, &fx.home(), &fx.path("rt"));
    let unit = Unit::parse(&read(&alt_unit));
    assert_eq!(
        unit.get("Service", "EnvironmentFile"),
        format!("-{}/deepinfra-shim/env", alt.display())
    );
    assert_eq!(
        unit.get("Service", "Environment"),
        format!("XDG_CONFIG_HOME={}", alt.display())
    );
}

// ---------------------------------------------------------------------------------------------
// The LaunchAgent.

#[test]
fn plist_template_parses_and_has_the_launchagent_keys() {
    let path = repo().join("launchd/com.deepinfra.shim.plist");
    let Some(p) = plist_json(&path) else { return };
    assert_eq!(
        p["Label"], "com.deepinfra.shim",
        "the file name must be Label + .plist"
    );
    let args: Vec<&str> = p["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(&args[..2], ["/bin/sh", "-c"]);
    assert_eq!(args[3], "__CONFIG_DIR__/env");
    assert_eq!(args[4], "__BIN_DIR__/deepinfra-shim");
    assert_eq!(&args[5..], ["--control-socket", "__CONTROL_SOCKET__"]);
    assert_eq!(p["RunAtLoad"], true);
    assert_eq!(
        p["KeepAlive"],
        serde_json::json!({ "SuccessfulExit": false })
    );
    assert!(p["ThrottleInterval"].as_u64().unwrap() >= 1);
    assert!(
        p["ExitTimeOut"].as_u64().unwrap() > 30,
        "above the 30 s drain timeout"
    );
    assert_eq!(p["ProcessType"], "Standard");
    assert_eq!(p["StandardOutPath"], "__LOG_DIR__/deepinfra-shim.log");
    assert_eq!(p["StandardErrorPath"], "__LOG_DIR__/deepinfra-shim.log");
    assert_eq!(
        p["EnvironmentVariables"],
        serde_json::json!({ "XDG_CONFIG_HOME": "__CONFIG_HOME__" })
    );
    assert!(
        !read(&path).contains("DEEPINFRA_TOKEN="),
        "no token in a world-readable plist"
    );
    // docs/security.md#bounds: the unit's LimitNOFILE= and LimitCORE=0.
    assert_eq!(
        p["SoftResourceLimits"],
        serde_json::json!({ "NumberOfFiles": 4096, "Core": 0 })
    );
    assert_eq!(p["HardResourceLimits"], serde_json::json!({ "Core": 0 }));
}

/// The XML text with its `<!-- … -->` comments removed.
fn without_xml_comments(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("-->").expect("unterminated comment");
        rest = &rest[start + end + 3..];
    }
    out.push_str(rest);
    out
}

#[test]
fn installed_plist_has_absolute_paths_and_a_socket_path_macos_accepts() {
    let fx = Fixture::new();
    // A TMPDIR shaped like macOS's per-user one.
    let tmpdir = fx.path("var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = fx.install(
        &["--os", "macos"],
        &[
            ("DEEPINFRA_TOKEN", TOKEN),
            ("TMPDIR", &format!("{}/", tmpdir.display())),
        ],
    );
    assert!(out.contains("launchctl bootstrap gui/"), "{out}");
    let plist = fx.plist_path();
    assert_eq!(mode(&plist), 0o644);
    let text = read(&plist);
    assert!(
        !without_xml_comments(&text).contains("__"),
        "placeholder left:\n{text}"
    );
    assert!(!text.contains(TOKEN));
    let log_dir = fx.home().join("Library/Logs/deepinfra-shim");
    assert_eq!(mode(&log_dir), 0o700);
    assert_eq!(mode(&fx.config_dir().join("env")), 0o600);

    let Some(p) = plist_json(&plist) else { return };
    let args: Vec<&str> = p["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[3], fx.config_dir().join("env").to_str().unwrap());
    assert_eq!(
        args[4],
        fx.prefix().join("bin/deepinfra-shim").to_str().unwrap()
    );
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    let socket = format!(
        "{}/deepinfra-shim-{}/control.sock",
        tmpdir.display(),
        uid.trim()
    );
    assert_eq!(args[6], socket, "the path shimctl computes from TMPDIR");
    assert!(
        socket.len() < 104,
        "sun_path on macOS holds 104 bytes with the NUL"
    );
    let log = log_dir.join("deepinfra-shim.log");
    assert_eq!(p["StandardErrorPath"], log.to_str().unwrap());
    assert_eq!(
        p["EnvironmentVariables"]["XDG_CONFIG_HOME"],
        fx.home().join(".config").to_str().unwrap()
    );

    // A TMPDIR too long for a socket path falls back to /tmp and says how to point shimctl there.
    let long = fx.path(&"x".repeat(90));
    std::fs::create_dir_all(&long).unwrap();
    let out = fx.install(&["--os", "macos"], &[("TMPDIR", long.to_str().unwrap())]);
    assert!(
        out.contains("DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET="),
        "{out}"
    );
    let p = plist_json(&plist).unwrap();
    assert_eq!(
        p["ProgramArguments"][6],
        format!("/tmp/deepinfra-shim-{}/control.sock", uid.trim())
    );
}

// ---------------------------------------------------------------------------------------------
// install.sh / uninstall.sh

#[test]
fn install_into_destdir_sets_modes_and_paths_and_a_second_run_changes_nothing() {
    let fx = Fixture::new();
    let stage = fx.path("stage");
    let stage_s = stage.to_str().unwrap().to_owned();
    // Final paths that do not exist on this machine: only DESTDIR is written.
    let envs = [
        ("DESTDIR", stage_s.as_str()),
        ("HOME", "/home/tester"),
        ("DEEPINFRA_TOKEN", TOKEN),
    ];
    let run = |fx: &Fixture| {
        let out = fx.script(
            "install.sh",
            &[
                "--bin-dir",
                fx.path("bins").to_str().unwrap(),
                "--prefix",
                "/opt/dsh",
                "--os",
                "linux",
            ],
            &envs,
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "install.sh failed:\n{text}");
        text
    };
    let first = run(&fx);
    assert!(first.contains("Staged under"), "{first}");

    for name in ["deepinfra-shim", "shimctl"] {
        let installed = stage.join("opt/dsh/bin").join(name);
        assert_eq!(mode(&installed), 0o755, "{name}");
        assert!(
            std::fs::read(&installed).unwrap()
                == std::fs::read(fx.path("bins").join(name)).unwrap()
        );
    }
    let unit_path = stage.join("home/tester/.config/systemd/user/deepinfra-shim.service");
    assert_eq!(mode(&unit_path), 0o644);
    let unit_text = read(&unit_path);
    assert!(
        !unit_text.contains(&stage_s),
        "DESTDIR leaked into the unit"
    );
    let unit = Unit::parse(&unit_text);
    assert_eq!(
        unit.get("Service", "ExecStart"),
        "/opt/dsh/bin/deepinfra-shim --control-socket %t/deepinfra-shim/control.sock"
    );
    assert_eq!(
        unit.get("Service", "ExecReload"),
        "/opt/dsh/bin/shimctl --socket %t/deepinfra-shim/control.sock reload"
    );
    assert_eq!(
        unit.get("Service", "EnvironmentFile"),
        "-%h/.config/deepinfra-shim/env"
    );
    assert!(unit.all("Service", "Environment").is_empty());

    let config_dir = stage.join("home/tester/.config/deepinfra-shim");
    assert_eq!(mode(&config_dir), 0o700);
    assert_eq!(mode(&config_dir.join("config.yaml")), 0o644);
    assert_eq!(
        read(&config_dir.join("config.yaml")),
        read(&repo().join("packaging/config.example.yaml"))
    );
    let env_path = config_dir.join("env");
    assert_eq!(mode(&env_path), 0o600);
    let vars = parse_env_file(&read(&env_path));
    assert_eq!(vars, [("DEEPINFRA_TOKEN".to_owned(), TOKEN.to_owned())]);

    // Nothing outside DESTDIR.
    assert!(!fx.prefix().exists() && !fx.home().join(".config").exists());

    let before = manifest(&stage);
    let second = run(&fx);
    assert!(second.contains("already up to date"), "{second}");
    assert_eq!(manifest(&stage), before, "the second run changed something");
}

#[test]
fn install_keeps_an_existing_config_and_updates_the_token_in_place() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.config_dir()).unwrap();
    let mine = "log:\n  level: debug\n";
    std::fs::write(fx.config_dir().join("config.yaml"), mine).unwrap();
    let env_path = fx.config_dir().join("env");
    std::fs::write(
        &env_path,
        "# mine\nLOCAL_KEY=abc\nDEEPINFRA_TOKEN=old\nOTHER=1\n",
    )
    .unwrap();
    std::fs::set_permissions(&env_path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = fx.install(&[], &[("DEEPINFRA_TOKEN", TOKEN)]);
    assert!(out.contains("not overwritten"), "{out}");
    assert_eq!(read(&fx.config_dir().join("config.yaml")), mine);
    assert_eq!(
        read(&env_path),
        format!("# mine\nLOCAL_KEY=abc\nDEEPINFRA_TOKEN={TOKEN}\nOTHER=1\n")
    );
    assert_eq!(mode(&env_path), 0o600, "the token file is made private");

    // Without the variable, an existing env file is left as it is.
    let before = manifest(&fx.home());
    fx.install(&[], &[]);
    assert_eq!(manifest(&fx.home()), before);
}

#[test]
fn install_without_a_token_writes_a_private_template_and_says_what_to_do() {
    let fx = Fixture::new();
    let out = fx.install(&[], &[]);
    assert!(out.contains("No token yet"), "{out}");
    assert!(
        out.contains(
            "systemctl --user daemon-reload && systemctl --user enable --now deepinfra-shim"
        ),
        "{out}"
    );
    assert!(out.contains("shimctl status"), "{out}");
    let env_path = fx.config_dir().join("env");
    assert_eq!(mode(&env_path), 0o600);
    assert!(parse_env_file(&read(&env_path)).is_empty(), "only comments");
    assert_eq!(
        read(&env_path),
        read(&repo().join("packaging/deepinfra-shim.env.example"))
    );
}

#[test]
fn install_refuses_a_token_it_cannot_write_safely_before_writing_anything() {
    let fx = Fixture::new();
    let bad = format!("{TOKEN} x");
    let bins = fx.path("bins");
    let prefix = fx.prefix();
    let out = fx.script(
        "install.sh",
        &[
            "--bin-dir",
            bins.to_str().unwrap(),
            "--prefix",
            prefix.to_str().unwrap(),
        ],
        &[("DEEPINFRA_TOKEN", &bad)],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEEPINFRA_TOKEN contains"));
    assert!(
        !prefix.exists() && !fx.home().join(".config").exists(),
        "wrote files before refusing"
    );
}

#[test]
fn packager_layout_writes_no_user_files() {
    let fx = Fixture::new();
    let stage = fx.path("stage");
    let out = fx.script(
        "install.sh",
        &[
            "--bin-dir",
            fx.path("bins").to_str().unwrap(),
            "--prefix",
            "/usr",
            "--unit-dir",
            "/usr/lib/systemd/user",
            "--no-user-files",
            "--destdir",
            stage.to_str().unwrap(),
            "--os",
            "linux",
        ],
        // The packager's own XDG_CONFIG_HOME must not end up in a unit shared by every user.
        &[
            ("HOME", "/home/tester"),
            ("XDG_CONFIG_HOME", "/home/tester/cfg"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<String> = manifest(&stage)
        .into_iter()
        .filter(|(_, d)| d.starts_with("file"))
        .map(|(p, _)| p.display().to_string())
        .collect();
    files.sort();
    // The man pages (one per shimctl command too; tests/install_docs.rs checks them).
    let (pages, files): (Vec<String>, Vec<String>) = files
        .into_iter()
        .partition(|f| f.starts_with("usr/share/man/man1/") && f.ends_with(".1"));
    for page in ["deepinfra-shim.1", "shimctl.1", "shimctl-status.1"] {
        assert!(
            pages.contains(&format!("usr/share/man/man1/{page}")),
            "{page} in {pages:?}"
        );
    }
    assert_eq!(
        files,
        [
            "usr/bin/deepinfra-shim",
            "usr/bin/shimctl",
            "usr/lib/systemd/user/deepinfra-shim.service",
            "usr/share/bash-completion/completions/shimctl",
            "usr/share/fish/vendor_completions.d/shimctl.fish",
            "usr/share/zsh/site-functions/_shimctl",
        ]
    );
    let unit = Unit::parse(&read(
        &stage.join("usr/lib/systemd/user/deepinfra-shim.service"),
    ));
    assert!(
        unit.get("Service", "ExecStart")
            .starts_with("/usr/bin/deepinfra-shim ")
    );
    assert_eq!(
        unit.get("Service", "EnvironmentFile"),
        "-%h/.config/deepinfra-shim/env",
        "per user at run time"
    );
    assert!(unit.all("Service", "Environment").is_empty());
}

#[test]
fn uninstall_removes_what_install_wrote_and_keeps_the_config_unless_purged() {
    let fx = Fixture::new();
    let stage = fx.path("stage");
    let stage_s = stage.to_str().unwrap().to_owned();
    let bins = fx.path("bins");
    for os in ["linux", "macos"] {
        let envs = [
            ("DESTDIR", stage_s.as_str()),
            ("HOME", "/home/tester"),
            ("DEEPINFRA_TOKEN", TOKEN),
        ];
        let out = fx.script(
            "install.sh",
            &[
                "--bin-dir",
                bins.to_str().unwrap(),
                "--prefix",
                "/opt/dsh",
                "--os",
                os,
            ],
            &envs,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let out = fx.script("uninstall.sh", &["--prefix", "/opt/dsh", "--os", os], &envs);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left: Vec<String> = manifest(&stage)
            .into_iter()
            .filter(|(_, d)| d.starts_with("file"))
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert_eq!(
            left,
            [
                "home/tester/.config/deepinfra-shim/config.yaml",
                "home/tester/.config/deepinfra-shim/env"
            ],
            "{os}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("--purge"));

        let out = fx.script(
            "uninstall.sh",
            &["--prefix", "/opt/dsh", "--os", os, "--purge"],
            &envs,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !stage.join("home/tester/.config/deepinfra-shim").exists(),
            "{os}"
        );
        assert!(
            !stage
                .join("home/tester/Library/Logs/deepinfra-shim")
                .exists(),
            "{os}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The daemon, started the way the service managers start it.

/// A stand-in provider: answers every request with an empty model list and records the
/// Authorization header it was sent (or `<none>`).
struct Upstream {
    url: String,
    auth: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let auth = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&auth);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut header = "<none>".to_owned();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                    {
                        header = v.trim().to_owned();
                    }
                }
                seen.lock().unwrap().push(header);
                let body = r#"{"object":"list","data":[]}"#;
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Upstream { url, auth }
    }
}

/// Every request the stand-in provider got (at least one) carried the env file's token.
fn assert_only_our_token(upstream: &Upstream) {
    let seen = upstream.auth.lock().unwrap().clone();
    let expected = format!("Bearer {TOKEN}");
    assert!(
        !seen.is_empty() && seen.iter().all(|a| *a == expected),
        "upstream saw Authorization {seen:?}"
    );
}

/// `GET path` over a fresh connection: (status, body).
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad reply: {raw}"));
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The service manager's side of sd_notify: a datagram socket and the messages received.
struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind(path: PathBuf) -> NotifySocket {
        let sock = UnixDatagram::bind(&path).unwrap();
        NotifySocket {
            sock,
            path,
            seen: Vec::new(),
        }
    }

    /// Waits for a message with the line `line` (e.g. `READY=1`) and returns the whole message.
    fn wait_for(&mut self, line: &str, log: &Log) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no `{line}` on NOTIFY_SOCKET; received {:?}\ndaemon output:\n{}",
                self.seen,
                log.text()
            );
            self.sock.set_read_timeout(Some(left)).unwrap();
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(msg.clone());
                if msg.lines().any(|l| l == line) {
                    return msg;
                }
            }
        }
    }
}

/// Everything the daemon printed, and the address from its `Listening on http://ADDR` line.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<String>>);

impl Log {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// Removes ANSI colour sequences.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut in_escape = false;
    for c in line.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (false, c) => out.push(c),
            (true, c) if c.is_ascii_alphabetic() => in_escape = false,
            (true, _) => {}
        }
    }
    out
}

/// A running daemon; killed on drop.
struct Process {
    child: Child,
    log: Log,
    addr: SocketAddr,
}

impl Process {
    /// Spawns `cmd` with piped output and waits for the `Listening on` line.
    fn start(mut cmd: Command) -> Process {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let log = Log::default();
        let (tx, rx) = mpsc::channel();
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in pipes {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let line = plain(&line);
                    if let Some(rest) = line.split("Listening on http://").nth(1) {
                        let addr: String =
                            rest.chars().take_while(|c| !c.is_whitespace()).collect();
                        if let Ok(addr) = addr.trim_end_matches('/').parse::<SocketAddr>() {
                            let _ = tx.send(addr);
                        }
                    }
                    let mut text = log.0.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
        }
        let Ok(addr) = rx.recv_timeout(PATIENCE) else {
            let _ = child.kill();
            let status = child.wait();
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "no `Listening on http://…` line (exit: {status:?}); output:\n{}",
                log.text()
            );
        };
        Process { child, log, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as systemd's stop and launchd's bootout send, then waits for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after SIGTERM; output:\n{}",
                self.log.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An installed per-user service, ready to be started as systemd would start it.
struct SystemdLaunch {
    fx: Fixture,
    unit: Unit,
    upstream: Upstream,
    runtime: PathBuf,
}

impl SystemdLaunch {
    /// Installs with a token; the user's config (written first, so install keeps it) points at
    /// the stand-in upstream and asks for a free port, so ExecStart runs unchanged.
    fn install() -> SystemdLaunch {
        let fx = Fixture::new();
        let upstream = Upstream::start();
        std::fs::create_dir_all(fx.config_dir()).unwrap();
        let yaml = format!("listen:\n  port: 0\nupstream:\n  url: {}\n", upstream.url);
        std::fs::write(fx.config_dir().join("config.yaml"), yaml).unwrap();
        fx.install(&["--os", "linux"], &[("DEEPINFRA_TOKEN", TOKEN)]);
        let unit = Unit::parse(&read(&fx.unit_path()));
        let runtime = fx.path("rt");
        SystemdLaunch {
            fx,
            unit,
            upstream,
            runtime,
        }
    }

    /// The environment systemd gives the service: a small base, the unit's EnvironmentFile
    /// (optional: `-` prefix), `RuntimeDirectory=` created 0700 under %t.
    fn base_env(&self, cmd: &mut Command) {
        let home = self.fx.home();
        let s = "Service";
        let rd = self.runtime.join(self.unit.get(s, "RuntimeDirectory"));
        std::fs::create_dir_all(&rd).unwrap();
        let rd_mode = u32::from_str_radix(self.unit.get(s, "RuntimeDirectoryMode"), 8).unwrap();
        std::fs::set_permissions(&rd, std::fs::Permissions::from_mode(rd_mode)).unwrap();
        cmd.env_clear()
            .env("HOME", &home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("RUNTIME_DIRECTORY", &rd);
        for file in self.unit.all(s, "EnvironmentFile") {
            let (optional, file) = match file.strip_prefix('-') {
                Some(f) => (true, f),
                None => (false, file),
            };
            let path = PathBuf::from(expand(file, &home, &self.runtime));
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    cmd.envs(parse_env_file(&text));
                }
                Err(e) => assert!(optional, "EnvironmentFile {}: {e}", path.display()),
            }
        }
        for assignment in self.unit.all(s, "Environment") {
            let (k, v) = assignment.split_once('=').unwrap();
            cmd.env(k, expand(v, &home, &self.runtime));
        }
    }

    /// ExecStart under `UMask=`, with `NOTIFY_SOCKET` and a watchdog of `watchdog_usec`;
    /// `/bin/sh` sets the umask and WATCHDOG_PID (which must be the daemon's own pid, hence
    /// `exec`) as systemd does.
    fn start(&self, notify: &NotifySocket, watchdog_usec: u64) -> Process {
        let argv = exec_argv(
            self.unit.get("Service", "ExecStart"),
            &self.fx.home(),
            &self.runtime,
        );
        let umask = self.unit.get("Service", "UMask");
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!(
                "umask {umask}; WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$@\""
            ))
            .arg("sh")
            .args(&argv);
        self.base_env(&mut cmd);
        cmd.env("NOTIFY_SOCKET", &notify.path)
            .env("WATCHDOG_USEC", watchdog_usec.to_string());
        Process::start(cmd)
    }

    /// An Exec line other than ExecStart (ExecReload), as systemd runs it: same environment,
    /// plus MAINPID.
    fn run_exec(&self, key: &str, main_pid: u32) -> Output {
        let argv = exec_argv(
            self.unit.get("Service", key),
            &self.fx.home(),
            &self.runtime,
        );
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        self.base_env(&mut cmd);
        cmd.env("MAINPID", main_pid.to_string())
            .stdin(Stdio::null());
        cmd.output().unwrap()
    }
}

#[test]
fn daemon_started_like_the_unit_reports_ready_serves_health_and_stops_cleanly() {
    let launch = SystemdLaunch::install();
    let mut notify = NotifySocket::bind(launch.fx.path("notify.sock"));
    let mut daemon = launch.start(&notify, 60_000_000);

    let ready = notify.wait_for("READY=1", &daemon.log);
    assert!(
        ready.lines().any(|l| l.starts_with("STATUS="))
            || notify.seen.iter().any(|m| m.contains("STATUS="))
    );

    let (status, body) = http_get(daemon.addr, "/health");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["ok"], true, "{body}");
    assert!(!body.contains(TOKEN));

    // The token came from the env file: the daemon sends it upstream on its own.
    let (status, body) = http_get(daemon.addr, "/v1/models");
    assert_eq!(status, 200, "{body}");
    assert_only_our_token(&launch.upstream);

    // The control socket is where the unit said, inside the private runtime directory.
    let socket = launch.runtime.join("deepinfra-shim/control.sock");
    assert!(
        socket.exists(),
        "no control socket at {}; output:\n{}",
        socket.display(),
        daemon.log.text()
    );
    assert_eq!(mode(&launch.runtime.join("deepinfra-shim")), 0o700);

    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "output:\n{}", daemon.log.text());
    notify.wait_for("STOPPING=1", &daemon.log);
    assert!(!daemon.log.text().contains(TOKEN), "the token was logged");
}

#[test]
fn daemon_started_like_the_unit_pings_the_watchdog() {
    let launch = SystemdLaunch::install();
    let mut notify = NotifySocket::bind(launch.fx.path("notify.sock"));
    // The unit's WatchdogSec=30 would mean a ping every 15 s; the contract is "every half
    // interval", so a 2 s watchdog shows it sooner.
    let daemon = launch.start(&notify, 2_000_000);
    notify.wait_for("READY=1", &daemon.log);
    notify.wait_for("WATCHDOG=1", &daemon.log);
}

#[test]
fn exec_reload_reloads_through_shimctl_and_shimctl_finds_the_socket_by_default() {
    let launch = SystemdLaunch::install();
    let mut notify = NotifySocket::bind(launch.fx.path("notify.sock"));
    let daemon = launch.start(&notify, 60_000_000);
    notify.wait_for("READY=1", &daemon.log);

    let out = launch.run_exec("ExecReload", daemon.pid());
    assert!(
        out.status.success(),
        "ExecReload failed ({}):\n{}{}\ndaemon output:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        daemon.log.text()
    );
    let reloading = notify.wait_for("RELOADING=1", &daemon.log);
    assert!(
        reloading.contains("MONOTONIC_USEC="),
        "systemd 253+ needs MONOTONIC_USEC: {reloading:?}"
    );
    notify.wait_for("READY=1", &daemon.log);

    // `shimctl status` with no --socket, from a shell with the same XDG_RUNTIME_DIR: the unit's
    // %t/deepinfra-shim/control.sock is shimctl's default.
    let shimctl = launch.fx.prefix().join("bin/shimctl");
    let mut cmd = Command::new(&shimctl);
    cmd.args(["status", "--json"]);
    launch.base_env(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "shimctl status ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["token_present"], true, "{status}");
    assert_eq!(status["pid"], daemon.pid(), "{status}");
}

#[test]
fn launchagent_program_arguments_load_the_env_file_and_exec_the_daemon() {
    let fx = Fixture::new();
    let upstream = Upstream::start();
    std::fs::create_dir_all(fx.config_dir()).unwrap();
    let yaml = format!("listen:\n  port: 0\nupstream:\n  url: {}\n", upstream.url);
    std::fs::write(fx.config_dir().join("config.yaml"), yaml).unwrap();
    fx.install(&["--os", "macos"], &[("DEEPINFRA_TOKEN", TOKEN)]);
    let Some(p) = plist_json(&fx.plist_path()) else {
        return;
    };

    // launchd's environment: a minimal one plus EnvironmentVariables; no TMPDIR, no XDG_*.
    let args: Vec<String> = p["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..])
        .env_clear()
        .env("HOME", fx.home())
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin");
    for (k, v) in p["EnvironmentVariables"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    let mut daemon = Process::start(cmd);
    let (status, _) = http_get(daemon.addr, "/health");
    assert_eq!(status, 200);
    let (status, body) = http_get(daemon.addr, "/v1/models");
    assert_eq!(status, 200, "{body}");
    assert_only_our_token(&upstream);
    assert!(
        Path::new(&args[6]).exists(),
        "no control socket at {}",
        args[6]
    );

    // SIGTERM to the pid launchd knows: exit 0 only if /bin/sh exec'd the daemon (a shell
    // would die of the signal and leave the daemon behind).
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "output:\n{}", daemon.log.text());
}
