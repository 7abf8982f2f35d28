//! The control socket and `shimctl`, against the real daemon binary: every command's output
//! and exit status, the socket's permissions and life cycle (second daemon refused, stale
//! socket replaced, removed on exit), hostile clients (garbage, oversized and half-written
//! requests), runtime log level, reload reports, the Codex block and `doctor`; plus the v1
//! protocol fixtures.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::MockUpstream;
use common::daemon::Daemon;
use deepinfra_shim::control::protocol::{Reply, RequestLine, StatusReport};
use serde_json::{Value, json};

const TOKEN: &str = "sk-control-test-token-ZZZZ";

/// Runs shimctl with a clean environment (no developer config, proxies or tokens leak in):
/// only `HOME` and `CODEX_HOME` under `home`, plus `extra`.
fn shimctl_env(socket: &Path, home: &Path, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shimctl"));
    cmd.env_clear()
        .env("HOME", home)
        .env("CODEX_HOME", home.join("codex"))
        .arg("--socket")
        .arg(socket)
        .args(args);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("running shimctl")
}

/// shimctl against a daemon started by the harness (its socket, its temp dir as home).
fn shimctl(d: &Daemon, args: &[&str]) -> Output {
    shimctl_env(socket_of(d), d.dir(), &[], args)
}

fn socket_of(d: &Daemon) -> &Path {
    d.control_socket().expect("harness-chosen control socket")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("shimctl exited by a signal")
}

