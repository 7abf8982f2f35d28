//! [`StreamTranslator`]: any upstream body, read by the SSE parser, becomes a well-formed
//! Responses event sequence (docs/protocol.md#events):
//!
//! 1. every event is `event: T\ndata: {"type":"T","sequence_number":N,…}\n\n`, numbered 0, 1,
//!    2, … in order;
//! 2. `response.created` then `response.in_progress` open it, and exactly one terminal event
//!    (`response.completed`, `response.incomplete` or `response.failed`) ends it, with the
//!    matching `status`;
//! 3. each item is added once under a fresh `output_index` (0, 1, …); its deltas come between
//!    its `added` and its `done`, name its id and index, and add up to its final text;
//! 4. a completed or incomplete response closes every item it added, once, and lists exactly
//!    those in `output` in index order; a failed one closes none and says why;
//! 5. the non-streamed reply (the same translator, silent) is the terminal event's Response.

use serde_json::Value;

use crate::translate::TranslateOptions;
use crate::translate::reply::context::ReplyContext;
use crate::translate::sse::SseParser;
use crate::translate::stream::StreamTranslator;
use crate::translate::tools::{ToolKind, ToolTable};

const TERMINAL: &[&str] = &[
    "response.completed",
    "response.incomplete",
    "response.failed",
];

/// The tools a Codex request offers, one of each kind, so calls in the corpus map back to a
/// function, a freeform tool, `tool_search` and a namespaced tool.
fn context(reasoning_summary: bool) -> ReplyContext {
    let mut tools = ToolTable::new();
    tools.register(None, "exec_command", ToolKind::Function);
    tools.register(None, "apply_patch", ToolKind::Custom);
    tools.register(None, "tool_search", ToolKind::ToolSearch);
    tools.register(Some("mcp__srv"), "say", ToolKind::Function);
    let mut opts = TranslateOptions::for_model("upstream/model");
    opts.reasoning_summary = reasoning_summary;
    ReplyContext {
        response_id: "resp_fuzz".into(),
        requested_model: "codex-model".into(),
        created_at: 1_760_000_000,
        tools,
        opts,
    }
}

/// Upstream `body` through the parser and `t`, as the server's pump drives them: every event's
/// data in order, a heartbeat after each event whose data has a length divisible by 7, and the
/// end of the body (or a failure when an event is too large).
fn drive(t: &mut StreamTranslator, body: &[u8], max_event: usize) -> Vec<u8> {
    let mut out = Vec::new();
    t.start(&mut out);
    let mut parser = SseParser::new(max_event);
    let mut on_data = |d: &[u8]| {
        t.push_data(d, &mut out);
        if d.len().is_multiple_of(7) {
            t.heartbeat(&mut out);
        }
    };
    match parser.push(body, &mut on_data) {
        Ok(()) => {
            parser.finish(&mut on_data);
            t.finish_eof(&mut out);
        }
        Err(e) => t.fail("server_error", &e.to_string(), &mut out),
    }
    out
}

/// One event of the output.
struct Event {
    ty: String,
    data: Value,
}

/// Splits the output into events, checking the framing (1).
fn events(out: &[u8]) -> Result<Vec<Event>, String> {
    let text = std::str::from_utf8(out).map_err(|e| format!("output is not UTF-8: {e}"))?;
    let Some(body) = text.strip_suffix("\n\n") else {
        return Err(format!("output does not end an event: {text:?}"));
    };
    let mut evs = Vec::new();
    for (n, ev) in body.split("\n\n").enumerate() {
        let framed = ev
            .strip_prefix("event: ")
            .and_then(|ev| ev.split_once("\ndata: "));
        let Some((ty, data)) = framed else {
            return Err(format!("event {n} is not `event:` then `data:`: {ev:?}"));
        };
        if ty.contains('\n') || data.contains('\n') {
            return Err(format!("event {n} has more than two lines: {ev:?}"));
        }
        let data: Value =
            serde_json::from_str(data).map_err(|e| format!("event {n} data: {e}: {data}"))?;
        if data["type"] != ty {
            return Err(format!(
                "event {n} is {ty} but its type is {}",
                data["type"]
            ));
        }
        if data["sequence_number"] != n {
            return Err(format!(
                "event {n} ({ty}) has sequence_number {}",
                data["sequence_number"]
            ));
        }
        evs.push(Event {
            ty: ty.to_owned(),
            data,
        });
    }
    Ok(evs)
}

/// An item between its `added` and its `done`.
struct Open {
    id: String,
    deltas: String,
    done: bool,
}

