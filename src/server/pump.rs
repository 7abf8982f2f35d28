//! Carries one upstream SSE stream to Codex (docs/protocol.md#timeouts for its clocks).
//!
//! Upstream bytes ([`UpstreamStream`]) -> [`StreamRedactor`] -> [`SseParser`] ->
//! [`StreamTranslator`] -> the SSE reply. [`start`] runs inside the request handler and
//! translates whatever the upstream has already sent: a reply that is already whole (most
//! replies on a fast link) goes out as one buffer, with the headers, in one write. Anything
//! longer is handed to a task that writes one buffer per batch of upstream chunks into the
//! bounded body channel. The task also owns the three
//! clocks of a stream:
//! - heartbeat: `response.in_progress` while the upstream is silent (SSE comments do not keep
//!   Codex's idle timer alive, data events do);
//! - idle timeout: the upstream said nothing for its idle timeout -> `response.failed`;
//! - drain deadline: the daemon is shutting down and the grace period is over.
//!
//! When Codex disconnects the channel closes; the task sees it at once and drops the upstream
//! response, which cancels the upstream request.
//!
//! Secrets: the upstream bytes pass a [`StreamRedactor`] before the SSE parser sees them, so
//! nothing the translator writes from provider text (an `error` event's `response.failed`
//! message and its log line, output deltas, the final Response) can hold a secret in any
//! form, and the redaction comes before the translator cuts an error message to 1 KiB. SSE
//! events end in a blank line, which begins no secret, so an event is never held back. The
//! shim's own failure messages that quote an upstream error are redacted where they are made.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use hyper::Response;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::body::{ShimBody, sse_response};
use crate::metrics::capture::Part;
use crate::metrics::{Reply, Tracker};
use crate::redact::{Redactor, StreamRedactor};
use crate::service::state::{RequestGuard, State};
use crate::translate::reply::Outcome;
use crate::translate::sse::SseParser;
use crate::translate::stream::StreamTranslator;
use crate::upstream::limits::MAX_EVENT_BYTES;
use crate::upstream::{UpstreamError, UpstreamStream};

/// One stream to carry: the upstream body and everything its reply needs.
pub struct Pump {
    pub state: Arc<State>,
    /// `response.in_progress` interval while the upstream is silent.
    pub heartbeat: Duration,
    pub body: UpstreamStream,
    pub translator: StreamTranslator,
    pub guard: RequestGuard,
    /// The request's secrets (the config's and the client's bearer).
    pub redactor: Redactor,
    /// The request's tracker, finished when the stream ends.
    pub track: Tracker,
}

/// Translates what the upstream has already sent and returns the reply for Codex.
///
/// Most replies on a fast link arrive whole with (or right after) the upstream's headers. What
/// is already there is translated before the response leaves: if that is the whole stream the
/// reply is one buffer (one client write, no task, no channel, no timer); otherwise
/// `response.created` and everything translated so far leave with the headers and a task
/// carries the rest. Nothing here waits for the network.
pub async fn start(p: Pump) -> Response<ShimBody> {
    let Pump {
        state,
        heartbeat,
        mut body,
        mut translator,
        guard,
        redactor,
        mut track,
    } = p;
    let mut out = Vec::with_capacity(8 * 1024);
    translator.set_max_output(state.config().limits.max_output_bytes);
    translator.start(&mut out);
    let mut parser = Inbound::new(&redactor);
    if let Some(item) = next_ready(&mut body).await {
        let ended = take_ready(
            item,
            &mut body,
            &mut parser,
            &mut translator,
            &mut out,
            &mut track,
        )
        .await;
        if ended || translator.is_terminated() {
            drop(body);
            let sent = out.len() as u64;
            if let Some(t) = track.tap() {
                t.push(Part::CodexReply, &out);
            }
            report(&translator, guard, track, sent, false, &redactor);
            return sse_response(ShimBody::full(out));
        }
    }
    let (tx, reply) = ShimBody::channel();
    let sent = out.len() as u64;
    if let Some(t) = track.tap() {
        t.push(Part::CodexReply, &out);
    }
    // The channel is new and empty: this cannot be full.
    let _ = tx.try_send(Bytes::from(out));
    let task = Stream {
        state,
        heartbeat,
        body,
        parser,
        translator,
        tx,
        guard,
        redactor,
        sent,
        track,
    };
    let span = tracing::Span::current();
    tokio::spawn(tracing::Instrument::instrument(run(task), span));
    sse_response(reply)
}

