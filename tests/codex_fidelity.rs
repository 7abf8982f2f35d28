//! Fidelity end-to-end tests (issue 4) with the real Codex CLI 0.169.0, the real daemon and the
//! in-process mock upstream:
//!
//! ```text
//! codex exec ──/v1/responses──▶ deepinfra-shim ──/v1/chat/completions──▶ MockUpstream
//! ```
//!
//! What a thinking model, Codex's freeform `apply_patch`, a silent upstream, a context overflow
//! and an attached image need from the translation, each judged by what the real Codex does
//! with it (files on disk, exit status, its error text, its next requests). Where a behaviour
//! can be switched off by configuration, a control test does so and expects the failure users
//! would see, which shows the positive test is sensitive: `compat.reasoning: drop` makes the
//! strict upstream refuse the follow-up; heartbeats slower than the silence let Codex's idle
//! timeout fire; `compat.images: placeholder` keeps the image from the upstream. The positive
//! tool-loop test for DeepSeek lives in `codex_e2e.rs`
//! (`codex_reasoning_is_replayed_to_a_strict_upstream`).
//!
//! Each test starts its own mock upstream, daemon and Codex home, so they run in parallel.
//!
//! The Codex binary comes from `CODEX_BIN`; without it these tests print `SKIPPED: …` and pass,
//! except under `CI=true`, where they fail (see `tests/common/codex.rs`).
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::chat::{
    any_user_contains, assistant_with_call, is_compaction, last_user_text, one_tool_round,
    patch_loop, text_of, tool_message,
};
use common::codex::{Codex, CodexRun, codex_bin_or_skip, read_work_file};
use common::daemon::stack;
use common::mock_upstream::{chat_turn_events, sse_frame};
use common::{ChatTurn, Chunk, End, Recorded, Reply};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn assert_error_shown(run: &CodexRun, needle: &str) {
    assert!(
        !run.success(),
        "Codex should have failed:\n{}",
        run.describe()
    );
    assert!(!run.timed_out, "Codex hung:\n{}", run.describe());
    assert!(
        run.errors().iter().any(|e| e.contains(needle)),
        "expected an ERROR line containing {needle:?}:\n{}",
        run.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Thinking models against strict upstreams
// ---------------------------------------------------------------------------------------------

/// A DeepSeek-style reasoning + tool-call turn, then a text answer once the tool ran.
fn deepseek_loop() -> impl Fn(&Recorded) -> Reply {
    one_tool_round(
        Reply::reasoning_then_tool_call(
            "I should run the command first.",
            "call_ds_1",
            "exec_command",
            r#"{"cmd":"echo reasoned"}"#,
        ),
        "Reasoned and ran.",
    )
}

/// Control for `codex_e2e::codex_reasoning_is_replayed_to_a_strict_upstream`: with
/// `compat.reasoning: drop` the same loop reaches the strict upstream without
/// `reasoning_content`, and Codex shows DeepSeek's 400 message. Proves the strict mock and the
/// replay are what makes the other test pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_drop_makes_a_strict_upstream_refuse_the_follow_up() {
    let Some(bin) =
        codex_bin_or_skip("reasoning_drop_makes_a_strict_upstream_refuse_the_follow_up")
    else {
        return;
    };
    let (mock, daemon) = stack(Some("compat:\n  reasoning: drop\n")).await;
    mock.set_strict_reasoning(true);
    mock.set_handler(deepseek_loop());
    let codex = Codex::new(bin, daemon.base_url());

    let run = codex.run("Run the command.").await;
    assert_error_shown(
        &run,
        "The reasoning_content in the thinking mode must be passed back to the API.",
    );

    let reqs = mock.wait_chat_requests(2, WAIT).await;
    assert_eq!(
        reqs.len(),
        2,
        "a 400 is fatal: no retry (daemon logs:\n{})",
        daemon.logs()
    );
    let messages = reqs[1].messages();
    let at = assistant_with_call(&messages, "call_ds_1");
    assert!(
        messages[at]
            .get("reasoning_content")
            .is_none_or(Value::is_null),
        "drop must not send reasoning back: {:#}",
        messages[at]
    );
    assert_eq!(reqs[1].missing_reasoning_content(), Some(at));
}

/// One E8-shaped (Kimi K2.x) streamed turn: reasoning in `reasoning_content` deltas without
/// `role` after the first chunk, then one tool call with a `functions.<name>:<n>` id.
fn kimi_tool_turn(model: &str, reasoning: &[&str], id: &str, args: &str) -> Reply {
    let chunk = |delta: Value, finish: Value, usage: Value| {
        json!({"id": "chatcmpl-K1", "object": "chat.completion.chunk", "created": 1_760_000_007,
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
               "usage": usage})
        .to_string()
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "reasoning_content": reasoning[0]}),
        Value::Null,
        Value::Null,
    )];
    for piece in &reasoning[1..] {
        events.push(chunk(
            json!({"reasoning_content": piece}),
            Value::Null,
            Value::Null,
        ));
    }
    let (a, b) = args.split_at(args.len() / 2);
    events.push(chunk(
        json!({"tool_calls": [{"index": 0, "id": id, "type": "function",
                               "function": {"name": "exec_command", "arguments": ""}}]}),
        Value::Null,
        Value::Null,
    ));
    for piece in [a, b] {
        events.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
            Value::Null,
            Value::Null,
        ));
    }
    events.push(chunk(
        json!({}),
        json!("tool_calls"),
        json!({"prompt_tokens": 300, "completion_tokens": 30, "total_tokens": 330}),
    ));
    events.push("[DONE]".into());
    Reply::sse(events)
}

