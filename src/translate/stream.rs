//! Chat reply (SSE stream or JSON) -> Responses events / object (codex-wire.md §6, §9.2, §9.4;
//! upstream.md §1.3–§1.6, §2, §4, E1–E13).
//!
//! [`StreamTranslator`] is a state machine fed one upstream `data:` payload at a time. It
//! writes Responses SSE bytes (`event: <type>\ndata: <json>\n\n`) into the caller's buffer and
//! owns every ordering guarantee Codex relies on:
//!
//! - `response.created` (+ `response.in_progress`) first, from [`StreamTranslator::start`].
//! - Reasoning (`reasoning_content`, `reasoning`, or a leading `<think>…</think>` in `content`)
//!   and text are streamed live: `output_item.added`, then deltas.
//! - Tool calls are accumulated silently (keyed by `index`, falling back to `id`; arguments
//!   concatenated raw) and emitted at the end, each as `output_item.added` immediately followed
//!   by `output_item.done`. Decision: Codex ignores argument deltas, and waiting until the end
//!   means the item type (from the tool table) and the call id are final when first shown.
//! - `output_item.done` for every item only once the upstream really finished (a
//!   `finish_reason` followed by `[DONE]` or end of body, or `[DONE]` after some output), in
//!   `output_index` order, then exactly one terminal event: `response.completed`,
//!   `response.incomplete` (`length`, `content_filter`, or tool arguments that are not valid
//!   JSON) or `response.failed` (an error in the stream, end of body before finishing, or
//!   [`StreamTranslator::fail`]). A failed response never gets `output_item.done`, so nothing
//!   half-finished lands in Codex's history. After the terminal event everything is ignored.
//!
//! Ids are derived from the response id and a counter (`msg_<suffix>_<n>`, `rs_`, `fc_`,
//! `ctc_`, `tsc_`, `call_`), so the translation needs no clock and no random numbers and the
//! same input always gives the same bytes.
//!
//! [`translate_chat_response`] runs the same accumulator over a whole `chat.completion`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::TranslateOptions;
use super::errors;
use super::reasoning;
use super::tools::{ToolKind, ToolTable};

/// Everything the reply translation needs about the request it answers.
#[derive(Debug, Clone)]
pub struct StreamContext {
    /// `resp_…`, made by the server.
    pub response_id: String,
    /// The model name Codex asked for (echoed in the Response object).
    pub requested_model: String,
    /// Unix seconds, from the server's clock (the translation reads no clock).
    pub created_at: u64,
    pub tools: ToolTable,
    pub opts: TranslateOptions,
}

/// How the response ended (for logs, counters and status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InProgress,
    Completed,
    Incomplete { reason: String },
    Failed { code: String, message: String },
}

/// Token counts in Responses terms (all integers; details default to 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
}

const THINK_OPEN: &str = "<think>";
const THINK_CLOSE: &str = "</think>";

/// Markup of a tool call that the provider's parser failed to extract (upstream.md E9).
const LEAKED_TOOL_MARKERS: &[&str] = &[
    "<|tool_calls_section_begin|>",
    "<|tool_call_section_begin|>",
    "<|tool_call_begin|>",
    "<tool_call>",
    "<|channel|>commentary to=",
    "<function=",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Fresh,
    Streaming,
    Terminated,
}

/// Where `content` text goes (the `<think>` splitter).
///
/// Only a `<think>` at the very start of the content (after whitespace) opens a reasoning
/// block, so text is held back only while everything seen so far could still be a prefix of
/// `<think>` (usually one chunk at most). The R1-distill form (upstream.md E7d), where the
/// template already opened the block and only `</think>` appears, cannot be told apart from
/// an answer that mentions `</think>` without holding back the whole answer; it is passed
/// through as plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContentMode {
    /// Nothing shown yet: `pending` holds content that may still become `<think>`.
    Detect,
    /// Inside `<think>`: content is reasoning; `pending` holds a tail that may be the start
    /// of `</think>` or whitespace that must not end the reasoning text.
    Think { started: bool },
    /// Right after `</think>`: whitespace before the answer is dropped.
    AfterThink,
    /// Plain text.
    Text,
}

#[derive(Debug)]
struct ReasoningAcc {
    id: String,
    output_index: u32,
    text: String,
}

#[derive(Debug)]
struct MessageAcc {
    id: String,
    output_index: u32,
    text: String,
}

#[derive(Debug, Default)]
struct CallAcc {
    index: Option<u64>,
    /// The upstream id (kept verbatim, e.g. Kimi's `functions.shell:0`); empty if none yet.
    id: String,
    name: String,
    arguments: String,
}

/// Writes events; silent in JSON mode.
struct Emitter {
    seq: u64,
    quiet: bool,
}

