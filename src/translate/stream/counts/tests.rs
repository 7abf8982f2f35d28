//! The counts of recorded upstream streams (tests/fixtures/upstream/), through the SSE parser and
//! the translator as the server runs them.

use super::super::StreamTranslator;
use super::Counts;
use crate::translate::TranslateOptions;
use crate::translate::reply::context::Usage;
use crate::translate::reply::{ReplyContext, translate_chat_completion_counted};
use crate::translate::sse::SseParser;
use crate::translate::tools::{ToolKind, ToolTable};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/upstream/", $name))
    };
}

/// The tools the fixtures call, offered as a request would offer them.
fn tools() -> ToolTable {
    let mut t = ToolTable::new();
    for name in ["shell", "read_file", "write_file", "search"] {
        t.register(None, name, ToolKind::Function);
    }
    t.register(None, "apply_patch", ToolKind::Custom);
    t
}

fn ctx(tools: ToolTable) -> ReplyContext {
    ReplyContext {
        response_id: "resp_c1".into(),
        requested_model: "m".into(),
        created_at: 1_760_000_000,
        tools,
        opts: TranslateOptions::for_model("upstream/model"),
    }
}

/// Runs a whole body through the parser and translator, one upstream read per `piece`.
fn counts_of(pieces: &[&[u8]], tools: ToolTable) -> (Counts, StreamTranslator) {
    let mut parser = SseParser::new(16 << 20);
    let mut t = StreamTranslator::new(ctx(tools));
    let mut out = Vec::new();
    t.start(&mut out);
    for p in pieces {
        parser
            .push(p, &mut |d| t.push_data(d, &mut out))
            .expect("fixture events fit");
    }
    parser.finish(&mut |d| t.push_data(d, &mut out));
    t.finish_eof(&mut out);
    assert!(t.is_terminated());
    (t.counts(), t)
}

fn counts(bytes: &[u8]) -> Counts {
    counts_of(&[bytes], tools()).0
}

#[test]
fn a_call_cut_by_max_tokens_counts_one_malformed_call() {
    let c = counts(fixture!("E13.sse"));
    assert_eq!(c.tool_calls, 1);
    assert_eq!(c.malformed_arguments, 1);
    assert_eq!(
        (c.repaired_arguments, c.unknown_tools, c.leaked_calls),
        (0, 0, 0)
    );
    // The provider's usage still counts: the tokens were spent.
    let u = c.usage.expect("usage on the finish chunk");
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.total_tokens),
        (900, 64, 964)
    );
}

#[test]
fn a_call_printed_as_text_counts_one_leak_and_no_call() {
    for (name, body) in [
        ("E9 (Kimi)", &fixture!("E9.sse")[..]),
        ("E9b (Qwen)", &fixture!("E9b.sse")[..]),
        ("E9c (gpt-oss)", &fixture!("E9c.sse")[..]),
    ] {
        let c = counts(body);
        assert_eq!(c.leaked_calls, 1, "{name}");
        assert_eq!(c.tool_calls, 0, "{name}");
        assert_eq!(c.malformed_arguments, 0, "{name}");
    }
}

#[test]
fn two_leaked_calls_in_one_section_count_two() {
    let text = "<|tool_calls_section_begin|><|tool_call_begin|>functions.a:0<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_call_begin|>functions.b:1<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>";
    let chunk = serde_json::json!({"choices":[{"index":0,"delta":{"content":text},"finish_reason":"stop"}]});
    let body = format!("data: {chunk}\n\ndata: [DONE]\n\n");
    assert_eq!(counts(body.as_bytes()).leaked_calls, 2);
    // Qwen3-Coder's XML form nests `<function=` inside `<tool_call>`: still one per call.
    let xml =
        "<tool_call>\n<function=shell>\n<parameter=cmd>ls</parameter>\n</function>\n</tool_call>";
    let chunk =
        serde_json::json!({"choices":[{"index":0,"delta":{"content":xml},"finish_reason":"stop"}]});
    let body = format!("data: {chunk}\n\ndata: [DONE]\n\n");
    assert_eq!(counts(body.as_bytes()).leaked_calls, 1);
}

#[test]
fn usage_chunks_fill_the_token_counts() {
    // DeepInfra: usage on the finish chunk, cached tokens in the details.
    let u = counts(fixture!("E1.sse")).usage.expect("E1 usage");
    assert_eq!(
        u,
        Usage {
            input_tokens: 12,
            output_tokens: 3,
            total_tokens: 15,
            cached_tokens: 0,
            reasoning_tokens: 0
        }
    );
    // OpenAI: a separate `choices: []` chunk after the finish.
    let u = counts(fixture!("E2.sse")).usage.expect("E2 usage");
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.total_tokens),
        (9, 1, 10)
    );
    // No usage reported: none invented.
    assert_eq!(counts(fixture!("E5.sse")).usage, None);
}