/// A stream that outlived [`start`]: carried to Codex by its own task.
struct Stream {
    state: Arc<State>,
    heartbeat: Duration,
    body: UpstreamStream,
    parser: Inbound,
    translator: StreamTranslator,
    tx: mpsc::Sender<Bytes>,
    guard: RequestGuard,
    redactor: Redactor,
    /// Bytes already handed to the body channel.
    sent: u64,
    track: Tracker,
}

async fn run(s: Stream) {
    let Stream {
        state,
        heartbeat: beat,
        mut body,
        mut parser,
        mut translator,
        tx,
        guard,
        redactor,
        mut sent,
        mut track,
    } = s;
    let mut out = Vec::with_capacity(8 * 1024);
    let mut drain = state.drain_deadline();
    let idle = body.idle_timeout();
    let mut last_data = Instant::now();
    let mut next_beat = last_data + beat;
    let mut client_gone = false;
    // One timer for the stream's life, re-armed only when it fires: moving a deadline on every
    // chunk would re-register the timer (and wake the timer driver) once per token.
    let timer = tokio::time::sleep_until(next_beat.min(last_data + idle));
    tokio::pin!(timer);

    loop {
        let idle_deadline = last_data + idle;
        tokio::select! {
            biased;
            _ = tx.closed() => {
                client_gone = true;
                break;
            }
            changed = drain.changed() => {
                if changed.is_ok() && *drain.borrow() {
                    translator.fail(
                        "server_error",
                        "deepinfra-shim is shutting down and this stream outlived the drain timeout; retry",
                        &mut out,
                    );
                    send(&tx, &mut out, &mut sent, &mut track).await;
                    break;
                }
            }
            first = body.next() => {
                last_data = Instant::now();
                next_beat = last_data + beat;
                let ended = take_ready(first, &mut body, &mut parser, &mut translator, &mut out, &mut track).await;
                if !send(&tx, &mut out, &mut sent, &mut track).await {
                    client_gone = true;
                    break;
                }
                if ended || translator.is_terminated() {
                    break;
                }
            }
            _ = &mut timer => {
                let due = next_beat.min(idle_deadline);
                if Instant::now() < due {
                    // Data came since the timer was armed: nothing is due yet.
                    timer.as_mut().reset(due);
                    continue;
                }
                if Instant::now() >= idle_deadline && translator.finish_reason().is_some() {
                    // The model finished but the provider never sent [DONE] nor closed: the
                    // reply is whole, so complete it rather than report a failure.
                    translator.finish_eof(&mut out);
                    send(&tx, &mut out, &mut sent, &mut track).await;
                    break;
                }
                if Instant::now() >= idle_deadline {
                    translator.fail("server_error", &body.idle_error().redacted(&redactor), &mut out);
                    send(&tx, &mut out, &mut sent, &mut track).await;
                    break;
                }
                translator.heartbeat(&mut out);
                next_beat = Instant::now() + beat;
                timer.as_mut().reset(next_beat.min(idle_deadline));
                if !send(&tx, &mut out, &mut sent, &mut track).await {
                    client_gone = true;
                    break;
                }
            }
        }
    }
    // Dropping `body` here closes (cancels) the upstream request if it is still open.
    drop(body);
    report(&translator, guard, track, sent, client_gone, &redactor);
}

/// Counts the request and finishes its tracker, which logs how the stream ended (the
/// Responses status, or `cancelled` when Codex went away first).
fn report(
    translator: &StreamTranslator,
    mut guard: RequestGuard,
    mut track: Tracker,
    sent: u64,
    client_gone: bool,
    redactor: &Redactor,
) {
    track.set_counts(translator.counts());
    if client_gone {
        guard.failed();
        track.cancelled();
    } else {
        let outcome = translator.outcome();
        if outcome.is_success() {
            guard.succeeded();
        }
        let message = match outcome {
            Outcome::Failed { message, .. } => Some(redactor.redact(message).into_owned()),
            _ => None,
        };
        track.outcome(outcome, message);
    }
    track.finish(Reply {
        status: 200,
        bytes: sent,
        ..Reply::default()
    });
}

/// The translator's input side: upstream bytes, redacted, then split into SSE events.
struct Inbound {
    redact: StreamRedactor,
    /// The redacted bytes of the chunk at hand (reused).
    clean: Vec<u8>,
    sse: SseParser,
    /// Redacts the shim's own messages that quote an upstream error.
    redactor: Redactor,
}

impl Inbound {
    fn new(redactor: &Redactor) -> Inbound {
        Inbound {
            redact: redactor.stream(),
            clean: Vec::new(),
            sse: SseParser::new(MAX_EVENT_BYTES),
            redactor: redactor.clone(),
        }
    }

