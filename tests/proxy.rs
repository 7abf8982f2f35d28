//! The translating proxy, end to end over HTTP: the real daemon binary between a client and
//! the scripted mock upstream. Covers translation both ways, the shim's own refusals, the
//! mapping of provider errors, timeouts and heartbeats, cancellation, passthrough routes and
//! redaction of secrets.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::{Chunk, End, MockUpstream, Reply};
use serde_json::{Value, json};

const TOKEN: &str = "sk-test-SECRET-0123456789";

/// A request shaped like Codex 0.169's first request (docs/protocol.md#request).
fn codex_body(stream: bool) -> Value {
    json!({
        "model": "deepseek-ai/DeepSeek-V4-Flash",
        "stream": stream,
        "input": [
            {"type":"message","id":"msg_1","role":"developer","content":[{"type":"input_text","text":"You are Codex."}]},
            {"type":"message","id":"msg_2","role":"developer","content":[{"type":"input_text","text":"<permissions>workspace-write</permissions>"}]},
            {"type":"message","id":"msg_3","role":"user","content":[{"type":"input_text","text":"<environment_context>cwd=/w</environment_context>"}]},
            {"type":"message","id":"msg_4","role":"user","content":[{"type":"input_text","text":"Say hello"}]}
        ],
        "tools": [{"type":"function","name":"exec_command","description":"Run a command","strict":false,
                   "parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}}],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"summary": "auto"},
        "store": false,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "thread-1",
        "client_metadata": {"session_id": "s"}
    })
}

/// The `data:` payloads of an SSE body, parsed as JSON.
fn sse_events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: "))
                .and_then(|d| serde_json::from_str(d).ok())
        })
        .collect()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(d: &Daemon, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    client()
        .post(format!("{}{}", d.url(), path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn get(d: &Daemon, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{}", d.url(), path))
        .send()
        .await
        .unwrap()
}

async fn post_responses(d: &Daemon, body: &Value) -> (u16, reqwest::header::HeaderMap, String) {
    let r = post(d, "/v1/responses", body.to_string()).await;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// Checks one of the shim's own refusals: `want_status`, and an OpenAI error envelope with a
/// message, a type and `want_code`.
async fn check_refusal(r: reqwest::Response, want_status: u16, want_code: &str) {
    let status = r.status().as_u16();
    // Replies the shim makes itself are marked, so they can be told from a provider's.
    let marked = r.headers().get("x-deepinfra-shim-error").is_some();
    let body = &r.text().await.unwrap();
    assert_eq!(status, want_status, "{body}");
    assert!(marked, "x-deepinfra-shim-error on a proxy-made {status}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(v["error"]["type"].is_string(), "{body}");
    assert_eq!(v["error"]["code"], want_code, "{body}");
}

/// 200 SSE with one text chunk (`content`), then silence with the connection open.
fn one_chunk_then_stall(content: &str) -> Reply {
    let first = json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{"role":"assistant","content":content},"finish_reason":null}]});
    Reply::sse_then_stall([first.to_string()])
}

fn start(mock: &MockUpstream) -> Daemon {
    Daemon::builder().upstream(mock.url()).token(TOKEN).start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_text_is_translated_both_ways() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::text_with_usage("Hello from the model.", 120, 7));
    let d = start(&mock);

    let (status, headers, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = sse_events(&body);
    let t = types(&events);
    assert_eq!(
        t.first().map(String::as_str),
        Some("response.created"),
        "{t:?}"
    );
    assert_eq!(
        t.last().map(String::as_str),
        Some("response.completed"),
        "{t:?}"
    );
    let added = t
        .iter()
        .position(|x| x == "response.output_item.added")
        .unwrap();
    let first_delta = t
        .iter()
        .position(|x| x == "response.output_text.delta")
        .unwrap();
    assert!(added < first_delta, "item added before its deltas: {t:?}");
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello from the model.");
    let done: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["item"]["type"], "message");
    assert_eq!(
        done[0]["item"]["content"][0]["text"],
        "Hello from the model."
    );
    let usage = &events.last().unwrap()["response"]["usage"];
    assert_eq!(usage["input_tokens"], 120);
    assert_eq!(usage["output_tokens"], 7);
    assert_eq!(usage["total_tokens"], 127);
    assert!(events.last().unwrap()["response"]["id"].is_string());

    // What reached the provider: a chat request, one leading system message, no developer role.
    let reqs = mock.chat_requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path_only(), "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let roles = r.roles();
    assert_eq!(roles, vec!["system", "user", "user"], "{roles:?}");
    let j = r.json();
    assert_eq!(j["model"], "deepseek-ai/DeepSeek-V4-Flash");
    assert_eq!(j["stream"], true);
    assert_eq!(j["stream_options"]["include_usage"], true);
    assert!(
        j["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("You are Codex.")
    );
    assert!(
        j["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("<permissions>")
    );
    assert_eq!(j["tools"][0]["function"]["name"], "exec_command");
    for key in ["store", "include", "client_metadata", "input", "developer"] {
        assert!(j.get(key).is_none(), "{key} must not be sent upstream");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_mode_returns_a_response_object() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::text("Plain JSON answer."));
    let d = start(&mock);
    let (status, headers, body) = post_responses(&d, &codex_body(false)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    let msg = v["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "message")
        .unwrap();
    assert_eq!(msg["content"][0]["text"], "Plain JSON answer.");
    assert_eq!(mock.chat_requests()[0].json()["stream"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_come_back_as_function_call_items() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::tool_call(
        "call_abc",
        "exec_command",
        r#"{"cmd":"ls -la"}"#,
    ));
    let d = start(&mock);
    let (_, _, body) = post_responses(&d, &codex_body(true)).await;
    let events = sse_events(&body);
    let call = events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| &e["item"])
        .find(|i| i["type"] == "function_call")
        .expect("a function_call item");
    assert_eq!(call["call_id"], "call_abc");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["arguments"], r#"{"cmd":"ls -la"}"#);
    assert_eq!(types(&events).last().unwrap(), "response.completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shims_own_refusals_use_the_openai_error_shape_and_the_daemon_keeps_serving() {
    let mock = MockUpstream::start().await;
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .arg("--max-body-bytes")
        .arg("4096")
        .start();
    check_refusal(
        post(&d, "/v1/responses", "{not json").await,
        400,
        "invalid_json",
    )
    .await;

    let big = json!({"model":"m","input":"x".repeat(10_000)}).to_string();
    check_refusal(
        post(&d, "/v1/responses", big).await,
        413,
        "request_too_large",
    )
    .await;

    check_refusal(get(&d, "/v2/nothing").await, 404, "not_found").await;

    check_refusal(get(&d, "/v1/responses").await, 405, "method_not_allowed").await;

    let r = client()
        .delete(format!("{}/health", d.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);

    let bad_item = json!({"model":"m","input":[{"type":"compaction_trigger"}]});
    let (status, _, body) = post_responses(&d, &bad_item).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("OpenAI"), "the message says why: {body}");

    // Nothing of the above reached the provider, and the daemon still serves.
    assert!(mock.chat_requests().is_empty());
    let h: Value = get(&d, "/health")
        .await
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(h["ok"], true);
    assert_eq!(h["upstream"], mock.url());
    assert!(h["version"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_is_a_401_naming_the_variable_and_the_client_header_is_used_otherwise() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::text("ok"));
    let d = Daemon::builder().upstream(mock.url()).start();
    let (status, _, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("DEEPINFRA_TOKEN"), "{body}");

    let r = client()
        .post(format!("{}/v1/responses", d.url()))
        .header("authorization", "Bearer client-token-xyz")
        .header("content-type", "application/json")
        .body(codex_body(true).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.text().await;
    let reqs = mock.chat_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer client-token-xyz")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_always_reaches_codex_with_retry_after() {
    let mock = MockUpstream::start().await;
    // DeepInfra's form without Retry-After: the shim derives one (Codex gives up at once without).
    mock.push(Reply::json(
        429,
        r#"{"error":{"message":"Model busy, retry later"}}"#,
    ));
    mock.push(
        Reply::json(
            429,
            r#"{"error":{"message":"Rate limited","type":"rate_limit_error"}}"#,
        )
        .with_header("retry-after", "7"),
    );
    let d = start(&mock);
    let (status, headers, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        headers.get("x-deepinfra-shim-error").is_none(),
        "a relayed provider error is not marked as the shim's own"
    );
    let ra: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&ra), "derived Retry-After {ra}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Model busy")
    );

    let (status, headers, _) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_map_to_what_codex_acts_on() {
    let mock = MockUpstream::start().await;
    let d = start(&mock);

    // Context overflow, in a provider's own words -> 400 context_length_exceeded.
    mock.push(Reply::json(
        400,
        r#"{"error":{"message":"This model's maximum context length is 163840 tokens. However, you requested 170000 tokens.","type":"invalid_request_error","param":null,"code":null}}"#,
    ));
    let (status, _, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "context_length_exceeded");

    // A 5xx before the stream -> HTTP 200 + response.failed(server_error): a few retries, not 30.
    mock.push(Reply::json(500, r#"{"error":{"message":"Internal server error","type":"server_error","param":null,"code":500}}"#));
    let (status, _, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 200, "{body}");
    let events = sse_events(&body);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed", "{body}");
    assert_eq!(last["response"]["error"]["code"], "server_error");
    assert!(
        !types(&events).contains(&"error".to_owned()),
        "never the `error` event"
    );

    // A 422 validation error -> 400 with the provider's message (fatal, shown to the user).
    let body422 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upstream/E11-422-developer_role.json"
    ))
    .unwrap();
    mock.push(Reply::json(422, body422));
    let (status, _, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Input should be"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_inside_the_stream_become_response_failed_without_half_made_items() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::fixture("E10"));
    mock.push(Reply::fixture("E10e"));
    let d = start(&mock);
    for _ in 0..2 {
        let (status, _, body) = post_responses(&d, &codex_body(true)).await;
        assert_eq!(status, 200);
        let events = sse_events(&body);
        let t = types(&events);
        assert_eq!(t.last().unwrap(), "response.failed", "{t:?}");
        assert!(
            !t.contains(&"response.output_item.done".to_owned()),
            "{t:?}"
        );
        assert!(!t.contains(&"response.completed".to_owned()), "{t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_fails_fast_and_clearly() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let d = Daemon::builder().upstream(&url).token(TOKEN).start();
    let (status, _, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 200);
    let last = sse_events(&body).pop().unwrap();
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["response"]["error"]["code"], "server_error");
    assert!(
        last["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach upstream")
    );

    let (status, _, body) = post_responses(&d, &codex_body(false)).await;
    assert_eq!(status, 502, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_gets_heartbeats_then_times_out() {
    let mock = MockUpstream::start().await;
    mock.push(one_chunk_then_stall("Thinking"));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .arg("--timeout-ms")
        .arg("2000")
        .config_yaml("upstream:\n  heartbeat_ms: 300\n")
        .start();
    let started = Instant::now();
    let (status, _, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 200);
    let t = types(&sse_events(&body));
    let beats = t.iter().filter(|x| *x == "response.in_progress").count();
    assert!(beats >= 3, "heartbeats while silent: {t:?}");
    assert_eq!(t.last().unwrap(), "response.failed", "{t:?}");
    assert!(body.contains("sent nothing for 2 s"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        mock.wait_cancelled(Duration::from_secs(5)).await,
        "upstream request closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_cancels_the_upstream_request_at_once() {
    let mock = MockUpstream::start().await;
    mock.push(one_chunk_then_stall("Working"));
    let d = start(&mock);
    let mut resp = post(&d, "/v1/responses", codex_body(true).to_string()).await;
    assert_eq!(resp.status().as_u16(), 200);
    // Read until the first text delta arrived, then hang up.
    let mut seen = String::new();
    while !seen.contains("output_text.delta") {
        let chunk = resp.chunk().await.unwrap().expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(resp);
    assert!(
        mock.wait_cancelled(Duration::from_secs(3)).await,
        "the daemon closed the upstream request when the client left"
    );
    assert!(d.wait_for_log("Client disconnected", Duration::from_secs(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_or_replies() {
    let mock = MockUpstream::start().await;
    // Some providers echo the key they were given in their error text.
    mock.push(Reply::json(
        401,
        format!(r#"{{"error":{{"message":"Incorrect API key provided: {TOKEN}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#),
    ));
    mock.push(Reply::text(format!("the model repeats {TOKEN}")));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .arg("--log-level")
        .arg("trace")
        .arg("--log-requests")
        .arg("--log-content")
        .start();
    let mut body = codex_body(true);
    body["input"][3]["content"][0]["text"] = json!(format!("my key is {TOKEN}"));
    let (status, headers, reply) = post_responses(&d, &body).await;
    assert_eq!(status, 401);
    assert!(!reply.contains(TOKEN), "{reply}");
    assert!(reply.contains("Incorrect API key provided"), "{reply}");
    for (_, v) in headers.iter() {
        assert!(!v.to_str().unwrap_or("").contains(TOKEN));
    }
    let (status, _, _) = post_responses(&d, &body).await;
    assert_eq!(status, 200);
    assert!(
        d.wait_for_log("Upstream request body", Duration::from_secs(3)),
        "content logging on"
    );
    let logs = d.logs();
    assert!(logs.contains("roles="), "request shape logged: {logs}");
    assert!(!logs.contains(TOKEN), "token leaked into logs:\n{logs}");
    assert!(
        !logs.contains("SECRET-0123"),
        "token fragment leaked into logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_completions_are_passed_through_as_they_come() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::fixture("E5"));
    let d = start(&mock);
    let req = json!({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]});
    let r = post(&d, "/v1/chat/completions", req.to_string()).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let got = r.bytes().await.unwrap();
    let want = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/upstream/E5.sse"
    ))
    .unwrap();
    assert_eq!(
        got.as_ref(),
        want.as_slice(),
        "streamed bytes relayed unchanged"
    );
    // The request body was forwarded byte for byte.
    assert_eq!(mock.chat_requests()[0].body_text(), req.to_string());

    mock.push(Reply::json(
        400,
        r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
    ));
    let r = post(&d, "/v1/chat/completions", req.to_string()).await;
    assert_eq!(r.status().as_u16(), 400, "upstream status relayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_the_upstream_models_plus_aliases() {
    let mock = MockUpstream::start().await;
    mock.set_models(json!({"object":"list","data":[{"id":"deepseek-ai/DeepSeek-V3.2","object":"model","created":0,"owned_by":"deepinfra"}]}));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .config_yaml("models:\n  fast: { model: Qwen/Qwen3-Coder-30B-A3B-Instruct }\n")
        .start();
    let v: Value = get(&d, "/v1/models")
        .await
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"deepseek-ai/DeepSeek-V3.2"), "{ids:?}");
    assert!(ids.contains(&"fast"), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_alias_is_sent_upstream_under_its_real_name() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::text("ok"));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .config_yaml("models:\n  fast: { model: Qwen/Qwen3-Coder-30B-A3B-Instruct, max_output_tokens: 4096 }\n")
        .start();
    let mut body = codex_body(true);
    body["model"] = json!("fast");
    let (status, _, sse) = post_responses(&d, &body).await;
    assert_eq!(status, 200);
    let j = mock.chat_requests()[0].json().clone();
    assert_eq!(j["model"], "Qwen/Qwen3-Coder-30B-A3B-Instruct");
    assert_eq!(j["max_tokens"], 4096);
    // Codex sees the name it asked for.
    let created = &sse_events(&sse)[0];
    assert_eq!(created["response"]["model"], "fast");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_does_not_make_the_daemon_buffer_the_whole_reply() {
    let mock = MockUpstream::start().await;
    // 32 MiB of text in 2048 events of 16 KiB: far more than the socket buffers of both hops.
    let piece = "x".repeat(16 * 1024);
    let mut chunks: Vec<Chunk> = (0..2048)
        .map(|_| {
            let ev = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
                "choices":[{"index":0,"delta":{"content":piece},"finish_reason":null}]});
            Chunk::event(ev.to_string())
        })
        .collect();
    chunks.push(Chunk::event(
        json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
               "choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})
        .to_string(),
    ));
    chunks.push(Chunk::event("[DONE]"));
    mock.push(Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks,
        end: End::Finish,
    });
    // Above the 32 MiB (limits.max_output_bytes would end the reply at 16 MiB).
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .config_yaml("limits:\n  max_output_bytes: 67108864\n")
        .start();
    let mut resp = post(&d, "/v1/responses", codex_body(true).to_string()).await;
    assert_eq!(resp.status().as_u16(), 200);
    // The client stops reading: the daemon must stop reading from the upstream too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mock.completed_count(),
        0,
        "upstream body still held back by backpressure"
    );
    // Then it reads everything, and the reply is whole.
    let mut total = 0usize;
    let mut window = Vec::new();
    let mut completed = false;
    while let Some(c) = resp.chunk().await.unwrap() {
        total += c.len();
        // Keep a small overlap so a marker split across two reads is still found.
        window.extend_from_slice(&c);
        completed |= String::from_utf8_lossy(&window).contains("\"type\":\"response.completed\"");
        let keep = window.len().min(64);
        window.drain(..window.len() - keep);
    }
    assert!(total > 32 * 1024 * 1024, "{total}");
    assert!(completed, "the stream ended with response.completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_never_answers_times_out_waiting_for_headers() {
    let mock = MockUpstream::start().await;
    mock.push(Reply::delay(
        Duration::from_secs(10),
        Reply::text("too late"),
    ));
    mock.push(Reply::delay(
        Duration::from_secs(10),
        Reply::text("too late"),
    ));
    let d = Daemon::builder()
        .upstream(mock.url())
        .token(TOKEN)
        .arg("--timeout-ms")
        .arg("800")
        .start();
    let started = Instant::now();
    let (status, _, body) = post_responses(&d, &codex_body(true)).await;
    assert_eq!(status, 200);
    let last = sse_events(&body).pop().unwrap();
    assert_eq!(last["type"], "response.failed");
    assert!(
        last["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not send response headers"),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let (status, _, body) = post_responses(&d, &codex_body(false)).await;
    assert_eq!(status, 504, "{body}");
}
