//! Chat SSE stream -> Responses SSE events (docs/protocol.md#events, #chunks).
//!
//! [`StreamTranslator`] is a state machine fed one upstream `data:` payload at a time. It
//! writes Responses SSE bytes into the caller's buffer and owns every ordering guarantee
//! Codex relies on:
//!
//! - `response.created` (+ `response.in_progress`) first, from [`StreamTranslator::start`].
//! - Reasoning (`reasoning_content`, `reasoning`, or a leading `<think>…</think>` in `content`)
//!   and text are streamed live: `output_item.added`, then deltas.
//! - Tool calls are accumulated silently and emitted at the end, each as `output_item.added`
//!   immediately followed by `output_item.done`.
//! - `output_item.done` for every item only once the upstream really finished (a
//!   `finish_reason` followed by `[DONE]` or end of body, or `[DONE]` after some output), in
//!   `output_index` order, then exactly one terminal event: `response.completed`,
//!   `response.incomplete` (`length`, `content_filter`, or tool arguments that are not valid
//!   JSON) or `response.failed` (an error in the stream, end of body before finishing, or
//!   [`StreamTranslator::fail`]). A failed response never gets `output_item.done`, so nothing
//!   half-finished lands in Codex's history. After the terminal event everything is ignored.
//!
//! The parts, each of one concern: `chunk` reads the upstream's chunk, `think` sorts
//! `content` into reasoning and text, `calls` collects tool calls, `items` writes the
//! output items through the `emitter`, in the `events` shapes. This file decides what
//! happens when.

mod calls;
mod chunk;
mod counts;
mod emitter;
mod events;
mod items;
mod think;

use serde_json::Value;

use self::calls::ToolCalls;
use self::chunk::{ChatChunk, ChatDelta, ToolCallDelta};
pub use self::counts::Counts;
use self::items::Output;
use self::think::ThinkSplitter;
use crate::translate::refusal;
use crate::translate::reply::context::{Outcome, ReplyContext, Usage};

/// Markup of a tool call that the provider's parser failed to extract, printed as text
/// (docs/protocol.md#leaked-tool-calls).
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

pub struct StreamTranslator {
    output: Output,
    think: ThinkSplitter,
    calls: ToolCalls,
    phase: Phase,
    outcome: Outcome,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    /// What the reply did with its tools, counted at its end.
    counts: Counts,
    /// A silent translator keeps the terminal Response object here.
    final_response: Option<Vec<u8>>,
    /// Bytes of model output (reasoning, text, tool call names, ids and arguments) taken in
    /// so far, and the most allowed ([`Self::set_max_output`]).
    taken: usize,
    max_output: usize,
}

/// The default of [`StreamTranslator::set_max_output`]: `limits.max_output_bytes`' default.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// The `response.failed` code of a reply that outgrew [`StreamTranslator::set_max_output`].
pub const MAX_OUTPUT_CODE: &str = "max_output_bytes";

impl StreamTranslator {
    pub fn new(ctx: ReplyContext) -> Self {
        Self::with_output(Output::new(ctx, false))
    }

    /// A translator that writes no events and keeps the terminal Response object instead
    /// ([`Self::take_response`]): the non-streamed reply. No output cap: its input is one
    /// whole reply, already bounded (`upstream::limits::MAX_JSON_REPLY`).
    pub(crate) fn silent(ctx: ReplyContext) -> Self {
        let mut t = Self::with_output(Output::new(ctx, true));
        t.max_output = usize::MAX;
        t
    }

    /// The most model output one reply may accumulate (`limits.max_output_bytes`): the
    /// translator keeps every item's text and arguments for `response.completed`, so this is
    /// what bounds its memory. Past it the reply ends with `response.failed`
    /// ([`MAX_OUTPUT_CODE`]).
    pub fn set_max_output(&mut self, bytes: usize) {
        self.max_output = bytes;
    }

    fn with_output(output: Output) -> Self {
        StreamTranslator {
            output,
            think: ThinkSplitter::new(),
            calls: ToolCalls::default(),
            phase: Phase::Fresh,
            outcome: Outcome::InProgress,
            finish_reason: None,
            usage: None,
            counts: Counts::default(),
            final_response: None,
            taken: 0,
            max_output: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }

    /// Writes `response.created` and `response.in_progress`.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if self.phase != Phase::Fresh {
            return;
        }
        self.phase = Phase::Streaming;
        self.output.created(out);
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
        let mut scratch = None;
        if let Some(chunk) = chunk::parse(data, &mut scratch) {
            self.on_chunk(chunk, out);
        }
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

    /// The whole message was seen (a non-streamed reply): like `[DONE]`.
    pub(crate) fn end_of_message(&mut self, out: &mut Vec<u8>) {
        if self.phase == Phase::Terminated {
            return;
        }
        self.start(out);
        self.on_done_marker(out);
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
        self.output.in_progress(out);
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

    /// The reply's tool-use counts and usage (complete once terminated).
    pub fn counts(&self) -> Counts {
        Counts {
            usage: self.usage,
            ..self.counts
        }
    }

    /// True once the model produced anything (reasoning, text or a call fragment), and still
    /// after the end: the caller checks it once per batch of upstream chunks to timestamp the
    /// first token.
    pub fn has_output(&self) -> bool {
        self.output.has_shown() || self.think.has_pending() || self.calls.any_started()
    }

    /// The first `finish_reason` the upstream sent (for logs).
    pub fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }

    /// The terminal Response object of a silent translator, once terminated.
    pub(crate) fn take_response(&mut self) -> Option<Vec<u8>> {
        self.final_response.take()
    }

    // ---- input ----