impl Emitter {
    fn emit<T: Serialize>(&mut self, out: &mut Vec<u8>, ty: &'static str, body: &T) {
        if self.quiet {
            return;
        }
        // `{"type":…,"sequence_number":N,<body's fields>}` written by hand and spliced with the
        // body's own object, rather than through `#[serde(flatten)]`, which routes every event
        // through serde's map machinery (measured on the hot path). Same bytes either way.
        self.header(out, ty);
        let body_start = out.len();
        serde_json::to_writer(&mut *out, body).expect("event serialises");
        debug_assert_eq!(out.get(body_start), Some(&b'{'), "event bodies are objects");
        if out.len() - body_start == 2 {
            // `{}`: no fields to add.
            out.truncate(body_start);
            out.push(b'}');
        } else {
            out[body_start] = b',';
        }
        out.extend_from_slice(b"\n\n");
        self.seq += 1;
    }

    /// A per-token event: `{"type":…,"sequence_number":N,"item_id":…,"output_index":N,
    /// "<index_key>":N,"delta":…}`. These are nearly every event of a stream, so they are
    /// written directly rather than through serde's struct serialiser (the stream profile's
    /// largest user-space item after parsing); only the strings go through serde's escaper.
    fn emit_delta(
        &mut self,
        out: &mut Vec<u8>,
        ty: &'static str,
        item_id: &str,
        output_index: u32,
        index_key: &'static str,
        delta: &str,
    ) {
        if self.quiet {
            return;
        }
        self.header(out, ty);
        out.extend_from_slice(b",\"item_id\":");
        serde_json::to_writer(&mut *out, item_id).expect("a string serialises");
        out.extend_from_slice(b",\"output_index\":");
        push_decimal(out, u64::from(output_index));
        out.extend_from_slice(b",\"");
        out.extend_from_slice(index_key.as_bytes());
        out.extend_from_slice(b"\":0,\"delta\":");
        serde_json::to_writer(&mut *out, delta).expect("a string serialises");
        out.extend_from_slice(b"}\n\n");
        self.seq += 1;
    }

    /// `event: <ty>\ndata: {"type":"<ty>","sequence_number":N` (event types are ASCII
    /// constants with nothing to escape).
    fn header(&self, out: &mut Vec<u8>, ty: &'static str) {
        debug_assert!(
            ty.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        );
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(ty.as_bytes());
        out.extend_from_slice(b"\ndata: {\"type\":\"");
        out.extend_from_slice(ty.as_bytes());
        out.extend_from_slice(b"\",\"sequence_number\":");
        push_decimal(out, self.seq);
    }
}

/// Appends `n` in decimal (what `format!("{n}")` writes, without the formatting machinery).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

pub struct StreamTranslator {
    ctx: StreamContext,
    id_suffix: String,
    next_id: u32,
    next_output_index: u32,
    em: Emitter,
    phase: Phase,
    outcome: Outcome,
    mode: ContentMode,
    pending: String,
    reasoning: Option<ReasoningAcc>,
    message: Option<MessageAcc>,
    calls: Vec<CallAcc>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    /// JSON mode keeps the terminal response object here.
    final_response: Option<Vec<u8>>,
}

impl StreamTranslator {
    pub fn new(ctx: StreamContext) -> Self {
        let id_suffix = ctx
            .response_id
            .strip_prefix("resp_")
            .unwrap_or(&ctx.response_id)
            .to_owned();
        StreamTranslator {
            ctx,
            id_suffix,
            next_id: 0,
            next_output_index: 0,
            em: Emitter {
                seq: 0,
                quiet: false,
            },
            phase: Phase::Fresh,
            outcome: Outcome::InProgress,
            mode: ContentMode::Detect,
            pending: String::new(),
            reasoning: None,
            message: None,
            calls: Vec::new(),
            finish_reason: None,
            usage: None,
            final_response: None,
        }
    }