fn status_json(d: &Daemon) -> StatusReport {
    let o = shimctl(d, &["status", "--json"]);
    assert_eq!(code(&o), 0, "status --json: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("status --json is a StatusReport")
}

/// Sends raw bytes on the control socket and reads whatever comes back until EOF.
/// The status once the daemon has counted one finished request (or after 10 s: the caller's
/// assertions then say what was counted). The counters move after the reply's last byte.
async fn status_after_one_request(d: &Daemon) -> StatusReport {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = status_json(d);
        if (s.requests.total, s.requests.active) == (1, 0) || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn raw_exchange(socket: &Path, bytes: &[u8]) -> String {
    let mut s = UnixStream::connect(socket).expect("connect to control socket");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn parse_reply(text: &str) -> Reply {
    Reply::parse(text.trim_end().as_bytes())
        .unwrap_or_else(|e| panic!("not a reply line ({e}): {text:?}"))
}

/// The doctor line for one check (`ok    upstream ...`, `FAIL  upstream ...`).
fn check_line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| {
            l.get(6..)
                .is_some_and(|rest| rest.split_whitespace().next() == Some(what))
        })
        .unwrap_or_else(|| panic!("no {what} line in:\n{out}"))
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn responses_body() -> String {
    json!({"model": "m", "stream": true, "store": false, "tools": [], "input": [
        {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}
    ]})
    .to_string()
}

// -------------------------------------------------------------------------------------------
// Protocol fixtures (no daemon)
// -------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/control")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn v1_fixtures_still_parse() {
    let names: Vec<String> = fixture("v1-requests.jsonl")
        .lines()
        .map(|l| {
            let r = RequestLine::parse(l.as_bytes()).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(r.v, 1);
            // What we send today for the same request parses back to it.
            assert_eq!(
                RequestLine::parse(r.to_line().trim_end().as_bytes()).unwrap(),
                r
            );
            r.request.name().to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "status",
            "get-log-level",
            "set-log-level",
            "reload",
            "resolve"
        ]
    );

    let status = parse_reply(&fixture("v1-reply-status.json"));
    let s = status.status.as_ref().expect("status payload");
    assert!(status.ok);
    assert_eq!(
        (s.pid, s.uptime_s, s.generation, s.reload_count),
        (4242, 3723, 2, 2)
    );
    assert_eq!(s.listen, "127.0.0.1:8797");
    assert_eq!(s.requests.total, 12);
    assert_eq!(s.requests.failed, 2);
    assert!(
        s.last_reload_error
            .as_deref()
            .unwrap()
            .contains("unknown key")
    );
    assert_eq!(s.upstreams.len(), 2);
    assert_eq!(s.upstreams[0].p50_latency_ms, Some(290));
    assert!(!s.upstreams[1].token_present);
    assert_eq!(Reply::parse(status.to_line().as_bytes()).unwrap(), status);

    // The fields of the first protocol version are enough: everything added later has a default.
    let minimal = parse_reply(&fixture("v1-reply-status-minimal.json"));
    let m = minimal.status.unwrap();
    assert_eq!(minimal.v, 1);
    assert!(m.upstreams.is_empty() && m.generation == 0 && m.config_path.is_none());

    assert_eq!(
        parse_reply(&fixture("v1-reply-log-level.json"))
            .log_level
            .as_deref(),
        Some("debug")
    );
    let applied = parse_reply(&fixture("v1-reply-reload-applied.json"))
        .reload
        .unwrap();
    assert!(applied.applied && applied.changes.len() == 2 && applied.generation == 3);
    let refused = parse_reply(&fixture("v1-reply-reload-refused.json"));
    assert!(!refused.ok && refused.error.is_some());
    assert_eq!(refused.reload.unwrap().reasons.len(), 2);
    let route = parse_reply(&fixture("v1-reply-resolve.json"))
        .route
        .unwrap();
    assert_eq!(route.context_window, Some(262_144));
    assert_eq!(route.upstream, "local");
    let err = parse_reply(&fixture("v1-reply-error.json"));
    assert!(!err.ok && err.error.unwrap().contains("not valid JSON"));
}

#[test]
fn additive_v1_fixtures_parse() {
    use deepinfra_shim::control::protocol::Request;
    let requests: Vec<Request> = fixture("v1-requests-plan-reload.jsonl")
        .lines()
        .map(|l| {
            let r = RequestLine::parse(l.as_bytes()).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(r.to_line().trim_end(), l, "sent as it is written");
            r.request
        })
        .collect();
    assert_eq!(
        requests,
        [
            Request::PlanReload { file: None },
            Request::PlanReload {
                file: Some("/c/other.yaml".into())
            }
        ]
    );

    let plan = parse_reply(&fixture("v1-reply-plan-reload.json"));
    assert!(plan.ok);
    let r = plan.reload.as_ref().unwrap();
    assert!(r.dry_run && !r.applied);
    assert_eq!(
        r.changes.len(),
        3,
        "every entry as a line, for older clients"
    );
    assert_eq!(r.changed[0].key, "upstream.url");
    assert_eq!(r.changed[0].new.as_deref(), Some("https://b/v1"));
    assert_eq!(r.needs_restart[0].key, "listen.port");
    assert_eq!(
        (r.pinned[0].by.as_str(), r.pinned[0].file_value.as_deref()),
        ("--timeout-ms", Some("1"))
    );
    assert_eq!(r.config_path.as_deref(), Some("/c/other.yaml"));
    assert_eq!(Reply::parse(plan.to_line().as_bytes()).unwrap(), plan);

    let refused = parse_reply(&fixture("v1-reply-plan-reload-refused.json"));
    let r = refused.reload.unwrap();
    assert!(!refused.ok && r.dry_run && r.reasons.len() == 1);
    assert!(refused.error.unwrap().contains("would be refused"));

    let applied = parse_reply(&fixture("v1-reply-reload-report.json"))
        .reload
        .unwrap();
    assert!(applied.applied && applied.changed.is_empty() && applied.pinned.len() == 1);
    assert!(
        applied.summary.starts_with("no changes"),
        "{}",
        applied.summary
    );
    assert_eq!(applied.source.as_deref(), Some("shimctl"));

    let status = parse_reply(&fixture("v1-reply-status-watch.json"));
    let s = status.status.as_ref().unwrap();
    let w = s.watch.as_ref().unwrap();
    assert_eq!(w.watching.as_deref(), Some("/h/.config"));
    assert_eq!(w.waiting_for.as_deref(), Some("/h/.config/deepinfra-shim"));
    assert_eq!(s.pins[0].by, "--timeout-ms");
    assert_eq!(
        s.last_reload.as_ref().unwrap().source.as_deref(),
        Some("SIGHUP")
    );
    assert_eq!(Reply::parse(status.to_line().as_bytes()).unwrap(), status);

    // The older payloads have none of it, and read as empty.
    let old = parse_reply(&fixture("v1-reply-reload-applied.json"))
        .reload
        .unwrap();
    assert!(!old.dry_run && old.changed.is_empty() && old.summary.is_empty());
    let old = parse_reply(&fixture("v1-reply-status.json"))
        .status
        .unwrap();
    assert!(old.watch.is_none() && old.pins.is_empty() && old.last_reload.is_none());
}

// -------------------------------------------------------------------------------------------
// No daemon
// -------------------------------------------------------------------------------------------

#[test]
fn without_a_daemon_status_exits_3_and_says_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody/control.sock");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["log-level"],
        &["reload"],
    ] {
        let o = shimctl_env(&socket, dir.path(), &[], args);
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("not running"), "{err}");
        assert!(err.contains(&socket.display().to_string()), "{err}");
        assert!(
            err.contains("systemctl --user start deepinfra-shim"),
            "{err}"
        );
        assert!(err.contains("deepinfra-shim"), "{err}");
        assert!(o.stdout.is_empty());
    }
    // A socket file nobody listens on is "not running" too.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let o = shimctl_env(&stale, dir.path(), &[], &["status"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