/// Kimi K2.x: every assistant message with `tool_calls` must carry `reasoning_content`
/// (Moonshot's 400 names the message index otherwise). Two tool rounds, so the third request
/// carries two assistant tool-call messages, each with its own reasoning, and the Kimi-style
/// ids (`functions.shell:0`) come back unchanged on the calls and the tool messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kimi_two_round_tool_loop_replays_reasoning_and_ids() {
    let Some(bin) = codex_bin_or_skip("kimi_two_round_tool_loop_replays_reasoning_and_ids") else {
        return;
    };
    const MODEL: &str = "moonshotai/Kimi-K2.6";
    let (mock, daemon) = stack(None).await;
    mock.set_handler(|req| {
        if let Some(index) = req.missing_reasoning_content() {
            return Reply::kimi_reasoning_missing(index);
        }
        match req.tool_messages().len() {
            0 => kimi_tool_turn(
                MODEL,
                &["I should list", " the directory first.", " Use shell."],
                "functions.shell:0",
                r#"{"cmd": "echo first > k1.txt && echo one"}"#,
            ),
            1 => kimi_tool_turn(
                MODEL,
                &["Now the second", " file."],
                "functions.shell:1",
                r#"{"cmd": "echo second > k2.txt && echo two"}"#,
            ),
            _ => Reply::from(
                ChatTurn::new()
                    .reasoning("All done.")
                    .text("Both files written."),
            ),
        }
    });
    let codex = Codex::new(bin, daemon.base_url()).model(MODEL);

    let run = codex.run("Write k1.txt and k2.txt.").await;
    run.assert_success();
    assert_eq!(
        run.last_message,
        "Both files written.",
        "{}",
        run.describe()
    );
    assert_eq!(read_work_file(&codex, "k1.txt").as_deref(), Some("first\n"));
    assert_eq!(
        read_work_file(&codex, "k2.txt").as_deref(),
        Some("second\n")
    );

    let reqs = mock.wait_chat_requests(3, WAIT).await;
    assert_eq!(reqs.len(), 3, "two tool rounds + the answer, no refusal");
    assert!(reqs.iter().all(|r| r.model() == Some(MODEL)));
    let messages = reqs[2].messages();
    for (id, reasoning, marker) in [
        (
            "functions.shell:0",
            "I should list the directory first. Use shell.",
            "one",
        ),
        ("functions.shell:1", "Now the second file.", "two"),
    ] {
        let at = assistant_with_call(&messages, id);
        assert_eq!(
            messages[at]["reasoning_content"], reasoning,
            "reasoning rides on its own tool-call message: {:#}",
            messages[at]
        );
        let call = &messages[at]["tool_calls"][0];
        assert_eq!(call["id"], id);
        assert_eq!(call["function"]["name"], "exec_command");
        let tool = tool_message(&messages, id);
        assert!(
            text_of(&tool).contains(marker),
            "tool output for {id}: {tool}"
        );
        let tool_at = messages.iter().position(|m| *m == tool).unwrap();
        assert_eq!(tool_at, at + 1, "tool reply right after its call");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. apply_patch (the freeform custom tool)
// ---------------------------------------------------------------------------------------------

/// A DeepInfra-style slug that Codex does not bundle.
const PATCH_MODEL: &str = "Qwen/Qwen3-Coder-480B-A35B-Instruct-Turbo";

/// Writes a minimal `model_catalog_json` (codex-model-catalog.md, "Minimal working example")
/// describing `slug` with the freeform apply_patch tool, and points Codex at it.
fn with_patch_catalog(codex: Codex, slug: &str) -> Codex {
    let catalog = json!({"models": [{
        "slug": slug, "display_name": "Qwen3 Coder (test)",
        "supported_reasoning_levels": [], "shell_type": "shell_command", "visibility": "list",
        "supported_in_api": true, "priority": 1,
        "base_instructions": "You are a coding agent. Edit files with the apply_patch tool.",
        "support_verbosity": false, "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [],
        "apply_patch_tool_type": "freeform", "context_window": 131072}]});
    let path = codex.codex_home().join("catalog.json");
    std::fs::write(&path, catalog.to_string()).expect("writing the catalog");
    let path = serde_json::to_string(&path.to_string_lossy()).unwrap();
    codex.model(slug).top_level("model_catalog_json", &path)
}

/// Checks the chat definition of `apply_patch`: a function with one required string `input`
/// and the Lark grammar in its description.
fn assert_apply_patch_offered(req: &Recorded) {
    let tools = req.tools();
    let tool = tools
        .iter()
        .find(|t| t["function"]["name"] == "apply_patch")
        .unwrap_or_else(|| {
            panic!(
                "apply_patch must be offered as a function: {:?}",
                req.tool_names()
            )
        });
    assert_eq!(tool["type"], "function");
    let params = &tool["function"]["parameters"];
    assert_eq!(params["type"], "object", "{tool:#}");
    let props = params["properties"].as_object().expect("properties");
    assert_eq!(
        props.keys().collect::<Vec<_>>(),
        ["input"],
        "a single argument: {tool:#}"
    );
    assert_eq!(props["input"]["type"], "string", "{tool:#}");
    assert_eq!(params["required"], json!(["input"]), "{tool:#}");
    let description = tool["function"]["description"].as_str().unwrap_or("");
    assert!(
        description.contains("Lark grammar") && description.contains("begin_patch"),
        "the description carries the grammar hint: {description}"
    );
}

/// Checks the follow-up request: the call went back as a function call with the same
/// arguments, and the custom_tool_call_output came back as its tool message.
fn assert_patch_round_trip(req: &Recorded, call_id: &str, patch: &str) -> String {
    let messages = req.messages();
    let at = assistant_with_call(&messages, call_id);
    let call = &messages[at]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "apply_patch");
    let args: Value = serde_json::from_str(
        call["function"]["arguments"]
            .as_str()
            .expect("string arguments"),
    )
    .expect("arguments are JSON");
    assert_eq!(
        args,
        json!({ "input": patch }),
        "the patch is re-wrapped intact"
    );
    let tool = tool_message(&messages, call_id);
    assert_eq!(messages[at + 1], tool, "tool reply right after its call");
    text_of(&tool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_adds_a_file() {
    let Some(bin) = codex_bin_or_skip("apply_patch_adds_a_file") else {
        return;
    };
    const PATCH: &str =
        "*** Begin Patch\n*** Add File: hello.txt\n+hello from patch\n*** End Patch\n";
    let (mock, daemon) = stack(None).await;
    mock.set_handler(patch_loop("call_patch_1", PATCH));
    let codex = with_patch_catalog(Codex::new(bin, daemon.base_url()), PATCH_MODEL);

    let run = codex.run("Create hello.txt.").await;
    run.assert_success();
    run.assert_model_described();
    assert_eq!(run.last_message, "Patched.", "{}", run.describe());
    assert_eq!(
        read_work_file(&codex, "hello.txt").as_deref(),
        Some("hello from patch\n"),
        "{}",
        run.describe()
    );

    let reqs = mock.wait_chat_requests(2, WAIT).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].model(), Some(PATCH_MODEL));
    assert_apply_patch_offered(&reqs[0]);
    let output = assert_patch_round_trip(&reqs[1], "call_patch_1", PATCH);
    assert!(
        output.contains("Success") && output.contains("A hello.txt"),
        "Codex's patch result comes back as the tool message: {output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_updates_an_existing_file() {
    let Some(bin) = codex_bin_or_skip("apply_patch_updates_an_existing_file") else {
        return;
    };
    const PATCH: &str = "*** Begin Patch\n*** Update File: notes.txt\n@@\n alpha\n-beta\n+BETA patched\n gamma\n*** End Patch\n";
    let (mock, daemon) = stack(None).await;
    mock.set_handler(patch_loop("call_patch_2", PATCH));
    let codex = with_patch_catalog(Codex::new(bin, daemon.base_url()), PATCH_MODEL);
    std::fs::write(codex.workdir().join("notes.txt"), "alpha\nbeta\ngamma\n").unwrap();

    let run = codex.run("Fix the second line of notes.txt.").await;
    run.assert_success();
    assert_eq!(
        read_work_file(&codex, "notes.txt").as_deref(),
        Some("alpha\nBETA patched\ngamma\n"),
        "{}",
        run.describe()
    );

    let reqs = mock.wait_chat_requests(2, WAIT).await;
    assert_eq!(reqs.len(), 2);
    assert_apply_patch_offered(&reqs[0]);
    let output = assert_patch_round_trip(&reqs[1], "call_patch_2", PATCH);
    assert!(
        output.contains("Success") && output.contains("M notes.txt"),
        "Codex's patch result comes back as the tool message: {output}"
    );
}

/// Some models put the raw patch in `arguments` instead of `{"input": …}`; it must still reach
/// Codex's apply_patch as the patch text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_patch_with_unwrapped_arguments() {
    let Some(bin) = codex_bin_or_skip("apply_patch_with_unwrapped_arguments") else {
        return;
    };
    const PATCH: &str = "*** Begin Patch\n*** Add File: raw.txt\n+raw input\n*** End Patch\n";
    let (mock, daemon) = stack(None).await;
    mock.set_handler(one_tool_round(
        Reply::tool_call("call_patch_raw", "apply_patch", PATCH),
        "Patched raw.",
    ));
    let codex = with_patch_catalog(Codex::new(bin, daemon.base_url()), PATCH_MODEL);

    let run = codex.run("Create raw.txt.").await;
    run.assert_success();
    assert_eq!(
        read_work_file(&codex, "raw.txt").as_deref(),
        Some("raw input\n"),
        "{}",
        run.describe()
    );
    let reqs = mock.wait_chat_requests(2, WAIT).await;
    assert_eq!(reqs.len(), 2);
    // The history goes upstream with JSON arguments again (strict providers parse them).
    let output = assert_patch_round_trip(&reqs[1], "call_patch_raw", PATCH);
    assert!(output.contains("A raw.txt"), "{output}");
}

