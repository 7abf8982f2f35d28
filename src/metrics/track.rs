//! One request on its way: the [`Tracker`] the server fills in as the request goes (model,
//! upstream, first byte, first token, counts, outcome) and finishes once, at the reply's last
//! byte, which logs the request's completion line and counts it.
//!
//! The router makes one for every request and finishes it when the handler returns; a handler
//! whose reply outlives it (a stream, a relayed body) [`Tracker::defer`]s it to the task that
//! writes the rest, which finishes it at the end. A tracker dropped unfinished (hyper drops the
//! request's future when the client goes away before the reply) counts as cancelled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::HeaderMap;

use super::book::Metrics;
use super::capture::{Part, Tap};
use super::retry::{RETRY_WINDOW, turn_key};
use super::summary::{Ended, Endpoint, Summary, codex_retries, error_code, http_code};
use crate::translate::reply::Outcome;
use crate::translate::stream::Counts;

/// What the reply was, at its end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reply<'a> {
    pub status: u16,
    /// `error.code` of an error body, when the reply is one.
    pub error_code: Option<&'a str>,
    /// The `Retry-After` we sent, in seconds.
    pub retry_after_s: Option<u64>,
    pub bytes: u64,
    /// The whole body, when it left as one buffer (for a capture).
    pub body: Option<&'a [u8]>,
    pub body_is_sse: bool,
}

/// A request in flight (see the module notes).
#[derive(Debug)]
pub struct Tracker {
    metrics: Arc<Metrics>,
    /// The request's id (as in its log lines and `x-request-id`).
    id: String,
    endpoint: Endpoint,
    started: Instant,
    turn: Option<u64>,
    codex_retry: bool,
    model: String,
    upstream: String,
    upstream_model: Option<String>,
    known_model: bool,
    stream: bool,
    ttfb: Option<Duration>,
    ttft: Option<Duration>,
    reasoning_replayed: u32,
    counts: Counts,
    /// Set by the handler when the reply's status alone does not say how it ended.
    ended: Option<(Ended, Option<&'static str>)>,
    /// The failure's message (already redacted) or the incomplete reason, for the log line.
    detail: Option<String>,
    /// The request's capture, when `shimctl capture` took it.
    tap: Option<Box<Tap>>,
    done: bool,
}

impl Metrics {
    /// Starts tracking a request that just arrived.
    pub fn track(self: &Arc<Self>, endpoint: Endpoint, headers: &HeaderMap, id: &str) -> Tracker {
        let now = Instant::now();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let turn = match endpoint {
            Endpoint::Responses => turn_key(
                header("x-client-request-id"),
                header("x-codex-turn-metadata"),
            ),
            _ => None,
        };
        Tracker {
            metrics: Arc::clone(self),
            id: id.to_owned(),
            endpoint,
            started: now,
            turn,
            codex_retry: turn.is_some_and(|k| self.take_retry(k, now)),
            model: String::new(),
            upstream: String::new(),
            upstream_model: None,
            known_model: false,
            stream: false,
            ttfb: None,
            ttft: None,
            reasoning_replayed: 0,
            counts: Counts::default(),
            ended: None,
            detail: None,
            tap: None,
            done: false,
        }
    }
}

impl Tracker {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Records this request into a capture (see [`Tracker::tap`]).
    pub fn capture(&mut self, tap: Tap) {
        self.tap = Some(Box::new(tap));
    }

    /// The request's capture, when it is being captured: the server pushes each part as it
    /// passes (one branch where the bytes already are; nothing when no capture runs).
    #[inline]
    pub fn tap(&mut self) -> Option<&mut Tap> {
        self.tap.as_deref_mut()
    }

    /// The model the client asked for; `configured` when it is the exact name of a route.
    pub fn set_model(&mut self, model: &str, configured: bool) {
        model.clone_into(&mut self.model);
        self.known_model = configured;
    }

    pub fn set_upstream(&mut self, name: &str, upstream_model: Option<&str>) {
        name.clone_into(&mut self.upstream);
        self.upstream_model = upstream_model.map(str::to_owned);
    }