    fn on_chunk(&mut self, chunk: ChatChunk<'_>, out: &mut Vec<u8>) {
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            self.fail_upstream(err, out);
            return;
        }
        if let Some(u) = chunk.usage.as_ref().and_then(chunk::parse_usage) {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.first_choice() else {
            return;
        };
        if let Some(delta) = choice.delta.or(choice.message) {
            self.on_delta(delta, out);
            if self.phase == Phase::Terminated {
                return;
            }
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
        let others = delta_size(&delta);
        // Some servers (vLLM during its rename) send the same text under both names.
        let reasoning = delta
            .reasoning_content
            .filter(|r| !r.0.is_empty())
            .or(delta.reasoning);
        let size = reasoning.as_ref().map_or(0, |r| r.0.len()) + others;
        self.taken = self.taken.saturating_add(size);
        if self.taken > self.max_output {
            let message = format!(
                "the reply grew past {} bytes of output (limits.max_output_bytes); raise limits.max_output_bytes to allow longer replies",
                self.max_output
            );
            tracing::warn!(
                limit = self.max_output,
                "Reply outgrew limits.max_output_bytes; ending it"
            );
            self.terminate_failed(MAX_OUTPUT_CODE, &message, out);
            return;
        }
        if let Some(r) = reasoning {
            self.output.reasoning_delta(&r.0, out);
        }
        if let Some(c) = delta.content {
            let output = &mut self.output;
            self.think.push(&c.0, &mut |piece| output.piece(piece, out));
        }
        if let Some(calls) = delta.tool_calls {
            for (pos, frag) in calls.into_iter().enumerate() {
                self.calls.push_fragment(frag, pos);
            }
        }
        if let Some(f) = delta.function_call {
            // The legacy `function_call` delta: one call, continued by every fragment.
            let frag = ToolCallDelta {
                index: None,
                id: None,
                function: Some(f),
            };
            self.calls.push_fragment(frag, 0);
        }
    }

    fn on_done_marker(&mut self, out: &mut Vec<u8>) {
        if let Some(reason) = self.finish_reason.clone() {
            self.finalize(&reason, out);
        } else if self.output.has_text() || self.think.has_pending() || !self.calls.is_empty() {
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
        let e = refusal::classify_embedded(err);
        tracing::warn!(
            code = e.failed_code(),
            upstream_status = e.upstream_status,
            message = %e.message,
            "Upstream reported an error inside the stream"
        );
        let message = e.failed_message();
        self.terminate_failed(e.failed_code(), &message, out);
    }

    // ---- the end ----

    fn terminate_failed(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        self.final_response = self.output.failed(code, message, out);
        self.phase = Phase::Terminated;
        self.outcome = Outcome::Failed {
            code: code.to_owned(),
            message: message.to_owned(),
        };
    }

    /// The upstream finished: close every item and write the terminal event.
    fn finalize(&mut self, finish_reason: &str, out: &mut Vec<u8>) {
        let output = &mut self.output;
        self.think.flush(&mut |piece| output.piece(piece, out));
        self.count_leaked_tool_markup();
        let (mut calls, cut) = self
            .calls
            .finish(&self.output.ctx().tools, &mut self.counts);
        let incomplete = incomplete_reason(finish_reason, cut);
        if incomplete.is_some() {
            // A call that may be truncated must never run.
            calls.clear();
        }
        self.final_response = self
            .output
            .finished(calls, incomplete, self.usage.as_ref(), out);
        self.phase = Phase::Terminated;
        self.outcome = match incomplete {
            Some(reason) => Outcome::Incomplete {
                reason: reason.to_owned(),
            },
            None => Outcome::Completed,
        };
    }

    fn count_leaked_tool_markup(&mut self) {
        let leaked = self
            .output
            .texts()
            .any(|t| LEAKED_TOOL_MARKERS.iter().any(|m| t.contains(m)));
        if leaked {
            let texts: Vec<&str> = self.output.texts().collect();
            self.counts.count_leaked(&texts);
            self.counts.leaked_calls = self.counts.leaked_calls.max(1);
            // Rescuing such calls would mean guessing; the text reaches Codex as is.
            tracing::warn!(
                model = %self.output.ctx().opts.upstream_model,
                "Upstream printed a tool call as text (its tool parser failed); passing it on as text"
            );
        }
    }
}

/// Bytes of output a delta brings besides its reasoning: text, tool call ids, names and
/// arguments.
fn delta_size(delta: &ChatDelta<'_>) -> usize {
    let function = |f: &chunk::FunctionDelta<'_>| {
        f.name.as_ref().map_or(0, |n| n.0.len()) + f.arguments.as_ref().map_or(0, |a| a.0.len())
    };
    let calls: usize = delta
        .tool_calls
        .iter()
        .flatten()
        .map(|c| c.id.as_ref().map_or(0, |i| i.0.len()) + c.function.as_ref().map_or(0, function))
        .sum();
    delta.content.as_ref().map_or(0, |c| c.0.len())
        + calls
        + delta.function_call.as_ref().map_or(0, function)
}

/// Why a finished reply is incomplete, if it is: the provider's `length` or `content_filter`,
/// or tool arguments cut short (the provider claimed a normal finish).
fn incomplete_reason(finish_reason: &str, cut_arguments: bool) -> Option<&'static str> {
    match finish_reason {
        "length" => Some("max_output_tokens"),
        "content_filter" => Some("content_filter"),
        _ if cut_arguments => {
            tracing::warn!(
                finish_reason,
                "Upstream tool call arguments are not valid JSON (truncated output); answering incomplete"
            );
            Some("max_output_tokens")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