    /// Writes `response.created` and `response.in_progress`.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.phase != Phase::Fresh {
            return;
        }
        self.phase = Phase::Streaming;
        let resp = response_obj(&self.ctx, "in_progress", &[]);
        self.em
            .emit(out, "response.created", &ResponseBody { response: &resp });
        self.em.emit(
            out,
            "response.in_progress",
            &ResponseBody { response: &resp },
        );
    }

    /// One upstream SSE `data:` payload (a chat chunk JSON, an error object, or `[DONE]`).
    pub fn push_data(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.phase == Phase::Terminated {
            return;
        }
        self.start(out);
        if data.trim_ascii() == b"[DONE]" {
            self.on_done_marker(out);
            return;
        }
        let sanitized;
        let chunk = match super::json_from_bytes::<ChatChunk<'_>>(data) {
            Ok(c) => c,
            Err(first) => match sanitize_lone_surrogates(data) {
                // A server that splits a character between tokens can emit half a
                // surrogate pair as `\ud83d`; serde refuses it, so replace it and retry.
                Some(fixed) => {
                    sanitized = fixed;
                    match super::json_from_bytes::<ChatChunk<'_>>(&sanitized) {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::debug!(error = %e, "skipping an upstream data event that is not a chat chunk");
                            return;
                        }
                    }
                }
                None => {
                    tracing::debug!(error = %first, "skipping an upstream data event that is not a chat chunk");
                    return;
                }
            },
        };
        self.on_chunk(chunk, out);
    }

    /// The upstream body ended.
    pub fn finish_eof(&mut self, out: &mut Vec<u8>) {
        if self.phase == Phase::Terminated {
            return;
        }
        self.start(out);
        match self.finish_reason.clone() {
            Some(reason) => self.finalize(&reason, out),
            None => self.terminate_failed(
                "server_error",
                "upstream closed the stream before finishing",
                out,
            ),
        }
    }

    /// The shim gives up (transport error, timeout, shutdown): `response.failed` unless done.
    pub fn fail(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        if self.phase == Phase::Terminated {
            return;
        }
        self.start(out);
        self.terminate_failed(code, message, out);
    }

    /// `response.in_progress`, to keep Codex's idle timer alive while the upstream is silent.
    pub fn heartbeat(&mut self, out: &mut Vec<u8>) {
        if self.phase == Phase::Terminated {
            return;
        }
        let resp = response_obj(&self.ctx, "in_progress", &[]);
        self.em.emit(
            out,
            "response.in_progress",
            &ResponseBody { response: &resp },
        );
    }

    pub fn is_terminated(&self) -> bool {
        self.phase == Phase::Terminated
    }

    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// The last usable usage the upstream reported (for logs).
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    /// The first `finish_reason` the upstream sent (for logs).
    pub fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }

    // ---- input handling ----

    fn on_chunk(&mut self, chunk: ChatChunk<'_>, out: &mut Vec<u8>) {
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            self.fail_upstream(err, out);
            return;
        }
        if let Some(u) = chunk.usage.as_ref().and_then(parse_usage) {
            self.usage = Some(u);
        }
        let Some(choices) = chunk.choices else {
            return;
        };
        // Only choice 0 matters (we never ask for n > 1); a missing index means 0.
        let Some(choice) = choices
            .into_iter()
            .find(|c| c.index.as_ref().map_or(Some(0), index_of) == Some(0))
        else {
            return;
        };
        if let Some(delta) = choice.delta.or(choice.message) {
            self.on_delta(delta, out);
        }
        if let Some(err) = choice.error.as_ref().filter(|e| !e.is_null()) {
            self.fail_upstream(err, out);
            return;
        }
        if let Some(reason) = choice.finish_reason.filter(|r| !r.0.is_empty()) {
            if reason.0 == "error" {
                self.terminate_failed(
                    "server_error",
                    "upstream ended the generation with finish_reason \"error\"",
                    out,
                );
                return;
            }
            // Two finish chunks (a proxy's `tool_calls` then `stop`): the first wins; tool
            // evidence is decided from the accumulated calls anyway.
            if self.finish_reason.is_none() {
                self.finish_reason = Some(reason.0.into_owned());
            }
        }
    }

    fn on_delta(&mut self, delta: ChatDelta<'_>, out: &mut Vec<u8>) {
        // Some servers (vLLM during its rename) send the same text under both names.
        let reasoning = delta
            .reasoning_content
            .filter(|r| !r.0.is_empty())
            .or(delta.reasoning);
        if let Some(r) = reasoning {
            self.push_reasoning(&r.0, out);
        }
        if let Some(c) = delta.content {
            self.push_content(&c.0, out);
        }
        if let Some(calls) = delta.tool_calls {
            for (pos, frag) in calls.into_iter().enumerate() {
                self.push_tool_fragment(frag, pos);
            }
        }
        if let Some(f) = delta.function_call {
            // The legacy `function_call` delta: one call, continued by every fragment.
            self.push_tool_fragment(
                ToolCallDelta {
                    index: None,
                    id: None,
                    function: Some(f),
                },
                0,
            );
        }
    }

    fn push_content(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        match self.mode {
            ContentMode::Text => self.emit_text(s, out),
            ContentMode::Detect => {
                self.pending.push_str(s);
                let trimmed = self.pending.trim_start();
                if let Some(rest) = trimmed.strip_prefix(THINK_OPEN) {
                    let rest = rest.to_owned();
                    self.pending.clear();
                    self.mode = ContentMode::Think { started: false };
                    self.push_content(&rest, out);
                } else if !THINK_OPEN.starts_with(trimmed) {
                    let text = std::mem::take(&mut self.pending);
                    self.mode = ContentMode::Text;
                    self.emit_text(&text, out);
                }
                // Otherwise (empty, whitespace, or a prefix such as "<thi"): keep waiting.
            }
            ContentMode::Think { started } => {
                let s = if started { s } else { s.trim_start() };
                if s.is_empty() {
                    return;
                }
                self.mode = ContentMode::Think { started: true };
                self.pending.push_str(s);
                if let Some(at) = self.pending.find(THINK_CLOSE) {
                    let reasoning = self.pending[..at].trim_end().to_owned();
                    let after = self.pending[at + THINK_CLOSE.len()..].to_owned();
                    self.pending.clear();
                    self.push_reasoning(&reasoning, out);
                    self.mode = ContentMode::AfterThink;
                    self.push_content(&after, out);
                } else {
                    // Hold back what may be the start of `</think>` and trailing whitespace
                    // (trimmed when the block closes), so the deltas add up to the final text.
                    let keep = partial_suffix(&self.pending, THINK_CLOSE);
                    let cut = self.pending[..self.pending.len() - keep].trim_end().len();
                    if cut > 0 {
                        let emit: String = self.pending.drain(..cut).collect();
                        self.push_reasoning(&emit, out);
                    }
                }
            }
            ContentMode::AfterThink => {
                let rest = s.trim_start();
                if !rest.is_empty() {
                    self.mode = ContentMode::Text;
                    self.emit_text(rest, out);
                }
            }
        }
    }

    /// Releases content held back by the `<think>` splitter (the upstream finished).
    fn flush_content(&mut self, out: &mut Vec<u8>) {
        let pending = std::mem::take(&mut self.pending);
        match self.mode {
            ContentMode::Detect => {
                self.mode = ContentMode::Text;
                self.emit_text(&pending, out);
            }
            ContentMode::Think { .. } => self.push_reasoning(pending.trim_end(), out),
            ContentMode::AfterThink | ContentMode::Text => {}
        }
    }

    fn push_reasoning(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        if self.reasoning.is_none() {
            let id = self.make_id("rs");
            let output_index = self.take_output_index();
            self.em.emit(
                out,
                "response.output_item.added",
                &ItemBody {
                    output_index,
                    item: &Item::Reasoning {
                        id: &id,
                        summary: Vec::new(),
                        content: None,
                        encrypted_content: None,
                    },
                },
            );
            if self.ctx.opts.reasoning_summary {
                self.em.emit(
                    out,
                    "response.reasoning_summary_part.added",
                    &SummaryPartBody {
                        item_id: &id,
                        output_index,
                        summary_index: 0,
                        part: Part::SummaryText { text: "" },
                    },
                );
            }
            self.reasoning = Some(ReasoningAcc {
                id,
                output_index,
                text: String::new(),
            });
        }
        let r = self.reasoning.as_mut().expect("reasoning item exists");
        r.text.push_str(s);
        self.em.emit_delta(
            out,
            "response.reasoning_text.delta",
            &r.id,
            r.output_index,
            "content_index",
            s,
        );
        if self.ctx.opts.reasoning_summary {
            self.em.emit_delta(
                out,
                "response.reasoning_summary_text.delta",
                &r.id,
                r.output_index,
                "summary_index",
                s,
            );
        }
    }

    fn emit_text(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        if self.message.is_none() {
            let id = self.make_id("msg");
            let output_index = self.take_output_index();
            self.em.emit(
                out,
                "response.output_item.added",
                &ItemBody {
                    output_index,
                    item: &Item::Message {
                        id: &id,
                        role: "assistant",
                        status: "in_progress",
                        content: Vec::new(),
                    },
                },
            );
            self.em.emit(
                out,
                "response.content_part.added",
                &ContentPartBody {
                    item_id: &id,
                    output_index,
                    content_index: 0,
                    part: Part::OutputText {
                        text: "",
                        annotations: [],
                    },
                },
            );
            self.message = Some(MessageAcc {
                id,
                output_index,
                text: String::new(),
            });
        }
        let m = self.message.as_mut().expect("message item exists");
        m.text.push_str(s);
        self.em.emit_delta(
            out,
            "response.output_text.delta",
            &m.id,
            m.output_index,
            "content_index",
            s,
        );
    }

    /// Accumulates one `tool_calls[]` fragment. Which call it belongs to:
    /// - with `index`: the latest call with that index, unless it carries a different
    ///   non-empty id and that call already has a name (Gemini sends every parallel call as
    ///   index 0 with its own id), which starts a new call;
    ///   a call without index that has the same id (or, for a fragment with neither id nor
    ///   name, the last call if it had no index) is continued too;
    /// - without `index` but with an id: the call with that id, or a new one;
    /// - with neither: the last call, except that further elements of the same chunk's
    ///   array are separate calls, and so is a named fragment with arguments after a call
    ///   whose arguments are already complete JSON (Ollama-style whole calls without index
    ///   or id; merging them would give `{"a":1}{"b":2}`).
    fn push_tool_fragment(&mut self, frag: ToolCallDelta<'_>, pos_in_chunk: usize) {
        let index = frag.index.as_ref().and_then(index_of);
        let id = frag.id.map(|t| t.0).filter(|s| !s.is_empty());
        let (name, arguments) = match frag.function {
            Some(f) => (f.name.map(|t| t.0).filter(|s| !s.is_empty()), f.arguments),
            None => (None, None),
        };
        let existing = match (index, &id) {
            (Some(ix), _) => self
                .calls
                .iter()
                .rposition(|c| c.index == Some(ix))
                .filter(|&i| {
                    let c = &self.calls[i];
                    let other_id = matches!(&id, Some(new) if !c.id.is_empty() && c.id != *new);
                    !other_id || c.name.is_empty()
                })
                .or_else(|| match &id {
                    // A call opened without an index, continued with one.
                    Some(new) => self.calls.iter().rposition(|c| c.id == *new),
                    None => (name.is_none()
                        && self.calls.last().is_some_and(|c| c.index.is_none()))
                    .then(|| self.calls.len() - 1),
                }),
            (None, Some(new)) => self.calls.iter().rposition(|c| c.id == *new),
            (None, None) => match self.calls.last() {
                Some(last) if pos_in_chunk == 0 && !starts_new_call(last, &name, &arguments) => {
                    Some(self.calls.len() - 1)
                }
                _ => None,
            },
        };
        let i = existing.unwrap_or_else(|| {
            self.calls.push(CallAcc {
                index,
                ..CallAcc::default()
            });
            self.calls.len() - 1
        });
        let call = &mut self.calls[i];
        if call.index.is_none() {
            call.index = index;
        }
        if call.id.is_empty()
            && let Some(id) = id
        {
            call.id = id.into_owned();
        }
        if call.name.is_empty()
            && let Some(name) = name
        {
            call.name = name.into_owned();
        }
        if let Some(a) = arguments {
            call.arguments.push_str(&a.0);
        }
    }

    fn on_done_marker(&mut self, out: &mut Vec<u8>) {
        if let Some(reason) = self.finish_reason.clone() {
            self.finalize(&reason, out);
        } else if self.reasoning.is_some()
            || self.message.is_some()
            || !self.pending.is_empty()
            || !self.calls.is_empty()
        {
            // `[DONE]` without a finish chunk (vLLM/DeepSeek do this now and then): the
            // upstream did end its reply, so accept it as a normal stop.
            self.finalize("stop", out);
        } else {
            self.terminate_failed(
                "server_error",
                "upstream ended the stream without any output",
                out,
            );
        }
    }

    fn fail_upstream(&mut self, err: &Value, out: &mut Vec<u8>) {
        let e = errors::classify_embedded(err);
        tracing::warn!(
            code = e.failed_code(),
            upstream_status = e.upstream_status,
            message = %e.message,
            "Upstream reported an error inside the stream"
        );
        let message = e.failed_message();
        self.terminate_failed(e.failed_code(), &message, out);
    }

    // ---- output ----

    fn make_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{}_{}", self.id_suffix, self.next_id)
    }

    fn take_output_index(&mut self) -> u32 {
        let i = self.next_output_index;
        self.next_output_index += 1;
        i
    }

    fn terminate_failed(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        let mut resp = response_obj(&self.ctx, "failed", &[]);
        resp.error = Some(ErrorObj { code, message });
        self.em
            .emit(out, "response.failed", &ResponseBody { response: &resp });
        if self.em.quiet {
            self.final_response = Some(serde_json::to_vec(&resp).expect("response serialises"));
        }
        self.phase = Phase::Terminated;
        self.outcome = Outcome::Failed {
            code: code.to_owned(),
            message: message.to_owned(),
        };
    }

    /// The upstream finished: close every item and write the terminal event.
    fn finalize(&mut self, finish_reason: &str, out: &mut Vec<u8>) {
        self.flush_content(out);
        self.warn_leaked_tool_markup();

        // Calls: drop nameless ones, map "" to "{}", and check the JSON (vLLM reports a call
        // cut by max_tokens as `tool_calls` with broken arguments: upstream.md E13).
        let mut calls = std::mem::take(&mut self.calls);
        calls.retain(|c| {
            if c.name.is_empty() {
                tracing::warn!(call_id = %c.id, "Dropping an upstream tool call that has no name");
            }
            !c.name.is_empty()
        });
        let mut broken = false;
        for c in &mut calls {
            if c.arguments.trim().is_empty() {
                c.arguments = "{}".to_owned();
            }
            if serde_json::from_str::<IgnoredAny>(&c.arguments).is_err() {
                // A freeform tool may get its raw input instead of `{"input": …}`; only
                // something that started as a JSON object and does not parse is truncated.
                let custom = self
                    .ctx
                    .tools
                    .lookup(&c.name)
                    .is_some_and(|e| e.kind == ToolKind::Custom);
                if !custom || c.arguments.trim_start().starts_with('{') {
                    broken = true;
                }
            }
        }
        let incomplete = match finish_reason {
            "length" => Some("max_output_tokens"),
            "content_filter" => Some("content_filter"),
            _ if broken => {
                tracing::warn!(
                    finish_reason,
                    "Upstream tool call arguments are not valid JSON (truncated output); answering incomplete"
                );
                Some("max_output_tokens")
            }
            _ => None,
        };
        if incomplete.is_some() {
            // A call that may be truncated must never run.
            calls.clear();
        }

        // Everything the items borrow lives in these locals.
        let reasoning = self.reasoning.take();
        let message = self.message.take();
        let encrypted = reasoning.as_ref().map(|r| {
            reasoning::encode(
                &self.ctx.opts.provider,
                &self.ctx.opts.upstream_model,
                &r.text,
            )
        });
        let finished_calls: Vec<FinishedCall> =
            calls.into_iter().map(|c| self.finish_call(c)).collect();

        let mut items: Vec<(u32, Item<'_>)> = Vec::new();
        if let Some(r) = &reasoning {
            let summary = if self.ctx.opts.reasoning_summary {
                vec![Part::SummaryText { text: &r.text }]
            } else {
                Vec::new()
            };
            items.push((
                r.output_index,
                Item::Reasoning {
                    id: &r.id,
                    summary,
                    content: Some(vec![Part::ReasoningText { text: &r.text }]),
                    encrypted_content: encrypted.as_deref(),
                },
            ));
        }
        if let Some(m) = &message {
            items.push((
                m.output_index,
                Item::Message {
                    id: &m.id,
                    role: "assistant",
                    status: "completed",
                    content: vec![Part::OutputText {
                        text: &m.text,
                        annotations: [],
                    }],
                },
            ));
        }
        items.sort_by_key(|(i, _)| *i);
        let first_call = items.len();
        for c in &finished_calls {
            let output_index = self.next_output_index;
            self.next_output_index += 1;
            items.push((output_index, c.item(&self.ctx.tools)));
        }

        for (n, (output_index, item)) in items.iter().enumerate() {
            let body = ItemBody {
                output_index: *output_index,
                item,
            };
            if n >= first_call {
                self.em.emit(out, "response.output_item.added", &body);
            }
            self.em.emit(out, "response.output_item.done", &body);
        }

        let output: Vec<&Item<'_>> = items.iter().map(|(_, it)| it).collect();
        let (status, event) = match incomplete {
            Some(_) => ("incomplete", "response.incomplete"),
            None => ("completed", "response.completed"),
        };
        let resp = ResponseObj {
            id: &self.ctx.response_id,
            object: "response",
            created_at: self.ctx.created_at,
            status,
            model: &self.ctx.requested_model,
            error: None,
            incomplete_details: incomplete.map(|reason| IncompleteDetails { reason }),
            output: &output,
            usage: self.usage.as_ref().map(UsageOut::from),
        };
        self.em.emit(out, event, &ResponseBody { response: &resp });
        if self.em.quiet {
            self.final_response = Some(serde_json::to_vec(&resp).expect("response serialises"));
        }
        drop(output);
        drop(items);
        self.phase = Phase::Terminated;
        self.outcome = match incomplete {
            Some(reason) => Outcome::Incomplete {
                reason: reason.to_owned(),
            },
            None => Outcome::Completed,
        };
    }

    fn finish_call(&mut self, c: CallAcc) -> FinishedCall {
        let kind = self
            .ctx
            .tools
            .lookup(&c.name)
            .map_or(ToolKind::Function, |e| e.kind);
        let prefix = match kind {
            ToolKind::Function => "fc",
            ToolKind::Custom => "ctc",
            ToolKind::ToolSearch => "tsc",
        };
        let item_id = self.make_id(prefix);
        let call_id = if c.id.is_empty() {
            self.make_id("call")
        } else {
            c.id
        };
        let payload = match kind {
            ToolKind::Function => Payload::Arguments(c.arguments),
            ToolKind::Custom => {
                // The freeform tool was offered as a function taking `{"input": string}`.
                let input = match serde_json::from_str::<Value>(&c.arguments) {
                    Ok(Value::Object(mut o)) => match o.remove("input") {
                        Some(Value::String(s)) => s,
                        _ => c.arguments,
                    },
                    _ => c.arguments,
                };
                Payload::Input(input)
            }
            ToolKind::ToolSearch => Payload::Object(
                serde_json::from_str(&c.arguments)
                    .unwrap_or_else(|_| Value::Object(Default::default())),
            ),
        };
        FinishedCall {
            item_id,
            call_id,
            wire_name: c.name,
            payload,
        }
    }

    fn warn_leaked_tool_markup(&self) {
        let texts = [
            self.message.as_ref().map(|m| m.text.as_str()),
            self.reasoning.as_ref().map(|r| r.text.as_str()),
        ];
        let leaked = texts
            .into_iter()
            .flatten()
            .any(|t| LEAKED_TOOL_MARKERS.iter().any(|m| t.contains(m)));
        if leaked {
            // Rescuing such calls would mean guessing; the text reaches Codex as is.
            tracing::warn!(
                model = %self.ctx.opts.upstream_model,
                "Upstream printed a tool call as text (its tool parser failed); passing it on as text"
            );
        }
    }
}

