use std::time::Duration;

use super::check::{StreamCheck, Verdict, is_ok_answer};
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The events the daemon sends for a one-message answer, with usage.
fn good_stream(text: &str) -> Vec<Value> {
    let item = json!({"id":"msg_1","type":"message","role":"assistant","status":"completed",
        "content":[{"type":"output_text","text":text,"annotations":[]}]});
    vec![
        json!({"type":"response.created","response":{"id":"resp_1","status":"in_progress","output":[]}}),
        json!({"type":"response.in_progress","response":{"id":"resp_1"}}),
        json!({"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","role":"assistant","status":"in_progress","content":[]}}),
        json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":&text[..1]}),
        json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":&text[1..]}),
        json!({"type":"response.output_item.done","output_index":0,"item":item}),
        json!({"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{
            "input_tokens":12,"input_tokens_details":{"cached_tokens":2},"output_tokens":1,
            "output_tokens_details":{"reasoning_tokens":0},"total_tokens":13}}}),
    ]
}

fn run(events: &[Value]) -> Verdict {
    let mut c = StreamCheck::new();
    for (i, e) in events.iter().enumerate() {
        c.push(e.to_string().as_bytes(), ms(100 + 10 * i as u64));
    }
    c.finish(ms(1000))
}

#[test]
fn a_good_stream_is_usable_with_answer_times_and_tokens() {
    let v = run(&good_stream("OK"));
    assert!(v.usable(), "{:?}", v.problems);
    assert_eq!(v.text, "OK");
    assert_eq!(v.first_token, Some(ms(130)));
    assert_eq!(v.total, ms(160));
    let u = v.usage.unwrap();
    assert_eq!((u.input, u.cached, u.output, u.total), (12, 2, 1, 13));
    let text = doctor::render(&verdict_lines(&v), Style::PLAIN);
    assert!(text.contains("ok    answer   \"OK\" (as asked)"), "{text}");
    assert!(
        text.contains("first token after 130 ms, complete after 160 ms"),
        "{text}"
    );
    assert!(
        text.contains("12 in (2 cached), 1 out (0 reasoning), 13 total"),
        "{text}"
    );
    assert!(text.contains("ok    codex    usable: response.created first, 1 output item (1 message), response.completed with usage"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn no_terminal_event_is_a_failure_codex_would_retry() {
    let mut events = good_stream("OK");
    events.pop();
    let v = run(&events);
    assert!(!v.usable());
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains("without a terminal event")),
        "{:?}",
        v.problems
    );
    let lines = verdict_lines(&v);
    assert!(!doctor::all_good(&lines));
}

#[test]
fn what_codex_cannot_parse_is_named() {
    // No response.created first, usage with a missing total, a delta without an open item,
    // a function call whose arguments are an object, and an event after the end.
    let events = vec![
        json!({"type":"response.output_text.delta","delta":"x"}),
        json!({"type":"response.output_item.done","item":{"type":"function_call","call_id":"c","name":"f","arguments":{"a":1}}}),
        json!({"type":"response.completed","response":{"id":"r","usage":{"input_tokens":1,"output_tokens":1}}}),
        json!({"type":"response.in_progress"}),
    ];
    let v = run(&events);
    let all = v.problems.join("\n");
    assert!(
        all.contains("the first event is response.output_text.delta, not response.created"),
        "{all}"
    );
    assert!(all.contains("with no output item open"), "{all}");
    assert!(
        all.contains("without call_id, name or string arguments"),
        "{all}"
    );
    assert!(all.contains("total_tokens is not an integer"), "{all}");
    assert!(all.contains("1 event after the terminal event"), "{all}");
    // No usage at all is named too.
    let mut events = good_stream("OK");
    events[6] = json!({"type":"response.completed","response":{"id":"resp_1"}});
    let v = run(&events);
    assert!(
        v.problems.iter().any(|p| p.contains("has no usage")),
        "{:?}",
        v.problems
    );
}

#[test]
fn a_failed_response_says_why_and_a_tool_call_is_collected() {
    let events = vec![
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.failed","response":{"id":"r","error":{"code":"server_error","message":"upstream returned HTTP 500"}}}),
    ];
    let v = run(&events);
    assert_eq!(
        v.failure.as_deref(),
        Some("server_error: upstream returned HTTP 500")
    );
    let text = doctor::render(&verdict_lines(&v), Style::PLAIN);
    assert!(
        text.contains(
            "FAIL  codex    the response failed (server_error: upstream returned HTTP 500)"
        ),
        "{text}"
    );
    assert!(!text.contains("answer"), "{text}");

    let call = json!({"id":"fc_1","type":"function_call","status":"completed","call_id":"call_1","name":"get_magic_number","arguments":"{}"});
    let events = vec![
        json!({"type":"response.created","response":{"id":"r"}}),
        json!({"type":"response.output_item.added","item":{"id":"fc_1","type":"function_call"}}),
        json!({"type":"response.function_call_arguments.delta","delta":"{}"}),
        json!({"type":"response.output_item.done","item":call}),
        json!({"type":"response.completed","response":{"id":"r","usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}}),
    ];
    let v = run(&events);
    assert!(v.usable(), "{:?}", v.problems);
    assert_eq!(v.function_calls.len(), 1);
    assert_eq!(v.function_calls[0].name, "get_magic_number");
    assert_eq!(v.items, vec![call]);
}

#[test]
fn the_answer_check_allows_case_and_a_full_stop() {
    for ok in ["OK", "ok", " OK. ", "Ok"] {
        assert!(is_ok_answer(ok), "{ok}");
    }
    for not in ["", "OKAY", "OK!", "Sure, OK"] {
        assert!(!is_ok_answer(not), "{not}");
    }
    let v = run(&good_stream("Okay!"));
    let text = doctor::render(&verdict_lines(&v), Style::PLAIN);
    assert!(
        text.contains("warn  answer   \"Okay!\" (not exactly OK)"),
        "{text}"
    );
    assert!(
        doctor::all_good(&verdict_lines(&v)),
        "a wordy model is not a broken shim"
    );
}

#[test]
fn the_request_is_shaped_like_codex() {
    let b = request_body("m", vec![user_message(PROMPT)], vec![]);
    assert_eq!(b["stream"], true);
    assert_eq!(b["store"], false);
    assert_eq!(b["input"][0]["content"][0]["text"], PROMPT);
    // The daemon's own parser takes it.
    let bytes = serde_json::to_vec(&b).unwrap();
    let parsed = crate::translate::request::parse_request(&bytes).unwrap();
    assert!(parsed.stream);
    assert_eq!(parsed.model, "m");
}
