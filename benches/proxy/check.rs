//! Is a reply right? A fast wrong answer is an error, never a data point.
//!
//! - Direct (chat, from the mock): the body must be byte-for-byte the scenario's reply.
//! - Through the daemon, streamed: a *light* check on every reply (the last event is
//!   `response.completed`; the final text and/or the tool call's name and arguments appear
//!   JSON-encoded in the body) and a *deep* check on a sample (every event parses, its `type`
//!   matches the `event:` line, sequence numbers count up from 0, `response.created` first,
//!   exactly one terminal event and it is last, the deltas add up to the expected text and
//!   reasoning, the `output_item.done` items carry the full text / the call, usage totals).
//!   The light check keeps the client's CPU low at high request rates; the sample keeps it
//!   honest.
//! - Through the daemon, JSON: the Response object parses, is `completed` and carries the
//!   expected text and usage.

use serde_json::Value;

use crate::workload::Expect;

/// Precomputed needles for the light check.
pub struct Needles {
    text: Option<Vec<u8>>,
    call_name: Option<Vec<u8>>,
    call_args: Option<Vec<u8>>,
}

impl Needles {
    pub fn new(e: &Expect) -> Self {
        let enc = |s: &str| serde_json::to_vec(s).expect("string encodes");
        Needles {
            text: e
                .text
                .as_deref()
                .map(|t| [b"\"text\":".as_slice(), &enc(t)].concat()),
            call_name: e
                .call
                .as_ref()
                .map(|(n, _)| [b"\"name\":".as_slice(), &enc(n)].concat()),
            call_args: e
                .call
                .as_ref()
                .map(|(_, a)| [b"\"arguments\":".as_slice(), &enc(a)].concat()),
        }
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Light check of a Responses SSE body.
pub fn sse_light(body: &[u8], n: &Needles) -> Result<(), String> {
    let tail_start = body.len().saturating_sub(64 * 1024);
    let last_event = body[tail_start..]
        .windows(7)
        .rposition(|w| w == b"event: ")
        .map(|i| &body[tail_start + i + 7..]);
    let Some(last) = last_event else {
        return Err(format!("no SSE event in a {}-byte body", body.len()));
    };
    if !last.starts_with(b"response.completed\n") {
        let ty: Vec<u8> = last.iter().take_while(|&&b| b != b'\n').copied().collect();
        return Err(format!(
            "last event is {:?}, not response.completed; body tail: {}",
            String::from_utf8_lossy(&ty),
            String::from_utf8_lossy(&body[body.len().saturating_sub(600)..])
        ));
    }
    for (what, needle) in [
        ("text", &n.text),
        ("tool name", &n.call_name),
        ("tool arguments", &n.call_args),
    ] {
        if let Some(needle) = needle
            && !contains(body, needle)
        {
            return Err(format!("the expected {what} is missing from the reply"));
        }
    }
    Ok(())
}

/// Deep check of a Responses SSE body.
pub fn sse_deep(body: &[u8], e: &Expect) -> Result<(), String> {
    let text = std::str::from_utf8(body).map_err(|_| "reply is not UTF-8".to_string())?;
    let mut deltas = String::new();
    let mut reasoning = String::new();
    let mut reasoning_summary = String::new();
    let mut done_text: Option<String> = None;
    let mut done_call: Option<(String, String)> = None;
    let mut terminal: Option<(String, Value)> = None;
    for (i, block) in text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .enumerate()
    {
        if let Some((t, _)) = &terminal {
            return Err(format!("event after the terminal {t}: {block:?}"));
        }
        let mut ty = None;
        let mut data = None;
        for line in block.lines() {
            if let Some(t) = line.strip_prefix("event: ") {
                ty = Some(t);
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(d);
            }
        }
        let (Some(ty), Some(data)) = (ty, data) else {
            return Err(format!(
                "event {i} lacks an event: or data: line: {block:?}"
            ));
        };
        let v: Value = serde_json::from_str(data)
            .map_err(|err| format!("event {i} is not JSON ({err}): {data}"))?;
        if v["type"] != ty {
            return Err(format!("event {i}: type {} under event: {ty}", v["type"]));
        }
        let seq = i as u64;
        if v["sequence_number"] != seq {
            return Err(format!(
                "event {i}: sequence_number {} (expected {seq})",
                v["sequence_number"]
            ));
        }
        if i == 0 && ty != "response.created" {
            return Err(format!("first event is {ty}"));
        }
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        match ty {
            "response.output_text.delta" => deltas.push_str(&s("delta")),
            "response.reasoning_text.delta" => reasoning.push_str(&s("delta")),
            "response.reasoning_summary_text.delta" => reasoning_summary.push_str(&s("delta")),
            "response.output_item.done" => {
                let item = &v["item"];
                match item["type"].as_str() {
                    Some("message") => {
                        done_text = Some(
                            item["content"][0]["text"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        )
                    }
                    Some("function_call") => {
                        if item["call_id"].as_str().unwrap_or_default().is_empty() {
                            return Err("function_call without call_id".into());
                        }
                        done_call = Some((
                            item["name"].as_str().unwrap_or_default().to_owned(),
                            item["arguments"].as_str().unwrap_or_default().to_owned(),
                        ))
                    }
                    _ => {}
                }
            }
            "response.completed" | "response.failed" | "response.incomplete" => {
                terminal = Some((ty.to_owned(), v))
            }
            _ => {}
        }
    }
    let Some((ty, v)) = terminal else {
        return Err("no terminal event".into());
    };
    if ty != "response.completed" {
        return Err(format!("terminal event is {ty}: {v}"));
    }
    if let Some(t) = &e.text {
        if &deltas != t {
            return Err(format!("text deltas add up to {deltas:?}, expected {t:?}"));
        }
        if done_text.as_ref() != Some(t) {
            return Err(format!("output_item.done text is {done_text:?}"));
        }
    }
    if let Some(r) = &e.reasoning
        && &reasoning != r
        && &reasoning_summary != r
    {
        return Err(format!(
            "reasoning deltas add up to {reasoning:?}, expected {r:?}"
        ));
    }
    if let Some(c) = &e.call
        && done_call.as_ref() != Some(c)
    {
        return Err(format!(
            "output_item.done call is {done_call:?}, expected {c:?}"
        ));
    }
    let total = v["response"]["usage"]["total_tokens"].as_u64();
    if total != Some(e.total_tokens) {
        return Err(format!(
            "usage.total_tokens is {total:?}, expected {}",
            e.total_tokens
        ));
    }
    Ok(())
}

/// Check of a Responses JSON body.
pub fn json(body: &[u8], e: &Expect) -> Result<(), String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|err| format!("reply is not JSON: {err}"))?;
    if v["status"] != "completed" {
        return Err(format!("status is {}, body {v}", v["status"]));
    }
    let text = v["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect::<String>();
    if let Some(t) = &e.text
        && &text != t
    {
        return Err(format!("output text is {text:?}, expected {t:?}"));
    }
    if v["usage"]["total_tokens"].as_u64() != Some(e.total_tokens) {
        return Err(format!("usage is {}", v["usage"]));
    }
    Ok(())
}
