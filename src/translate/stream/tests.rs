//! Fixture-driven tests of the reply translation (the docs/protocol.md#fixtures streams through the SSE
//! parser and the translator), plus the re-chunking property.

use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::emitter::Emitter;
use super::*;
use crate::translate::TranslateOptions;
use crate::translate::reasoning;
use crate::translate::reply::{ReplyContext, translate_chat_completion};
use crate::translate::sse::SseParser;
use crate::translate::tools::{ToolKind, ToolTable};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/upstream/", $name))
    };
}

const FIXTURES: &[(&str, &[u8])] = &[
    ("E1", fixture!("E1.sse")),
    ("E2", fixture!("E2.sse")),
    ("E3", fixture!("E3.sse")),
    ("E4", fixture!("E4.sse")),
    ("E4b", fixture!("E4b.sse")),
    ("E5", fixture!("E5.sse")),
    ("E6", fixture!("E6.sse")),
    ("E7", fixture!("E7.sse")),
    ("E7b", fixture!("E7b.sse")),
    ("E7c", fixture!("E7c.sse")),
    ("E7d", fixture!("E7d.sse")),
    ("E8", fixture!("E8.sse")),
    ("E9", fixture!("E9.sse")),
    ("E9b", fixture!("E9b.sse")),
    ("E9c", fixture!("E9c.sse")),
    ("E10", fixture!("E10.sse")),
    ("E10b", fixture!("E10b.sse")),
    ("E10c", fixture!("E10c.sse")),
    ("E10d", fixture!("E10d.sse")),
    ("E10e", fixture!("E10e.sse")),
    ("E12", fixture!("E12.sse")),
    ("E13", fixture!("E13.sse")),
];

const MAX_EVENT: usize = 16 << 20;

fn ctx_with(tools: ToolTable, opts: TranslateOptions) -> ReplyContext {
    ReplyContext {
        response_id: "resp_t1".into(),
        requested_model: "deepseek-ai/DeepSeek-V4-Flash".into(),
        created_at: 1_760_000_000,
        tools,
        opts,
    }
}

fn opts() -> TranslateOptions {
    let mut o = TranslateOptions::for_model("upstream/model");
    o.provider = "deepinfra".into();
    o
}

fn ctx() -> ReplyContext {
    ctx_with(ToolTable::new(), opts())
}

/// Upstream body bytes, pushed in the given pieces, through parser and translator.
fn run_pieces(pieces: &[&[u8]], ctx: ReplyContext) -> (Vec<u8>, StreamTranslator) {
    let mut parser = SseParser::new(MAX_EVENT);
    let mut t = StreamTranslator::new(ctx);
    let mut out = Vec::new();
    t.start(&mut out);
    for p in pieces {
        parser
            .push(p, &mut |d| t.push_data(d, &mut out))
            .expect("fixture events fit");
    }
    parser.finish(&mut |d| t.push_data(d, &mut out));
    t.finish_eof(&mut out);
    (out, t)
}

fn run(bytes: &[u8]) -> (Vec<u8>, StreamTranslator) {
    run_pieces(&[bytes], ctx())
}

/// Splits `event: T\ndata: J\n\n` output into (T, J), checking the framing as it goes.
fn events(out: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(out).expect("output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated output"
    );
    text.split_terminator("\n\n")
        .map(|ev| {
            let (ev_line, data_line) = ev.split_once('\n').expect("two lines");
            let ty = ev_line.strip_prefix("event: ").expect("event line");
            let data = data_line.strip_prefix("data: ").expect("data line");
            assert!(!data.contains('\n'));
            let v: Value = serde_json::from_str(data).expect("data is JSON");
            assert_eq!(v["type"], ty, "event line and type agree");
            (ty.to_owned(), v)
        })
        .collect()
}

fn types(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter().map(|(t, _)| t.as_str()).collect()
}

fn done_items(evs: &[(String, Value)]) -> Vec<Value> {
    evs.iter()
        .filter(|(t, _)| t == "response.output_item.done")
        .map(|(_, v)| v["item"].clone())
        .collect()
}

fn terminal(evs: &[(String, Value)]) -> &Value {
    let (t, v) = evs.last().expect("events");
    assert!(
        matches!(
            t.as_str(),
            "response.completed" | "response.incomplete" | "response.failed"
        ),
        "last event {t}"
    );
    let terminals = evs
        .iter()
        .filter(|(t, _)| {
            t.starts_with("response.")
                && matches!(
                    t.as_str(),
                    "response.completed" | "response.incomplete" | "response.failed"
                )
        })
        .count();
    assert_eq!(terminals, 1, "exactly one terminal event");
    &v["response"]
}

fn concat_deltas(evs: &[(String, Value)], ty: &str) -> String {
    evs.iter()
        .filter(|(t, _)| t == ty)
        .map(|(_, v)| v["delta"].as_str().unwrap().to_owned())
        .collect()
}

fn check_usage(resp: &Value, input: u64, output: u64, total: u64, cached: u64) {
    let u = &resp["usage"];
    assert_eq!(u["input_tokens"], input);
    assert_eq!(u["output_tokens"], output);
    assert_eq!(u["total_tokens"], total);
    assert_eq!(u["input_tokens_details"]["cached_tokens"], cached);
    assert_eq!(u["output_tokens_details"]["reasoning_tokens"], 0);
}

const TEXT_PREFIX: &[&str] = &[
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
];

