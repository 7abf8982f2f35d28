//! Checks a `/v1/responses` event stream the way Codex reads it (docs/protocol.md, "What
//! Codex needs back"): pure, fed one `data:` payload at a time with the time it arrived.
//!
//! What makes a stream unusable for Codex, each one a problem in the [`Verdict`]:
//! - the first event is not `response.created` (with a `response` object);
//! - no terminal event (Codex retries, then fails with "stream closed before
//!   response.completed"), or a terminal `response.failed` / `response.incomplete`;
//! - events after the terminal one;
//! - a `response.completed` without a string `response.id`, or without usage, or with usage
//!   Codex cannot parse (all three totals integers; details, when present, with their count);
//! - an output item Codex would drop: a message that is not the assistant's or whose content
//!   is not `output_text` parts with text, a reasoning item without `summary`, a function call
//!   whose `arguments` is not a string or that lacks `call_id` / `name`;
//! - a delta with no item open (Codex drops it), or streamed text that differs from the text
//!   of the finished message;
//! - no output item at all.

use std::time::Duration;

use serde_json::Value;

/// One function call the model made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCall {
    pub call_id: String,
    pub name: String,
    /// The arguments as sent (a JSON text).
    pub arguments: String,
}

/// Token counts from `response.completed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
    pub total: u64,
}

/// What a stream held, and every reason Codex could not use it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// The assistant's text: the finished message items' `output_text`, in order.
    pub text: String,
    /// Every finished output item (`response.output_item.done`), in order: what Codex keeps
    /// in its history and sends back on the next turn.
    pub items: Vec<Value>,
    pub function_calls: Vec<FunctionCall>,
    pub usage: Option<Usage>,
    /// Until the first delta of any kind (text, reasoning, call arguments), else the first
    /// finished item.
    pub first_token: Option<Duration>,
    /// Until the terminal event (else the end of the stream).
    pub total: Duration,
    /// The terminal event's type.
    pub terminal: Option<String>,
    /// Why the response failed or is incomplete, as the daemon said it.
    pub failure: Option<String>,
    pub events: usize,
    pub problems: Vec<String>,
}

impl Verdict {
    /// Nothing in the stream would stop Codex.
    pub fn usable(&self) -> bool {
        self.problems.is_empty()
    }
}

/// True when `text` is the answer the smoke prompt asks for (`OK`, give or take case, a final
/// full stop and surrounding space).
pub fn is_ok_answer(text: &str) -> bool {
    let t = text.trim();
    let t = t.strip_suffix('.').unwrap_or(t).trim();
    t.eq_ignore_ascii_case("ok")
}

/// Feeds payloads in, [`StreamCheck::finish`] gives the [`Verdict`].
#[derive(Debug, Default)]
pub struct StreamCheck {
    v: Verdict,
    /// Output items opened and not yet finished.
    open: usize,
    /// Text deltas of the message being streamed.
    streamed: String,
    after_terminal: usize,
    last_at: Duration,
}

const DELTAS: &[&str] = &[
    "response.output_text.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
];

impl StreamCheck {
    pub fn new() -> StreamCheck {
        StreamCheck::default()
    }

