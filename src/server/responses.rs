//! `POST /v1/responses`, top to bottom: read the body, parse it, resolve its destination,
//! translate it, call the upstream, reply (SSE when Codex asked for a stream, else a
//! Response object). Each step is one call into the layer that owns it.
//!
//! The upstream's status is awaited before we answer (Codex tolerates the delay), so a
//! provider refusal before the stream becomes a real HTTP error that Codex can act on (retry
//! after `Retry-After`, compact on a context overflow, stop on a bad request).
//!
//! Secrets: one [`Redactor`] per request (the config's, plus the client's own bearer) guards
//! every exit of provider text: a refusal's body before it is classified (and so before its
//! message is cut), a whole reply before it is translated (a 200 `{"error":…}` becomes the
//! Response object and the logged outcome), the upstream stream before the translator reads
//! it (see [`pump`]), and every log field and `response.failed` message built from an
//! upstream error.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::auth::{self, Caller};
use super::body::{ShimBody, json_response, sse_response};
use super::error::{ApiError, refusal_response};
use super::{destination, pump, request_body};
use crate::config::Config;
use crate::metrics::Tracker;
use crate::metrics::capture::Part;
use crate::redact::Redactor;
use crate::service::state::{RequestGuard, State};
use crate::translate::refusal::ProviderRefusal;
use crate::translate::reply::{Outcome, ReplyContext, translate_chat_completion_counted};
use crate::translate::request::{parse_request, translate_request};
use crate::translate::stream::StreamTranslator;
use crate::upstream::{ChatReply, UpstreamError};

pub async fn handle(
    state: Arc<State>,
    cfg: Arc<Config>,
    caller: Caller,
    req: Request<Incoming>,
    track: &mut Tracker,
) -> Response<ShimBody> {
    let mut guard = state.stats.begin();
    let span = tracing::Span::current();

    let (parts, body) = req.into_parts();
    // Every secret the config holds, and the bearer this client sent (a provider token of
    // its own when no client keys are set).
    let redactor = match auth::bearer(&parts.headers) {
        Some(b) => cfg.redactor().with_extra(b),
        None => cfg.redactor().clone(),
    };
    let bytes = match request_body::read(&parts.headers, body, cfg.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return e.reply(),
    };

    // A parse error may quote the request (a secret the client pasted in, for the log).
    let parsed = match parse_request(&bytes) {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).redacted(&redactor).reply(),
    };
    span.record("model", parsed.model.as_str());
    track.set_model(&parsed.model, cfg.routes.exact.contains_key(&parsed.model));
    track.set_stream(parsed.stream);

    let dest = match destination::resolve(&cfg, &parsed.model, &caller) {
        Ok(d) => d,
        Err(e) => return e.reply(),
    };
    let up = dest.upstream;
    span.record("upstream", up.name.as_str());
    guard.set_upstream(&up.name);
    track.set_upstream(&up.name, Some(&dest.options.upstream_model));
    if state.capture.is_armed() {
        let model = &dest.options.upstream_model;
        if let Some(mut tap) = state.capture.claim(
            track.id(),
            &parsed.model,
            model,
            redactor.clone(),
            Instant::now(),
        ) {
            tap.headers(&parts.headers);
            tap.push(Part::CodexRequest, &bytes);
            track.capture(tap);
        }
    }

    let translated = match translate_request(&parsed, &dest.options) {
        Ok(t) => t,
        Err(e) => return ApiError::from(e).redacted(&redactor).reply(),
    };
    track.set_reasoning_replayed(translated.shape.reasoning_replayed);
    if let Some(t) = track.tap() {
        t.push(Part::UpstreamRequest, &translated.body);
    }
    if cfg.log.requests {
        tracing::info!(shape = %translated.shape, stream = parsed.stream, "Request");
    }
    if cfg.log.content {
        tracing::info!(
            body = %redactor.redact(&String::from_utf8_lossy(&translated.body)),
            "Upstream request body"
        );
    }
    let stream = parsed.stream;
    let ctx = ReplyContext {
        response_id: new_response_id(),
        requested_model: parsed.model.clone(),
        created_at: unix_now(),
        tools: translated.tools,
        opts: dest.options,
    };
    // A Codex session request can be several MB: free it (and its parsed form) before the
    // possibly long wait for the upstream, so concurrent sessions do not each hold two copies.
    drop(parsed);
    drop(bytes);

    let reply = state
        .http
        .chat(
            up,
            dest.bearer,
            Bytes::from(translated.body),
            stream,
            &redactor,
        )
        .await;
    if reply.is_ok() {
        track.upstream_answered();
    }

    match reply {
        Err(e) => unreachable_upstream(&e, stream, ctx, &redactor, track),
        Ok(ChatReply::Refused(mut refusal)) => {
            destination::explain_refusal(&mut refusal, up, dest.token_source);
            refused(&refusal, stream, ctx, &redactor, track)
        }
        Ok(ChatReply::Stream(body)) => {
            pump::start(pump::Pump {
                state,
                heartbeat: up.heartbeat,
                body,
                translator: StreamTranslator::new(ctx),
                guard,
                redactor,
                track: track.defer(),
            })
            .await
        }
        Ok(ChatReply::Json(body)) => whole_reply(&body, ctx, guard, &redactor, track),
    }
}