#[test]
fn the_socket_comes_from_the_environment_like_the_daemons() {
    let dir = tempfile::tempdir().unwrap();
    let want = dir.path().join("from-env.sock");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shimctl"));
    let o = cmd
        .env_clear()
        .env("HOME", dir.path())
        .env("DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET", &want)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains(&want.display().to_string()),
        "{}",
        stderr(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("XDG_RUNTIME_DIR", dir.path())
        .arg("status")
        .output()
        .unwrap();
    let default = dir.path().join("deepinfra-shim/control.sock");
    assert!(
        stderr(&o).contains(&default.display().to_string()),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_config_lists_every_problem_with_path_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "listen:\n  port: 9999\nupstream:\n  url: http://127.0.0.1:8000/v1\nmodels:\n  fast: { upstream: default, context_window: 1000 }\n",
    )
    .unwrap();
    let o = shimctl_env(
        &dir.path().join("x.sock"),
        dir.path(),
        &[],
        &["check-config", good.to_str().unwrap()],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("configuration OK"), "{}", stdout(&o));
    assert!(stdout(&o).contains("127.0.0.1:9999"), "{}", stdout(&o));

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "listen:\n  port: 99999\nupstream:\n  url: not a url\nlog:\n  level: loud\n",
    )
    .unwrap();
    let o = shimctl_env(
        &dir.path().join("x.sock"),
        dir.path(),
        &[],
        &["check-config", bad.to_str().unwrap()],
    );
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    let shown = bad.display().to_string();
    let problems: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(&format!("{shown}:")))
        .collect();
    assert!(problems.len() >= 3, "every problem with the path: {err}");
    for (key, line) in [("port", 2), ("url", 4), ("level", 6)] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("{shown}:{line}")) && l.contains(key)),
            "{key} at line {line}: {err}"
        );
    }

    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(&unknown, "upstream:\n  url: http://x/v1\n  tiemout_ms: 5\n").unwrap();
    let o = shimctl_env(
        &dir.path().join("x.sock"),
        dir.path(),
        &[],
        &["check-config", unknown.to_str().unwrap()],
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains(&format!("{}:3", unknown.display())),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("tiemout_ms"), "{}", stderr(&o));

    let o = shimctl_env(
        &dir.path().join("x.sock"),
        dir.path(),
        &[],
        &["check-config", "/nonexistent/c.yaml"],
    );
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[test]
fn help_for_every_command_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("x.sock");
    for cmd in [
        "status",
        "log-level",
        "reload",
        "check-config",
        "codex-config",
        "doctor",
        "completions",
    ] {
        let o = shimctl_env(&sock, dir.path(), &[], &[cmd, "--help"]);
        assert_eq!(code(&o), 0, "{cmd} --help");
        assert!(
            stdout(&o).contains("Usage: shimctl"),
            "{cmd}: {}",
            stdout(&o)
        );
    }
    let o = shimctl_env(&sock, dir.path(), &[], &["--help"]);
    assert!(stdout(&o).contains("--socket"));
    for shell in ["bash", "zsh", "fish"] {
        let o = shimctl_env(&sock, dir.path(), &[], &["completions", shell]);
        assert_eq!(code(&o), 0, "{shell}");
        let text = stdout(&o);
        assert!(
            text.contains("shimctl") && text.contains("codex-config"),
            "{shell}"
        );
    }
    let o = shimctl_env(&sock, dir.path(), &[], &["frobnicate"]);
    assert_eq!(code(&o), 2);
}