    /// One event's `data:` payload, `at` after the request was sent.
    pub fn push(&mut self, payload: &[u8], at: Duration) {
        self.last_at = at;
        let Ok(event) = serde_json::from_slice::<Value>(payload) else {
            // Codex skips payloads that are not JSON; so do we, but it is not what we send.
            self.problem("an event whose data is not JSON (Codex skips it)".to_owned());
            return;
        };
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        let first = self.v.events == 0;
        self.v.events += 1;
        if self.v.terminal.is_some() {
            self.after_terminal += 1;
            return;
        }
        if first && kind != "response.created" {
            self.problem(format!(
                "the first event is {}, not response.created",
                shown(kind)
            ));
        }
        if DELTAS.contains(&kind) {
            self.v.first_token.get_or_insert(at);
            if self.open == 0 {
                self.problem(format!("{kind} with no output item open (Codex drops it)"));
            }
        }
        match kind {
            "response.created" if event.get("response").is_none_or(|r| !r.is_object()) => {
                self.problem("response.created without a response object".to_owned());
            }
            "response.output_item.added" => self.open += 1,
            "response.output_text.delta" => {
                if let Some(d) = event.get("delta").and_then(Value::as_str) {
                    self.streamed.push_str(d);
                }
            }
            "response.output_item.done" => {
                self.open = self.open.saturating_sub(1);
                self.v.first_token.get_or_insert(at);
                match event.get("item") {
                    Some(item) => self.item(item),
                    None => self.problem("response.output_item.done without an item".to_owned()),
                }
            }
            "response.completed" => {
                self.terminal(kind, at);
                self.completed(&event);
            }
            "response.failed" => {
                self.terminal(kind, at);
                let err = event.pointer("/response/error");
                let code = err.and_then(|e| e.get("code")).and_then(Value::as_str);
                let message = err.and_then(|e| e.get("message")).and_then(Value::as_str);
                let why = format!(
                    "{}: {}",
                    code.unwrap_or("no code"),
                    message.unwrap_or("no message")
                );
                self.problem(format!("the response failed ({why})"));
                self.v.failure = Some(why);
            }
            "response.incomplete" => {
                self.terminal(kind, at);
                let reason = event
                    .pointer("/response/incomplete_details/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                self.problem(format!("the response is incomplete ({reason})"));
                self.v.failure = Some(reason.to_owned());
            }
            _ => {}
        }
    }

    /// The verdict once the stream ended (`at` after the request was sent).
    pub fn finish(mut self, at: Duration) -> Verdict {
        if self.v.terminal.is_none() {
            self.v.total = at.max(self.last_at);
            let p = if self.v.events == 0 {
                "the stream held no event at all".to_owned()
            } else {
                "the stream ended without a terminal event (response.completed): Codex would \
                 retry, then fail with \"stream closed before response.completed\""
                    .to_owned()
            };
            self.problem(p);
        }
        if self.after_terminal > 0 {
            let n = self.after_terminal;
            self.problem(format!(
                "{n} event{} after the terminal event (Codex stops reading there)",
                if n == 1 { "" } else { "s" }
            ));
        }
        if self.v.events > 0 && self.v.items.is_empty() && self.v.failure.is_none() {
            self.problem(
                "no output item (response.output_item.done): Codex would show nothing".to_owned(),
            );
        }
        // A response that failed or broke off may stop mid-message: nothing to compare with.
        let finished_message = self
            .v
            .items
            .iter()
            .any(|i| i.get("type").and_then(Value::as_str) == Some("message"));
        if self.v.failure.is_none() && finished_message && self.streamed != self.v.text {
            self.problem(
                "the streamed text differs from the text of the finished message".to_owned(),
            );
        }
        self.v
    }

    fn problem(&mut self, p: String) {
        self.v.problems.push(p);
    }

    fn terminal(&mut self, kind: &str, at: Duration) {
        self.v.terminal = Some(kind.to_owned());
        self.v.total = at;
    }

    fn completed(&mut self, event: &Value) {
        let Some(resp) = event.get("response") else {
            self.problem("response.completed without a response object".to_owned());
            return;
        };
        if !resp.get("id").is_some_and(Value::is_string) {
            self.problem("response.completed without a string response.id".to_owned());
        }
        match resp.get("usage") {
            None | Some(Value::Null) => self.problem(
                "response.completed has no usage (Codex then cannot tell when to compact)"
                    .to_owned(),
            ),
            Some(u) => match usage(u) {
                Ok(u) => self.v.usage = Some(u),
                Err(e) => self.problem(format!(
                    "usage that Codex cannot parse ({e}): it would count the stream as failed"
                )),
            },
        }
    }

    fn item(&mut self, item: &Value) {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match kind {
            "message" => {
                if item.get("role").and_then(Value::as_str) != Some("assistant") {
                    self.problem("a message item whose role is not assistant".to_owned());
                }
                let parts = item.get("content").and_then(Value::as_array);
                let Some(parts) = parts else {
                    self.problem("a message item without a content array".to_owned());
                    return;
                };
                for p in parts {
                    match (p.get("type").and_then(Value::as_str), text(p, "text")) {
                        (Some("output_text"), Some(t)) => self.v.text.push_str(&t),
                        _ => self
                            .problem("a message part that is not output_text with text".to_owned()),
                    }
                }
            }
            "reasoning" if !item.get("summary").is_some_and(Value::is_array) => {
                self.problem("a reasoning item without summary (Codex drops it)".to_owned());
            }
            "function_call" => {
                match (
                    text(item, "call_id"),
                    text(item, "name"),
                    text(item, "arguments"),
                ) {
                    (Some(call_id), Some(name), Some(arguments)) => {
                        self.v.function_calls.push(FunctionCall {
                            call_id,
                            name,
                            arguments,
                        })
                    }
                    _ => self.problem(
                        "a function_call item without call_id, name or string arguments (Codex \
                         drops it)"
                            .to_owned(),
                    ),
                }
            }
            "" => self.problem("an output item without a type".to_owned()),
            _ => {}
        }
        self.v.items.push(item.clone());
    }
}

fn shown(kind: &str) -> String {
    if kind.is_empty() {
        "an event without a type".to_owned()
    } else {
        kind.to_owned()
    }
}

/// Codex's reading of `usage`: three integer totals; details may be absent or null, and when
/// present hold their integer count.
fn usage(u: &Value) -> Result<Usage, String> {
    let int = |k: &str| {
        u.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{k} is not an integer"))
    };
    let detail = |k: &str, inner: &str| match u.get(k) {
        None | Some(Value::Null) => Ok(0),
        Some(d) => d
            .get(inner)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{k} has no integer {inner}")),
    };
    Ok(Usage {
        input: int("input_tokens")?,
        output: int("output_tokens")?,
        total: int("total_tokens")?,
        cached: detail("input_tokens_details", "cached_tokens")?,
        reasoning: detail("output_tokens_details", "reasoning_tokens")?,
    })
}