fn assert_common(evs: &[(String, Value)]) {
    // Sequence numbers count up from 0; every event names the response id where it has one.
    for (n, (_, v)) in evs.iter().enumerate() {
        assert_eq!(v["sequence_number"], n as u64);
        if let Some(r) = v.get("response") {
            assert_eq!(r["id"], "resp_t1");
            assert_eq!(r["object"], "response");
            assert_eq!(r["model"], "deepseek-ai/DeepSeek-V4-Flash");
            assert_eq!(r["created_at"], 1_760_000_000u64);
            assert!(r.get("end_turn").is_none());
        }
    }
    // Every done item was added first, with the same output_index.
    for (t, v) in evs {
        if t == "response.output_item.done" {
            let id = &v["item"]["id"];
            assert!(evs.iter().any(|(t2, v2)| t2 == "response.output_item.added"
                && &v2["item"]["id"] == id
                && v2["output_index"] == v["output_index"]));
        }
    }
}

#[test]
fn e1_deepinfra_plain_text() {
    let (out, t) = run(fixture!("E1.sse"));
    let evs = events(&out);
    assert_common(&evs);
    let mut want = TEXT_PREFIX.to_vec();
    want.extend([
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(types(&evs), want);
    assert_eq!(evs[2].1["item"]["type"], "message");
    assert_eq!(evs[2].1["item"]["status"], "in_progress");
    assert_eq!(evs[4].1["delta"], "Hello");
    assert_eq!(evs[4].1["item_id"], "msg_t1_1");
    assert_eq!(evs[4].1["content_index"], 0);
    let items = done_items(&evs);
    assert_eq!(
        items[0],
        serde_json::json!({"type":"message","id":"msg_t1_1","role":"assistant","status":"completed",
            "content":[{"type":"output_text","text":"Hello world.","annotations":[]}]})
    );
    let resp = terminal(&evs);
    assert_eq!(resp["status"], "completed");
    assert_eq!(resp["output"][0], items[0]);
    check_usage(resp, 12, 3, 15, 0);
    assert_eq!(t.outcome(), &Outcome::Completed);
    assert!(t.is_terminated());
    assert_eq!(t.usage().unwrap().total_tokens, 15);
    assert_eq!(t.finish_reason(), Some("stop"));
}

#[test]
fn e2_usage_in_a_separate_empty_choices_chunk() {
    let (out, t) = run(fixture!("E2.sse"));
    let evs = events(&out);
    assert_common(&evs);
    let mut want = TEXT_PREFIX.to_vec();
    want.extend([
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(types(&evs), want);
    assert_eq!(done_items(&evs)[0]["content"][0]["text"], "Hi");
    check_usage(terminal(&evs), 9, 1, 10, 0);
    assert_eq!(t.outcome(), &Outcome::Completed);
}

#[test]
fn e3_fragmented_arguments_are_byte_identical() {
    let (out, _) = run(fixture!("E3.sse"));
    let evs = events(&out);
    assert_common(&evs);
    assert_eq!(
        types(&evs),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let items = done_items(&evs);
    assert_eq!(items.len(), 1);
    let call = &items[0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["id"], "fc_t1_1");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["call_id"], "call_a1b2c3");
    assert_eq!(call["name"], "write_file");
    assert!(call.get("namespace").is_none());
    let args = call["arguments"].as_str().expect("arguments is a string");
    assert_eq!(
        args,
        r#"{"path": "C:\\tmp\\caf\u00e9.txt", "text": "naïve"}"#
    );
    let parsed: Value = serde_json::from_str(args).unwrap();
    assert_eq!(parsed["path"], "C:\\tmp\\café.txt");
    assert_eq!(parsed["text"], "naïve");
    assert_eq!(evs[2].1["output_index"], 0);
    check_usage(terminal(&evs), 50, 20, 70, 0);
}

fn single_call(bytes: &[u8]) -> Value {
    let (out, t) = run(bytes);
    let evs = events(&out);
    assert_common(&evs);
    assert_eq!(t.outcome(), &Outcome::Completed);
    let items = done_items(&evs);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(terminal(&evs)["status"], "completed");
    check_usage(terminal(&evs), 40, 12, 52, 0);
    items[0].clone()
}

#[test]
fn e4_whole_call_in_the_finish_chunk_with_tool_calls_or_stop() {
    for bytes in [&fixture!("E4.sse")[..], &fixture!("E4b.sse")[..]] {
        let call = single_call(bytes);
        assert_eq!(call["type"], "function_call");
        assert_eq!(call["call_id"], "Xq7kP2mN9");
        assert_eq!(call["name"], "shell");
        assert_eq!(call["arguments"], r#"{"command":["ls","-la"]}"#);
    }
}

#[test]
fn e5_parallel_interleaved_calls_after_a_preamble() {
    let (out, _) = run(fixture!("E5.sse"));
    let evs = events(&out);
    assert_common(&evs);
    let mut want = TEXT_PREFIX.to_vec();
    want.extend([
        "response.output_text.delta",
        "response.output_item.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(types(&evs), want);
    let items = done_items(&evs);
    assert_eq!(items[0]["content"][0]["text"], "Checking both files.");
    assert_eq!(items[1]["call_id"], "call_A");
    assert_eq!(items[1]["arguments"], r#"{"path":"a.rs"}"#);
    assert_eq!(items[2]["call_id"], "call_B");
    assert_eq!(items[2]["arguments"], r#"{"path":"b.rs"}"#);
    let indexes: Vec<_> = evs
        .iter()
        .filter(|(t, _)| t == "response.output_item.done")
        .map(|(_, v)| v["output_index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
    let resp = terminal(&evs);
    assert_eq!(resp["output"].as_array().unwrap().len(), 3);
    assert!(resp.get("usage").is_none(), "no usage upstream, none here");
}

#[test]
fn e6_same_name_distinct_ids_without_index_are_two_calls() {
    let (out, _) = run(fixture!("E6.sse"));
    let evs = events(&out);
    assert_common(&evs);
    let items = done_items(&evs);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["call_id"], "eaifhb3y");
    assert_eq!(items[0]["arguments"], r#"{"q":"one"}"#);
    assert_eq!(items[1]["call_id"], "mw4fnecu");
    assert_eq!(items[1]["arguments"], r#"{"q":"two"}"#);
    assert_eq!(terminal(&evs)["status"], "completed");
}

const E7_REASONING: &str = "The user asks 17*23. 17*20=340, 17*3=51. Sum 391.";

fn check_reasoning_then_text(bytes: &[u8]) -> Vec<(String, Value)> {
    let (out, t) = run(bytes);
    let evs = events(&out);
    assert_common(&evs);
    assert_eq!(
        types(&evs),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_text.delta",
            "response.reasoning_summary_text.delta",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_item.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(
        evs[2].1["item"],
        serde_json::json!({"type":"reasoning","id":"rs_t1_1","summary":[]})
    );
    assert_eq!(evs[3].1["summary_index"], 0);
    assert_eq!(evs[4].1["content_index"], 0);
    assert_eq!(evs[5].1["summary_index"], 0);
    assert_eq!(
        concat_deltas(&evs, "response.reasoning_text.delta"),
        E7_REASONING
    );
    assert_eq!(
        concat_deltas(&evs, "response.reasoning_summary_text.delta"),
        E7_REASONING
    );
    let items = done_items(&evs);
    let r = &items[0];
    assert_eq!(r["type"], "reasoning");
    assert_eq!(
        r["summary"],
        serde_json::json!([{"type":"summary_text","text":E7_REASONING}])
    );
    assert_eq!(
        r["content"],
        serde_json::json!([{"type":"reasoning_text","text":E7_REASONING}])
    );
    let env = reasoning::decode(r["encrypted_content"].as_str().unwrap()).unwrap();
    assert_eq!(env.text, E7_REASONING);
    assert_eq!(env.provider, "deepinfra");
    assert_eq!(env.model, "upstream/model");
    assert_eq!(items[1]["content"][0]["text"], "17 × 23 = 391.");
    assert_eq!(
        concat_deltas(&evs, "response.output_text.delta"),
        "17 × 23 = 391."
    );
    assert_eq!(t.outcome(), &Outcome::Completed);
    evs
}

#[test]
fn e7_reasoning_content_then_text() {
    let evs = check_reasoning_then_text(fixture!("E7.sse"));
    check_usage(terminal(&evs), 20, 25, 45, 0);
}

#[test]
fn e7b_reasoning_key_gives_the_same_items() {
    let (a, _) = run(fixture!("E7.sse"));
    let (b, _) = run(fixture!("E7b.sse"));
    assert_eq!(done_items(&events(&a)), done_items(&events(&b)));
    check_reasoning_then_text(fixture!("E7b.sse"));
}

#[test]
fn e7c_think_tags_split_across_chunks() {
    let (out, _) = run(fixture!("E7c.sse"));
    let evs = events(&out);
    assert_common(&evs);
    let items = done_items(&evs);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "reasoning");
    assert_eq!(items[0]["content"][0]["text"], E7_REASONING);
    assert_eq!(
        concat_deltas(&evs, "response.reasoning_text.delta"),
        E7_REASONING
    );
    assert_eq!(items[1]["content"][0]["text"], "17 × 23 = 391.");
    assert_eq!(
        concat_deltas(&evs, "response.output_text.delta"),
        "17 × 23 = 391."
    );
    assert!(!out.windows(5).any(|w| w == b"think"), "no tag leaks");
}

#[test]
fn e7d_close_tag_only_is_plain_text() {
    // Decision (see ContentMode): without a leading <think> the text is streamed as is.
    let (out, _) = run(fixture!("E7d.sse"));
    let evs = events(&out);
    let items = done_items(&evs);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "message");
    assert_eq!(
        items[0]["content"][0]["text"],
        format!("{E7_REASONING}\n</think>\n\n17 × 23 = 391.")
    );
    assert_eq!(terminal(&evs)["status"], "completed");
}

#[test]
fn e8_reasoning_then_kimi_call_keeps_the_id() {
    let (out, _) = run(fixture!("E8.sse"));
    let evs = events(&out);
    assert_common(&evs);
    let items = done_items(&evs);
    assert_eq!(items.len(), 2);
    let env = reasoning::decode(items[0]["encrypted_content"].as_str().unwrap()).unwrap();
    assert_eq!(env.text, "I should list the directory first. Use shell.");
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(items[1]["call_id"], "functions.shell:0");
    assert_eq!(items[1]["name"], "shell");
    assert_eq!(items[1]["arguments"], r#"{"command": ["ls"]}"#);
    assert!(!types(&evs).contains(&"response.output_text.delta"));
    check_usage(terminal(&evs), 300, 30, 330, 0);
}

#[test]
fn e9_tool_calls_printed_as_text_stay_text() {
    for (bytes, text) in [
        (
            &fixture!("E9.sse")[..],
            "<|tool_calls_section_begin|><|tool_call_begin|>functions.shell:0<|tool_call_argument_begin|>{\"command\": [\"ls\"]}<|tool_call_end|><|tool_calls_section_end|>",
        ),
        (
            &fixture!("E9b.sse")[..],
            "<tool_call>\n{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}\n</tool_call>",
        ),
        (
            &fixture!("E9c.sse")[..],
            "<|channel|>commentary to=functions.shell <|constrain|>json<|message|>{\"command\":[\"ls\"]}<|call|>",
        ),
    ] {
        let (out, t) = run(bytes);
        let evs = events(&out);
        assert_common(&evs);
        let items = done_items(&evs);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["type"], "message");
        assert_eq!(items[0]["content"][0]["text"], text);
        assert_eq!(t.outcome(), &Outcome::Completed);
    }
}

fn check_failed(bytes: &[u8], code: &str, message: &str) {
    let (out, t) = run(bytes);
    let evs = events(&out);
    assert_common(&evs);
    assert!(
        done_items(&evs).is_empty(),
        "nothing half-finished is committed"
    );
    let resp = terminal(&evs);
    assert_eq!(evs.last().unwrap().0, "response.failed");
    assert_eq!(resp["status"], "failed");
    assert_eq!(resp["error"]["code"], code);
    assert_eq!(resp["error"]["message"], message);
    assert!(!types(&evs).contains(&"error"));
    assert_eq!(
        t.outcome(),
        &Outcome::Failed {
            code: code.into(),
            message: message.into()
        }
    );
}

#[test]
fn e10_error_event_after_partial_text() {
    check_failed(
        fixture!("E10.sse"),
        "server_error",
        "The server had an error while processing your request. Sorry about that!",
    );
    // The partial text was streamed live, but never closed.
    let (out, _) = run(fixture!("E10.sse"));
    let evs = events(&out);
    assert_eq!(
        concat_deltas(&evs, "response.output_text.delta"),
        "The answer is"
    );
}

#[test]
fn e10_variants() {
    check_failed(fixture!("E10b.sse"), "server_error", "TimeoutError");
    check_failed(fixture!("E10c.sse"), "server_error", "upstream failed");
    check_failed(
        fixture!("E10d.sse"),
        "server_error",
        "Provider returned error",
    );
    check_failed(
        fixture!("E10e.sse"),
        "server_error",
        "upstream closed the stream before finishing",
    );
}

#[test]
fn e12_framing_torture() {
    let bytes = fixture!("E12.sse");
    let (out, t) = run(bytes);
    let evs = events(&out);
    assert_common(&evs);
    let items = done_items(&evs);
    assert_eq!(items.len(), 1);
    let text = items[0]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Hello naïve café"));
    assert!(text.len() > 70 * 1024);
    assert!(text.contains("😀 日本語"));
    check_usage(terminal(&evs), 5, 2, 7, 0);
    assert_eq!(t.outcome(), &Outcome::Completed);
    // E12's write schedule: inside a CRLF, inside the JSON, inside a
    // 3-byte character of the long line, and one byte per write for the first event.
    let crlf = bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 1;
    let json = bytes.windows(8).position(|w| w == b"\"choices").unwrap() + 3;
    let euro = bytes.windows(3).position(|w| w == "€".as_bytes()).unwrap() + 1;
    let first_event_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut pieces: Vec<&[u8]> = bytes[..first_event_end].chunks(1).collect();
    let mut cuts = vec![
        first_event_end,
        crlf.max(first_event_end),
        json,
        euro,
        bytes.len(),
    ];
    cuts.sort();
    cuts.dedup();
    let mut at = first_event_end;
    for c in cuts {
        if c > at {
            pieces.push(&bytes[at..c]);
            at = c;
        }
    }
    let (out2, _) = run_pieces(&pieces, ctx());
    assert_eq!(out, out2);
}

#[test]
fn e13_truncated_call_reported_as_tool_calls_is_incomplete() {
    let (out, t) = run(fixture!("E13.sse"));
    let evs = events(&out);
    assert_common(&evs);
    assert_eq!(
        types(&evs),
        [
            "response.created",
            "response.in_progress",
            "response.incomplete"
        ]
    );
    let resp = terminal(&evs);
    assert_eq!(resp["status"], "incomplete");
    assert_eq!(resp["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(resp["output"], serde_json::json!([]));
    assert_eq!(
        t.outcome(),
        &Outcome::Incomplete {
            reason: "max_output_tokens".into()
        }
    );
}

#[test]
fn e13_with_apply_patch_as_a_freeform_tool_is_still_incomplete() {
    let mut tools = ToolTable::new();
    tools.register(None, "apply_patch", ToolKind::Custom);
    let (out, t) = run_pieces(&[fixture!("E13.sse")], ctx_with(tools, opts()));
    let evs = events(&out);
    assert!(done_items(&evs).is_empty());
    assert_eq!(
        terminal(&evs)["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert!(matches!(t.outcome(), Outcome::Incomplete { .. }));
}

// ---- beyond the fixtures ----

fn chunk(delta: Value, finish: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id":"c","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":delta,"finish_reason":finish}]
    }))
    .unwrap()
}

fn run_data(datas: &[Vec<u8>], ctx: ReplyContext) -> (Vec<(String, Value)>, StreamTranslator) {
    let mut t = StreamTranslator::new(ctx);
    let mut out = Vec::new();
    t.start(&mut out);
    for d in datas {
        t.push_data(d, &mut out);
    }
    t.finish_eof(&mut out);
    (events(&out), t)
}

fn done(d: &str) -> Vec<u8> {
    d.as_bytes().to_vec()
}

#[test]
fn calls_are_rebuilt_through_the_tool_table() {
    let mut tools = ToolTable::new();
    let ns_wire = tools.register(Some("mcp__echo_srv"), "say__it", ToolKind::Function);
    let patch = tools.register(None, "apply_patch", ToolKind::Custom);
    let search = tools.register(None, "tool_search", ToolKind::ToolSearch);
    let datas = vec![
        chunk(
            serde_json::json!({"tool_calls":[
                {"index":0,"id":"c0","function":{"name":ns_wire,"arguments":"{\"x\":1}"}},
                {"index":1,"id":"c1","function":{"name":patch,"arguments":"{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}},
                {"index":2,"id":"","function":{"name":search,"arguments":"{\"query\":\"files\",\"limit\":2}"}},
                {"index":3,"function":{"name":patch,"arguments":"raw patch text"}},
                {"index":4,"id":null,"function":{"name":"unknown_tool","arguments":""}}
            ]}),
            Some("tool_calls"),
        ),
        done("[DONE]"),
    ];
    let (evs, _) = run_data(&datas, ctx_with(tools, opts()));
    let items = done_items(&evs);
    assert_eq!(items.len(), 5);
    assert_eq!(
        items[0],
        serde_json::json!({"type":"function_call","id":"fc_t1_1","status":"completed","call_id":"c0",
            "namespace":"mcp__echo_srv","name":"say__it","arguments":"{\"x\":1}"})
    );
    assert_eq!(
        items[1],
        serde_json::json!({"type":"custom_tool_call","id":"ctc_t1_2","status":"completed","call_id":"c1",
            "name":"apply_patch","input":"*** Begin Patch\n*** End Patch\n"})
    );
    assert_eq!(
        items[2],
        serde_json::json!({"type":"tool_search_call","id":"tsc_t1_3","call_id":"call_t1_4","status":"completed",
            "execution":"client","arguments":{"query":"files","limit":2}})
    );
    // A freeform tool's raw input (not JSON at all) is passed on as is.
    assert_eq!(items[3]["type"], "custom_tool_call");
    assert_eq!(items[3]["input"], "raw patch text");
    assert_eq!(items[4]["name"], "unknown_tool");
    assert_eq!(items[4]["arguments"], "{}");
    assert!(
        items[4]["call_id"]
            .as_str()
            .unwrap()
            .starts_with("call_t1_")
    );
}

#[test]
fn custom_input_falls_back_to_the_raw_arguments() {
    let mut tools = ToolTable::new();
    let patch = tools.register(None, "apply_patch", ToolKind::Custom);
    for (args, want) in [
        (r#"{"input":"x"}"#, "x"),
        (r#"{"patch":"x"}"#, r#"{"patch":"x"}"#),
        (r#"{"input":5}"#, r#"{"input":5}"#),
        (r#""just a string""#, r#""just a string""#),
    ] {
        let datas = vec![
            chunk(
                serde_json::json!({"tool_calls":[{"index":0,"id":"p","function":{"name":patch,"arguments":args}}]}),
                Some("tool_calls"),
            ),
            done("[DONE]"),
        ];
        let (evs, _) = run_data(&datas, ctx_with(tools.clone(), opts()));
        assert_eq!(done_items(&evs)[0]["input"], want, "{args}");
    }
}

#[test]
fn gemini_index_zero_reuse_with_new_ids_and_name_after_arguments() {
    let datas = vec![
        chunk(
            serde_json::json!({"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\"n\":1}"}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"index":0,"id":"b","function":{"name":"f","arguments":"{\"n\":2}"}}]}),
            None,
        ),
        // Name arriving after the arguments, id repeated on every fragment (DeepSeek).
        chunk(
            serde_json::json!({"tool_calls":[{"index":1,"id":"c","type":"function","function":{"arguments":"{\"n\":"}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"index":1,"id":"c","type":"","function":{"arguments":"3}"}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"index":1,"id":"c","function":{"name":"g"}}]}),
            None,
        ),
        // Several calls in one array, no index, no id.
        chunk(
            serde_json::json!({"tool_calls":[
                {"function":{"name":"h","arguments":"{}"}},
                {"function":{"name":"h","arguments":"{\"k\":1}"}}
            ]}),
            None,
        ),
        // Arguments given as an object (llama-server).
        chunk(
            serde_json::json!({"tool_calls":[{"id":"d","function":{"name":"i","arguments":{"z":[1]}}}]}),
            Some("tool_calls"),
        ),
        // A second finish chunk is ignored.
        chunk(serde_json::json!({}), Some("stop")),
        done("[DONE]"),
    ];
    let (evs, t) = run_data(&datas, ctx());
    let items = done_items(&evs);
    let got: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["call_id"].as_str().unwrap().to_owned(),
                i["name"].as_str().unwrap().to_owned(),
                i["arguments"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got[0], ("a".into(), "f".into(), r#"{"n":1}"#.into()));
    assert_eq!(got[1], ("b".into(), "f".into(), r#"{"n":2}"#.into()));
    assert_eq!(got[2], ("c".into(), "g".into(), r#"{"n":3}"#.into()));
    assert_eq!((got[3].1.as_str(), got[3].2.as_str()), ("h", "{}"));
    assert_eq!((got[4].1.as_str(), got[4].2.as_str()), ("h", r#"{"k":1}"#));
    assert_ne!(got[3].0, got[4].0);
    assert_eq!(got[5], ("d".into(), "i".into(), r#"{"z":[1]}"#.into()));
    assert_eq!(t.finish_reason(), Some("tool_calls"));
}

#[test]
fn indexless_idless_whole_calls_in_separate_chunks_stay_separate() {
    let datas = vec![
        // Ollama style: each call whole, no index, no id.
        chunk(
            serde_json::json!({"tool_calls":[{"function":{"name":"a","arguments":"{\"x\":1}"}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"function":{"name":"a","arguments":"{\"x\":2}"}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"function":{"name":"b","arguments":""}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"function":{"name":"c","arguments":"{}"}}]}),
            None,
        ),
        // Name repeated on every fragment while the arguments grow.
        chunk(
            serde_json::json!({"tool_calls":[{"function":{"name":"d","arguments":"{\"y\""}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"function":{"name":"d","arguments":":3}"}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"function":{"name":"d","arguments":""}}]}),
            Some("tool_calls"),
        ),
    ];
    let (evs, _) = run_data(&datas, ctx());
    let got: Vec<(String, String)> = done_items(&evs)
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                i["arguments"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("a", r#"{"x":1}"#),
        ("a", r#"{"x":2}"#),
        ("b", "{}"),
        ("c", "{}"),
        ("d", r#"{"y":3}"#),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn a_call_opened_without_index_continues_with_one() {
    let datas = vec![
        chunk(
            serde_json::json!({"tool_calls":[{"id":"k","function":{"name":"f","arguments":"{\"a\""}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"index":0,"function":{"arguments":":1"}}]}),
            None,
        ),
        chunk(
            serde_json::json!({"tool_calls":[{"index":0,"id":"k","function":{"arguments":"}"}}]}),
            Some("tool_calls"),
        ),
    ];
    let (evs, _) = run_data(&datas, ctx());
    let items = done_items(&evs);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["arguments"], r#"{"a":1}"#);
}

#[test]
fn length_finish_closes_text_but_never_emits_calls() {
    let datas = vec![
        chunk(serde_json::json!({"reasoning_content":"think"}), None),
        chunk(serde_json::json!({"content":"partial"}), None),
        chunk(
            serde_json::json!({"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{}"}}]}),
            Some("length"),
        ),
        done("[DONE]"),
    ];
    let (evs, t) = run_data(&datas, ctx());
    let items = done_items(&evs);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "reasoning");
    assert_eq!(items[1]["type"], "message");
    let resp = terminal(&evs);
    assert_eq!(evs.last().unwrap().0, "response.incomplete");
    assert_eq!(resp["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(resp["output"].as_array().unwrap().len(), 2);
    assert_eq!(
        t.outcome(),
        &Outcome::Incomplete {
            reason: "max_output_tokens".into()
        }
    );

    let datas = vec![chunk(
        serde_json::json!({"content":"no"}),
        Some("content_filter"),
    )];
    let (evs, _) = run_data(&datas, ctx());
    assert_eq!(
        terminal(&evs)["incomplete_details"]["reason"],
        "content_filter"
    );
}

#[test]
fn done_without_finish_and_empty_streams() {
    // [DONE] after content but without any finish_reason: a normal stop.
    let (evs, t) = run_data(
        &[
            chunk(serde_json::json!({"content":"hi"}), None),
            done("[DONE]"),
        ],
        ctx(),
    );
    assert_eq!(evs.last().unwrap().0, "response.completed");
    assert_eq!(t.outcome(), &Outcome::Completed);
    // [DONE] and nothing else: failed.
    let (evs, t) = run_data(
        &[
            chunk(serde_json::json!({"content":""}), None),
            done("[DONE]"),
        ],
        ctx(),
    );
    assert_eq!(terminal(&evs)["error"]["code"], "server_error");
    assert!(matches!(t.outcome(), Outcome::Failed { .. }));
    // An empty body.
    let (evs, _) = run_data(&[], ctx());
    assert_eq!(
        terminal(&evs)["error"]["message"],
        "upstream closed the stream before finishing"
    );
    // A finish with no output at all is a (empty) completed reply.
    let (evs, _) = run_data(
        &[chunk(serde_json::json!({"content":""}), Some("stop"))],
        ctx(),
    );
    assert_eq!(terminal(&evs)["status"], "completed");
    assert!(done_items(&evs).is_empty());
}

#[test]
fn garbage_and_odd_chunks_are_skipped() {
    let datas = vec![
        done("not json"),
        done("{\"choices\": 5}"),
        done("{\"object\":\"ping\"}"),
        done(r#"{"choices":[{"index":1,"delta":{"content":"other choice"}}]}"#),
        done(
            r#"{"choices":[{"delta":{"role":"assistant","content":[{"type":"text","text":"parts"}],"tool_calls":null}}],"extra":{"a":1}}"#,
        ),
        done(
            r#"{"choices":[{"index":0,"delta":{"content":" ok","reasoning":{"effort":"low"}}}],"usage":{"prompt_tokens":"x"}}"#,
        ),
        done(
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"prompt_cache_hit_tokens":6,"completion_tokens_details":{"reasoning_tokens":2}}}"#,
        ),
        done(r#"{"choices":[],"usage":{"prompt_tokens":1.5,"completion_tokens":4}}"#),
        chunk(serde_json::json!({}), Some("stop")),
        done("[DONE]"),
        done(r#"{"choices":[{"index":0,"delta":{"content":"after the end"}}]}"#),
    ];
    let (evs, t) = run_data(&datas, ctx());
    let items = done_items(&evs);
    assert_eq!(items[0]["content"][0]["text"], "parts ok");
    let u = &terminal(&evs)["usage"];
    assert_eq!(u["total_tokens"], 14);
    assert_eq!(u["input_tokens_details"]["cached_tokens"], 6);
    assert_eq!(u["output_tokens_details"]["reasoning_tokens"], 2);
    assert!(t.is_terminated());
}

#[test]
fn lone_surrogate_escapes_do_not_lose_the_chunk() {
    let datas = vec![
        done(r#"{"choices":[{"index":0,"delta":{"content":"a\ud83d"}}]}"#),
        done(r#"{"choices":[{"index":0,"delta":{"content":"\ude00b \ud83d\ude00 \\ud800"}}]}"#),
        chunk(serde_json::json!({}), Some("stop")),
    ];
    let (evs, _) = run_data(&datas, ctx());
    assert_eq!(
        done_items(&evs)[0]["content"][0]["text"],
        "a\u{fffd}\u{fffd}b 😀 \\ud800"
    );
}

#[test]
fn think_splitter_edge_cases() {
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        // Not a think tag after all: held back only while it could be one.
        (&["<", "b>bold</b>"], None, "<b>bold</b>"),
        (&["<thi"], None, "<thi"),
        (
            &["\n\n<think>", "r", "</think>", "answer"],
            Some("r"),
            "answer",
        ),
        (&["<think></think>answer"], None, "answer"),
        (
            &["<think>\nabc\n\n", "</thi", "nk>  \n", "\n x"],
            Some("abc"),
            "x",
        ),
        (&["<think>never closed </th"], Some("never closed </th"), ""),
        (&["Hello <think>x</think>"], None, "Hello <think>x</think>"),
        (&["<think>a </b", "> c</think>d"], Some("a </b> c"), "d"),
    ];
    for (pieces, reasoning, text) in cases {
        let mut datas: Vec<Vec<u8>> = pieces
            .iter()
            .map(|p| chunk(serde_json::json!({ "content": p }), None))
            .collect();
        datas.push(chunk(serde_json::json!({}), Some("stop")));
        let (evs, _) = run_data(&datas, ctx());
        let items = done_items(&evs);
        let got_r = items
            .iter()
            .find(|i| i["type"] == "reasoning")
            .map(|i| i["content"][0]["text"].as_str().unwrap().to_owned());
        let got_t = items
            .iter()
            .find(|i| i["type"] == "message")
            .map(|i| i["content"][0]["text"].as_str().unwrap().to_owned())
            .unwrap_or_default();
        assert_eq!(got_r.as_deref(), *reasoning, "{pieces:?}");
        assert_eq!(got_t, *text, "{pieces:?}");
        assert_eq!(
            concat_deltas(&evs, "response.output_text.delta"),
            *text,
            "{pieces:?}"
        );
        assert_eq!(
            concat_deltas(&evs, "response.reasoning_text.delta"),
            reasoning.unwrap_or(""),
            "{pieces:?}"
        );
    }
}

#[test]
fn reasoning_summary_off_keeps_an_empty_summary() {
    let mut o = opts();
    o.reasoning_summary = false;
    let (out, _) = run_pieces(&[fixture!("E7.sse")], ctx_with(ToolTable::new(), o));
    let evs = events(&out);
    assert!(!types(&evs).iter().any(|t| t.contains("summary")));
    let r = &done_items(&evs)[0];
    assert_eq!(r["summary"], serde_json::json!([]));
    assert_eq!(r["content"][0]["text"], E7_REASONING);
}

#[test]
fn error_forms_and_codes_in_the_stream() {
    let cases = [
        (
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            "context_length_exceeded",
        ),
        (
            r#"{"error":{"message":"Rate limit exceeded","code":429}}"#,
            "rate_limit_exceeded",
        ),
        (
            r#"{"error":{"message":"Engine overloaded","code":"server_is_overloaded"}}"#,
            "server_is_overloaded",
        ),
        (
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota"}}"#,
            "insufficient_quota",
        ),
        (
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"error","error":{"message":"choice failed"}}]}"#,
            "server_error",
        ),
        (
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}"#,
            "server_error",
        ),
    ];
    for (data, code) in cases {
        let datas = vec![
            chunk(serde_json::json!({"content":"x"}), None),
            done(data),
            done("[DONE]"),
        ];
        let (evs, _) = run_data(&datas, ctx());
        let resp = terminal(&evs);
        assert_eq!(resp["error"]["code"], code, "{data}");
        assert!(done_items(&evs).is_empty());
        if code == "rate_limit_exceeded" {
            assert!(
                resp["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("try again in 2s")
            );
        }
    }
}

#[test]
fn fail_heartbeat_and_termination() {
    let mut t = StreamTranslator::new(ctx());
    let mut out = Vec::new();
    t.start(&mut out);
    t.start(&mut out); // idempotent
    t.heartbeat(&mut out);
    t.push_data(&chunk(serde_json::json!({"content":"x"}), None), &mut out);
    assert!(!t.is_terminated());
    assert_eq!(t.outcome(), &Outcome::InProgress);
    t.fail("server_error", "shutting down", &mut out);
    assert!(t.is_terminated());
    let len = out.len();
    t.fail("server_error", "again", &mut out);
    t.heartbeat(&mut out);
    t.push_data(b"[DONE]", &mut out);
    t.finish_eof(&mut out);
    assert_eq!(out.len(), len, "nothing after the terminal event");
    let evs = events(&out);
    assert_eq!(
        types(&evs),
        [
            "response.created",
            "response.in_progress",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.failed"
        ]
    );
    assert_eq!(evs[2].1["response"]["status"], "in_progress");
    assert_eq!(terminal(&evs)["error"]["message"], "shutting down");
}

// ---- JSON mode ----

fn json_mode(body: &str, tools: ToolTable) -> (Value, Outcome) {
    let (bytes, outcome) = translate_chat_completion(body.as_bytes(), ctx_with(tools, opts()));
    (serde_json::from_slice(&bytes).unwrap(), outcome)
}

#[test]
fn json_reply_with_text_and_usage() {
    let body = r#"{"id":"chatcmpl-75fc","object":"chat.completion","created":1732684495,
        "model":"meta-llama/Meta-Llama-3.1-70B-Instruct",
        "choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","name":null,"tool_calls":null},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":48,"total_tokens":248,"completion_tokens":200,"estimated_cost":9.68e-05}}"#;
    let (v, outcome) = json_mode(body, ToolTable::new());
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(v["id"], "resp_t1");
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "deepseek-ai/DeepSeek-V4-Flash");
    assert_eq!(v["output"][0]["content"][0]["text"], "Hi there");
    assert_eq!(v["usage"]["total_tokens"], 248);
}

#[test]
fn json_reply_with_reasoning_and_tool_calls() {
    let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,
        "reasoning_content":"need ls",
        "tool_calls":[{"id":"call_X0x","type":"function","function":{"name":"shell","arguments":"{\"command\": [\"ls\"]}"}},
                      {"id":"call_Y","type":"function","function":{"name":"shell","arguments":"{}"}}]},
        "finish_reason":"tool_calls"}]}"#;
    let (v, outcome) = json_mode(body, ToolTable::new());
    assert_eq!(outcome, Outcome::Completed);
    let out = v["output"].as_array().unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["type"], "reasoning");
    assert_eq!(
        reasoning::decode(out[0]["encrypted_content"].as_str().unwrap())
            .unwrap()
            .text,
        "need ls"
    );
    assert_eq!(out[1]["call_id"], "call_X0x");
    assert_eq!(out[2]["call_id"], "call_Y");
    assert!(v.get("usage").is_none());
}

#[test]
fn json_reply_errors_and_garbage() {
    let (v, outcome) = json_mode(
        r#"{"error":{"message":"Model busy, retry later","code":"engine_overloaded"}}"#,
        ToolTable::new(),
    );
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert!(matches!(outcome, Outcome::Failed { .. }));
    let (v, _) = json_mode("<html>oops</html>", ToolTable::new());
    assert_eq!(v["error"]["code"], "server_error");
    assert_eq!(v["error"]["message"], "upstream reply is not JSON");
    let (v, outcome) = json_mode(
        r#"{"choices":[{"index":0,"message":{"content":"cut"},"finish_reason":"length"}]}"#,
        ToolTable::new(),
    );
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(
        outcome,
        Outcome::Incomplete {
            reason: "max_output_tokens".into()
        }
    );
}

// ---- re-chunking ----

fn run_split(bytes: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for c in cuts {
        pieces.push(&bytes[at..c]);
        at = c;
    }
    pieces.push(&bytes[at..]);
    run_pieces(&pieces, ctx()).0
}

#[test]
fn one_byte_per_push_gives_the_same_bytes() {
    for (name, bytes) in FIXTURES {
        let whole = run(bytes).0;
        let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run_pieces(&pieces, ctx()).0, whole, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn any_rechunking_gives_the_same_bytes(
        which in 0..FIXTURES.len(),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let (name, bytes) = FIXTURES[which];
        let whole = run(bytes).0;
        prop_assert_eq!(run_split(bytes, &cuts), whole, "{}", name);
    }
}

/// The hand-written per-token events must be byte for byte what serde writes for the same
/// fields (Codex parses them with serde too; any escaping difference would be a bug).
#[test]
fn delta_events_are_written_exactly_as_serde_would() {
    #[derive(Serialize)]
    struct Expected<'a> {
        #[serde(rename = "type")]
        ty: &'a str,
        sequence_number: u64,
        item_id: &'a str,
        output_index: u32,
        summary_index: u32,
        delta: &'a str,
    }
    let tricky = "q\"b\\n\nt\tc\u{1}\u{1f}d\u{7f}<>&é😀\u{2028}";
    for (seq, output_index, delta) in [(0, 0, ""), (9, 10, tricky), (u64::MAX - 1, u32::MAX, "x")] {
        let mut em = Emitter { seq, quiet: false };
        let mut out = Vec::new();
        let ty = "response.reasoning_summary_text.delta";
        em.emit_delta(
            &mut out,
            ty,
            "rs_a\"b_1",
            output_index,
            "summary_index",
            delta,
        );
        let expected = serde_json::to_string(&Expected {
            ty,
            sequence_number: seq,
            item_id: "rs_a\"b_1",
            output_index,
            summary_index: 0,
            delta,
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("event: {ty}\ndata: {expected}\n\n")
        );
        assert_eq!(em.seq, seq + 1);
    }
}

/// An event that is not UTF-8 is not a chat chunk: it is skipped and the stream goes on.
#[test]
fn an_upstream_event_that_is_not_utf8_is_skipped() {
    let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\xe9\"}}]}\n\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n\
        data: [DONE]\n\n";
    let (out, tr) = run(body);
    let evs = events(&out);
    assert_eq!(concat_deltas(&evs, "response.output_text.delta"), "ok");
    assert_eq!(tr.outcome(), &Outcome::Completed);
}

/// `limits.max_output_bytes`: text, reasoning and tool arguments all count; past the cap the
/// reply ends with one `response.failed` naming the setting, and nothing after it is taken.
#[test]
fn output_past_the_cap_ends_the_reply_with_response_failed() {
    let delta = |d: Value| format!("{}", serde_json::json!({"choices":[{"index":0,"delta":d}]}));
    for first in [
        serde_json::json!({"content": "x".repeat(60)}),
        serde_json::json!({"reasoning_content": "y".repeat(60)}),
        serde_json::json!({"tool_calls":[{"index":0,"id":"c1","function":{"name":"shell","arguments":"z".repeat(60)}}]}),
    ] {
        let mut t = StreamTranslator::new(ctx());
        t.set_max_output(100);
        let mut out = Vec::new();
        t.start(&mut out);
        t.push_data(delta(first.clone()).as_bytes(), &mut out);
        assert!(!t.is_terminated(), "{first}: under the cap");
        t.push_data(
            delta(serde_json::json!({"content": "w".repeat(60)})).as_bytes(),
            &mut out,
        );
        assert!(t.is_terminated(), "{first}: over the cap");
        t.push_data(
            delta(serde_json::json!({"content": "more"})).as_bytes(),
            &mut out,
        );
        t.push_data(b"[DONE]", &mut out);
        let evs = events(&out);
        let resp = terminal(&evs);
        assert_eq!(resp["status"], "failed");
        assert_eq!(resp["error"]["code"], MAX_OUTPUT_CODE);
        let message = resp["error"]["message"].as_str().unwrap();
        assert!(message.contains("limits.max_output_bytes"), "{message}");
        assert!(!out.windows(4).any(|w| w == b"more"));
        assert!(matches!(t.outcome(), Outcome::Failed { code, .. } if code == MAX_OUTPUT_CODE));
    }
    // Exactly at the cap is allowed.
    let mut t = StreamTranslator::new(ctx());
    t.set_max_output(60);
    let mut out = Vec::new();
    t.push_data(
        delta(serde_json::json!({"content": "x".repeat(60)})).as_bytes(),
        &mut out,
    );
    t.push_data(b"[DONE]", &mut out);
    assert_eq!(t.outcome(), &Outcome::Completed);
}
