//! What each model does, seen from outside: `GET /metrics` read back with a Prometheus text
//! parser after a scripted mix of replies, `shimctl stats --json` agreeing with it, the table and
//! `--watch`, `x-request-id` on every reply, completion lines for every endpoint, and
//! `shimctl capture` (no secret in any file, bounded, refused when it must be); plus the
//! control protocol fixtures of `stats` and `capture`.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::mock_upstream::{DEFAULT_MODEL, chat_turn_events};
use common::{ChatTurn, Chunk, End, MockUpstream, Reply, Usage};
use deepinfra_shim::control::protocol::{Reply as CtlReply, RequestLine, StatsReport};
use serde_json::{Value, json};

const TOKEN: &str = "sk-metrics-test-SECRET-0123456789";
const M: &str = DEFAULT_MODEL;

fn body(model: &str, stream: bool, text: &str) -> String {
    json!({"model": model, "stream": stream, "store": false, "tools": [
        {"type":"function","name":"exec_command","description":"Run","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}},
        {"type":"custom","name":"apply_patch","description":"Patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}}
    ], "input": [
        {"type":"message","role":"user","content":[{"type":"input_text","text":text}]}
    ]})
    .to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Codex's thread and turn headers (docs/codex-wire-notes.md).
fn codex_headers(thread: &str, turn: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-client-request-id", thread.to_owned()),
        (
            "x-codex-turn-metadata",
            json!({"session_id": thread, "thread_id": thread, "turn_id": turn, "request_kind": "turn"})
                .to_string(),
        ),
    ]
}

async fn post(
    d: &Daemon,
    path: &str,
    body: String,
    headers: &[(&str, String)],
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}{path}", d.url()))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap()
}

async fn ask(d: &Daemon, stream: bool, headers: &[(&str, String)]) -> (u16, String) {
    let r = post(d, "/v1/responses", body(M, stream, "hi"), headers).await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

fn shimctl(d: &Daemon, args: &[&str]) -> Output {
    shimctl_at(d.control_socket().unwrap(), d.dir(), args)
}

fn shimctl_at(socket: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", home)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn metrics_text(d: &Daemon) -> String {
    let r = client()
        .get(format!("{}/metrics", d.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().await.unwrap()
}

async fn scrape(d: &Daemon) -> prometheus_parse::Scrape {
    let body = metrics_text(d).await;
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample `name` whose labels include every pair of `want`.
fn value(s: &prometheus_parse::Scrape, name: &str, want: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = s
        .samples
        .iter()
        .filter(|x| x.metric == name && want.iter().all(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match &x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            other => panic!("{name} is a {other:?}"),
        })
        .collect();
    assert!(found.len() <= 1, "{name} {want:?}: {found:?}");
    found.first().copied().unwrap_or(0.0)
}

/// The observation count of histogram `name` for the labels `want`.
fn histogram_count(s: &prometheus_parse::Scrape, name: &str, want: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && want.iter().all(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match &x.value {
            prometheus_parse::Value::Histogram(b) => b
                .iter()
                .find(|c| c.less_than == f64::INFINITY)
                .map_or(0.0, |c| c.count),
            other => panic!("{name} is a {other:?}"),
        })
        .sum()
}

/// Waits until the daemon counted `n` finished /v1/responses requests (the count moves after
/// the reply's last byte).
async fn wait_counted(d: &Daemon, n: f64) -> prometheus_parse::Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(d).await;
        let total: f64 = ["completed", "incomplete", "failed", "cancelled"]
            .iter()
            .map(|o| {
                value(
                    &s,
                    "deepinfra_shim_requests_total",
                    &[("endpoint", "responses"), ("outcome", o)],
                )
            })
            .sum();
        if total >= n || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A DeepInfra-style stream whose tokens come over time: the first after 30 ms, then one every
/// 10 ms, with usage on the finish chunk.
fn paced_reply() -> Reply {
    let turn = ChatTurn::new()
        .text("one two three four five six seven eight nine ten")
        .usage(Some(Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
            cached_tokens: 40,
        }));
    let events = chat_turn_events(&turn, M, "chatcmpl-paced");
    let chunks = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let gap = if i == 0 { 30 } else { 10 };
            Chunk::after(Duration::from_millis(gap), format!("data: {e}\n\n"))
        })
        .collect();
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks,
        end: End::Finish,
    }
}

fn one_chunk_then_stall() -> Reply {
    let first = json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":M,
        "choices":[{"index":0,"delta":{"role":"assistant","content":"Working"},"finish_reason":null}]});
    Reply::sse_then_stall([first.to_string()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_stats_count_a_scripted_mix_of_replies() {
    let mock = MockUpstream::start().await;
    let d = Daemon::builder().upstream(mock.url()).token(TOKEN).start();
    let thread = "019a0000-thread-A";

    // 1. Completed, paced (first token, output rate).
    mock.push(paced_reply());
    let (s, b) = ask(&d, true, &codex_headers(thread, "turn-0")).await;
    assert!(s == 200 && b.contains("response.completed"), "{b}");
    // 2. Completed, not streamed.
    mock.push(Reply::text("whole"));
    let (s, b) = ask(&d, false, &[]).await;
    assert!(s == 200 && b.contains(r#""status":"completed""#), "{b}");
    // 3. Incomplete: cut by the output limit.
    mock.push(ChatTurn::new().text("cut").finish_reason("length"));
    let (_, b) = ask(&d, true, &[]).await;
    assert!(b.contains("response.incomplete"), "{b}");
    // 4. A 429, and 5. Codex resending the same turn: a retry.
    mock.push(Reply::error_fixture("E11-429-model_busy"));
    let (s, _) = ask(&d, true, &codex_headers(thread, "turn-1")).await;
    assert_eq!(s, 429);
    mock.push(Reply::text("after the retry"));
    let (s, _) = ask(&d, true, &codex_headers(thread, "turn-1")).await;
    assert_eq!(s, 200);
    // 6. A 500: answered in the stream as response.failed.
    mock.push(Reply::error_fixture("E11-500-internal"));
    let (s, b) = ask(&d, true, &codex_headers(thread, "turn-2")).await;
    assert!(s == 200 && b.contains("response.failed"), "{b}");
    // 7. The client goes away mid-stream.
    mock.push(one_chunk_then_stall());
    let mut r = post(&d, "/v1/responses", body(M, true, "hi"), &[]).await;
    let mut seen = String::new();
    while !seen.contains("output_text.delta") {
        let chunk = r.chunk().await.unwrap().expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(r);
    // 8. A call cut by max_tokens (arguments not JSON): incomplete, one malformed call.
    mock.push(Reply::fixture("E13"));
    let (_, b) = ask(&d, true, &[]).await;
    assert!(b.contains("response.incomplete"), "{b}");
    // 9. A call printed as text; a new turn of the thread, not a retry of the failed one.
    mock.push(Reply::fixture("E9"));
    let (_, b) = ask(&d, true, &codex_headers(thread, "turn-3")).await;
    assert!(b.contains("response.completed"), "{b}");
    // The passthrough endpoints and an unknown path.
    mock.push(Reply::text("relayed"));
    let chat = json!({"model": M, "messages": [{"role":"user","content":"hi"}]}).to_string();
    assert_eq!(
        post(&d, "/v1/chat/completions", chat, &[]).await.status(),
        200
    );
    let models = client()
        .get(format!("{}/v1/models", d.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    let nope = client()
        .get(format!("{}/v1/nope", d.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(nope.status(), 404);

    let s = wait_counted(&d, 9.0).await;
    let resp = [
        ("endpoint", "responses"),
        ("model", M),
        ("upstream", "default"),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut l = resp.to_vec();
        l.push(extra);
        l
    };
    let requests = |o| value(&s, "deepinfra_shim_requests_total", &with(("outcome", o)));
    assert_eq!(requests("completed"), 4.0);
    assert_eq!(requests("incomplete"), 2.0);
    assert_eq!(requests("failed"), 2.0);
    assert_eq!(requests("cancelled"), 1.0);
    let errors = |c| {
        value(
            &s,
            "deepinfra_shim_request_errors_total",
            &with(("code", c)),
        )
    };
    assert_eq!(errors("rate_limit_exceeded"), 1.0);
    assert_eq!(errors("server_error"), 1.0);
    assert_eq!(value(&s, "deepinfra_shim_codex_retries_total", &resp), 1.0);
    let tools = |r| value(&s, "deepinfra_shim_tool_calls_total", &with(("result", r)));
    assert_eq!(tools("malformed"), 1.0);
    assert_eq!(tools("leaked"), 1.0);
    assert_eq!(tools("ok"), 0.0);
    let tokens = |k| value(&s, "deepinfra_shim_tokens_total", &with(("kind", k)));
    // Usage of 1 (100/20, 40 cached), 2, 3 and 5 (12/3 each) and 8 (E13: 900/64).
    assert_eq!(tokens("input"), 1036.0);
    assert_eq!(tokens("cached"), 40.0);
    assert_eq!(tokens("output"), 93.0);
    assert_eq!(
        histogram_count(&s, "deepinfra_shim_request_duration_seconds", &resp),
        9.0
    );
    assert_eq!(
        histogram_count(&s, "deepinfra_shim_time_to_first_byte_seconds", &resp),
        9.0,
        "every request the upstream answered"
    );
    assert_eq!(
        histogram_count(&s, "deepinfra_shim_time_to_first_token_seconds", &resp),
        6.0,
        "the streams that produced a token"
    );
    assert!(histogram_count(&s, "deepinfra_shim_output_tokens_per_second", &resp) >= 1.0);
    let chat_row = [
        ("endpoint", "chat_completions"),
        ("model", M),
        ("outcome", "completed"),
    ];
    assert_eq!(value(&s, "deepinfra_shim_requests_total", &chat_row), 1.0);
    let models_row = [("endpoint", "models"), ("outcome", "completed")];
    assert_eq!(value(&s, "deepinfra_shim_requests_total", &models_row), 1.0);
    let other = [("endpoint", "other"), ("code", "not_found")];
    assert_eq!(
        value(&s, "deepinfra_shim_request_errors_total", &other),
        1.0
    );
    assert_eq!(value(&s, "deepinfra_shim_build_info", &[]), 1.0);

    // What a scraper reads, for a person reading the test's output.
    let exposition = metrics_text(&d).await;
    for l in exposition
        .lines()
        .filter(|l| l.contains(r#"endpoint="responses""#))
        .take(12)
    {
        eprintln!("{l}");
    }

    // `shimctl stats --json` says the same (and prices the mock's list).
    let o = shimctl(&d, &["stats", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r: StatsReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.window_s, 900);
    let row = r
        .rows
        .iter()
        .find(|x| x.endpoint == "responses" && x.model == M)
        .unwrap();
    assert_eq!(
        (
            row.requests,
            row.completed,
            row.incomplete,
            row.failed,
            row.cancelled
        ),
        (9, 4, 2, 2, 1)
    );
    assert_eq!(row.codex_retries, 1);
    assert_eq!(row.errors.get("rate_limit_exceeded"), Some(&1));
    assert_eq!(row.errors.get("server_error"), Some(&1));
    assert_eq!(
        (row.tokens.input, row.tokens.cached, row.tokens.output),
        (1036, 40, 93)
    );
    assert_eq!(
        (
            row.tool_calls.calls,
            row.tool_calls.malformed,
            row.tool_calls.leaked
        ),
        (1, 1, 1)
    );
    assert_eq!(row.ttft_ms.samples, 6);
    assert!(row.ttft_ms.p50.is_some() && row.ttft_ms.p90 >= row.ttft_ms.p50);
    // The mock lists $0.1 in / $0.2 out per 1M tokens (no cache price: cached at the input price).
    let want = (1036.0 * 0.1 + 93.0 * 0.2) / 1e6;
    let cost = row.estimated_cost_usd.expect("priced from the model list");
    assert!((cost - want).abs() < 1e-12, "{cost} vs {want}");
    assert_eq!(r.total.requests, 12, "every endpoint in the total");
    assert!(
        mock.requests()
            .iter()
            .any(|q| q.method == "GET" && q.path.ends_with("/models?filter=with_meta")),
        "prices come from the model list"
    );

    // The table, as a person reads it.
    let o = shimctl(&d, &["stats"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    eprintln!("{table}");
    let line = table.lines().find(|l| l.starts_with(M)).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cols[..7],
        [M, "default", "9", "4", "2", "2", "1"],
        "{table}"
    );
    assert!(
        table.contains("errors: rate_limit_exceeded 1, server_error 1"),
        "{table}"
    );
    assert!(table.contains("Codex retried 1 request"), "{table}");

    // Completion lines for every endpoint, with the upstream model, timings and tokens.
    let logs = d.logs();
    let finished: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("Stream finished") || l.contains("Request finished"))
        .collect();
    assert!(
        finished.iter().any(|l| l.contains("Stream finished")
            && l.contains("input_tokens=100")
            && l.contains("cached_tokens=40")
            && l.contains("output_tokens=20")
            && l.contains("ttft_ms=")
            && l.contains(&format!("upstream_model={M}"))),
        "{logs}"
    );
    // The JSON reply, the chat passthrough and the model list.
    let answered: Vec<&&str> = finished
        .iter()
        .filter(|l| l.contains("Request finished") && l.contains("status=200"))
        .collect();
    assert_eq!(answered.len(), 3, "{logs}");
    for needle in [
        "upstream=default",
        "outcome=completed",
        "ttfb_ms=",
        "duration_ms=",
    ] {
        assert!(
            answered.iter().all(|l| l.contains(needle)),
            "{needle}: {logs}"
        );
    }
    assert!(
        answered
            .iter()
            .filter(|l| l.contains(&format!("upstream_model={M}")))
            .count()
            == 2,
        "{logs}"
    );
    for needle in [
        "Request finished status=429 outcome=failed code=rate_limit_exceeded",
        "Request finished endpoint=other status=404 outcome=failed code=not_found",
        "Stream failed status=200 outcome=failed code=server_error",
        "Client disconnected; upstream request cancelled status=200 outcome=cancelled",
    ] {
        assert!(logs.contains(needle), "{needle}: {logs}");
    }
    assert!(logs.contains("codex_retry=true"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_carries_a_request_id_and_echoes_the_clients() {
    let mock = MockUpstream::start().await;
    mock.set_handler(|_| Reply::text("ok"));
    let d = Daemon::builder().upstream(mock.url()).token(TOKEN).start();
    let c = client();
    let url = |p: &str| format!("{}{p}", d.url());
    let chat = json!({"model": M, "messages": [{"role":"user","content":"hi"}]}).to_string();
    let requests = vec![
        (
            "stream",
            c.post(url("/v1/responses"))
                .header("content-type", "application/json")
                .body(body(M, true, "x")),
        ),
        (
            "json",
            c.post(url("/v1/responses"))
                .header("content-type", "application/json")
                .body(body(M, false, "x")),
        ),
        (
            "bad json",
            c.post(url("/v1/responses"))
                .header("content-type", "application/json")
                .body("{"),
        ),
        (
            "chat",
            c.post(url("/v1/chat/completions"))
                .header("content-type", "application/json")
                .body(chat),
        ),
        ("models", c.get(url("/v1/models"))),
        ("health", c.get(url("/health"))),
        ("metrics", c.get(url("/metrics"))),
        ("404", c.get(url("/v1/nope"))),
        ("405", c.delete(url("/metrics"))),
    ];
    let mut ours = Vec::new();
    for (what, req) in requests {
        let r = req.try_clone().unwrap().send().await.unwrap();
        let id = r
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let id = id.unwrap_or_else(|| panic!("{what}: no x-request-id"));
        assert!(id.starts_with("req_"), "{what}: {id}");
        ours.push(id);
        let r = req
            .header("x-request-id", format!("client-{what}").replace(' ', "-"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["x-request-id"],
            format!("client-{what}").replace(' ', "-").as_str(),
            "{what}: the client's id echoed"
        );
    }
    ours.sort();
    ours.dedup();
    assert_eq!(ours.len(), 9, "a fresh id per request");
    // An id we cannot echo safely is replaced by ours.
    for bad in ["has space", &"x".repeat(200)] {
        let r = c
            .get(url("/health"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .starts_with("req_")
        );
    }
    // The log's id is the same one.
    assert!(
        d.wait_for_log("id=client-json", Duration::from_secs(5)),
        "{}",
        d.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_wants_a_client_key_when_keys_are_set() {
    let mock = MockUpstream::start().await;
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .env("SHIM_CLIENT_KEYS", "key-one-0123456789")
        .config_yaml("listen:\n  client_keys_env: SHIM_CLIENT_KEYS\n")
        .start();
    let get = |key: Option<&str>| {
        let mut r = client().get(format!("{}/metrics", d.url()));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    let r = get(None).await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    let r = get(Some("key-one-0123456789")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("# TYPE deepinfra_shim_requests_total counter")
    );
    let r = client()
        .post(format!("{}/metrics", d.url()))
        .bearer_auth("key-one-0123456789")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

/// Every file under `dir`, with its content.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p, bytes));
        }
    }
    out
}

fn request_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    v.sort();
    v
}

async fn wait_dirs(dir: &Path, n: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dirs = request_dirs(dir);
        if dirs.len() >= n || Instant::now() > deadline {
            return dirs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_records_both_ways_without_a_secret_and_stops_at_its_bounds() {
    use std::os::unix::fs::PermissionsExt;
    let mock = MockUpstream::start().await;
    let extra = "hdr-value-SECRET-abcdef0123";
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .config_yaml(format!("upstream:\n  headers:\n    X-Extra: {extra}\n"))
        .start();
    let root = tempfile::tempdir().unwrap();
    let cap = root.path().join("capture");

    let o = shimctl(
        &d,
        &[
            "capture",
            cap.to_str().unwrap(),
            "--for",
            "2m",
            "--max",
            "3",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("Capturing the next 3 requests"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::metadata(&cap).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Only one capture at a time.
    let o = shimctl(
        &d,
        &["capture", root.path().join("other").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("already running"), "{}", text(&o));

    // The token in every field: the request, its headers, the upstream's reply, an error.
    let leak = format!("my key is {TOKEN} and {extra}");
    let headers = vec![
        ("authorization", format!("Bearer {TOKEN}")),
        ("x-debug", TOKEN.to_owned()),
    ];
    mock.push(Reply::text(format!("the model repeats {TOKEN}")));
    let r = post(&d, "/v1/responses", body(M, true, &leak), &headers).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    mock.push(Reply::json(
        401,
        format!(r#"{{"error":{{"message":"Incorrect API key provided: {TOKEN}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#),
    ));
    let r = post(&d, "/v1/responses", body(M, true, &leak), &headers).await;
    assert_eq!(r.status(), 401);
    r.text().await.unwrap();
    mock.push(Reply::text(format!("json says {TOKEN}")));
    let r = post(&d, "/v1/responses", body(M, false, &leak), &headers).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    // Past --max: not recorded.
    mock.push(Reply::text("fourth"));
    let r = post(&d, "/v1/responses", body(M, true, "fourth"), &[]).await;
    r.text().await.unwrap();

    let dirs = wait_dirs(&cap, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(request_dirs(&cap).len(), 3, "the count bound: {dirs:?}");
    let names: Vec<String> = files_under(&dirs[0])
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "1-codex-request.json",
        "2-upstream-request.json",
        "3-upstream-reply.sse",
        "4-codex-reply.sse",
        "meta.json",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    for (path, bytes) in files_under(&cap) {
        let t = String::from_utf8_lossy(&bytes);
        for secret in [TOKEN, extra, &b64[..20]] {
            assert!(
                !t.contains(secret),
                "{} holds a secret:\n{t}",
                path.display()
            );
        }
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
    }
    for dir in &dirs {
        assert_eq!(
            std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    // What was captured is what passed: the model's text (redacted), the refusal, the JSON.
    let all: String = files_under(&cap)
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(all.contains("the model repeats ***"), "{all}");
    assert!(all.contains("Incorrect API key provided: ***"), "{all}");
    assert!(all.contains("json says ***"), "{all}");
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dirs[1].join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["status"], 401);
    assert_eq!(meta["request_headers"]["authorization"], "Bearer ***");
    assert_eq!(meta["request_headers"]["x-debug"], "***");

    // A directory with files in it is refused; so is one of another kind.
    let o = shimctl(&d, &["capture", cap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not empty"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_file_stops_at_its_size_bound() {
    let mock = MockUpstream::start().await;
    mock.set_handler(|_| Reply::text("ok"));
    let d = Daemon::builder().upstream(mock.url()).token(TOKEN).start();
    let root = tempfile::tempdir().unwrap();
    let cap = root.path().join("big");
    let o = shimctl(&d, &["capture", cap.to_str().unwrap(), "--max", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A 9 MiB request (under the 10 MiB body limit), past the 8 MiB file bound.
    let r = post(
        &d,
        "/v1/responses",
        body(M, true, &"x".repeat(9 << 20)),
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    let dirs = wait_dirs(&cap, 1).await;
    assert_eq!(dirs.len(), 1);
    let file = std::fs::read(dirs[0].join("1-codex-request.json")).unwrap();
    assert!(file.len() <= 8 << 20, "{}", file.len());
    assert!(
        String::from_utf8_lossy(&file[file.len() - 200..]).contains("more bytes not kept"),
        "the cut is marked"
    );
}

#[test]
fn stats_and_capture_say_when_no_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let o = shimctl_at(&sock, dir.path(), &["stats"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("not running"), "{}", text(&o));
    let o = shimctl_at(
        &sock,
        dir.path(),
        &["capture", dir.path().join("c").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = shimctl_at(&sock, dir.path(), &["stats", "--window", "fortnight"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("like 90s, 15m or 1h"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_refuses_a_window_it_does_not_keep() {
    let mock = MockUpstream::start().await;
    let d = Daemon::builder().upstream(mock.url()).token(TOKEN).start();
    let o = shimctl(&d, &["stats", "--window", "2h"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("between 1m and 60m"), "{}", text(&o));
    let o = shimctl(&d, &["stats", "--window", "1h"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("No requests in this window."),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_watch_redraws_until_ctrl_c() {
    use std::io::Read as _;
    use std::sync::{Arc, Mutex};
    const CLEAR: &str = "\x1b[H\x1b[2J";
    let mock = MockUpstream::start().await;
    let d = Daemon::builder().upstream(mock.url()).token(TOKEN).start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", d.dir())
        .arg("--socket")
        .arg(d.control_socket().unwrap())
        .args(["stats", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let shown = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let reader = {
        let shown = Arc::clone(&shown);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // Two frames, 2 s apart, then Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(20);
    while shown.lock().unwrap().matches(CLEAR).count() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let Some(status) = common::daemon::wait_with_deadline(&mut child, Duration::from_secs(5))
    else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("shimctl stats --watch did not stop on Ctrl-C");
    };
    reader.join().unwrap();
    let shown = shown.lock().unwrap().clone();
    assert!(
        shown.matches(CLEAR).count() >= 2,
        "redrawn in place at least twice: {shown:?}"
    );
    assert!(shown.contains("No requests in this window."), "{shown:?}");
    assert_eq!(status.code(), Some(0), "a clean exit on Ctrl-C");
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
fn stats_and_capture_fixtures_still_parse() {
    let names: Vec<String> = fixture("v1-requests-metrics.jsonl")
        .lines()
        .map(|l| {
            let r = RequestLine::parse(l.as_bytes()).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(
                RequestLine::parse(r.to_line().trim_end().as_bytes()).unwrap(),
                r
            );
            r.request.name().to_owned()
        })
        .collect();
    assert_eq!(names, ["stats", "stats", "capture", "capture"]);

    let reply = CtlReply::parse(fixture("v1-reply-stats.json").trim_end().as_bytes()).unwrap();
    assert!(reply.ok);
    let s = reply.stats.as_ref().unwrap();
    assert_eq!((s.window_s, s.rows.len()), (900, 2));
    let row = &s.rows[0];
    assert_eq!(row.model, "deepseek-ai/DeepSeek-V4-Flash");
    assert_eq!((row.requests, row.failed, row.codex_retries), (12, 2, 1));
    assert_eq!(row.errors.get("rate_limit_exceeded"), Some(&1));
    assert_eq!(row.ttft_ms.p90, Some(1180.0));
    assert_eq!(row.tool_calls.malformed, 1);
    assert_eq!(row.estimated_cost_usd, Some(0.000131));
    assert_eq!(s.rows[1].estimated_cost_usd, None);
    assert_eq!(s.total.requests, 14);
    assert_eq!(CtlReply::parse(reply.to_line().as_bytes()).unwrap(), reply);

    let cap = CtlReply::parse(fixture("v1-reply-capture.json").trim_end().as_bytes()).unwrap();
    let c = cap.capture.unwrap();
    assert_eq!((c.for_s, c.max), (60, 10));
    assert_eq!(c.dir, "/home/user/shim-capture");
    let refused = CtlReply::parse(
        fixture("v1-reply-capture-refused.json")
            .trim_end()
            .as_bytes(),
    )
    .unwrap();
    assert!(!refused.ok && refused.capture.is_none());
    assert!(refused.error.unwrap().contains("is not empty"));
}