/// Checks (2)–(4) on the events; returns the terminal event's Response object.
fn check_sequence(evs: &[Event]) -> Result<&Value, String> {
    let types: Vec<&str> = evs.iter().map(|e| e.ty.as_str()).collect();
    if types.get(..2) != Some(&["response.created", "response.in_progress"][..]) {
        return Err(format!(
            "does not open with created, in_progress: {types:?}"
        ));
    }
    let terminals: Vec<usize> = (0..evs.len())
        .filter(|&i| TERMINAL.contains(&types[i]))
        .collect();
    if terminals != [evs.len() - 1] {
        return Err(format!("not exactly one terminal event, last: {types:?}"));
    }
    let last = &evs[evs.len() - 1];
    let failed = last.ty == "response.failed";
    let resp = &last.data["response"];
    let status = last.ty.strip_prefix("response.").unwrap_or_default();
    if resp["status"] != status {
        return Err(format!("{} with status {}", last.ty, resp["status"]));
    }

    let mut items: Vec<Open> = Vec::new();
    for (n, ev) in evs.iter().enumerate() {
        let d = &ev.data;
        match ev.ty.as_str() {
            "response.output_item.added" => {
                if d["output_index"] != items.len() {
                    return Err(format!(
                        "event {n}: item added at output_index {}, expected {}",
                        d["output_index"],
                        items.len()
                    ));
                }
                let id = d["item"]["id"].as_str().unwrap_or_default();
                if id.is_empty() || items.iter().any(|i| i.id == id) {
                    return Err(format!("event {n}: item id {id:?} is empty or taken"));
                }
                items.push(Open {
                    id: id.to_owned(),
                    deltas: String::new(),
                    done: false,
                });
            }
            "response.output_item.done" => {
                let item = open_item(&mut items, d, n, "done")?;
                item.done = true;
                check_done_item(&d["item"], &item.deltas).map_err(|e| format!("event {n}: {e}"))?;
            }
            "response.output_text.delta" | "response.reasoning_text.delta" => {
                let delta = d["delta"].as_str().unwrap_or_default().to_owned();
                let item = open_item(&mut items, d, n, "delta")?;
                item.deltas.push_str(&delta);
            }
            "response.reasoning_summary_text.delta"
            | "response.content_part.added"
            | "response.reasoning_summary_part.added" => {
                open_item(&mut items, d, n, &ev.ty)?;
            }
            "response.created" if n == 0 => {}
            "response.in_progress" => {}
            t if TERMINAL.contains(&t) => {}
            other => return Err(format!("event {n}: unexpected event type {other}")),
        }
    }

    let closed = items.iter().filter(|i| i.done).count();
    if failed {
        if closed > 0 {
            return Err(format!("a failed response closed {closed} items"));
        }
        let error = &resp["error"];
        let named = |k: &str| error[k].as_str().is_some_and(|s| !s.is_empty());
        if !named("code") || !named("message") {
            return Err(format!("response.failed without code and message: {error}"));
        }
    } else {
        if closed != items.len() {
            return Err(format!(
                "{} of {} items never closed before {}",
                items.len() - closed,
                items.len(),
                last.ty
            ));
        }
        let ids: Vec<&str> = resp["output"]
            .as_array()
            .map(|o| o.iter().map(|i| i["id"].as_str().unwrap_or("")).collect())
            .unwrap_or_default();
        let added: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        if ids != added {
            return Err(format!(
                "output lists {ids:?}, the items added were {added:?}"
            ));
        }
    }
    Ok(resp)
}

/// The item an event refers to (by `output_index`, and `item_id` when the event has one),
/// which must be added and not yet done.
fn open_item<'a>(
    items: &'a mut [Open],
    d: &Value,
    n: usize,
    what: &str,
) -> Result<&'a mut Open, String> {
    let index = d["output_index"]
        .as_u64()
        .and_then(|i| usize::try_from(i).ok());
    let Some(item) = index.and_then(|i| items.get_mut(i)) else {
        return Err(format!("event {n}: {what} for an item never added: {d}"));
    };
    let id = d.get("item_id").or_else(|| d["item"].get("id"));
    if id.and_then(Value::as_str) != Some(item.id.as_str()) {
        return Err(format!(
            "event {n}: {what} names {id:?}, the item is {}",
            item.id
        ));
    }
    if item.done {
        return Err(format!("event {n}: {what} after the item was done"));
    }
    Ok(item)
}