fn response_obj<'a>(
    ctx: &'a StreamContext,
    status: &'a str,
    output: &'a [&'a Item<'a>],
) -> ResponseObj<'a> {
    ResponseObj {
        id: &ctx.response_id,
        object: "response",
        created_at: ctx.created_at,
        status,
        model: &ctx.requested_model,
        error: None,
        incomplete_details: None,
        output,
        usage: None,
    }
}

/// A whole (non-streamed) chat completion -> the Responses object JSON bytes.
///
/// Runs the stream accumulator over `choices[0].message` as one delta. An error body (or a
/// body that is not JSON) gives a `failed` Response object and a [`Outcome::Failed`]; this
/// function currently never returns `Err` (upstream faults are not request errors).
pub fn translate_chat_response(
    body: &[u8],
    ctx: StreamContext,
) -> Result<(Vec<u8>, Outcome), super::request::TranslateError> {
    let mut t = StreamTranslator::new(ctx);
    t.em.quiet = true;
    let mut sink = Vec::new();
    t.start(&mut sink);
    if serde_json::from_slice::<IgnoredAny>(body).is_err() {
        t.terminate_failed("server_error", "upstream reply is not JSON", &mut sink);
    } else {
        t.push_data(body, &mut sink);
        if !t.is_terminated() {
            t.on_done_marker(&mut sink);
        }
    }
    let bytes = t.final_response.take().expect("terminal response recorded");
    Ok((bytes, t.outcome.clone()))
}

