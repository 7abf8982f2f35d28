//! The daemon's journald output, read back from a real `systemd-journald`.
//!
//! Contract checked here: when its stderr is a journal stream and `JOURNAL_STREAM` names it
//! (as systemd sets it up for a service), the daemon logs natively (the journal protocol, not
//! text on stderr): `MESSAGE`, `PRIORITY` by level (error 3, warn 4, info 6, debug 7),
//! `SYSLOG_IDENTIFIER=deepinfra-shim`, `TARGET`, `CODE_FILE`, every event field as `F_NAME`,
//! and on each event of a request the request span's fields (`F_ID`, `F_MODEL`,
//! `F_UPSTREAM`, `F_METHOD`, `F_PATH`) next to the event's own (`F_STATUS`, `F_OUTCOME`). The
//! token is in no entry.
//!
//! journald runs in a private namespace (see `tests/sandbox/mod.rs`); needs root, skips
//! visibly elsewhere, and must run under `CI=true`.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]
#![cfg(target_os = "linux")]

mod common;
mod sandbox;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{MockUpstream, Reply};
use sandbox::{Sandbox, http, value, values};

const TOKEN: &str = "journald-test-token-5b1e07";

/// The daemon as systemd starts a service: stderr connected to journald's stream socket
/// (systemd-cat does the connecting) and `JOURNAL_STREAM` set to that socket's device:inode.
fn daemon_cmd(sb: &Sandbox, upstream: &str, port: &str, socket: &str) -> Command {
    let mut cmd = sb.root_cmd("systemd-cat");
    cmd.args(["-t", "deepinfra-shim-stderr", "/bin/sh", "-c"])
        .arg("JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_deepinfra-shim"))
        .args([
            "--port",
            port,
            "--upstream",
            upstream,
            "--log-level",
            "debug",
        ])
        .args(["--control-socket", socket])
        .env("DEEPINFRA_TOKEN", TOKEN)
        .env("HOME", sb.path("home"))
        .env("XDG_CONFIG_HOME", sb.path("config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn ours(e: &serde_json::Value) -> bool {
    value(e, "SYSLOG_IDENTIFIER") == "deepinfra-shim"
}

fn message(e: &serde_json::Value) -> String {
    value(e, "MESSAGE")
}

#[test]
fn the_daemon_logs_natively_to_a_real_journald_with_levels_and_request_fields() {
    let Some(sb) = sandbox::or_skip("journald round trip", Sandbox::start(false)) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mock = rt.block_on(MockUpstream::start());
    mock.push(Reply::text("Hello from the journal test"));
    mock.push(Reply::error(500, "upstream broke", "server_error", None));

    let ctl = sb.path("ctl");
    std::fs::create_dir_all(&ctl).unwrap();
    std::fs::set_permissions(&ctl, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = ctl.join("control.sock");
    let mut daemon = daemon_cmd(&sb, &mock.url(), "0", socket.to_str().unwrap())
        .spawn()
        .unwrap();

    // Start-up: info, with the crate's metadata fields and the event's own fields.
    let listening = sb.wait_entries("the Listening line", |e| {
        ours(e) && message(e).starts_with("Listening on http://")
    });
    let e = &listening[0];
    assert_eq!(value(e, "PRIORITY"), "6", "info is 6: {e}");
    assert_eq!(
        value(e, "_TRANSPORT"),
        "journal",
        "native protocol, not stderr: {e}"
    );
    assert_eq!(value(e, "TARGET"), "deepinfra_shim::service::run", "{e}");
    assert!(value(e, "CODE_FILE").ends_with(".rs"), "{e}");
    assert_eq!(value(e, "F_VERSION"), deepinfra_shim::VERSION, "{e}");
    assert_eq!(value(e, "F_UPSTREAM"), mock.url(), "{e}");
    let addr = deepinfra_shim::service::run::listening_addr(&message(e)).unwrap();

    // A streamed request: its finishing line carries the span's fields and its own.
    let reply = http::post(
        addr,
        "/v1/responses",
        &http::responses_body("m-journal", true),
    );
    assert_eq!(reply.status, 200);
    assert!(reply.rest().contains("response.completed"));
    let done = sb.wait_entries("Stream finished", |e| {
        ours(e) && message(e) == "Stream finished"
    });
    let e = &done[0];
    assert_eq!(value(e, "PRIORITY"), "6", "{e}");
    assert_eq!(value(e, "SPAN_NAME"), "request", "{e}");
    let id = value(e, "F_ID");
    assert!(id.starts_with("req_"), "request id: {e}");
    for (field, want) in [
        ("F_MODEL", "m-journal"),
        ("F_UPSTREAM", "default"),
        ("F_METHOD", "POST"),
        ("F_PATH", "/v1/responses"),
        ("F_STATUS", "200"),
        ("F_OUTCOME", "completed"),
    ] {
        assert_eq!(value(e, field), want, "{field}: {e}");
    }
    assert!(value(e, "F_DURATION_MS").parse::<u64>().is_ok(), "{e}");

    // An upstream failure (not streamed, so the status is passed on): warn, with its own
    // request id and model.
    let reply = http::post(
        addr,
        "/v1/responses",
        &http::responses_body("m-broken", false),
    );
    assert!(reply.status >= 500, "{}", reply.status);
    drop(reply);
    let failed = sb.wait_entries("the upstream's refusal", |e| {
        ours(e)
            && values(e, "MESSAGE")
                .first()
                .is_some_and(|m| m == "Upstream refused the request")
    });
    let e = &failed[0];
    assert_eq!(value(e, "PRIORITY"), "4", "warn is 4: {e}");
    assert_eq!(value(e, "F_UPSTREAM_STATUS"), "500", "{e}");
    assert!(
        e.to_string().contains("upstream broke"),
        "the provider's message: {e}"
    );
    assert_eq!(value(e, "F_MODEL"), "m-broken", "{e}");
    assert!(
        value(e, "F_ID").starts_with("req_") && value(e, "F_ID") != id,
        "{e}"
    );

    // Debug: a control request (the daemon runs at --log-level debug).
    let out = Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .arg("--socket")
        .arg(&socket)
        .arg("status")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let debug = sb.wait_entries("a debug line", |e| {
        ours(e) && message(e) == "Control request"
    });
    assert_eq!(
        value(&debug[0], "PRIORITY"),
        "7",
        "debug is 7: {}",
        debug[0]
    );
    assert_eq!(value(&debug[0], "F_CMD"), "status", "{}", debug[0]);

    // Until now nothing came through stderr as text.
    let stderr_lines = |sb: &Sandbox| -> Vec<String> {
        sb.journal()
            .iter()
            .filter(|e| value(e, "SYSLOG_IDENTIFIER") == "deepinfra-shim-stderr")
            .map(message)
            .collect()
    };
    let text = stderr_lines(&sb);
    assert!(text.is_empty(), "the daemon wrote to stderr: {text:?}");

    // Error: a second daemon on the same port cannot listen.
    let second_socket = ctl.join("second.sock");
    let mut second = daemon_cmd(
        &sb,
        &mock.url(),
        &addr.port().to_string(),
        second_socket.to_str().unwrap(),
    )
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the second daemon did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!exit.success());
    let error = sb.wait_entries("Cannot listen", |e| {
        ours(e) && message(e) == "Cannot listen"
    });
    assert_eq!(
        value(&error[0], "PRIORITY"),
        "3",
        "error is 3: {}",
        error[0]
    );
    assert!(value(&error[0], "F_ERROR").len() > 3, "{}", error[0]);

    // The token is nowhere.
    let all = sb.journal();
    let everything = serde_json::to_string(&all).unwrap();
    assert!(!everything.contains(TOKEN), "the token is in the journal");
    let _ = daemon.kill();
    let _ = daemon.wait();
}