// -------------------------------------------------------------------------------------------
// With a daemon
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_the_daemons_real_state() {
    let up = MockUpstream::start().await;
    up.set_handler(|_| common::Reply::text("hello"));
    let d = Daemon::builder().token(TOKEN).upstream(up.url()).start();

    let s = status_json(&d);
    assert_eq!(s.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(s.pid, d.pid());
    assert_eq!(s.listen, d.addr.to_string());
    assert_eq!(s.upstream, up.url());
    assert!(s.token_present);
    assert_eq!(s.requests.total, 0);
    assert_eq!(s.log_level, "info");
    assert_eq!(s.last_reload_error, None);
    assert_eq!(s.reload_count, 0);
    assert!(
        s.pinned.iter().any(|k| k == "upstream.url"),
        "{:?}",
        s.pinned
    );
    assert!(s.config_loaded_at.ends_with('Z') && s.config_loaded_at.len() == 20);
    assert_eq!(s.control_socket, socket_of(&d).display().to_string());

    // One request through the proxy shows up in the counters.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/responses", d.url()))
        .header("content-type", "application/json")
        .body(responses_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.text().await.unwrap();
    let s = status_after_one_request(&d).await;
    assert_eq!(
        (s.requests.total, s.requests.active, s.requests.failed),
        (1, 0, 0)
    );
    let def = &s.upstreams[0];
    assert_eq!(
        (def.name.as_str(), def.url.as_str()),
        ("default", up.url().as_str())
    );
    assert_eq!((def.requests, def.errors), (1, 0));
    assert!(def.last_latency_ms.is_some() && def.p50_latency_ms.is_some());
    assert!(def.token_present);

    // The raw JSON has the contract's fields and never the token.
    let o = shimctl(&d, &["status", "--json"]);
    let raw = stdout(&o);
    assert!(!raw.contains(TOKEN));
    let v: Value = serde_json::from_str(&raw).unwrap();
    for key in [
        "version",
        "pid",
        "uptime_s",
        "listen",
        "upstream",
        "config_path",
        "config_loaded_at",
        "reload_count",
        "last_reload_error",
        "log_level",
        "pinned",
        "token_present",
        "requests",
    ] {
        assert!(v.get(key).is_some(), "status --json lacks {key}: {raw}");
    }
    assert_eq!(v["token_present"], json!(true));

    // Human output: aligned labels, no colour when not on a terminal.
    let o = shimctl(&d, &["status"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.starts_with("● deepinfra-shim "), "{text}");
    assert!(
        text.contains(&format!("   Listen: http://{}\n", d.addr)),
        "{text}"
    );
    assert!(
        text.contains(" Requests: 1 total, 0 active, 0 failed"),
        "{text}"
    );
    assert!(
        text.contains(&format!("      PID: {}\n", d.pid())),
        "{text}"
    );
    assert!(!text.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_is_0600_in_a_0700_directory_and_removed_on_exit() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nested/run/control.sock");
    let mut d = Daemon::builder()
        .arg("--control-socket")
        .arg(&socket)
        .upstream(format!("http://127.0.0.1:{}/v1", closed_port()))
        .start();
    assert_eq!(mode(&socket), 0o600, "socket mode");
    assert_eq!(
        mode(socket.parent().unwrap()),
        0o700,
        "socket directory mode"
    );
    let o = shimctl_env(&socket, dir.path(), &[], &["status"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let st = d.terminate(Duration::from_secs(20));
    assert!(st.success(), "{st:?}");
    assert!(!socket.exists(), "socket removed on clean exit");
    let o = shimctl_env(&socket, dir.path(), &[], &["status"]);
    assert_eq!(code(&o), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_socket_is_refused() {
    let first = Daemon::builder().start();
    let socket = socket_of(&first).to_owned();
    let second = Daemon::builder()
        .arg("--control-socket")
        .arg(&socket)
        .run(Duration::from_secs(20));
    assert_ne!(second.code(), Some(0), "second daemon must not start");
    assert!(second.code().is_some());
    let err = &second.stderr;
    assert!(err.contains("already running"), "{err}");
    assert!(err.contains(&socket.display().to_string()), "{err}");
    assert!(
        !err.contains("Listening on"),
        "refused before binding: {err}"
    );
    // The first one is untouched and still owns its socket.
    let s = status_json(&first);
    assert_eq!(s.pid, first.pid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_socket_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    // A private directory, as the daemon requires of a socket's directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = dir.path().join("control.sock");
    // A socket file nobody listens on, as a crashed daemon leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let d = Daemon::builder()
        .arg("--control-socket")
        .arg(&socket)
        .start();
    let o = shimctl_env(&socket, dir.path(), &[], &["status", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s: StatusReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s.pid, d.pid());
    assert!(d.logs().contains("stale control socket"), "{}", d.logs());

    // A regular file in the way is not ours to delete.
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, "precious").unwrap();
    let r = Daemon::builder()
        .arg("--control-socket")
        .arg(&file)
        .run(Duration::from_secs(20));
    assert_ne!(r.code(), Some(0));
    assert!(r.stderr.contains("not a socket"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_oversized_and_half_written_requests_do_not_hurt_the_daemon() {
    let d = Daemon::builder().start();
    let socket = socket_of(&d).to_owned();

    let r = parse_reply(&raw_exchange(&socket, b"GET / HTTP/1.1\r\n\r\n"));
    assert!(!r.ok);
    assert!(r.error.unwrap().contains("not valid JSON"));

    let r = parse_reply(&raw_exchange(&socket, b"\x00\xff\xfe garbage\n"));
    assert!(!r.ok && r.error.is_some());

    let r = parse_reply(&raw_exchange(
        &socket,
        b"{\"v\":1,\"cmd\":\"self-destruct\"}\n",
    ));
    assert!(r.error.unwrap().contains("unknown command 'self-destruct'"));

    let r = parse_reply(&raw_exchange(
        &socket,
        b"{\"cmd\":\"set-log-level\",\"level\":\"loud\"}\n",
    ));
    assert!(!r.ok && r.error.unwrap().contains("unknown log level"));
    assert_eq!(r.log_level.as_deref(), Some("info"));

    // Well-formed requests work on a raw connection too (no version field: v1 assumed).
    let r = parse_reply(&raw_exchange(&socket, b"{\"cmd\":\"get-log-level\"}\n"));
    assert!(r.ok);
    assert_eq!(r.log_level.as_deref(), Some("info"));

    // More than the line cap without a newline: an error reply, not unbounded buffering.
    let big = vec![b'x'; 200 * 1024];
    let mut s = UnixStream::connect(&socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(&big); // the daemon may close before reading it all
    let mut line = String::new();
    let _ = BufReader::new(&s).read_line(&mut line);
    let r = parse_reply(&line);
    assert!(r.error.unwrap().contains("longer than"), "{line}");

    // A request that never finishes: the daemon keeps serving others meanwhile, then gives up
    // on it (error line or plain close).
    let mut half = UnixStream::connect(&socket).unwrap();
    half.write_all(b"{\"v\":1,\"cmd\":\"sta").unwrap();
    half.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Many clients at once while that one hangs.
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                parse_reply(&raw_exchange(&socket, b"{\"v\":1,\"cmd\":\"status\"}\n"))
            })
        })
        .collect();
    for c in clients {
        let r = c.join().unwrap();
        assert!(r.ok && r.status.is_some());
    }
    let mut rest = String::new();
    let n = half
        .read_to_string(&mut rest)
        .expect("the daemon closes a stalled request");
    if n > 0 {
        let r = parse_reply(&rest);
        assert!(!r.ok && r.error.unwrap().contains("not complete"), "{rest}");
    }

    // Still serving, and none of that counted as proxy traffic.
    let s = status_json(&d);
    assert_eq!(s.requests.total, 0);
    let o = shimctl(&d, &["status"]);
    assert_eq!(code(&o), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_level_debug_changes_what_is_logged() {
    let d = Daemon::builder().start();
    let o = shimctl(&d, &["log-level"]);
    assert_eq!((code(&o), stdout(&o).trim()), (0, "info"));

    // At info, control requests are not logged.
    assert_eq!(code(&shimctl(&d, &["status"])), 0);
    assert!(!d.logs().contains("Control request"), "{}", d.logs());

    let o = shimctl(&d, &["log-level", "debug"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("debug"), "{}", stdout(&o));
    assert_eq!(stdout(&shimctl(&d, &["log-level"])).trim(), "debug");
    assert_eq!(status_json(&d).log_level, "debug");
    assert!(
        d.wait_for_log("Control request", Duration::from_secs(10)),
        "a debug line appears after `log-level debug`:\n{}",
        d.logs()
    );

    let o = shimctl(&d, &["log-level", "loud"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("unknown log level 'loud'"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        stdout(&shimctl(&d, &["log-level"])).trim(),
        "debug",
        "a refused level changes nothing"
    );

    let o = shimctl(&d, &["log-level", "warn"]);
    assert_eq!(code(&o), 0);
    let before = d.logs().len();
    assert_eq!(code(&shimctl(&d, &["status"])), 0);
    assert_eq!(code(&shimctl(&d, &["log-level"])), 0);
    assert!(
        !d.logs()[before..].contains("Control request"),
        "{}",
        &d.logs()[before..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_prints_changes_and_every_refusal_and_keeps_the_old_config() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    // The daemon's --config is a symlink in a directory of its own, and we edit the target in
    // another one: the file watcher (which watches the link's directory) sees nothing, so the
    // only reloads are the ones `shimctl reload` asks for.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("link")).unwrap();
    std::fs::create_dir_all(dir.path().join("real")).unwrap();
    let real = dir.path().join("real/config.yaml");
    let link = dir.path().join("link/config.yaml");
    std::fs::write(&real, format!("upstream:\n  url: {}\n", a.url())).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let d = Daemon::builder()
        .token(TOKEN)
        .arg("--config")
        .arg(&link)
        .start();

    assert_eq!(d.health_upstream().await, a.url());

    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("no changes"), "{}", stdout(&o));

    std::fs::write(&real, format!("upstream:\n  url: {}\n", b.url())).unwrap();
    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("generation 2"), "{out}");
    assert!(
        out.contains("upstream.url") && out.contains(&b.url()),
        "{out}"
    );
    assert_eq!(d.health_upstream().await, b.url());

    // A bad edit: two problems, both reported; nothing changes.
    std::fs::write(&real, "upstream:\n  url: not-a-url\nlog:\n  level: loud\n").unwrap();
    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("refused"), "{err}");
    assert!(
        err.contains("upstream.url") && err.contains("not-a-url"),
        "{err}"
    );
    assert!(err.contains("level") && err.contains("loud"), "{err}");
    assert!(!stdout(&o).contains("reloaded"), "{}", stdout(&o));

    let s = status_json(&d);
    let last = s
        .last_reload_error
        .as_deref()
        .expect("last_reload_error set");
    assert!(
        last.contains("not-a-url") && last.contains("loud"),
        "{last}"
    );
    assert_eq!(s.generation, 2);
    assert_eq!(s.reload_count, 2);
    assert_eq!(s.upstream, b.url());
    assert_eq!(
        d.health_upstream().await,
        b.url(),
        "the old config still serves"
    );
    let text = stdout(&shimctl(&d, &["status"]));
    assert!(text.contains("Last reload: refused:"), "{text}");

    // Fixed again: the error is cleared.
    std::fs::write(&real, format!("upstream:\n  url: {}\n", a.url())).unwrap();
    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = status_json(&d);
    assert_eq!(s.last_reload_error, None);
    assert_eq!(s.upstream, a.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_config_is_toml_pointing_at_the_daemon() {
    let up = MockUpstream::start().await;
    let d = Daemon::builder()
        .token(TOKEN)
        .config_yaml(format!(
            "upstream:\n  url: {}\nmodels:\n  fast: {{ upstream: default, model: Qwen/Qwen3-Coder-30B-A3B-Instruct, context_window: 262144 }}\n",
            up.url()
        ))
        .start();

    let o = shimctl(&d, &["codex-config", "--model", "fast"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let t: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(t["model"].as_str(), Some("fast"));
    assert_eq!(t["model_provider"].as_str(), Some("deepinfra"));
    assert_eq!(t["model_context_window"].as_integer(), Some(262_144));
    let p = t["model_providers"]["deepinfra"].as_table().unwrap();
    assert_eq!(p["base_url"].as_str(), Some(d.base_url().as_str()));
    assert_eq!(p["env_key"].as_str(), Some("DEEPINFRA_TOKEN"));
    assert_eq!(p["wire_api"].as_str(), Some("responses"));
    assert_eq!(p["stream_idle_timeout_ms"].as_integer(), Some(300_000));
    assert!(p["request_max_retries"].as_integer().is_some());
    assert!(p["stream_max_retries"].as_integer().is_some());
    let name = p["name"].as_str().unwrap();
    assert!(!name.eq_ignore_ascii_case("openai"));
    assert!(text.contains("\"OpenAI\""), "the warning comment: {text}");
    assert!(!text.contains(TOKEN));

    // Another model: no route, no context window.
    let o = shimctl(&d, &["codex-config", "--model", "other/model"]);
    let t: toml::Table = toml::from_str(&stdout(&o)).unwrap();
    assert_eq!(t["model"].as_str(), Some("other/model"));
    assert!(t.get("model_context_window").is_none());

    // Written where Codex reads it, doctor is happy with it.
    let codex_home = d.dir().join("codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(codex_home.join("config.toml"), &text).unwrap();
    let o = shimctl(&d, &["doctor"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(out.contains("ok    daemon"), "{out}");
    assert!(out.contains("ok    codex"), "{out}");
    // The daemon's own token, checked by the daemon with the route's model.
    assert!(
        out.contains("ok    upstream 'default' valid: the daemon's DEEPINFRA_TOKEN was accepted"),
        "{out}"
    );
    assert!(
        out.contains("model Qwen/Qwen3-Coder-30B-A3B-Instruct, max_tokens 1 -> 200"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    assert!(!out.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_config_without_a_daemon_uses_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "listen:\n  port: 9911\n").unwrap();
    let o = shimctl_env(
        &dir.path().join("none.sock"),
        dir.path(),
        &[("DEEPINFRA_CODEX_SHIM_CONFIG", cfg.to_str().unwrap())],
        &["codex-config"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let t: toml::Table = toml::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        t["model_providers"]["deepinfra"]["base_url"].as_str(),
        Some("http://127.0.0.1:9911/v1")
    );
    assert!(stdout(&o).contains("not running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_missing_token_and_an_unreachable_upstream() {
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    let d = Daemon::builder().upstream(&down).start();
    // Codex is configured for this daemon, but nobody has a token.
    let codex_home = d.dir().join("codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let block = stdout(&shimctl(&d, &["codex-config"]));
    std::fs::write(codex_home.join("config.toml"), block).unwrap();

    let o = shimctl(&d, &["doctor"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("ok    daemon"), "{out}");
    assert!(out.contains("ok    codex"), "{out}");
    // One line for the upstream: unreachable, and no token to send it.
    let upstream = check_line(&out, "upstream");
    assert!(
        upstream.starts_with("FAIL")
            && upstream.contains("unreachable")
            && upstream.contains(&down),
        "{out}"
    );
    assert!(
        upstream.contains("no token in the daemon (DEEPINFRA_TOKEN is not set)"),
        "{out}"
    );
    assert!(out.contains("fix: "), "{out}");

    // Codex's env_key set where shimctl runs: the token is expected from Codex.
    let o = shimctl_env(
        socket_of(&d),
        d.dir(),
        &[("DEEPINFRA_TOKEN", "from-codex")],
        &["doctor"],
    );
    let out = stdout(&o);
    assert!(
        check_line(&out, "upstream")
            .contains("Codex sends its DEEPINFRA_TOKEN (set in this shell)"),
        "{out}"
    );
    assert!(!out.contains("from-codex"));
    assert_eq!(code(&o), 1, "the upstream is still down: {out}");

    // No daemon at all: one more FAIL with how to start it (the config it would load points
    // at the closed port, so nothing leaves this machine).
    let o = shimctl_env(
        &d.dir().join("elsewhere.sock"),
        d.dir(),
        &[("DEEPINFRA_CODEX_SHIM_UPSTREAM", &down)],
        &["doctor"],
    );
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("FAIL  daemon"), "{}", stdout(&o));
    assert!(stdout(&o).contains("systemctl --user start deepinfra-shim"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_models_request_is_counted_and_not_as_a_failure() {
    let up = MockUpstream::start().await;
    up.set_models(serde_json::json!({"object":"list","data":[{"id":"m","object":"model"}]}));
    // One daemon relays the list as is, the other adds a route alias to it: both paths count.
    for yaml in ["log: { level: info }\n", "models:\n  fast: { model: m }\n"] {
        let d = Daemon::builder()
            .token(TOKEN)
            .upstream(up.url())
            .config_yaml(yaml)
            .start();
        let r = reqwest::get(format!("{}/v1/models", d.url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.text().await.unwrap();
        let s = status_after_one_request(&d).await;
        assert_eq!(
            (s.requests.total, s.requests.active, s.requests.failed),
            (1, 0, 0),
            "{yaml}"
        );
    }
}
