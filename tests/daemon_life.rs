//! The daemon as a service: config reload (file edit, rename, SIGHUP), named upstreams and
//! routes, bind safety, client keys, sd-notify messages, graceful shutdown, and a bounded load
//! test of reloads under concurrent streams.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::{Chunk, End, MockUpstream, Reply};
use serde_json::{Value, json};

const TOKEN: &str = "sk-default-token-AAAA";
const OTHER_TOKEN: &str = "sk-second-token-BBBB";

fn body(model: &str) -> String {
    json!({"model": model, "stream": true, "input": [
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"sys"}]},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}
    ], "tools": [], "store": false})
    .to_string()
}

fn chunk(content: &str) -> String {
    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
           "choices":[{"index":0,"delta":{"role":"assistant","content":content},"finish_reason":null}]})
    .to_string()
}

fn finish() -> String {
    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
           "choices":[{"index":0,"delta":{},"finish_reason":"stop"}],
           "usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}})
    .to_string()
}

/// A stream of `n` text pieces, `gap` apart, then a clean finish.
fn slow_stream(n: usize, gap: Duration) -> Reply {
    let mut chunks: Vec<Chunk> = (0..n)
        .map(|i| Chunk::after(gap, format!("data: {}\n\n", chunk(&format!("p{i} ")))))
        .collect();
    chunks.push(Chunk::event(finish()));
    chunks.push(Chunk::event("[DONE]"));
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks,
        end: End::Finish,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Posts a streamed Responses request and returns the SSE text.
async fn ask(url: &str, model: &str, auth: Option<&str>) -> (u16, String) {
    let mut req = client()
        .post(format!("{url}/v1/responses"))
        .header("content-type", "application/json")
        .body(body(model));
    if let Some(a) = auth {
        req = req.header("authorization", format!("Bearer {a}"));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

fn completed_text(sse: &str) -> Option<String> {
    if !sse.contains("\"type\":\"response.completed\"") {
        return None;
    }
    Some(
        sse.split("\n\n")
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter(|v| v["type"] == "response.output_text.delta")
            .map(|v| v["delta"].as_str().unwrap_or("").to_owned())
            .collect(),
    )
}

/// Polls `/health` until it reports `want` as the upstream.
async fn wait_upstream(d: &Daemon, want: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if d.health_upstream().await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_file_switches_upstream_while_a_stream_in_flight_finishes_on_the_old_one() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    a.push(slow_stream(10, Duration::from_millis(150)));
    b.set_handler(|_| Reply::text("from B"));
    let d = Daemon::builder()
        .token(TOKEN)
        .config_yaml(format!("upstream:\n  url: {}\n", a.url()))
        .start();

    let url = d.url();
    let slow = tokio::spawn(async move { ask(&url, "m", None).await });
    a.wait_chat_requests(1, Duration::from_secs(5)).await;

    let edited = Instant::now();
    d.rewrite_config(&format!("upstream:\n  url: {}\n", b.url()));
    assert!(
        wait_upstream(&d, &b.url(), Duration::from_secs(2)).await,
        "reload within 2 s"
    );
    let (status, sse) = ask(&d.url(), "m", None).await;
    assert_eq!(status, 200);
    assert_eq!(completed_text(&sse).as_deref(), Some("from B"));
    assert!(edited.elapsed() < Duration::from_secs(3));

    // The stream that started before the edit completed, whole, on upstream A.
    let (status, sse) = slow.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        completed_text(&sse).as_deref(),
        Some("p0 p1 p2 p3 p4 p5 p6 p7 p8 p9 "),
        "{sse}"
    );
    assert_eq!(a.chat_requests().len(), 1);
    assert_eq!(b.chat_requests().len(), 1);
    assert!(d.logs().contains("Configuration reloaded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_and_the_old_config_keeps_serving() {
    let a = MockUpstream::start().await;
    a.set_handler(|_| Reply::text("still A"));
    let d = Daemon::builder()
        .token(TOKEN)
        .config_yaml(format!("upstream:\n  url: {}\n", a.url()))
        .start();
    d.rewrite_config("upstream:\n  urll: http://typo\nlisten: { port: 99999 }\n");
    assert!(
        d.wait_for_log("reload refused", Duration::from_secs(3)),
        "{}",
        d.logs()
    );
    let logs = d.logs();
    assert!(
        logs.contains("upstream.urll"),
        "names the unknown key: {logs}"
    );
    assert_eq!(d.health_upstream().await, a.url());
    let (status, sse) = ask(&d.url(), "m", None).await;
    assert_eq!(status, 200);
    assert_eq!(completed_text(&sse).as_deref(), Some("still A"));

    // Deleting the file is a refused reload too, not a return to built-in defaults.
    std::fs::remove_file(d.config_path().unwrap()).unwrap();
    assert!(
        d.wait_for_log("no longer exists", Duration::from_secs(3)),
        "{}",
        d.logs()
    );
    assert_eq!(d.health_upstream().await, a.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_flags_stay_pinned() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let d = Daemon::builder()
        .token(TOKEN)
        .config_yaml(format!(
            "upstream:\n  url: {}\nlog: {{ level: info }}\n",
            a.url()
        ))
        .arg("--timeout-ms")
        .arg("5000")
        .start();
    // Write in place (no rename, no watcher-friendly pattern needed) and signal.
    std::fs::write(
        d.config_path().unwrap(),
        format!("upstream:\n  url: {}\n  timeout_ms: 1\n", b.url()),
    )
    .unwrap();
    d.signal("HUP");
    assert!(wait_upstream(&d, &b.url(), Duration::from_secs(3)).await);
    assert!(
        d.wait_for_log("source=\"SIGHUP\"", Duration::from_secs(3)) || d.logs().contains("SIGHUP")
    );
    // timeout_ms: 1 in the file would make every request time out; the flag pins 5000.
    b.push(slow_stream(2, Duration::from_millis(100)));
    let (status, sse) = ask(&d.url(), "m", None).await;
    assert_eq!(status, 200);
    assert!(completed_text(&sse).is_some(), "{sse}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_sends_an_alias_to_a_named_upstream_with_its_own_token_only() {
    let main = MockUpstream::start().await;
    let second = MockUpstream::start().await;
    second.set_handler(|_| Reply::text("second"));
    main.set_handler(|_| Reply::text("main"));
    let d = Daemon::builder()
        .env("SECOND_KEY", OTHER_TOKEN)
        .config_yaml(format!(
            "upstream:\n  url: {}\nupstreams:\n  local: {{ url: {}, api_key_env: SECOND_KEY, headers: {{ x-extra: yes }} }}\nmodels:\n  fast: {{ upstream: local, model: Qwen/Qwen3-Coder-30B-A3B-Instruct }}\n  \"moonshotai/*\": {{ upstream: local }}\n",
            main.url(),
            second.url()
        ))
        .start();
    // The client sends its own header; the daemon has no default token, so the default
    // upstream uses the client's header, but the named upstream must never see it.
    let (status, sse) = ask(&d.url(), "fast", Some("client-secret")).await;
    assert_eq!(status, 200);
    assert_eq!(completed_text(&sse).as_deref(), Some("second"));
    let (_, sse) = ask(&d.url(), "moonshotai/Kimi-K2.6", Some("client-secret")).await;
    assert_eq!(completed_text(&sse).as_deref(), Some("second"));
    let (_, sse) = ask(&d.url(), "deepseek-ai/DeepSeek-V3.2", Some("client-secret")).await;
    assert_eq!(completed_text(&sse).as_deref(), Some("main"));

    let reqs = second.chat_requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].json()["model"], "Qwen/Qwen3-Coder-30B-A3B-Instruct");
    assert_eq!(reqs[1].json()["model"], "moonshotai/Kimi-K2.6");
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {OTHER_TOKEN}").as_str())
        );
        assert_eq!(r.header("x-extra"), Some("yes"));
    }
    assert_eq!(
        main.chat_requests()[0].header("authorization"),
        Some("Bearer client-secret")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_upstream_without_its_token_is_refused_not_given_the_client_header() {
    let second = MockUpstream::start().await;
    let d = Daemon::builder()
        .config_yaml(format!(
            "upstreams:\n  local: {{ url: {}, api_key_env: MISSING_KEY }}\nmodels:\n  fast: {{ upstream: local }}\n",
            second.url()
        ))
        .start();
    let (status, body) = ask(&d.url(), "fast", Some("client-secret")).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("MISSING_KEY"), "{body}");
    assert!(second.chat_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_bind_without_client_keys_is_refused_at_start() {
    let f = Daemon::builder()
        .arg("--host")
        .arg("0.0.0.0")
        .run(Duration::from_secs(10));
    assert_eq!(f.code(), Some(2), "{}", f.stderr);
    assert!(f.stderr.contains("client_keys_env"), "{}", f.stderr);
    assert!(
        !f.stderr.contains("Listening on"),
        "nothing bound: {}",
        f.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_keys_guard_every_route_but_health() {
    let mock = MockUpstream::start().await;
    mock.set_handler(|_| Reply::text("ok"));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .env("SHIM_CLIENT_KEYS", "key-one, key-two")
        .config_yaml("listen:\n  client_keys_env: SHIM_CLIENT_KEYS\n")
        .start();
    let (status, body) = ask(&d.url(), "m", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = ask(&d.url(), "m", Some("wrong-key")).await;
    assert_eq!(status, 401);
    let r = client()
        .get(format!("{}/v1/models", d.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        mock.chat_requests().is_empty(),
        "nothing reached the upstream"
    );
    let (status, sse) = ask(&d.url(), "m", Some("key-two")).await;
    assert_eq!(status, 200);
    assert!(completed_text(&sse).is_some());
    // The client key is ours, never a provider credential.
    assert_eq!(
        mock.chat_requests()[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let r = client()
        .get(format!("{}/health", d.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Reads datagrams until `want` has been seen in one of them (or the timeout).
fn wait_notify(sock: &UnixDatagram, want: &str, timeout: Duration, seen: &mut Vec<String>) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 4096];
    loop {
        if seen.iter().any(|m| m.lines().any(|l| l == want)) {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        sock.set_read_timeout(Some(left)).unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => seen.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sd_notify_ready_reloading_stopping() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let mut d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .env("NOTIFY_SOCKET", &path)
        .config_yaml("log: { level: info }\n")
        .start();
    let mut seen = Vec::new();
    assert!(
        wait_notify(&sock, "READY=1", Duration::from_secs(5), &mut seen),
        "{seen:?}"
    );
    // STATUS= carries the start-up summary: the file, the socket, the token's variable (never
    // the token), the watch.
    let ready = seen.iter().find(|m| m.contains("READY=1")).unwrap().clone();
    let status = ready
        .lines()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or_else(|| panic!("no STATUS= with READY=1: {ready}"));
    let config = d.config_path().unwrap().display().to_string();
    for want in [
        format!("config {config}; "),
        format!("socket {}; ", d.control_socket().unwrap().display()),
        "tokens default: DEEPINFRA_TOKEN (set)".to_owned(),
        "pinned control_socket by --control-socket, listen.port by --port, upstream.url by \
         --upstream"
            .to_owned(),
        format!("watching {}", d.dir().display()),
    ] {
        assert!(status.contains(&want), "{want:?} not in {status}");
    }
    assert!(!status.contains(TOKEN), "{status}");
    assert!(!status.contains('\n'), "one line: {status}");
    seen.clear();
    d.signal("HUP");
    assert!(
        wait_notify(&sock, "RELOADING=1", Duration::from_secs(5), &mut seen),
        "{seen:?}"
    );
    let reloading = seen.iter().find(|m| m.contains("RELOADING=1")).unwrap();
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    seen.retain(|m| !m.contains("RELOADING=1"));
    assert!(
        wait_notify(&sock, "READY=1", Duration::from_secs(5), &mut seen),
        "{seen:?}"
    );
    let ready = seen.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(
        ready.contains("last reload applied: no changes; config "),
        "{ready}"
    );
    seen.clear();
    // A refused reload is reported in STATUS= (and the old config stays).
    std::fs::write(d.config_path().unwrap(), "log: { levle: info }\n").unwrap();
    d.signal("HUP");
    assert!(
        wait_notify(&sock, "READY=1", Duration::from_secs(5), &mut seen),
        "{seen:?}"
    );
    let ready = seen.iter().rev().find(|m| m.contains("READY=1")).unwrap();
    assert!(
        ready.contains("STATUS=") && ready.contains("refused"),
        "{ready}"
    );
    seen.clear();
    let status = d.terminate(Duration::from_secs(10));
    assert!(status.success());
    assert!(
        wait_notify(&sock, "STOPPING=1", Duration::from_secs(2), &mut seen),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_stream_in_flight_finish_then_exits_zero() {
    let mock = MockUpstream::start().await;
    mock.push(slow_stream(8, Duration::from_millis(150)));
    let mut d = Daemon::builder().upstream(mock.url()).token(TOKEN).start();
    let url = d.url();
    let slow = tokio::spawn(async move { ask(&url, "m", None).await });
    mock.wait_chat_requests(1, Duration::from_secs(5)).await;
    d.signal("TERM");
    // New connections are refused while the old stream drains.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        client()
            .get(format!("{}/health", d.url()))
            .send()
            .await
            .is_err(),
        "the listener is closed during the drain"
    );
    let (status, sse) = slow.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        completed_text(&sse).as_deref(),
        Some("p0 p1 p2 p3 p4 p5 p6 p7 "),
        "{sse}"
    );
    let exit = d
        .wait(Duration::from_secs(10))
        .expect("exits after the drain");
    assert!(exit.success(), "{exit:?}\n{}", d.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_outlives_the_drain_timeout_ends_with_response_failed() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::sse_then_stall([chunk("partial")]));
    let mut d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .config_yaml("shutdown: { drain_timeout_ms: 500 }\n")
        .start();
    let url = d.url();
    let stuck = tokio::spawn(async move { ask(&url, "m", None).await });
    mock.wait_chat_requests(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    d.signal("TERM");
    let (status, sse) = stuck.await.unwrap();
    assert_eq!(status, 200);
    assert!(sse.contains("\"type\":\"response.failed\""), "{sse}");
    assert!(sse.contains("shutting down"), "{sse}");
    let exit = d.wait(Duration::from_secs(10)).expect("exits");
    assert!(exit.success());
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_level_change_in_the_file_applies_on_reload() {
    let mock = MockUpstream::start().await;
    mock.set_handler(|_| Reply::text("ok"));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .config_yaml("log: { level: info }\n")
        .start();
    let finished = || d.logs().matches("Stream finished").count();
    let _ = ask(&d.url(), "m", None).await;
    assert!(d.wait_for_log("Stream finished", Duration::from_secs(3)));
    let before = finished();

    // Quieter: info lines (including the reload's own line) disappear.
    d.rewrite_config("log: { level: warn }\n");
    d.signal("HUP");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let _ = ask(&d.url(), "m", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(finished(), before, "info hidden at warn:\n{}", d.logs());

    // Louder again: the reload line and request lines come back.
    d.rewrite_config("log: { level: info }\n");
    assert!(
        d.wait_for_log("log.level: warn -> info", Duration::from_secs(3)),
        "{}",
        d.logs()
    );
    let _ = ask(&d.url(), "m", None).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while finished() == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(finished() > before, "{}", d.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_is_fed_at_half_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let _d = Daemon::builder()
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000")
        .start();
    let mut seen = Vec::new();
    assert!(
        wait_notify(&sock, "WATCHDOG=1", Duration::from_secs(3), &mut seen),
        "{seen:?}"
    );
    seen.clear();
    assert!(
        wait_notify(&sock, "WATCHDOG=1", Duration::from_secs(1), &mut seen),
        "fed again: {seen:?}"
    );
}

/// Bounded load test: concurrent streams while the config is reloaded many times. Every
/// request must complete; the counts are printed for the issue note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_streams_survive_many_reloads() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    for m in [&a, &b] {
        m.set_handler(|_| slow_stream(4, Duration::from_millis(20)));
    }
    let d = Daemon::builder()
        .token(TOKEN)
        .config_yaml(format!("upstream:\n  url: {}\n", a.url()))
        .start();
    const CLIENTS: usize = 16;
    const PER_CLIENT: usize = 25;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let url = d.url();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            let mut failed = 0usize;
            for _ in 0..PER_CLIENT {
                let (status, sse) = ask(&url, "m", None).await;
                if status == 200 && completed_text(&sse).as_deref() == Some("p0 p1 p2 p3 ") {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            (ok, failed)
        }));
    }
    let mut reloads = 0;
    let started = Instant::now();
    while !tasks.iter().all(|t| t.is_finished()) && started.elapsed() < Duration::from_secs(60) {
        let target = if reloads % 2 == 0 { b.url() } else { a.url() };
        d.rewrite_config(&format!("upstream:\n  url: {target}\n"));
        // The watcher debounces a burst of edits into one reload; SIGHUP forces one per write.
        d.signal("HUP");
        reloads += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (o, f) = t.await.unwrap();
        ok += o;
        failed += f;
    }
    assert!(
        d.wait_for_log("source=\"file change\"", Duration::from_secs(3)),
        "the watcher also reloaded"
    );
    let applied = d.logs().matches("Configuration reloaded").count();
    eprintln!(
        "load test: {ok} streams completed, {failed} failed, {reloads} config writes, {applied} reloads applied, A served {}, B served {}",
        a.chat_requests().len(),
        b.chat_requests().len()
    );
    assert_eq!(failed, 0);
    assert_eq!(ok, CLIENTS * PER_CLIENT);
    assert!(
        applied >= 20,
        "reloads really happened during the load: {applied}"
    );
    assert!(!a.chat_requests().is_empty() && !b.chat_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_signal_exits_at_once() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::sse_then_stall([chunk("partial")]));
    // A drain long enough that only the second signal can explain a quick exit.
    let mut d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .config_yaml("shutdown: { drain_timeout_ms: 60000 }\n")
        .start();
    let url = d.url();
    let _stuck = tokio::spawn(async move { ask(&url, "m", None).await });
    mock.wait_chat_requests(1, Duration::from_secs(5)).await;
    d.signal("TERM");
    assert!(
        d.wait_for_log("draining", Duration::from_secs(3)),
        "{}",
        d.logs()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        d.try_wait().is_none(),
        "still draining after the first signal"
    );
    let started = Instant::now();
    d.signal("INT");
    let exit = d
        .wait(Duration::from_secs(5))
        .expect("exits on the second signal");
    assert!(exit.success(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(d.logs().contains("Second stop signal"), "{}", d.logs());
}