/// Whether an index-less, id-less fragment begins a new call rather than continuing `last`.
/// Providers that repeat the name on every fragment keep continuing while the arguments are
/// incomplete, and a trailing fragment with no arguments never opens an empty call.
fn starts_new_call(
    last: &CallAcc,
    name: &Option<Cow<'_, str>>,
    arguments: &Option<Args<'_>>,
) -> bool {
    let Some(name) = name else {
        return false;
    };
    if last.name.is_empty() {
        return false;
    }
    let has_args = arguments.as_ref().is_some_and(|a| !a.0.is_empty());
    let last_empty = last.arguments.trim().is_empty();
    let complete = last_empty || serde_json::from_str::<IgnoredAny>(&last.arguments).is_ok();
    complete && (**name != *last.name || (has_args && !last_empty))
}

/// The length of the longest proper prefix of `pat` that `s` ends with.
fn partial_suffix(s: &str, pat: &str) -> usize {
    let (s, pat) = (s.as_bytes(), pat.as_bytes());
    (1..pat.len().min(s.len() + 1))
        .rev()
        .find(|&n| s.ends_with(&pat[..n]))
        .unwrap_or(0)
}

fn index_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            (f >= 0.0 && f.fract() == 0.0 && f < 9.0e15).then_some(f as u64)
        }),
        _ => None,
    }
}