    pub fn set_stream(&mut self, stream: bool) {
        self.stream = stream;
    }

    pub fn set_reasoning_replayed(&mut self, n: usize) {
        self.reasoning_replayed = u32::try_from(n).unwrap_or(u32::MAX);
    }

    /// The upstream's response headers arrived.
    pub fn upstream_answered(&mut self) {
        self.ttfb.get_or_insert_with(|| self.started.elapsed());
    }

    /// The model's first token went through the translator (the caller checks once per batch).
    pub fn first_token(&mut self) {
        self.ttft.get_or_insert_with(|| self.started.elapsed());
    }

    pub fn has_first_token(&self) -> bool {
        self.ttft.is_some()
    }

    pub fn set_counts(&mut self, counts: Counts) {
        self.counts = counts;
    }

    /// How a translated reply ended; `message` is the failure's message, already redacted.
    pub fn outcome(&mut self, outcome: &Outcome, message: Option<String>) {
        match outcome {
            Outcome::Completed => self.ended = Some((Ended::Completed, None)),
            Outcome::Incomplete { reason } => {
                self.ended = Some((Ended::Incomplete, None));
                self.detail = Some(reason.clone());
            }
            Outcome::Failed { code, .. } => self.failed(code, message),
            Outcome::InProgress => self.failed(
                "server_error",
                Some("the stream ended without a terminal event".to_owned()),
            ),
        }
    }

    /// The request failed with `code`; `message` (already redacted) goes into the log line.
    pub fn failed(&mut self, code: &str, message: Option<String>) {
        self.ended = Some((Ended::Failed, Some(error_code(code))));
        self.detail = message;
    }

    /// The client went away first.
    pub fn cancelled(&mut self) {
        self.ended = Some((Ended::Cancelled, None));
    }

    /// Hands the request to the task that writes the rest of its reply; this tracker is then
    /// spent (finishing it does nothing).
    pub fn defer(&mut self) -> Tracker {
        let rest = Tracker {
            metrics: Arc::clone(&self.metrics),
            id: std::mem::take(&mut self.id),
            tap: self.tap.take(),
            model: std::mem::take(&mut self.model),
            upstream: std::mem::take(&mut self.upstream),
            upstream_model: self.upstream_model.take(),
            detail: self.detail.take(),
            ..*self
        };
        self.done = true;
        rest
    }

    /// The reply's last byte is out: logs the completion line and counts the request.
    pub fn finish(mut self, reply: Reply<'_>) {
        self.end(reply);
    }

    fn end(&mut self, reply: Reply<'_>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let (ended, code) = match self.ended {
            Some(e) => e,
            None if reply.status < 400 => (Ended::Completed, None),
            None => (
                Ended::Failed,
                Some(match reply.error_code.map(error_code) {
                    Some(c) if c != "other" => c,
                    _ => http_code(reply.status),
                }),
            ),
        };
        let now = Instant::now();
        let s = Summary {
            endpoint: self.endpoint,
            model: std::mem::take(&mut self.model),
            upstream: std::mem::take(&mut self.upstream),
            upstream_model: self.upstream_model.take(),
            known_model: self.known_model,
            status: reply.status,
            ended,
            code,
            duration: now.saturating_duration_since(self.started),
            ttfb: self.ttfb,
            ttft: self.ttft,
            counts: self.counts,
            reasoning_replayed: self.reasoning_replayed,
            codex_retry: self.codex_retry,
            bytes: reply.bytes,
        };
        log_completion(&s, self.stream, self.detail.as_deref());
        if let Some(mut tap) = self.tap.take() {
            if let Some(body) = reply.body {
                tap.kind(
                    Part::CodexReply,
                    if reply.body_is_sse { "sse" } else { "json" },
                );
                tap.push(Part::CodexReply, body);
            }
            tap.finish(capture_meta(
                &self.id,
                &s,
                self.stream,
                self.detail.as_deref(),
            ));
        }
        let failed_turn = self
            .turn
            .filter(|_| codex_retries(s.status, s.ended, s.code))
            .map(|k| {
                let wait = Duration::from_secs(reply.retry_after_s.unwrap_or(0));
                (k, now + wait + RETRY_WINDOW)
            });
        self.metrics.record(&s, failed_turn, now);
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if !self.done {
            self.ended = Some((Ended::Cancelled, None));
            self.end(Reply::default());
        }
    }
}

