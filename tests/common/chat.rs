//! Reading and scripting the chat side of a Codex turn, shared by the Codex end-to-end tests.
//!
//! Contract:
//! - The readers take what the mock upstream recorded ([`Recorded`] or its `messages()`) and
//!   never change it; the ones that must find something panic with the messages they searched.
//! - A message's text is its `content` string, or the `text` of its content parts joined
//!   without separator; anything else reads as empty.
//! - The handlers are plain `Fn(&Recorded) -> Reply` for [`super::MockUpstream::set_handler`];
//!   they decide by the request alone (a tool result in the history or not), so Codex's
//!   retries see the same answer again.

use serde_json::{Value, json};

use super::mock_upstream::{Recorded, Reply};

/// The text of a chat message (`content` as a string or as text parts).
pub fn text_of(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The index of the assistant message that carries a tool call with `id` (at any position
/// among its calls).
pub fn assistant_with_call(messages: &[Value], id: &str) -> usize {
    messages
        .iter()
        .position(|m| {
            m["role"] == "assistant"
                && m["tool_calls"]
                    .as_array()
                    .is_some_and(|calls| calls.iter().any(|c| c["id"] == id))
        })
        .unwrap_or_else(|| panic!("no assistant message with a tool call {id}: {messages:#?}"))
}

/// The index of the assistant message whose *first* tool call has `id`. Stricter than
/// [`assistant_with_call`]: callers that read `tool_calls[0]` as this call rely on the order.
pub fn assistant_with_first_call(messages: &[Value], id: &str) -> usize {
    messages
        .iter()
        .position(|m| m["role"] == "assistant" && m["tool_calls"][0]["id"] == id)
        .unwrap_or_else(|| {
            panic!("no assistant message with tool_calls[0].id == {id}: {messages:#?}")
        })
}

/// The tool message answering `id`.
pub fn tool_message(messages: &[Value], id: &str) -> Value {
    messages
        .iter()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no tool message for {id}: {messages:#?}"))
}

/// The text of the last user message of a chat request (empty when there is none).
pub fn last_user_text(req: &Recorded) -> String {
    req.messages()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(text_of)
        .unwrap_or_default()
}

/// Does any user message of the request contain `needle`?
pub fn any_user_contains(req: &Recorded, needle: &str) -> bool {
    req.messages()
        .iter()
        .any(|m| m["role"] == "user" && text_of(m).contains(needle))
}

/// Codex's local compaction request: no tools, and the compaction prompt as the last user
/// message (docs/protocol.md#compaction).
pub fn is_compaction(req: &Recorded) -> bool {
    req.tools().is_empty() && last_user_text(req).contains("CONTEXT CHECKPOINT COMPACTION")
}

/// One tool round: `call` (a tool-call turn) until the history holds a tool result, then
/// `answer` as a plain text turn.
pub fn one_tool_round(call: Reply, answer: &str) -> impl Fn(&Recorded) -> Reply + use<> {
    let answer = answer.to_owned();
    move |req| {
        if req.has_tool_messages() {
            Reply::text(answer.clone())
        } else {
            call.clone()
        }
    }
}

/// An `apply_patch` call with `{"input": patch}` as its arguments (as Codex's freeform tool
/// goes upstream), then `Patched.` once its output came back.
pub fn patch_loop(call_id: &str, patch: &str) -> impl Fn(&Recorded) -> Reply + use<> {
    one_tool_round(
        Reply::tool_call(
            call_id,
            "apply_patch",
            json!({ "input": patch }).to_string(),
        ),
        "Patched.",
    )
}