/// A finished item: its text is what its deltas said; a call's payload has the type Codex
/// reads (arguments as a string, a tool search's as an object).
fn check_done_item(item: &Value, deltas: &str) -> Result<(), String> {
    let text = |key: &str| item[key][0]["text"].as_str().unwrap_or_default().to_owned();
    match item["type"].as_str() {
        Some("message") if text("content") != deltas => Err(format!(
            "message text {:?} is not its deltas {deltas:?}",
            text("content")
        )),
        Some("reasoning") if text("content") != deltas => Err(format!(
            "reasoning text {:?} is not its deltas {deltas:?}",
            text("content")
        )),
        Some("message" | "reasoning") => Ok(()),
        Some("function_call") if item["arguments"].is_string() && item["name"].is_string() => {
            Ok(())
        }
        Some("custom_tool_call") if item["input"].is_string() => Ok(()),
        Some("tool_search_call") if item["arguments"].is_object() => Ok(()),
        _ => Err(format!("malformed item {item}")),
    }
}

/// Every check on one upstream body; the error says which failed.
pub fn check(body: &[u8], reasoning_summary: bool, max_event: usize) -> Result<(), String> {
    let mut t = StreamTranslator::new(context(reasoning_summary));
    let out = drive(&mut t, body, max_event);
    if !t.is_terminated() {
        return Err("the translator is not terminated after the end".into());
    }
    let evs = events(&out)?;
    let resp = check_sequence(&evs)?;

    // Nothing after the end.
    let mut more = Vec::new();
    t.push_data(br#"{"choices":[{"delta":{"content":"late"}}]}"#, &mut more);
    t.heartbeat(&mut more);
    t.finish_eof(&mut more);
    t.fail("server_error", "late", &mut more);
    if !more.is_empty() {
        return Err(format!(
            "events after the terminal one: {:?}",
            String::from_utf8_lossy(&more)
        ));
    }

    let mut silent = StreamTranslator::silent(context(reasoning_summary));
    let quiet = drive(&mut silent, body, max_event);
    if !quiet.is_empty() {
        return Err("the silent translator wrote events".into());
    }
    let reply = silent
        .take_response()
        .ok_or("the silent translator kept no Response")?;
    let reply: Value =
        serde_json::from_slice(&reply).map_err(|e| format!("the silent Response: {e}"))?;
    if reply != *resp {
        return Err(format!(
            "the non-streamed reply {reply} is not the streamed one {resp}"
        ));
    }
    Ok(())
}

/// The fuzz target: the input is an upstream SSE body. Checked with and without reasoning
/// summaries, and with an event limit small enough that longer events end the stream.
pub fn fuzz_one(data: &[u8]) {
    for (summary, max_event) in [(true, 16 << 20), (false, 16 << 20), (true, 256)] {
        if let Err(e) = check(data, summary, max_event) {
            panic!("{e}\nbody: {:?}", String::from_utf8_lossy(data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ty: &str, n: usize, rest: &str) -> String {
        format!("event: {ty}\ndata: {{\"type\":\"{ty}\",\"sequence_number\":{n}{rest}}}\n\n")
    }

    #[test]
    fn a_recorded_stream_passes_and_broken_sequences_are_caught() {
        check(
            include_bytes!("../../../tests/fixtures/upstream/E1.sse"),
            true,
            1 << 20,
        )
        .unwrap();
        let resp = |status: &str| format!(r#","response":{{"status":"{status}","output":[]}}"#);
        let good = [
            ev("response.created", 0, &resp("in_progress")),
            ev("response.in_progress", 1, &resp("in_progress")),
            ev("response.completed", 2, &resp("completed")),
        ]
        .concat();
        assert!(check_sequence(&events(good.as_bytes()).unwrap()).is_ok());
        let misnumbered = good.replace("\"sequence_number\":2", "\"sequence_number\":3");
        assert!(events(misnumbered.as_bytes()).is_err());
        let two_ends = [good.clone(), ev("response.failed", 3, &resp("failed"))].concat();
        assert!(check_sequence(&events(two_ends.as_bytes()).unwrap()).is_err());
        let unclosed = [
            ev("response.created", 0, &resp("in_progress")),
            ev("response.in_progress", 1, &resp("in_progress")),
            ev(
                "response.output_item.added",
                2,
                r#","output_index":0,"item":{"id":"msg_1","type":"message"}"#,
            ),
            ev("response.completed", 3, &resp("completed")),
        ]
        .concat();
        let e = check_sequence(&events(unclosed.as_bytes()).unwrap()).unwrap_err();
        assert!(e.contains("never closed"), "{e}");
    }
}
