//! The live checks, shared by `tests/live.rs` (the real provider) and `tests/doctor.rs` (the
//! mock, so the flow itself is tested where there is no token): requests sent to a daemon's
//! `/v1/responses` as Codex sends them, each reply checked by the same stream check as
//! `shimctl smoke` (`deepinfra_shim::control::smoke::check`).
//!
//! The tool round trip: a function tool the model must call (`get_magic_number`), the call's
//! output sent back with the items of the first turn (as Codex replays its history), then the
//! final answer, which must carry the number.

use serde_json::{Value, json};

use deepinfra_shim::control::smoke::check::Verdict;
use deepinfra_shim::control::smoke::{request_body, send, user_message};

/// The tool the model is asked to call.
pub const TOOL: &str = "get_magic_number";
/// What the tool returns.
pub const MAGIC: &str = "42";

/// The function tool, in the Responses shape Codex sends.
pub fn tool() -> Value {
    json!({
        "type": "function",
        "name": TOOL,
        "description": "Returns today's magic number. Takes no arguments.",
        "strict": false,
        "parameters": {"type": "object", "properties": {}, "additionalProperties": false},
    })
}

/// Panics, with everything the verdict holds, unless Codex could use the stream: a terminal
/// `response.completed` with usage, no problem found.
pub fn assert_usable(v: &Verdict, what: &str) {
    assert!(
        v.usable(),
        "{what}: the stream is not what Codex needs: {:#?}",
        v
    );
    assert_eq!(
        v.terminal.as_deref(),
        Some("response.completed"),
        "{what}: {v:#?}"
    );
    assert!(v.usage.is_some_and(|u| u.total > 0), "{what}: usage {v:#?}");
}

/// The smoke request: "Reply with exactly OK." One message, usable by Codex.
pub async fn ok_turn(url: &str, key: Option<&str>, model: &str) -> Verdict {
    let body = request_body(
        model,
        vec![user_message(deepinfra_shim::control::smoke::PROMPT)],
        vec![],
    );
    let v = send(url, key, &body).await.expect("the smoke request");
    assert_usable(&v, "smoke");
    assert!(
        !v.text.trim().is_empty(),
        "smoke: no text in the answer: {v:#?}"
    );
    v
}

/// The tool round trip; returns both turns' verdicts.
pub async fn tool_round_trip(url: &str, key: Option<&str>, model: &str) -> (Verdict, Verdict) {
    let ask = user_message(&format!(
        "Call the {TOOL} tool now (it takes no arguments), then tell me the number it returns."
    ));
    let first = send(
        url,
        key,
        &request_body(model, vec![ask.clone()], vec![tool()]),
    )
    .await
    .expect("the first turn");
    assert_usable(&first, "tool turn");
    let call = first
        .function_calls
        .iter()
        .find(|c| c.name == TOOL)
        .unwrap_or_else(|| panic!("the model did not call {TOOL}: {first:#?}"));
    assert!(!call.call_id.is_empty(), "{first:#?}");
    let args: Value = serde_json::from_str(if call.arguments.trim().is_empty() {
        "{}"
    } else {
        &call.arguments
    })
    .unwrap_or_else(|e| panic!("arguments {:?} are not JSON: {e}", call.arguments));
    assert!(args.is_object(), "arguments {args} are not an object");

    // Codex's next request: the history so far, then the tool's output.
    let mut input = vec![ask];
    input.extend(first.items.iter().cloned());
    input.push(json!({"type": "function_call_output", "call_id": call.call_id, "output": MAGIC}));
    let second = send(url, key, &request_body(model, input, vec![tool()]))
        .await
        .expect("the turn after the tool output");
    assert_usable(&second, "answer after the tool");
    let text = second.text.to_lowercase();
    assert!(
        text.contains(MAGIC) || text.contains("forty-two") || text.contains("forty two"),
        "the answer does not carry the tool's output: {second:#?}"
    );
    (first, second)
}