/// The upstream could not be reached or did not answer in time.
fn unreachable_upstream(
    e: &UpstreamError,
    stream: bool,
    ctx: ReplyContext,
    redactor: &Redactor,
    track: &mut Tracker,
) -> Response<ShimBody> {
    let message = e.redacted(redactor);
    tracing::warn!(error = %message, side = e.side().as_str(), retryable = e.is_retryable(), "Upstream unreachable");
    if let Some(t) = track.tap() {
        t.kind(Part::UpstreamReply, "txt");
        t.push(Part::UpstreamReply, message.as_bytes());
    }
    if stream {
        // HTTP 200 + response.failed(server_error): Codex retries a few times and then shows
        // our message, instead of 30 silent 5xx retries.
        track.failed(e.code(), Some(message.clone()));
        failed_stream(ctx, "server_error", &message)
    } else {
        ApiError::from(e).redacted(redactor).reply()
    }
}

/// The provider refused the request before any byte of the reply was sent.
fn refused(
    refusal: &ProviderRefusal,
    stream: bool,
    ctx: ReplyContext,
    redactor: &Redactor,
    track: &mut Tracker,
) -> Response<ShimBody> {
    // The message came from a body redacted before it was classified; redacting it again at
    // each exit keeps every exit safe whatever built the refusal.
    tracing::warn!(
        upstream_status = refusal.upstream_status,
        kind = refusal.kind.as_str(),
        message = %redactor.redact(&refusal.message),
        "Upstream refused the request"
    );
    if let Some(t) = track.tap() {
        // The provider's body as the daemon read it (classified, at most about 1 KB kept).
        let seen = serde_json::json!({
            "status": refusal.upstream_status,
            "kind": refusal.kind.as_str(),
            "message": redactor.redact(&refusal.message),
            "retry_after_s": refusal.retry_after_secs,
        });
        t.kind(Part::UpstreamReply, "json");
        t.push(Part::UpstreamReply, seen.to_string().as_bytes());
    }
    if stream && refusal.stream_as_failed() {
        let message = redactor.redact(&refusal.failed_message()).into_owned();
        track.failed(refusal.failed_code(), Some(message.clone()));
        return failed_stream(ctx, refusal.failed_code(), &message);
    }
    refusal_response(refusal, redactor)
}

/// A whole chat completion (the request was not streamed): the Response object.
fn whole_reply(
    body: &[u8],
    ctx: ReplyContext,
    mut guard: RequestGuard,
    redactor: &Redactor,
    track: &mut Tracker,
) -> Response<ShimBody> {
    if let Some(t) = track.tap() {
        t.kind(Part::UpstreamReply, "json");
        t.push(Part::UpstreamReply, body);
    }
    // Redacted before it is translated: a 200 `{"error":…}` becomes a failed Response whose
    // message is cut to length, and a secret must not leave a prefix at that cut. Replacing
    // any form of a secret by `***` keeps the JSON valid.
    let body = redactor.redact_bytes(body);
    let (json, outcome, counts) = translate_chat_completion_counted(&body, ctx);
    if outcome.is_success() {
        guard.succeeded();
    }
    track.set_counts(counts);
    let message = match &outcome {
        Outcome::Failed { message, .. } => Some(redactor.redact(message).into_owned()),
        _ => None,
    };
    track.outcome(&outcome, message);
    json_response(StatusCode::OK, json)
}

/// A complete SSE reply that says `response.failed`: how a streamed request learns of a failure
/// that happened before the upstream stream began (Codex retries `server_error` a few times
/// instead of the 30 attempts a 5xx status would cost).
fn failed_stream(ctx: ReplyContext, code: &str, message: &str) -> Response<ShimBody> {
    let mut tr = StreamTranslator::new(ctx);
    let mut out = Vec::new();
    tr.start(&mut out);
    tr.fail(code, message, &mut out);
    sse_response(ShimBody::full(out))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_response_id() -> String {
    format!("resp_{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}