// ---------------------------------------------------------------------------------------------
// 3. Heartbeats keep a silent upstream alive
// ---------------------------------------------------------------------------------------------

/// Codex gives up after this much silence between SSE data events.
const CODEX_IDLE_MS: &str = "1500";
/// How long the upstream stays silent after its headers: twice Codex's idle timeout.
const SILENCE: Duration = Duration::from_secs(3);

/// 200 + headers at once, then nothing for [`SILENCE`], then a whole text answer.
fn silent_then_answer(req: &Recorded) -> Reply {
    let events = chat_turn_events(
        &ChatTurn::new()
            .reasoning("Long silent thought.")
            .text("Finally, the answer."),
        req.model().unwrap_or("m"),
        "chatcmpl-silent",
    );
    let body: String = events.iter().map(|e| sse_frame(e)).collect();
    Reply::Raw {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/event-stream".into()),
            ("cache-control".into(), "no-cache".into()),
        ],
        chunks: vec![Chunk::after(SILENCE, body)],
        end: End::Finish,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_codex_waiting_on_a_silent_upstream() {
    let Some(bin) = codex_bin_or_skip("heartbeats_keep_codex_waiting_on_a_silent_upstream") else {
        return;
    };
    let (mock, daemon) = stack(Some("upstream:\n  heartbeat_ms: 300\n")).await;
    mock.set_handler(silent_then_answer);
    let codex =
        Codex::new(bin, daemon.base_url()).provider_option("stream_idle_timeout_ms", CODEX_IDLE_MS);

    let run = codex.run("Think hard, then answer.").await;
    run.assert_success();
    assert_eq!(
        run.last_message,
        "Finally, the answer.",
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("Finally, the answer."),
        "{}",
        run.describe()
    );
    assert_eq!(
        mock.chat_requests().len(),
        1,
        "one upstream request, no retry:\n{}",
        run.describe()
    );
    assert!(
        run.duration >= SILENCE,
        "the silence really happened (took {:?})",
        run.duration
    );
}

/// Control: heartbeats slower than the silence leave Codex's idle timer to fire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_heartbeats_codex_times_out_on_a_silent_upstream() {
    let Some(bin) = codex_bin_or_skip("without_heartbeats_codex_times_out_on_a_silent_upstream")
    else {
        return;
    };
    let (mock, daemon) = stack(Some("upstream:\n  heartbeat_ms: 60000\n")).await;
    mock.set_handler(silent_then_answer);
    let codex =
        Codex::new(bin, daemon.base_url()).provider_option("stream_idle_timeout_ms", CODEX_IDLE_MS);

    let run = codex.run("Think hard, then answer.").await;
    assert_error_shown(&run, "idle timeout waiting for SSE");
    assert_eq!(mock.chat_requests().len(), 1, "stream_max_retries = 0");
    assert!(
        mock.wait_cancelled(WAIT).await,
        "Codex hanging up must cancel the upstream request; daemon logs:\n{}",
        daemon.logs()
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Context overflow: Codex's context-window message, then compaction on the next turn
// ---------------------------------------------------------------------------------------------

/// What Codex 0.169.0 prints for `context_length_exceeded`.
const CONTEXT_WINDOW_MESSAGE: &str = "ran out of room in the model's context window";

/// A vLLM/DeepInfra-style context overflow message.
const OVERFLOW_MESSAGE: &str = "This model's maximum context length is 131072 tokens. However, you requested 140000 tokens (124000 in the messages, 16000 in the completion). Please reduce the length of the messages or completion.";

const FIRST_PROMPT: &str = "Summarise the whole repository.";
const SECOND_PROMPT: &str = "Continue with a shorter answer.";
const SUMMARY: &str = "SUMMARY-7731: the user wants a repository summary.";

fn overflow_before_stream() -> Reply {
    Reply::json(
        400,
        json!({"error": {"message": OVERFLOW_MESSAGE, "type": "BadRequestError",
                         "param": null, "code": 400}})
        .to_string(),
    )
}

fn overflow_mid_stream(req: &Recorded) -> Reply {
    let model = req.model().unwrap_or("m");
    let head = json!({"id": "chatcmpl-ctx", "object": "chat.completion.chunk", "created": 1,
        "model": model, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
        "finish_reason": null}], "usage": null});
    let error = json!({"error": {"message": OVERFLOW_MESSAGE, "type": "BadRequestError",
                                 "code": 400}});
    Reply::sse([head.to_string(), error.to_string(), "[DONE]".to_owned()])
}