    /// Feeds one upstream chunk to the translator.
    fn push(&mut self, bytes: &[u8], translator: &mut StreamTranslator, out: &mut Vec<u8>) {
        self.clean.clear();
        self.redact.push(bytes, &mut self.clean);
        self.parse(translator, out);
    }

    /// The upstream body ended: what was held back, then the parser's last event.
    fn finish(&mut self, translator: &mut StreamTranslator, out: &mut Vec<u8>) {
        self.clean.clear();
        self.redact.finish(&mut self.clean);
        self.parse(translator, out);
        self.sse.finish(&mut |data| translator.push_data(data, out));
    }

    fn parse(&mut self, translator: &mut StreamTranslator, out: &mut Vec<u8>) {
        if self.clean.is_empty() {
            return;
        }
        if let Err(e) = self
            .sse
            .push(&self.clean, &mut |data| translator.push_data(data, out))
        {
            // The parser's error names only a size; redacted all the same, as every message
            // that leaves here.
            let message = format!("upstream stream is malformed: {e}");
            translator.fail("server_error", &self.redactor.redact(&message), out);
        }
    }
}

/// Translated bytes gathered for one client write before we stop taking more.
const COALESCE_LIMIT: usize = 64 * 1024;

/// Feeds `first` and then every body chunk that is already available without waiting into the
/// translator, so that one client write carries them all: providers often send several SSE
/// events per read, and hyper hands them over one HTTP chunk per poll. Returns true when the
/// upstream body ended (or broke), i.e. nothing more will come.
/// The first token is timestamped here, once per batch.
async fn take_ready(
    first: Option<Result<Bytes, UpstreamError>>,
    body: &mut UpstreamStream,
    parser: &mut Inbound,
    translator: &mut StreamTranslator,
    out: &mut Vec<u8>,
    track: &mut Tracker,
) -> bool {
    let ended = take_batch(first, body, parser, translator, out, track).await;
    if !track.has_first_token() && translator.has_output() {
        track.first_token();
    }
    ended
}

async fn take_batch(
    first: Option<Result<Bytes, UpstreamError>>,
    body: &mut UpstreamStream,
    parser: &mut Inbound,
    translator: &mut StreamTranslator,
    out: &mut Vec<u8>,
    track: &mut Tracker,
) -> bool {
    let mut item = first;
    loop {
        match item {
            Some(Ok(bytes)) => {
                if let Some(t) = track.tap() {
                    t.push(Part::UpstreamReply, &bytes);
                }
                parser.push(&bytes, translator, out);
            }
            Some(Err(e)) => {
                let message = format!("upstream stream broke: {}", e.redacted(&parser.redactor));
                translator.fail("server_error", &message, out);
                return true;
            }
            None => {
                parser.finish(translator, out);
                translator.finish_eof(out);
                return true;
            }
        }
        if translator.is_terminated() || out.len() >= COALESCE_LIMIT {
            return false;
        }
        // Keep going while each turn brings more: hyper decodes one chunk per turn. When
        // nothing more is there, write what we have (no added wait).
        match next_ready(body).await {
            Some(next) => item = next,
            None => return false,
        }
    }
}

/// The body's next item if it is there without waiting for the network: polled once, and if
/// that finds nothing, once more after hyper's connection task had one turn to decode what it
/// has already read (the first poll is what tells that task we want the body).
async fn next_ready<S>(body: &mut S) -> Option<Option<S::Item>>
where
    S: futures_util::Stream + Unpin,
{
    if let Some(item) = body.next().now_or_never() {
        return Some(item);
    }
    YieldOnce(false).await;
    body.next().now_or_never()
}

/// Gives the other ready tasks (hyper's connection task) one turn, then resumes. Unlike
/// `tokio::task::yield_now`, which defers the task until the runtime next polls its I/O driver
/// (an `epoll_wait` per yield, measured at ~60 per Codex-sized stream), this simply re-queues
/// the task behind the ones already ready.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

/// Sends what the translator wrote (if anything). False when the client is gone.
async fn send(
    tx: &mpsc::Sender<Bytes>,
    out: &mut Vec<u8>,
    sent: &mut u64,
    track: &mut Tracker,
) -> bool {
    if out.is_empty() {
        return !tx.is_closed();
    }
    if let Some(t) = track.tap() {
        t.push(Part::CodexReply, out);
    }
    *sent += out.len() as u64;
    let chunk = Bytes::from(std::mem::replace(out, Vec::with_capacity(8 * 1024)));
    tx.send(chunk).await.is_ok()
}