/// Chat usage -> Responses usage; `None` unless prompt and completion counts are integers.
fn parse_usage(v: &Value) -> Option<Usage> {
    let o = v.as_object()?;
    let input_tokens = as_count(o.get("prompt_tokens"))?;
    let output_tokens = as_count(o.get("completion_tokens"))?;
    let total_tokens = as_count(o.get("total_tokens")).unwrap_or(input_tokens + output_tokens);
    let cached_tokens = as_count(
        o.get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens")),
    )
    .or_else(|| as_count(o.get("prompt_cache_hit_tokens")))
    .unwrap_or(0);
    let reasoning_tokens = as_count(
        o.get("completion_tokens_details")
            .and_then(|d| d.get("reasoning_tokens")),
    )
    .unwrap_or(0);
    Some(Usage {
        input_tokens,
        output_tokens,
        total_tokens,
        cached_tokens,
        reasoning_tokens,
    })
}

/// Replaces `\uD800`–`\uDFFF` escapes that are not part of a valid pair with `\uFFFD`.
/// `None` when there is nothing to replace.
fn sanitize_lone_surrogates(data: &[u8]) -> Option<Vec<u8>> {
    fn unit_at(d: &[u8], i: usize) -> Option<u16> {
        if d.get(i) != Some(&b'\\') || d.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(d.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    }
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < data.len() {
        if data[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit_at(data, i) {
            Some(0xD800..=0xDBFF) if matches!(unit_at(data, i + 6), Some(0xDC00..=0xDFFF)) => {
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                let o = out.get_or_insert_with(|| Vec::with_capacity(data.len()));
                o.extend_from_slice(&data[copied..i]);
                o.extend_from_slice(b"\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape: skip the backslash and the escaped byte.
            _ => i += 2,
        }
    }
    let mut o = out?;
    o.extend_from_slice(&data[copied.min(data.len())..]);
    Some(o)
}

// ---- upstream shapes (lenient: unknown keys ignored, nulls = absent) ----

#[derive(Deserialize)]
struct ChatChunk<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<ChatChoice<'a>>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChatChoice<'a> {
    #[serde(default)]
    index: Option<Value>,
    #[serde(default, borrow)]
    delta: Option<ChatDelta<'a>>,
    /// Non-streamed replies carry the whole message here.
    #[serde(default, borrow)]
    message: Option<ChatDelta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Text<'a>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChatDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning: Option<Text<'a>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
    #[serde(default, borrow)]
    function_call: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(default)]
    index: Option<Value>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    arguments: Option<Args<'a>>,
}

/// A text field that may be a string, an array of `{"text": …}` parts, or something else
/// (which counts as no text). Borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed("")))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed("")))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed("")))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed("")))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed("")))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed("")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'a>, A::Error> {
                let mut s = String::new();
                while let Some(part) = seq.next_element::<Value>()? {
                    if let Some(t) = part.get("text").and_then(Value::as_str) {
                        s.push_str(t);
                    } else if let Some(t) = part.as_str() {
                        s.push_str(t);
                    }
                }
                Ok(Text(Cow::Owned(s)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'a>, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let t = v
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                Ok(Text(Cow::Owned(t)))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Tool arguments: normally a string; some servers send a JSON object (kept as JSON text).
struct Args<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Args<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Args<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tool arguments")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Borrowed("")))
            }
            fn visit_none<E: de::Error>(self) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Borrowed("")))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Args<'a>, E> {
                Ok(Args(Cow::Owned(Value::from(v).to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Args<'a>, A::Error> {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Args(Cow::Owned(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Args<'a>, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Args(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

// ---- Responses shapes ----

#[derive(Serialize)]
struct ResponseBody<'a> {
    response: &'a ResponseObj<'a>,
}

#[derive(Serialize)]
struct ResponseObj<'a> {
    id: &'a str,
    object: &'a str,
    created_at: u64,
    status: &'a str,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorObj<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incomplete_details: Option<IncompleteDetails<'a>>,
    output: &'a [&'a Item<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
}

#[derive(Serialize)]
struct ErrorObj<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct IncompleteDetails<'a> {
    reason: &'a str,
}

/// Always all three totals and both details objects with integers (codex-wire.md §6).
#[derive(Serialize)]
struct UsageOut {
    input_tokens: u64,
    input_tokens_details: CachedTokens,
    output_tokens: u64,
    output_tokens_details: ReasoningTokens,
    total_tokens: u64,
}

#[derive(Serialize)]
struct CachedTokens {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct ReasoningTokens {
    reasoning_tokens: u64,
}

impl From<&Usage> for UsageOut {
    fn from(u: &Usage) -> Self {
        UsageOut {
            input_tokens: u.input_tokens,
            input_tokens_details: CachedTokens {
                cached_tokens: u.cached_tokens,
            },
            output_tokens: u.output_tokens,
            output_tokens_details: ReasoningTokens {
                reasoning_tokens: u.reasoning_tokens,
            },
            total_tokens: u.total_tokens,
        }
    }
}

#[derive(Serialize)]
struct ItemBody<'a> {
    output_index: u32,
    item: &'a Item<'a>,
}

#[derive(Serialize)]
struct SummaryPartBody<'a> {
    item_id: &'a str,
    output_index: u32,
    summary_index: u32,
    part: Part<'a>,
}

#[derive(Serialize)]
struct ContentPartBody<'a> {
    item_id: &'a str,
    output_index: u32,
    content_index: u32,
    part: Part<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the variant names are the wire `type` values
enum Part<'a> {
    SummaryText { text: &'a str },
    ReasoningText { text: &'a str },
    OutputText { text: &'a str, annotations: [(); 0] },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Item<'a> {
    Reasoning {
        id: &'a str,
        /// Always present: Codex drops reasoning items without it.
        summary: Vec<Part<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<Vec<Part<'a>>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<&'a str>,
    },
    Message {
        id: &'a str,
        role: &'a str,
        status: &'a str,
        content: Vec<Part<'a>>,
    },
    FunctionCall {
        id: &'a str,
        status: &'a str,
        call_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<&'a str>,
        name: &'a str,
        /// Always a string (an object is silently dropped by Codex).
        arguments: &'a str,
    },
    CustomToolCall {
        id: &'a str,
        status: &'a str,
        call_id: &'a str,
        name: &'a str,
        input: &'a str,
    },
    ToolSearchCall {
        id: &'a str,
        call_id: &'a str,
        status: &'a str,
        execution: &'a str,
        /// Always an object (a string fails to parse in Codex).
        arguments: &'a Value,
    },
}

enum Payload {
    Arguments(String),
    Input(String),
    Object(Value),
}

struct FinishedCall {
    item_id: String,
    call_id: String,
    wire_name: String,
    payload: Payload,
}

impl FinishedCall {
    fn item<'a>(&'a self, tools: &'a ToolTable) -> Item<'a> {
        let entry = tools.lookup(&self.wire_name);
        let name = entry.map_or(self.wire_name.as_str(), |e| e.name.as_str());
        match &self.payload {
            Payload::Arguments(arguments) => Item::FunctionCall {
                id: &self.item_id,
                status: "completed",
                call_id: &self.call_id,
                namespace: entry.and_then(|e| e.namespace.as_deref()),
                name,
                arguments,
            },
            Payload::Input(input) => Item::CustomToolCall {
                id: &self.item_id,
                status: "completed",
                call_id: &self.call_id,
                name,
                input,
            },
            Payload::Object(arguments) => Item::ToolSearchCall {
                id: &self.item_id,
                call_id: &self.call_id,
                status: "completed",
                execution: "client",
                arguments,
            },
        }
    }
}

#[cfg(test)]
mod tests;