/// Turn 1 overflows; `codex exec resume` then compacts before sampling turn 2.
async fn overflow_then_compaction(overflow: fn(&Recorded) -> Reply, test: &str) {
    let Some(bin) = codex_bin_or_skip(test) else {
        return;
    };
    let (mock, daemon) = stack(None).await;
    mock.set_handler(move |req| {
        if is_compaction(req) {
            Reply::text(SUMMARY)
        } else if any_user_contains(req, SECOND_PROMPT) {
            Reply::text_with_usage("Short answer.", 2000, 10)
        } else {
            overflow(req)
        }
    });
    let first = Codex::new(&bin, daemon.base_url());

    let run = first.run(FIRST_PROMPT).await;
    assert_error_shown(&run, CONTEXT_WINDOW_MESSAGE);
    assert!(
        !run.stderr.contains("panicked"),
        "no crash:\n{}",
        run.describe()
    );
    assert_eq!(
        mock.chat_requests().len(),
        1,
        "context overflow is fatal for the turn: no retry"
    );
    let session = session_id(&run);

    // Same CODEX_HOME (the rollout lives there), resumed by session id.
    let second = Codex::new(&bin, daemon.base_url())
        .env("CODEX_HOME", first.codex_home())
        .arg("resume")
        .arg(&session);
    let run = second.run(SECOND_PROMPT).await;
    run.assert_success();
    assert_eq!(run.last_message, "Short answer.", "{}", run.describe());
    assert!(
        run.stderr.contains("context compacted"),
        "{}",
        run.describe()
    );

    let reqs = mock.chat_requests();
    assert_eq!(
        reqs.len(),
        3,
        "overflow, compaction, turn 2:\n{}",
        run.describe()
    );
    let compaction = &reqs[1];
    assert!(
        is_compaction(compaction),
        "the resumed turn starts with a compaction request (no tools, compaction prompt); \
         tools: {:?}, last user message: {}",
        compaction.tool_names(),
        last_user_text(compaction)
    );
    assert!(
        compaction.json().get("tool_choice").is_none(),
        "no tool_choice without tools: {}",
        compaction.json()
    );
    assert!(any_user_contains(compaction, FIRST_PROMPT));
    let turn = &reqs[2];
    assert!(
        !turn.tools().is_empty(),
        "the normal turn has its tools again"
    );
    assert!(
        any_user_contains(turn, SUMMARY),
        "the summary replaces the history: {:#?}",
        turn.messages()
    );
    assert!(last_user_text(turn).contains(SECOND_PROMPT));
}