#[test]
fn well_formed_calls_count_as_calls_only() {
    for (name, body, calls) in [
        ("E3", &fixture!("E3.sse")[..], 1),
        ("E4", &fixture!("E4.sse")[..], 1),
        ("E5", &fixture!("E5.sse")[..], 2),
        ("E6", &fixture!("E6.sse")[..], 2),
        ("E8", &fixture!("E8.sse")[..], 1),
    ] {
        let c = counts(body);
        assert_eq!(c.tool_calls, calls, "{name}");
        assert_eq!(
            (
                c.malformed_arguments,
                c.repaired_arguments,
                c.unknown_tools,
                c.leaked_calls
            ),
            (0, 0, 0, 0),
            "{name}: {c:?}"
        );
    }
}

#[test]
fn counts_do_not_depend_on_how_the_stream_is_cut() {
    let body = fixture!("E5.sse");
    let whole = counts(body);
    for cut in (1..body.len()).step_by(7) {
        let (c, _) = counts_of(&[&body[..cut], &body[cut..]], tools());
        assert_eq!(c, whole, "cut at {cut}");
    }
}

#[test]
fn calls_to_tools_not_offered_count_as_unknown() {
    let (c, _) = counts_of(&[fixture!("E5.sse")], ToolTable::new());
    assert_eq!((c.tool_calls, c.unknown_tools), (2, 2));
}

fn one_call(name: &str, arguments: &str) -> Vec<u8> {
    let call = serde_json::json!({"choices":[{"index":0,"delta":{"tool_calls":[
        {"index":0,"id":"call_1","type":"function","function":{"name":name,"arguments":arguments}}]},
        "finish_reason":"tool_calls"}]});
    format!("data: {call}\n\ndata: [DONE]\n\n").into_bytes()
}

#[test]
fn repaired_arguments_are_counted() {
    // Empty arguments become `{}`.
    let c = counts(&one_call("shell", ""));
    assert_eq!(
        (c.tool_calls, c.repaired_arguments, c.malformed_arguments),
        (1, 1, 0)
    );
    // A freeform tool called with its raw input, or with JSON that is not `{"input": …}`.
    let c = counts(&one_call("apply_patch", "*** Begin Patch\n*** End Patch"));
    assert_eq!((c.repaired_arguments, c.malformed_arguments), (1, 0));
    let c = counts(&one_call("apply_patch", r#"{"patch":"*** Begin Patch"}"#));
    assert_eq!((c.repaired_arguments, c.malformed_arguments), (1, 0));
    // The expected shape needs nothing.
    let c = counts(&one_call("apply_patch", r#"{"input":"*** Begin Patch\n"}"#));
    assert_eq!((c.tool_calls, c.repaired_arguments), (1, 0));
    // A function's arguments that do not parse are malformed, not repaired.
    let c = counts(&one_call("shell", r#"{"cmd": "ls"#));
    assert_eq!((c.repaired_arguments, c.malformed_arguments), (0, 1));
}

#[test]
fn a_whole_reply_counts_like_a_stream() {
    let body = serde_json::json!({"choices":[{"index":0,"message":{"role":"assistant","content":null,
        "tool_calls":[{"id":"c1","type":"function","function":{"name":"nope","arguments":""}}]},
        "finish_reason":"tool_calls"}],
        "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,
                 "prompt_tokens_details":{"cached_tokens":4}}});
    let (_, _, c) = translate_chat_completion_counted(body.to_string().as_bytes(), ctx(tools()));
    // Unknown and repaired: counted once, under the worse.
    assert_eq!(
        (c.tool_calls, c.unknown_tools, c.repaired_arguments),
        (1, 1, 0)
    );
    assert_eq!(c.usage.map(|u| u.cached_tokens), Some(4));
}

#[test]
fn the_first_token_is_seen_with_the_first_output() {
    let mut t = StreamTranslator::new(ctx(tools()));
    let mut out = Vec::new();
    t.start(&mut out);
    assert!(!t.has_output());
    t.push_data(
        br#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        &mut out,
    );
    assert!(!t.has_output(), "an empty first delta is no token");
    t.push_data(
        br#"{"choices":[{"index":0,"delta":{"reasoning_content":"hm"}}]}"#,
        &mut out,
    );
    assert!(t.has_output(), "reasoning is the first token");
}
