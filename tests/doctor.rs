//! What a user sees when something is wrong, against the real binaries and the mock upstream:
//!
//! - `shimctl doctor`: the token is checked inside the daemon with the daemon's own token, by
//!   a request that needs authentication (valid, rejected, unreachable, no token, a named
//!   upstream; one line each), never showing the token; Codex-config findings; no daemon.
//! - `shimctl smoke`: an answer through the daemon; a reply without a terminal event; a failed
//!   response; no daemon (exit 3).
//! - the messages that lead there: an upstream 401 names the token that was sent and where it
//!   comes from, a port in use is one line naming the port and how to find its holder.
//! - the `check-upstreams` protocol fixtures.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::daemon::Daemon;
use common::mock_upstream::NOT_AUTHENTICATED_BODY;
use common::{MockUpstream, Reply};
use deepinfra_shim::control::protocol::{
    CheckResult, Reply as CtlReply, Request, RequestLine, RouteReport, StatusReport, TokenUsed,
    UpstreamStatus,
};
use serde_json::{Value, json};

const GOOD: &str = "sk-doctor-good-token-7Q2xK9";
const BAD: &str = "sk-doctor-revoked-token-3Jm8P";

/// Runs shimctl with only `HOME`, `CODEX_HOME` (= `home/codex`) and `extra` set, off the async
/// runtime (the mock upstream runs on it).
async fn shimctl(socket: &Path, home: &Path, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let (socket, home) = (socket.to_owned(), home.to_owned());
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shimctl"));
        cmd.env_clear()
            .env("HOME", &home)
            .env("CODEX_HOME", home.join("codex"))
            .arg("--socket")
            .arg(&socket)
            .args(&args)
            .stdin(std::process::Stdio::null());
        for (k, v) in &extra {
            cmd.env(k, v);
        }
        cmd.output().expect("running shimctl")
    })
    .await
    .unwrap()
}

async fn ctl(d: &Daemon, extra: &[(&str, &str)], args: &[&str]) -> Output {
    shimctl(d.control_socket().unwrap(), d.dir(), extra, args).await
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

/// The lines of `out` that start with `prefix` (e.g. `"ok    upstream"`).
fn lines_starting<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// The one line starting with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    let found = lines_starting(out, prefix);
    assert_eq!(found.len(), 1, "one line starting {prefix:?} in:\n{out}");
    found[0]
}