/// The `session id: <uuid>` line of Codex's banner.
fn session_id(run: &CodexRun) -> String {
    run.stderr
        .lines()
        .find_map(|l| l.strip_prefix("session id: "))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| panic!("no session id in the banner:\n{}", run.describe()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_overflow_before_the_stream_then_compaction_on_resume() {
    overflow_then_compaction(
        |_| overflow_before_stream(),
        "context_overflow_before_the_stream_then_compaction_on_resume",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_overflow_mid_stream_then_compaction_on_resume() {
    overflow_then_compaction(
        overflow_mid_stream,
        "context_overflow_mid_stream_then_compaction_on_resume",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 5. Images
// ---------------------------------------------------------------------------------------------

/// A valid 2×2 red RGB PNG.
const TINY_PNG: [u8; 73] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a,
    0x73, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x44, 0x0c, 0x10, 0x0a, 0x00, 0x1f, 0xee, 0x03, 0xfd, 0x8b, 0x5f, 0x14, 0xd4, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Runs `codex exec -i tiny.png` and returns the user message that carried the prompt.
async fn run_with_image(yaml: Option<&str>, test: &str) -> Option<Value> {
    let bin = codex_bin_or_skip(test)?;
    let (mock, daemon) = stack(yaml).await;
    mock.set_handler(|_| Reply::text("A red square."));
    let image = tempfile::Builder::new()
        .prefix("img-")
        .suffix(".png")
        .tempfile()
        .unwrap();
    std::fs::write(image.path(), TINY_PNG).unwrap();
    let codex = Codex::new(bin, daemon.base_url())
        .arg("-i")
        .arg(image.path());

    let run = codex.run("What is in this picture?").await;
    run.assert_success();
    assert_eq!(run.last_message, "A red square.", "{}", run.describe());
    let reqs = mock.chat_requests();
    assert_eq!(reqs.len(), 1);
    let user = reqs[0]
        .messages()
        .into_iter()
        .rev()
        .find(|m| m["role"] == "user" && text_of(m).contains("What is in this picture?"))
        .unwrap_or_else(|| panic!("no user message with the prompt: {:#?}", reqs[0].messages()));
    Some(user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_image_reaches_the_upstream_as_a_data_url() {
    let Some(user) =
        run_with_image(None, "attached_image_reaches_the_upstream_as_a_data_url").await
    else {
        return;
    };
    let parts = user["content"]
        .as_array()
        .unwrap_or_else(|| panic!("an image needs content parts: {user:#}"));
    let images: Vec<&Value> = parts.iter().filter(|p| p["type"] == "image_url").collect();
    assert_eq!(images.len(), 1, "{user:#}");
    let url = images[0]["image_url"]["url"].as_str().unwrap_or("");
    let b64 = url
        .strip_prefix("data:image/png;base64,")
        .unwrap_or_else(|| panic!("a PNG data URL: {url}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_else(|e| panic!("valid base64 ({e}): {url}"));
    assert_eq!(bytes, TINY_PNG, "the attached file's bytes arrive intact");
    assert!(
        parts
            .iter()
            .all(|p| p["type"] == "text" || p["type"] == "image_url"),
        "only chat part types: {user:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_image_becomes_a_placeholder_for_text_only_upstreams() {
    let Some(user) = run_with_image(
        Some("compat:\n  images: placeholder\n"),
        "attached_image_becomes_a_placeholder_for_text_only_upstreams",
    )
    .await
    else {
        return;
    };
    let as_text = user.to_string();
    assert!(
        !as_text.contains("image_url") && !as_text.contains("data:image"),
        "no image may reach a text-only upstream: {user:#}"
    );
    // Codex wraps an attached image in `<image name=[Image #1] …>` … `</image>` text parts;
    // the placeholder must take the image's place between them.
    let text = text_of(&user);
    let inner = text
        .split_once("<image name=")
        .and_then(|(_, rest)| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split_once("</image>"))
        .map(|(inner, _)| inner.trim())
        .unwrap_or_else(|| panic!("Codex's image markers are kept: {user:#}"));
    assert!(
        inner.to_lowercase().contains("image"),
        "a placeholder between the markers says an image was there: {user:#}"
    );
}