/// `meta.json` of a captured request: what the completion line says, as JSON.
fn capture_meta(id: &str, s: &Summary, stream: bool, detail: Option<&str>) -> serde_json::Value {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    serde_json::json!({
        "id": id,
        "endpoint": s.endpoint.as_str(),
        "model": s.model,
        "upstream": s.upstream,
        "upstream_model": s.upstream_model,
        "stream": stream,
        "status": s.status,
        "outcome": s.ended.as_str(),
        "code": s.code,
        "detail": detail,
        "duration_ms": ms(s.duration),
        "ttfb_ms": s.ttfb.map(ms),
        "ttft_ms": s.ttft.map(ms),
        "usage": s.counts.usage.map(|u| serde_json::json!({
            "input_tokens": u.input_tokens,
            "cached_tokens": u.cached_tokens,
            "output_tokens": u.output_tokens,
            "reasoning_tokens": u.reasoning_tokens,
        })),
        "tool_calls": {
            "calls": s.counts.tool_calls,
            "malformed": s.counts.malformed_arguments,
            "unknown_tool": s.counts.unknown_tools,
            "repaired": s.counts.repaired_arguments,
            "leaked": s.counts.leaked_calls,
        },
        "codex_retry": s.codex_retry,
        "deepinfra_shim": crate::VERSION,
    })
}

/// The request's one completion line: what happened, how long each part took, and what it
/// cost in tokens. The request span adds the id, method, path, model and upstream.
fn log_completion(s: &Summary, stream: bool, detail: Option<&str>) {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let usage = s.counts.usage;
    // The path is a span field that text logs show only at debug: name the endpoint when it
    // is not the one Codex uses.
    let endpoint = (s.endpoint != Endpoint::Responses).then(|| s.endpoint.as_str());
    let (reason, message) = match s.ended {
        Ended::Incomplete => (detail, None),
        Ended::Failed => (None, detail),
        _ => (None, None),
    };
    macro_rules! line {
        ($level:ident, $text:literal) => {
            tracing::$level!(
                endpoint = endpoint,
                status = (s.status != 0).then_some(s.status),
                outcome = s.ended.as_str(),
                code = s.code,
                reason,
                message,
                duration_ms = ms(s.duration),
                ttfb_ms = s.ttfb.map(ms),
                ttft_ms = s.ttft.map(ms),
                upstream_model = s.upstream_model.as_deref(),
                input_tokens = usage.map(|u| u.input_tokens),
                cached_tokens = usage.map(|u| u.cached_tokens),
                output_tokens = usage.map(|u| u.output_tokens),
                reasoning_tokens = usage.map(|u| u.reasoning_tokens),
                tool_calls = (s.counts.tool_calls > 0).then_some(s.counts.tool_calls),
                codex_retry = s.codex_retry.then_some(true),
                bytes = s.bytes,
                $text
            )
        };
    }
    let upstream_fault = s.status >= 500 || s.status == 200;
    // A streamed request answered with an HTTP error got no stream.
    let streamed = stream && s.status == 200;
    match (s.endpoint, s.ended) {
        (Endpoint::Probe, _) => line!(debug, "Request finished"),
        (_, Ended::Cancelled) => line!(info, "Client disconnected; upstream request cancelled"),
        (Endpoint::Responses, Ended::Failed) if streamed => line!(warn, "Stream failed"),
        (Endpoint::Responses, _) if streamed => line!(info, "Stream finished"),
        (_, Ended::Failed) if upstream_fault => line!(warn, "Request finished"),
        _ => line!(info, "Request finished"),
    }
}