/// Codex set up for `d` with `env_key` as its token variable.
fn codex_setup(d: &Daemon, model: &str, env_key: &str) {
    let dir = d.dir().join("codex");
    std::fs::create_dir_all(&dir).unwrap();
    let block = deepinfra_shim::control::codex_config::render_block(
        &deepinfra_shim::control::codex_config::CodexBlock {
            model: model.into(),
            addr: d.addr.to_string(),
            env_key: env_key.into(),
            env_key_is_client_key: false,
            context_window: None,
            note: None,
        },
    );
    std::fs::write(dir.join("config.toml"), block).unwrap();
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn probes(mock: &MockUpstream) -> Vec<common::Recorded> {
    mock.chat_requests()
        .into_iter()
        .filter(|r| r.json().get("max_tokens") == Some(&json!(1)))
        .collect()
}

// -------------------------------------------------------------------------------------------
// doctor
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_daemons_own_token_from_inside_the_daemon() {
    let mock = MockUpstream::start().await;
    mock.require_token(Some(GOOD));
    // The model list is public (as DeepInfra's): any token would pass it.
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(GOOD)
        .arg("--log-level")
        .arg("debug")
        .start();
    codex_setup(&d, "deepseek-ai/DeepSeek-V3.2", "DEEPINFRA_TOKEN");

    // The shell holds a stale token: the check must not use it.
    let o = ctl(&d, &[("DEEPINFRA_TOKEN", BAD)], &["doctor"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    let l = line(&out, "ok    upstream 'default' valid");
    assert!(
        l.contains("the daemon's DEEPINFRA_TOKEN was accepted"),
        "{l}"
    );
    assert!(
        l.contains(&format!("POST {}/chat/completions", mock.url())),
        "{l}"
    );
    // The model Codex is set up with, one output token.
    assert!(
        l.contains("model deepseek-ai/DeepSeek-V3.2, max_tokens 1 -> 200"),
        "{l}"
    );
    assert_eq!(lines_starting(&out, "ok    upstream").len(), 1, "{out}");

    // What reached the provider: one authenticated, one-token, non-streamed completion with
    // the daemon's token, nothing from the shell.
    let p = probes(&mock);
    assert_eq!(p.len(), 1, "{:?}", mock.requests());
    assert_eq!(
        p[0].header("authorization"),
        Some(&*format!("Bearer {GOOD}"))
    );
    assert_eq!(p[0].json()["stream"], false);
    assert_eq!(p[0].model(), Some("deepseek-ai/DeepSeek-V3.2"));
    assert!(
        mock.requests().iter().all(|r| !r.path.ends_with("/models")),
        "a model list proves nothing about a token"
    );

    // The token is nowhere in what doctor printed or the daemon logged (at debug).
    for text in [out, stderr(&o), d.logs()] {
        assert!(!text.contains(GOOD) && !text.contains(BAD), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_rejected_token_with_the_providers_answer() {
    let mock = MockUpstream::start().await;
    mock.require_token(Some(GOOD));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(BAD)
        .arg("--log-level")
        .arg("debug")
        .start();
    codex_setup(&d, "m/x", "DEEPINFRA_TOKEN");
    let o = ctl(&d, &[], &["doctor"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    let l = line(&out, "FAIL  upstream 'default'");
    assert!(
        l.contains("rejected the daemon's DEEPINFRA_TOKEN: 401 Not authenticated"),
        "{l}"
    );
    assert!(
        out.contains("fix: the token is wrong, revoked or old: put `DEEPINFRA_TOKEN=...` in"),
        "{out}"
    );
    assert_eq!(probes(&mock).len(), 1);
    assert_eq!(
        probes(&mock)[0].header("authorization"),
        Some(&*format!("Bearer {BAD}"))
    );
    for text in [out, stderr(&o), d.logs()] {
        assert!(!text.contains(BAD), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_an_unreachable_upstream_and_a_missing_token() {
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    let d = Daemon::builder().upstream(&down).start();
    codex_setup(&d, "m/x", "DEEPINFRA_TOKEN");
    let o = ctl(&d, &[], &["doctor"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    let l = line(&out, "FAIL  upstream 'default' unreachable");
    assert!(l.contains(&format!("POST {down}/chat/completions")), "{l}");
    assert!(
        l.contains("no token in the daemon (DEEPINFRA_TOKEN is not set)"),
        "{l}"
    );
    assert!(out.contains("fix: check the URL (upstream.url)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_without_a_daemon_token_says_whether_codex_would_send_one() {
    let mock = MockUpstream::start().await;
    mock.require_token(Some(GOOD));
    let d = Daemon::builder().upstream(mock.url()).start();
    codex_setup(&d, "m/x", "MY_DEEPINFRA_KEY");

    // Codex's variable is set where Codex (and here doctor) runs: its header stands in.
    let o = ctl(&d, &[("MY_DEEPINFRA_KEY", GOOD)], &["doctor"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}");
    let l = line(&out, "ok    upstream 'default'");
    assert!(
        l.contains("no token in the daemon (DEEPINFRA_TOKEN is not set), so Codex's header would be used: Codex sends its MY_DEEPINFRA_KEY"),
        "{l}"
    );
    assert!(
        l.contains("without one it answered 401 Not authenticated"),
        "{l}"
    );
    // The check went without a token: the daemon has none, and a shell's is not its own.
    let p = probes(&mock);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].header("authorization"), None);
    assert!(!out.contains(GOOD));

    // Nobody has one.
    let o = ctl(&d, &[], &["doctor"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    let l = line(&out, "FAIL  upstream 'default'");
    assert!(
        l.contains("MY_DEEPINFRA_KEY (Codex's env_key) is not set in this shell either"),
        "{l}"
    );
    assert!(
        out.contains("or export MY_DEEPINFRA_KEY where Codex runs"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_a_named_upstream_with_its_own_token_and_route() {
    let main = MockUpstream::start().await;
    main.require_token(Some(GOOD));
    let local = MockUpstream::start().await;
    local.require_token(Some("local-key-5a5a5a5a"));
    let yaml = format!(
        "upstream:\n  url: {}\nupstreams:\n  local: {{ url: '{}', api_key_env: LOCAL_KEY }}\nmodels:\n  fast: {{ upstream: local, model: Qwen/Qwen3-Coder-30B-A3B-Instruct }}\n",
        main.url(),
        local.url()
    );
    let d = Daemon::builder()
        .token(GOOD)
        .env("LOCAL_KEY", "wrong-local-key-1111")
        .config_yaml(yaml)
        .start();
    codex_setup(&d, "m/x", "DEEPINFRA_TOKEN");
    let o = ctl(&d, &[], &["doctor"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    // One line per upstream.
    assert_eq!(
        out.lines().filter(|l| l.contains(" upstream ")).count(),
        2,
        "{out}"
    );
    assert!(
        line(&out, "ok    upstream 'default' valid").contains("model m/x"),
        "{out}"
    );
    let l = line(&out, "FAIL  upstream 'local'");
    assert!(
        l.contains("rejected the daemon's LOCAL_KEY: 401 Not authenticated"),
        "{l}"
    );
    assert!(
        l.contains("model Qwen/Qwen3-Coder-30B-A3B-Instruct"),
        "the route's model: {l}"
    );
    let p = probes(&local);
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0].header("authorization"),
        Some("Bearer wrong-local-key-1111")
    );
    assert!(!out.contains("wrong-local-key-1111"));

    // The JSON the daemon answers, as a script would read it.
    let reply = raw_request(
        d.control_socket().unwrap(),
        &Request::CheckUpstreams { model: None },
    );
    let checks = reply.upstream_checks.unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(
        (checks[0].result, checks[0].token),
        (CheckResult::Valid, TokenUsed::Daemon)
    );
    assert_eq!(checks[1].name, "local");
    assert_eq!(
        (checks[1].result, checks[1].status),
        (CheckResult::Rejected, Some(401))
    );
    assert_eq!(checks[1].message.as_deref(), Some("Not authenticated"));
}

fn raw_request(socket: &Path, req: &Request) -> CtlReply {
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(RequestLine::new(req.clone()).to_line().as_bytes())
        .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    CtlReply::parse(line.trim_end().as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_codex_config_problems_in_plain_words() {
    let mock = MockUpstream::start().await;
    let d = Daemon::builder().upstream(mock.url()).token(GOOD).start();
    let dir = d.dir().join("codex");
    std::fs::create_dir_all(&dir).unwrap();

    // A duplicate key (what appending a second block does).
    std::fs::write(dir.join("config.toml"), "model = \"a\"\nmodel = \"b\"\n").unwrap();
    let o = ctl(&d, &[], &["doctor"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    let l = line(&out, "FAIL  codex");
    assert!(l.contains("line 2") && l.contains("model"), "{l}");

    // Top-level keys under a table, and a catalog that is not there.
    let base = format!("http://{}/v1", d.addr);
    let text = format!(
        "[model_providers.deepinfra]\nname = \"DeepInfra via deepinfra-shim\"\nbase_url = \"{base}\"\nenv_key = \"DEEPINFRA_TOKEN\"\nwire_api = \"responses\"\nmodel = \"m/x\"\nmodel_provider = \"deepinfra\"\n"
    );
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let o = ctl(&d, &[], &["doctor"]).await;
    let out = stdout(&o);
    assert!(
        out.lines().any(|l| l.contains("codex")
            && l.contains("model_provider")
            && l.contains("[model_providers.deepinfra]")),
        "{out}"
    );

    let mut fixed = format!(
        "model = \"m/x\"\nmodel_provider = \"deepinfra\"\nmodel_catalog_json = \"{}\"\n",
        dir.join("missing.json").display()
    );
    fixed.push_str(&text.replace("model = \"m/x\"\nmodel_provider = \"deepinfra\"\n", ""));
    std::fs::write(dir.join("config.toml"), &fixed).unwrap();
    let o = ctl(&d, &[], &["doctor"]).await;
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL  codex") && l.contains("missing.json")),
        "{out}"
    );
    // The token line is unaffected by Codex's files.
    assert_eq!(
        lines_starting(&out, "ok    upstream 'default' valid").len(),
        1,
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_without_a_daemon_says_the_token_check_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    let o = shimctl(
        &dir.path().join("none.sock"),
        dir.path(),
        &[
            ("DEEPINFRA_CODEX_SHIM_UPSTREAM", &down),
            ("DEEPINFRA_TOKEN", GOOD),
        ],
        &["doctor"],
    )
    .await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    let d = line(&out, "FAIL  daemon");
    assert!(d.contains("not reachable"), "{d}");
    let start = if cfg!(target_os = "macos") {
        "launchctl bootstrap gui/$(id -u)"
    } else {
        "systemctl --user start deepinfra-shim"
    };
    assert!(out.contains(start), "{out}");
    let t = line(&out, "warn  token");
    assert!(
        t.contains("not checked: the daemon checks each upstream with its own token"),
        "{t}"
    );
    // The rest is still checked: Codex's (missing) config.
    assert!(lines_starting(&out, "FAIL  codex").len() == 1, "{out}");
    assert!(!out.contains(GOOD));
}

// -------------------------------------------------------------------------------------------
// smoke
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_reports_the_answer_time_tokens_and_the_shape() {
    let mock = MockUpstream::start().await;
    mock.require_token(Some(GOOD));
    mock.push(Reply::text_with_usage("OK", 21, 1));
    let d = Daemon::builder().upstream(mock.url()).token(GOOD).start();
    codex_setup(&d, "deepseek-ai/DeepSeek-V3.2", "DEEPINFRA_TOKEN");
    let o = ctl(&d, &[], &["smoke"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    assert!(
        out.starts_with(&format!(
            "smoke: POST http://{}/v1/responses, model deepseek-ai/DeepSeek-V3.2 -> upstream 'default'",
            d.addr
        )),
        "{out}"
    );
    assert!(
        line(&out, "ok    answer").contains("\"OK\" (as asked)"),
        "{out}"
    );
    assert!(
        line(&out, "ok    time").contains("first token after"),
        "{out}"
    );
    assert!(
        line(&out, "ok    tokens").contains("21 in (0 cached), 1 out (0 reasoning), 22 total"),
        "{out}"
    );
    assert!(
        line(&out, "ok    codex").contains(
            "response.created first, 1 output item (1 message), response.completed with usage"
        ),
        "{out}"
    );
    // What went upstream: the harmless prompt, streamed.
    let chat = mock.chat_requests();
    assert_eq!(chat.len(), 1);
    assert!(chat[0].is_stream());
    assert!(chat[0].body_text().contains("Reply with exactly OK."));

    // --model and --upstream choose where it goes; a model routed elsewhere is refused.
    mock.push(Reply::text("OK"));
    let o = ctl(
        &d,
        &[],
        &["smoke", "--model", "other/m", "--upstream", "default"],
    )
    .await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(mock.chat_requests()[1].model(), Some("other/m"));
    let o = ctl(&d, &[], &["smoke", "--upstream", "nope"]).await;
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no upstream 'nope'"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_fails_when_the_response_fails() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::fixture("E10"));
    let d = Daemon::builder().upstream(mock.url()).token(GOOD).start();
    let o = ctl(&d, &[], &["smoke", "--model", "m"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        line(&out, "FAIL  codex").contains("the response failed"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_fails_a_reply_without_a_terminal_event() {
    // A stand-in daemon: its control socket answers status and resolve, its HTTP side
    // streams an answer and closes without response.completed (the real daemon never does).
    let dir = tempfile::tempdir().unwrap();
    // shimctl talks only to a socket in a private directory (docs/security.md).
    std::fs::set_permissions(
        dir.path(),
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
    )
    .unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = http.local_addr().unwrap();
    let socket = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || fake_control(listener, addr.to_string()));
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = http.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = s.read(&mut buf).await;
            let events = [
                json!({"type":"response.created","response":{"id":"r","output":[]}}),
                json!({"type":"response.output_item.added","item":{"id":"m","type":"message","role":"assistant","content":[]}}),
                json!({"type":"response.output_text.delta","delta":"OK"}),
            ];
            let mut out = String::from(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
            );
            for e in events {
                out.push_str(&format!("data: {e}\n\n"));
            }
            let _ = s.write_all(out.as_bytes()).await;
            let _ = s.shutdown().await;
        }
    });
    let o = shimctl(&socket, dir.path(), &[], &["smoke", "--model", "m"]).await;
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(
        out.lines().any(|l| l.starts_with("FAIL  codex")
            && l.contains("the stream ended without a terminal event (response.completed)")),
        "{out}"
    );
    assert!(lines_starting(&out, "ok    codex").is_empty(), "{out}");
}

/// Answers `status` (listening on `listen`) and `resolve` on a control socket.
fn fake_control(listener: UnixListener, listen: String) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { return };
        let mut line = String::new();
        if BufReader::new(&conn).read_line(&mut line).is_err() {
            continue;
        }
        let req = RequestLine::parse(line.trim_end().as_bytes()).unwrap();
        let mut reply = CtlReply {
            v: 1,
            ok: true,
            ..Default::default()
        };
        match req.request {
            Request::Status => {
                reply.status = Some(StatusReport {
                    version: deepinfra_shim::VERSION.into(),
                    listen: listen.clone(),
                    token_present: true,
                    upstreams: vec![UpstreamStatus {
                        name: "default".into(),
                        token_present: true,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            }
            Request::Resolve { model } => {
                reply.route = Some(RouteReport {
                    model: model.clone(),
                    upstream: "default".into(),
                    upstream_model: model,
                    ..Default::default()
                })
            }
            _ => reply = CtlReply::error("not in this stand-in"),
        }
        let _ = conn.write_all(reply.to_line().as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_without_a_daemon_exits_3_with_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = shimctl(&dir.path().join("none.sock"), dir.path(), &[], &["smoke"]).await;
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("not running"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("deepinfra-shim` in a terminal"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

// -------------------------------------------------------------------------------------------
// Messages: an upstream 401, a port in use
// -------------------------------------------------------------------------------------------

fn responses_body() -> String {
    json!({"model": "m", "stream": true, "store": false, "tools": [], "input": [
        {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}
    ]})
    .to_string()
}

async fn post_responses(d: &Daemon, bearer: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/responses", d.url()))
        .header("content-type", "application/json")
        .body(responses_body());
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_401_names_the_token_that_was_sent_and_its_source() {
    let mock = MockUpstream::start().await;
    mock.require_token(Some(GOOD));

    // The daemon's own token, from its environment (the service's env file).
    let d = Daemon::builder().upstream(mock.url()).token(BAD).start();
    let (status, body) = post_responses(&d, Some(GOOD)).await;
    assert_eq!(status, 401, "{body}");
    let m = body["error"]["message"].as_str().unwrap();
    assert!(m.starts_with("upstream returned HTTP 401: Not authenticated (the token sent was the daemon's own DEEPINFRA_TOKEN, from its environment"), "{m}");
    assert!(m.contains("~/.config/deepinfra-shim/env"), "{m}");
    assert!(
        d.wait_for_log(
            "the token sent was the daemon's own DEEPINFRA_TOKEN",
            Duration::from_secs(5)
        ),
        "{}",
        d.logs()
    );
    assert!(!d.logs().contains(BAD) && !m.contains(BAD));

    // No daemon token: Codex's header was forwarded.
    let d = Daemon::builder().upstream(mock.url()).start();
    let (status, body) = post_responses(&d, Some(BAD)).await;
    assert_eq!(status, 401, "{body}");
    let m = body["error"]["message"].as_str().unwrap();
    assert!(m.contains("the token sent was the request's Authorization header (Codex sends the variable named by env_key"), "{m}");
    assert!(
        m.contains("the daemon has no DEEPINFRA_TOKEN of its own"),
        "{m}"
    );
    assert!(
        d.wait_for_log("the request's Authorization header", Duration::from_secs(5)),
        "{}",
        d.logs()
    );
    assert!(!d.logs().contains(BAD) && !m.contains(BAD));
    // The provider's own words are still there, as it sent them.
    assert!(NOT_AUTHENTICATED_BODY.contains("Not authenticated"));
}

#[test]
fn a_port_in_use_is_one_line_naming_the_port() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    // The control socket in a private directory, so nothing else is worth a warning.
    let b = Daemon::builder();
    let sock = b.dir().join("runtime/shim/control.sock");
    let done = b
        .args(["--port", &port])
        .arg("--control-socket")
        .arg(&sock)
        .run(Duration::from_secs(20));
    assert_eq!(done.code(), Some(1), "{}", done.stderr);
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line, not two: {:?}", done.stderr);
    let l = lines[0];
    assert!(
        l.starts_with("deepinfra-shim: cannot listen on 127.0.0.1:"),
        "{l}"
    );
    assert!(l.contains(&format!("port {port} is already in use")), "{l}");
    let find = if cfg!(target_os = "macos") {
        format!("lsof -nP -iTCP:{port} -sTCP:LISTEN")
    } else {
        format!("ss -ltnp 'sport = :{port}'")
    };
    assert!(l.contains(&find), "{l}");
    assert!(l.contains("this one comes from --port"), "{l}");

    // JSON logs: the one line is the log event.
    let b = Daemon::builder();
    let sock = b.dir().join("runtime/shim/control.sock");
    let done = b
        .args(["--port", &port, "--log-format", "json"])
        .arg("--control-socket")
        .arg(&sock)
        .run(Duration::from_secs(20));
    assert_eq!(done.code(), Some(1));
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{:?}", done.stderr);
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["message"], "Cannot listen");
    assert!(v["error"].as_str().unwrap().contains(&find), "{v}");
    drop(holder);
}

// -------------------------------------------------------------------------------------------
// Protocol fixtures
// -------------------------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/control")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn check_upstreams_fixtures_parse() {
    let r = RequestLine::parse(
        fixture("v1-request-check-upstreams.json")
            .trim_end()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        r.request,
        Request::CheckUpstreams {
            model: Some("deepseek-ai/DeepSeek-V4-Flash".into())
        }
    );
    let reply = CtlReply::parse(
        fixture("v1-reply-check-upstreams.json")
            .trim_end()
            .as_bytes(),
    )
    .unwrap();
    let c = reply.upstream_checks.as_ref().unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(
        (c[0].result, c[0].token),
        (CheckResult::Valid, TokenUsed::Daemon)
    );
    assert_eq!(c[1].result, CheckResult::Rejected);
    assert_eq!(c[1].message.as_deref(), Some("Not authenticated"));
    assert_eq!(
        (c[2].result, c[2].token),
        (CheckResult::NoToken, TokenUsed::NoneCodexHeader)
    );
    // What we send today reads back the same.
    assert_eq!(CtlReply::parse(reply.to_line().as_bytes()).unwrap(), reply);
    // A result or token kind from a newer daemon does not break this shimctl.
    let newer = fixture("v1-reply-check-upstreams.json")
        .replace("\"rejected\"", "\"throttled\"")
        .replace("\"none_codex_header\"", "\"vault\"");
    let r = CtlReply::parse(newer.trim_end().as_bytes()).unwrap();
    let c = r.upstream_checks.unwrap();
    assert_eq!(c[1].result, CheckResult::Unknown);
    assert_eq!(c[2].token, TokenUsed::Unknown);
}

// -------------------------------------------------------------------------------------------
// The live checks' flow, against the mock (tests/live.rs runs it against the real provider)
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_flow_works_against_the_mock() {
    use common::live_flow::{MAGIC, TOOL, ok_turn, tool_round_trip};
    let mock = MockUpstream::start().await;
    mock.push(Reply::text("OK"));
    mock.push(Reply::tool_call("call_7", TOOL, "{}"));
    mock.push(Reply::text(format!("The magic number is {MAGIC}.")));
    let d = Daemon::builder().upstream(mock.url()).token(GOOD).start();
    let url = format!("{}/responses", d.base_url());
    let v = ok_turn(&url, None, "m").await;
    assert_eq!(v.text, "OK");
    let (first, second) = tool_round_trip(&url, None, "m").await;
    assert_eq!(first.function_calls[0].call_id, "call_7");
    assert!(second.text.contains(MAGIC));
    // The second turn carried the call and its output back, as Codex does.
    let chat = mock.chat_requests();
    assert_eq!(chat.len(), 3);
    let tools = chat[2].tool_messages();
    assert_eq!(tools.len(), 1, "{:?}", chat[2].messages());
    assert_eq!(tools[0]["tool_call_id"], "call_7");
    assert_eq!(tools[0]["content"], MAGIC);
    assert_eq!(chat[1].tool_names(), vec![TOOL.to_owned()]);
}
