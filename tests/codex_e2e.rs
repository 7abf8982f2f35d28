//! End-to-end tests with the real Codex CLI 0.169.0 talking to the real daemon, which talks to
//! the in-process mock upstream:
//!
//! ```text
//! codex exec ──/v1/responses──▶ deepinfra-shim ──/v1/chat/completions──▶ MockUpstream
//! ```
//!
//! The Codex binary comes from `CODEX_BIN`; without it these tests print `SKIPPED: …` and pass,
//! except under `CI=true`, where they fail. The `harness` module at the end tests the helpers
//! themselves (mock upstream, log parsing, config generation) and needs neither Codex nor a
//! working daemon.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use common::chat::{assistant_with_first_call, one_tool_round, text_of};
use common::codex::{Codex, TEST_TOKEN, codex_bin_or_skip, read_work_file};
use common::daemon::stack;
use common::{Recorded, Reply, ToolCall};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

/// Checks the shape every chat request from a Codex turn must have.
fn assert_chat_request_shape(req: &Recorded) {
    let body = req.json();
    assert_eq!(
        body["stream"],
        Value::Bool(true),
        "stream must be true: {body}"
    );
    let roles = req.roles();
    assert!(!roles.is_empty(), "no messages: {body}");
    assert_eq!(
        roles[0], "system",
        "first message must be system, roles: {roles:?}"
    );
    assert!(
        !roles.iter().any(|r| r == "developer"),
        "developer role must never reach the upstream, roles: {roles:?}"
    );
    assert!(
        req.header("authorization")
            .is_some_and(|v| v == format!("Bearer {TEST_TOKEN}")),
        "upstream must get the token as a bearer credential"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_plain_answer() {
    let Some(bin) = codex_bin_or_skip("codex_plain_answer") else {
        return;
    };
    let (mock, daemon) = stack(None).await;
    mock.set_handler(|_| Reply::text("The answer is 42."));
    let codex = Codex::new(bin, daemon.base_url());

    let run = codex.run("What is the answer?").await;
    run.assert_success();
    assert!(
        run.last_message.contains("The answer is 42."),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("The answer is 42."),
        "{}",
        run.describe()
    );

    let reqs = mock.chat_requests();
    assert_eq!(reqs.len(), 1, "one sampling step, one upstream request");
    let req = &reqs[0];
    assert_eq!(req.path_only(), "/v1/chat/completions");
    assert_chat_request_shape(req);
    let messages = req.messages();
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "user");
    assert!(
        text_of(last).contains("What is the answer?"),
        "last message: {last}"
    );
    assert!(
        req.tool_names().iter().any(|n| n == "exec_command"),
        "Codex's shell tool must be offered: {:?}",
        req.tool_names()
    );
    assert!(
        !daemon.logs().contains(TEST_TOKEN),
        "the token leaked into the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_shell_tool_loop() {
    let Some(bin) = codex_bin_or_skip("codex_shell_tool_loop") else {
        return;
    };
    let (mock, daemon) = stack(None).await;
    mock.set_handler(one_tool_round(
        Reply::tool_call(
            "call_e2e_1",
            "exec_command",
            r#"{"cmd":"echo done > out.txt && echo wrote-it"}"#,
        ),
        "Wrote the file.",
    ));
    let codex = Codex::new(bin, daemon.base_url());

    let run = codex.run("Create out.txt containing done.").await;
    run.assert_success();
    assert_eq!(
        read_work_file(&codex, "out.txt").as_deref(),
        Some("done\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.last_message.contains("Wrote the file."),
        "{}",
        run.describe()
    );

    let reqs = mock.wait_chat_requests(2, WAIT).await;
    assert_eq!(reqs.len(), 2, "tool round + final answer");
    // The shell tool as Codex 0.169.0 declares it.
    let first = &reqs[0];
    let exec = first
        .tools()
        .into_iter()
        .find(|t| t["function"]["name"] == "exec_command")
        .expect("exec_command tool");
    assert_eq!(exec["type"], "function");
    assert!(
        exec["function"]["parameters"]["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|v| v == "cmd")),
        "exec_command requires cmd: {exec}"
    );

    let second = &reqs[1];
    assert_chat_request_shape(second);
    let messages = second.messages();
    let at = assistant_with_first_call(&messages, "call_e2e_1");
    let call = &messages[at]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "exec_command");
    let args: Value = serde_json::from_str(
        call["function"]["arguments"]
            .as_str()
            .expect("arguments string"),
    )
    .expect("arguments are JSON");
    assert_eq!(args["cmd"], "echo done > out.txt && echo wrote-it");
    let tool = &messages[at + 1];
    assert_eq!(
        tool["role"], "tool",
        "tool result right after the call: {messages:#?}"
    );
    assert_eq!(tool["tool_call_id"], "call_e2e_1");
    let output = tool["content"].as_str().expect("tool content is a string");
    assert!(output.contains("wrote-it"), "tool output: {output}");
    assert!(
        output.contains("exited with code 0"),
        "tool output: {output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_parallel_tool_calls() {
    let Some(bin) = codex_bin_or_skip("codex_parallel_tool_calls") else {
        return;
    };
    let (mock, daemon) = stack(None).await;
    mock.set_handler(one_tool_round(
        Reply::tool_calls(vec![
            ToolCall::new(
                "call_A",
                "exec_command",
                r#"{"cmd":"echo one > a.txt && echo A-done"}"#,
            ),
            ToolCall::new(
                "call_B",
                "exec_command",
                r#"{"cmd":"echo two > b.txt && echo B-done"}"#,
            ),
        ]),
        "Both files written.",
    ));
    let codex = Codex::new(bin, daemon.base_url());

    let run = codex.run("Write a.txt and b.txt.").await;
    run.assert_success();
    assert_eq!(
        read_work_file(&codex, "a.txt").as_deref(),
        Some("one\n"),
        "{}",
        run.describe()
    );
    assert_eq!(
        read_work_file(&codex, "b.txt").as_deref(),
        Some("two\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.last_message.contains("Both files written."),
        "{}",
        run.describe()
    );

    let reqs = mock.wait_chat_requests(2, WAIT).await;
    assert_eq!(reqs.len(), 2);
    let second = &reqs[1];
    assert_chat_request_shape(second);
    let messages = second.messages();
    let at = assistant_with_first_call(&messages, "call_A");
    let ids: Vec<&str> = messages[at]["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        ids,
        ["call_A", "call_B"],
        "both calls in one assistant message, in order"
    );
    for (offset, (id, marker)) in [("call_A", "A-done"), ("call_B", "B-done")]
        .iter()
        .enumerate()
    {
        let tool = &messages[at + 1 + offset];
        assert_eq!(
            tool["role"], "tool",
            "tool results right after the calls: {messages:#?}"
        );
        assert_eq!(tool["tool_call_id"], *id);
        assert!(
            text_of(tool).contains(marker),
            "tool output for {id}: {tool}"
        );
    }
}

/// Killing Codex mid-stream must make the daemon drop its upstream request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_disconnect_cancels_the_upstream_request() {
    let Some(bin) = codex_bin_or_skip("codex_disconnect_cancels_the_upstream_request") else {
        return;
    };
    let (mock, daemon) = stack(None).await;
    // One role/content chunk, then silence with the connection open.
    mock.set_handler(|req| {
        let first = common::mock_upstream::chat_turn_events(
            &common::ChatTurn::new().text("partial"),
            req.model().unwrap_or("m"),
            "chatcmpl-stall",
        );
        Reply::sse_then_stall(first.into_iter().take(2))
    });
    let codex = Codex::new(bin, daemon.base_url());

    let mut running = codex.spawn("Say something long.");
    mock.wait_chat_requests(1, WAIT).await;
    assert!(
        !mock.wait_cancelled(Duration::from_millis(300)).await,
        "the upstream stream must stay open while Codex is connected"
    );
    running.kill();
    let run = running.wait(WAIT).await;
    assert!(!run.success());
    assert!(
        mock.wait_cancelled(WAIT).await,
        "the daemon must drop the upstream request once Codex is gone; daemon logs:\n{}",
        daemon.logs()
    );
}

/// Reasoning streamed by the upstream comes back as `reasoning_content` on the assistant
/// tool-call message, so a strict DeepSeek-style upstream accepts the follow-up request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_reasoning_is_replayed_to_a_strict_upstream() {
    let Some(bin) = codex_bin_or_skip("codex_reasoning_is_replayed_to_a_strict_upstream") else {
        return;
    };
    let (mock, daemon) = stack(None).await;
    mock.set_strict_reasoning(true);
    mock.set_handler(one_tool_round(
        Reply::reasoning_then_tool_call(
            "I should list the directory first. Use shell.",
            "functions.exec_command:0",
            "exec_command",
            r#"{"cmd":"echo reasoned"}"#,
        ),
        "Reasoned and ran.",
    ));
    let codex = Codex::new(bin, daemon.base_url());

    let run = codex.run("List the directory.").await;
    run.assert_success();
    assert!(
        run.last_message.contains("Reasoned and ran."),
        "{}",
        run.describe()
    );

    let reqs = mock.wait_chat_requests(2, WAIT).await;
    let messages = reqs[1].messages();
    let at = assistant_with_first_call(&messages, "functions.exec_command:0");
    assert_eq!(
        messages[at]["reasoning_content"], "I should list the directory first. Use shell.",
        "reasoning must ride on the assistant tool-call message: {:#}",
        messages[at]
    );
    assert_eq!(messages[at + 1]["tool_call_id"], "functions.exec_command:0");
}

/// Tests of the harness itself; no daemon needed.
mod harness {
    use std::time::Duration;

    use super::common::codex::{Codex, codex_bin_or_skip};
    use super::common::daemon::{parse_listening, strip_ansi};
    use super::common::mock_upstream::{DEEPSEEK_REASONING_MISSING_BODY, chat_turn_events};
    use super::common::{ChatTurn, Chunk, End, MockUpstream, Reply};
    use serde_json::{Value, json};

    const WAIT: Duration = Duration::from_secs(5);

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn post_chat(mock: &MockUpstream, body: Value) -> reqwest::Response {
        client()
            .post(format!("{}/chat/completions", mock.url()))
            .header("authorization", "Bearer t0k")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    async fn json_of(resp: reqwest::Response) -> Value {
        serde_json::from_str(&resp.text().await.unwrap()).expect("JSON body")
    }

    fn data_payloads(sse: &str) -> Vec<String> {
        sse.split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(str::to_owned)
            .collect()
    }

    #[tokio::test]
    async fn text_reply_streams_deepinfra_chunks_and_records_the_request() {
        let mock = MockUpstream::start().await;
        mock.push(Reply::text("Hello there, world."));
        let resp = post_chat(
            &mock,
            json!({"model": "m1", "stream": true, "messages": []}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let text = resp.text().await.unwrap();
        let payloads = data_payloads(&text);
        assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
        let chunks: Vec<Value> = payloads[..payloads.len() - 1]
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect();
        let content: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(content, "Hello there, world.");
        assert!(chunks.len() >= 4, "text is split over several deltas");
        let (finish, rest) = chunks.split_last().unwrap();
        assert!(
            rest.iter()
                .all(|c| c["choices"][0]["delta"]["role"] == "assistant")
        );
        assert!(rest.iter().all(|c| c["usage"].is_null()));
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        assert_eq!(finish["usage"]["total_tokens"], 15);
        assert!(chunks.iter().all(|c| c["model"] == "m1"));

        let reqs = mock.wait_requests(1, WAIT).await;
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].path, "/v1/chat/completions");
        assert_eq!(reqs[0].header("Authorization"), Some("Bearer t0k"));
        assert!(reqs[0].is_stream());
        assert_eq!(mock.completed_count(), 1);
    }

    #[tokio::test]
    async fn tool_calls_are_fragmented_openai_style() {
        let turn = ChatTurn::new()
            .reasoning("Think first.")
            .tool_call(super::ToolCall::new(
                "c1",
                "exec_command",
                r#"{"cmd":"ls -la"}"#,
            ))
            .tool_call(super::ToolCall::new(
                "c2",
                "exec_command",
                r#"{"cmd":"pwd"}"#,
            ));
        let events = chat_turn_events(&turn, "m", "id1");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let reasoning: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
            .collect();
        assert_eq!(reasoning, "Think first.");
        for (index, id, args) in [
            (0, "c1", r#"{"cmd":"ls -la"}"#),
            (1, "c2", r#"{"cmd":"pwd"}"#),
        ] {
            let frags: Vec<&Value> = chunks
                .iter()
                .flat_map(|c| {
                    c["choices"][0]["delta"]["tool_calls"]
                        .as_array()
                        .into_iter()
                        .flatten()
                })
                .filter(|t| t["index"] == index)
                .collect();
            assert_eq!(frags[0]["id"], id);
            assert_eq!(frags[0]["function"]["arguments"], "");
            assert!(frags[1..].iter().all(|f| f.get("id").is_none()));
            let joined: String = frags
                .iter()
                .filter_map(|f| f["function"]["arguments"].as_str())
                .collect();
            assert_eq!(joined, args);
            assert!(frags.len() >= 3, "arguments are split");
        }
        let finish = chunks.last().unwrap();
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        assert!(finish["usage"]["prompt_tokens"].is_u64());
    }

    #[tokio::test]
    async fn non_streaming_request_gets_a_chat_completion() {
        let mock = MockUpstream::start().await;
        mock.push(Reply::tool_call("c9", "f", r#"{"a":1}"#));
        let resp = post_chat(&mock, json!({"model": "m2", "messages": []})).await;
        let body = json_of(resp).await;
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["model"], "m2");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            r#"{"a":1}"#
        );
    }

    #[tokio::test]
    async fn script_then_handler_then_loud_500() {
        let mock = MockUpstream::start().await;
        mock.push(
            Reply::error(
                429,
                "Model busy, retry later",
                "invalid_request_error",
                Some("engine_overloaded"),
            )
            .with_header("retry-after", "2"),
        );
        let r = post_chat(&mock, json!({"stream": true})).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2");
        assert_eq!(json_of(r).await["error"]["code"], "engine_overloaded");

        let r = post_chat(&mock, json!({"stream": true})).await;
        assert_eq!(r.status(), 500);
        assert!(r.text().await.unwrap().contains("no scripted reply"));

        mock.set_handler(|req| Reply::text(format!("request {}", req.index)));
        let r = post_chat(&mock, json!({"stream": false})).await;
        let body = json_of(r).await;
        assert_eq!(body["choices"][0]["message"]["content"], "request 2");
    }

    #[tokio::test]
    async fn models_and_unknown_paths() {
        let mock = MockUpstream::start().await;
        let r = client()
            .get(format!("{}/models", mock.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(r).await["object"], "list");
        mock.set_models(json!({"object": "list", "data": [{"id": "x", "object": "model"}]}));
        let r = client()
            .get(format!("{}/models", mock.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(r).await["data"][0]["id"], "x");
        let r = client()
            .get(format!("{}/nope", mock.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }

    #[tokio::test]
    async fn split_writes_arrive_as_separate_reads_and_reassemble() {
        let mock = MockUpstream::start().await;
        let bytes = "data: {\"x\":\"caf\u{e9}\"}\r\n\r\ndata: [DONE]\r\n\r\n"
            .as_bytes()
            .to_vec();
        let e_acute = bytes.iter().position(|&b| b == 0xC3).unwrap();
        mock.push(Reply::sse_split(
            bytes.clone(),
            &[1, e_acute + 1, e_acute + 1, 9999],
        ));
        let mut resp = post_chat(&mock, json!({"stream": true})).await;
        let mut got = Vec::new();
        let mut reads = 0;
        while let Some(chunk) = resp.chunk().await.unwrap() {
            got.extend_from_slice(&chunk);
            reads += 1;
        }
        assert_eq!(got, bytes);
        assert!(reads >= 2, "expected several reads, got {reads}");
    }

    #[tokio::test]
    async fn close_mid_body_truncates_the_stream() {
        let mock = MockUpstream::start().await;
        mock.push(Reply::sse_then_close(["{\"a\":1}"]));
        let mut resp = post_chat(&mock, json!({"stream": true})).await;
        let mut result = Ok(());
        loop {
            match resp.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        assert!(
            result.is_err(),
            "a closed-mid-body stream must end in an error"
        );
        assert_eq!(
            mock.cancelled_count(),
            0,
            "an intended close is not a cancellation"
        );
    }

    #[tokio::test]
    async fn client_going_away_during_stall_is_seen() {
        let mock = MockUpstream::start().await;
        mock.push(Reply::sse_then_stall(["{\"a\":1}"]));
        let mut resp = post_chat(&mock, json!({"stream": true})).await;
        let first = resp.chunk().await.unwrap().unwrap();
        assert!(first.starts_with(b"data: "));
        assert!(!mock.wait_cancelled(Duration::from_millis(200)).await);
        drop(resp);
        assert!(
            mock.wait_cancelled(WAIT).await,
            "dropping the response must be noticed"
        );
        assert!(mock.wait_connections_closed(WAIT).await);
    }

    #[tokio::test]
    async fn client_going_away_during_delay_is_seen() {
        let mock = MockUpstream::start().await;
        mock.push(Reply::delay(Duration::from_secs(30), Reply::text("late")));
        let url = format!("{}/chat/completions", mock.url());
        let pending = tokio::spawn(async move {
            client()
                .post(url)
                .body(json!({"stream": true}).to_string())
                .send()
                .await
        });
        mock.wait_requests(1, WAIT).await;
        pending.abort();
        assert!(
            mock.wait_cancelled(WAIT).await,
            "abandoning the request must be noticed"
        );
    }

    #[tokio::test]
    async fn raw_chunks_with_delays_and_status() {
        let mock = MockUpstream::start().await;
        mock.push(Reply::Raw {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: vec![
                Chunk::new(": keep-alive\n\n"),
                Chunk::after(Duration::from_millis(20), "data: [DONE]\n\n"),
            ],
            end: End::Finish,
        });
        let r = post_chat(&mock, json!({"stream": true})).await;
        assert_eq!(r.text().await.unwrap(), ": keep-alive\n\ndata: [DONE]\n\n");
    }

    #[tokio::test]
    async fn fixture_replies_read_the_file_at_reply_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("X.sse");
        let mock = MockUpstream::start().await;
        mock.push(Reply::fixture(path.to_string_lossy()));
        std::fs::write(&path, "data: {\"k\":1}\n\ndata: [DONE]\n\n").unwrap();
        let r = post_chat(&mock, json!({"stream": true})).await;
        assert_eq!(
            r.text().await.unwrap(),
            "data: {\"k\":1}\n\ndata: [DONE]\n\n"
        );
        mock.push(Reply::fixture("does-not-exist-anywhere"));
        let r = post_chat(&mock, json!({"stream": true})).await;
        assert_eq!(r.status(), 500);
    }

    #[tokio::test]
    async fn repository_fixtures_are_served_byte_for_byte() {
        let mock = MockUpstream::start().await;
        let e1 = std::fs::read(super::common::mock_upstream::fixture_path("E1")).expect("E1.sse");
        mock.push(Reply::fixture("E1"));
        mock.push(Reply::fixture_split("E1", &[3, 100, 101]));
        mock.push(Reply::error_fixture("E11-429-engine_overloaded"));
        mock.push(Reply::error_fixture("E11-405-empty"));
        for _ in 0..2 {
            let r = post_chat(&mock, json!({"stream": true})).await;
            assert_eq!(r.bytes().await.unwrap().as_ref(), e1.as_slice());
        }
        let r = post_chat(&mock, json!({"stream": true})).await;
        assert_eq!(r.status(), 429);
        assert_eq!(json_of(r).await["error"]["code"], "engine_overloaded");
        let r = post_chat(&mock, json!({"stream": true})).await;
        assert_eq!(r.status(), 405);
        assert!(r.headers().get("content-type").is_none());
        assert!(r.text().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn strict_reasoning_mode_answers_the_deepseek_400() {
        let mock = MockUpstream::start().await;
        mock.set_strict_reasoning(true);
        mock.set_handler(|_| Reply::text("ok"));
        let call =
            json!([{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
        let without = json!({"stream": true, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": call},
            {"role": "tool", "tool_call_id": "c", "content": "x"}]});
        let r = post_chat(&mock, without).await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.text().await.unwrap(), DEEPSEEK_REASONING_MISSING_BODY);
        let with = json!({"stream": true, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "reasoning_content": "because", "tool_calls": call},
            {"role": "tool", "tool_call_id": "c", "content": "x"}]});
        assert_eq!(post_chat(&mock, with).await.status(), 200);
        assert_eq!(mock.requests()[0].missing_reasoning_content(), Some(1));
        assert_eq!(mock.requests()[1].missing_reasoning_content(), None);
    }

    #[test]
    fn listening_line_parsing() {
        let line = strip_ansi(
            "\u{1b}[2m2026-01-01T00:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m deepinfra_shim: Listening on http://127.0.0.1:43121 (pid 7)",
        );
        assert!(line.contains("INFO deepinfra_shim: Listening"));
        assert_eq!(
            parse_listening(&line),
            Some("127.0.0.1:43121".parse().unwrap())
        );
        let json_line =
            r#"{"level":"INFO","fields":{"message":"Listening on http://127.0.0.1:9"}}"#;
        assert_eq!(
            parse_listening(json_line),
            Some("127.0.0.1:9".parse().unwrap())
        );
        assert_eq!(
            parse_listening("Listening on http://[::1]:80/"),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(parse_listening("nothing here"), None);
    }

    #[test]
    fn codex_config_keeps_top_level_keys_before_tables() {
        let codex = Codex::new("/bin/false", "http://127.0.0.1:1/v1")
            .top_level("tool_output_token_limit", "20000")
            .provider_option("stream_max_retries", "2")
            .config_section("[mcp_servers.x]\ncommand = \"y\"");
        let toml = codex.config_toml();
        let first_table = toml.find("\n[").unwrap();
        for key in [
            "model =",
            "model_provider =",
            "approval_policy =",
            "tool_output_token_limit =",
        ] {
            let at = toml
                .find(key)
                .unwrap_or_else(|| panic!("{key} missing:\n{toml}"));
            assert!(at < first_table, "{key} must precede every table:\n{toml}");
        }
        assert_eq!(toml.matches("stream_max_retries").count(), 1, "{toml}");
        assert!(toml.contains("stream_max_retries = 2"));
        assert!(toml.contains("base_url = \"http://127.0.0.1:1/v1\""));
        assert!(toml.trim_end().ends_with("command = \"y\""));
    }

    /// Drives the real Codex straight at the mock (Responses events scripted by hand), to
    /// check the Codex harness independently of the daemon.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn codex_harness_runs_codex_against_a_scripted_responses_server() {
        let Some(bin) =
            codex_bin_or_skip("codex_harness_runs_codex_against_a_scripted_responses_server")
        else {
            return;
        };
        let mock = MockUpstream::start().await;
        mock.set_handler(|req| {
            let input = req.json()["input"].as_array().cloned().unwrap_or_default();
            let item = if input.iter().any(|i| i["type"] == "function_call_output") {
                json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "harness ok"}]})
            } else {
                json!({"type": "function_call", "name": "exec_command", "call_id": "call_h",
                       "arguments": "{\"cmd\":\"echo hi > h.txt\"}"})
            };
            Reply::sse([
                json!({"type": "response.output_item.done", "output_index": 0, "item": item}).to_string(),
                json!({"type": "response.completed", "response": {"id": "resp_h"}}).to_string(),
            ])
        });
        let codex = Codex::new(bin, mock.url());
        let run = codex.run("harness self-test").await;
        run.assert_success();
        assert_eq!(run.last_message, "harness ok");
        assert_eq!(
            super::read_work_file(&codex, "h.txt").as_deref(),
            Some("hi\n")
        );
        let reqs = mock.requests();
        assert_eq!(reqs.len(), 2, "exec makes no side requests");
        assert!(reqs.iter().all(|r| r.path == "/v1/responses"));
        assert_eq!(
            reqs[0].header("authorization"),
            Some(format!("Bearer {}", super::TEST_TOKEN).as_str())
        );

        // A server that never answers must not hang the harness: the idle timeout fires.
        let stalled = MockUpstream::start().await;
        stalled.set_handler(|_| {
            Reply::sse_then_stall([r#"{"type":"response.created","response":{"id":"r"}}"#])
        });
        let codex = Codex::new(
            super::common::codex::codex_bin_or_skip("x").unwrap(),
            stalled.url(),
        )
        .provider_option("stream_idle_timeout_ms", "1000");
        let run = codex.run("stall").await;
        assert!(!run.success() && !run.timed_out, "{}", run.describe());
        assert!(
            run.errors().iter().any(|e| e.contains("idle timeout")),
            "{}",
            run.describe()
        );
        assert!(
            stalled.wait_cancelled(WAIT).await,
            "Codex hanging up must be seen by the mock"
        );
    }
}
