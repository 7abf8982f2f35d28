//! The request translation: any body is either refused with a message, or becomes a chat
//! request a Chat Completions provider accepts (docs/protocol.md#request):
//!
//! 1. valid JSON, an object with `model` (the upstream's name) and `stream` as asked, and
//!    `stream_options.include_usage` exactly when streamed;
//! 2. `messages`: not empty, not only `system`; `system` only first; every message has
//!    `content`; `reasoning_content`, when sent, is a non-empty string;
//! 3. an assistant message with `tool_calls` is followed by one `tool` message per call, in
//!    call order, with its `tool_call_id` and string content; one without calls has string
//!    content; no `tool` message stands anywhere else;
//! 4. every call and every tool has a valid wire name, calls carry string arguments, tools an
//!    object of parameters.

use serde_json::Value;

use crate::translate::options::{ImagePolicy, ReasoningPolicy, TranslateOptions};
use crate::translate::request::{parse_request, translate_request};
use crate::translate::tools::is_valid_wire_name;

/// The option sets requests are translated with: the defaults, and every compat setting
/// flipped at once.
fn option_sets() -> [TranslateOptions; 3] {
    let plain = TranslateOptions::for_model("upstream/model");
    let mut compat = TranslateOptions::for_model("other-model");
    compat.drop_tool_call_content = true;
    compat.reasoning = ReasoningPolicy::Replay;
    compat.images = ImagePolicy::Placeholder;
    compat.max_output_tokens = Some(1000);
    compat.send_parallel_tool_calls = true;
    let mut dropping = TranslateOptions::for_model("m");
    dropping.reasoning = ReasoningPolicy::Drop;
    [plain, compat, dropping]
}

/// Every check on one Responses body; the error says which failed.
pub fn check(body: &[u8]) -> Result<(), String> {
    let req = match parse_request(body) {
        Ok(req) => req,
        Err(e) if e.to_string().trim().is_empty() => return Err("an empty parse error".into()),
        Err(_) => return Ok(()),
    };
    if req.model.is_empty() {
        return Err("a request without a model was accepted".into());
    }
    for opts in option_sets() {
        let tr = match translate_request(&req, &opts) {
            Ok(tr) => tr,
            Err(e) if e.to_string().trim().is_empty() => {
                return Err("an empty translation error".into());
            }
            Err(_) => continue,
        };
        let chat: Value = serde_json::from_slice(&tr.body).map_err(|e| {
            format!(
                "the chat body is not JSON ({e}): {}",
                String::from_utf8_lossy(&tr.body)
            )
        })?;
        check_chat(&chat, &opts.upstream_model, req.stream)
            .map_err(|e| format!("{e}\nchat body: {chat}"))?;
    }
    Ok(())
}

fn check_chat(chat: &Value, model: &str, stream: bool) -> Result<(), String> {
    if chat["model"] != model {
        return Err(format!("model is {}, not {model:?}", chat["model"]));
    }
    if chat["stream"] != stream {
        return Err(format!("stream is {}, asked {stream}", chat["stream"]));
    }
    if (chat["stream_options"]["include_usage"] == true) != stream {
        return Err("stream_options.include_usage must be sent exactly when streaming".into());
    }
    let msgs = chat["messages"]
        .as_array()
        .ok_or("messages is not an array")?;
    if msgs.iter().all(|m| m["role"] == "system") {
        return Err("no message besides system ones".into());
    }
    let mut i = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        let role = m["role"].as_str().unwrap_or_default();
        match role {
            "system" if i == 0 => {}
            "user" | "assistant" => {}
            other => return Err(format!("message {i}: role {other:?} here")),
        }
        if m.get("content").is_none() {
            return Err(format!("message {i} has no content"));
        }
        if let Some(rc) = m.get("reasoning_content")
            && rc.as_str().is_none_or(str::is_empty)
        {
            return Err(format!("message {i}: reasoning_content {rc}"));
        }
        i += 1;
        if role != "assistant" {
            continue;
        }
        let Some(calls) = m.get("tool_calls") else {
            if !m["content"].is_string() {
                return Err(format!(
                    "message {}: assistant without calls or text",
                    i - 1
                ));
            }
            continue;
        };
        let calls = calls.as_array().filter(|c| !c.is_empty());
        for c in calls.ok_or(format!("message {}: empty tool_calls", i - 1))? {
            let name = c["function"]["name"].as_str().unwrap_or_default();
            if c["type"] != "function" || !is_valid_wire_name(name) {
                return Err(format!("bad tool call {c}"));
            }
            if !c["function"]["arguments"].is_string() {
                return Err(format!("call arguments not a string: {c}"));
            }
            let id = c["id"].as_str().ok_or(format!("call without id: {c}"))?;
            let reply = msgs
                .get(i)
                .ok_or(format!("no tool message for call {id}"))?;
            if reply["role"] != "tool" || reply["tool_call_id"] != id {
                return Err(format!("call {id} is followed by {reply}"));
            }
            if !reply["content"].is_string() {
                return Err(format!("tool message content not a string: {reply}"));
            }
            i += 1;
        }
    }
    if let Some(tools) = chat.get("tools") {
        for t in tools.as_array().ok_or("tools is not an array")? {
            let name = t["function"]["name"].as_str().unwrap_or_default();
            if t["type"] != "function"
                || !is_valid_wire_name(name)
                || !t["function"]["parameters"].is_object()
            {
                return Err(format!("bad tool {t}"));
            }
        }
    }
    Ok(())
}

/// The fuzz target: the input is a Responses request body.
pub fn fuzz_one(data: &[u8]) {
    if let Err(e) = check(data) {
        panic!("{e}\nrequest: {:?}", String::from_utf8_lossy(data));
    }
}
