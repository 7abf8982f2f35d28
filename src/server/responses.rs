//! `POST /v1/responses`: read and translate the request, call the upstream, and answer with
//! the translated reply (SSE when Codex asked for a stream, else a Response object).
//!
//! The upstream's status is awaited before we answer (Codex tolerates the delay), so a
//! provider error before the stream becomes a real HTTP error that Codex can act on (retry
//! after `Retry-After`, compact on a context overflow, stop on a bad request).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};

use super::body::ShimBody;
use super::error::{ApiError, json_response};
use super::{auth, pump};
use crate::config::{Config, Upstream};
use crate::service::state::State;
use crate::translate::refusal;
use crate::translate::reply::{ReplyContext, translate_chat_completion};
use crate::translate::request::{TranslateError, parse_request, translate_request};
use crate::translate::stream::StreamTranslator;
use crate::translate::{ImagePolicy, TranslateOptions};
use crate::upstream::UpstreamFailure;

/// How much of an upstream error body we read (they are small; a huge one is not an error
/// message worth holding).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Upper bound for a whole non-streamed upstream reply.
const MAX_JSON_REPLY: usize = 64 * 1024 * 1024;

pub async fn handle(
    state: Arc<State>,
    cfg: Arc<Config>,
    req: Request<Incoming>,
) -> Response<ShimBody> {
    let mut guard = state.stats.begin();
    let (parts, body) = req.into_parts();
    let bytes = match read_body(&parts.headers, body, cfg.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return finish_error(e),
    };
    let parsed = match parse_request(&bytes) {
        Ok(p) => p,
        Err(e) => return finish_error(translate_error(e)),
    };
    let span = tracing::Span::current();
    span.record("model", parsed.model.as_str());

    let resolved = cfg.resolve(&parsed.model);
    let up: Arc<Upstream> = Arc::clone(resolved.upstream);
    span.record("upstream", up.name.as_str());
    guard.set_upstream(&up.name);

    let bearer = match auth::upstream_bearer(&cfg, &up, &parts.headers) {
        Ok(b) => b,
        Err(e) => return finish_error(e),
    };

    let opts = TranslateOptions {
        upstream_model: resolved.upstream_model.clone(),
        drop_tool_call_content: up.compat.drop_tool_call_content,
        reasoning: up.compat.reasoning.for_upstream(&up.url),
        // A route that says the model has no vision gets placeholders even if the upstream
        // keeps images by default.
        images: match resolved.route.and_then(|r| r.vision) {
            Some(false) => ImagePolicy::Placeholder,
            _ => up.compat.images,
        },
        max_output_tokens: resolved.route.and_then(|r| r.max_output_tokens),
        send_parallel_tool_calls: false,
        reasoning_summary: true,
        provider: up.name.clone(),
    };
    let translated = match translate_request(&parsed, &opts) {
        Ok(t) => t,
        Err(e) => return finish_error(translate_error(e)),
    };
    if cfg.log.requests {
        tracing::info!(shape = %translated.shape, stream = parsed.stream, "Request");
    }
    if cfg.log.content {
        let secrets = secrets_of(&up, bearer);
        tracing::info!(
            body = %redact(&String::from_utf8_lossy(&translated.body), &secrets),
            "Upstream request body"
        );
    }

    let stream = parsed.stream;
    let ctx = ReplyContext {
        response_id: new_response_id(),
        requested_model: parsed.model.clone(),
        created_at: unix_now(),
        tools: translated.tools,
        opts,
    };
    // A Codex session request can be several MB: free it (and its parsed form) before the
    // possibly long wait for the upstream, so concurrent sessions do not each hold two copies.
    drop(parsed);
    drop(bytes);
    let body = Bytes::from(translated.body);
    let upstream_reply = state
        .http
        .post_json(&up, "chat/completions", bearer, body, stream)
        .await;
    let secrets = secrets_of(&up, bearer);

    let resp = match upstream_reply {
        Err(failure) => {
            tracing::warn!(error = %failure, "Upstream unreachable");
            return if stream {
                // HTTP 200 + response.failed(server_error): Codex retries a few times and
                // then shows our message, instead of 30 silent 5xx retries.
                failed_stream(ctx, "server_error", &failure.to_string())
            } else {
                finish_error(failure_to_api(&failure))
            };
        }
        Ok(r) => r,
    };

    let status = resp.status();
    if !status.is_success() {
        let retry_after = header_str(resp.headers(), "retry-after");
        let reset_hint = reset_hint(resp.headers());
        let body = read_limited(resp, MAX_ERROR_BODY).await;
        let err = refusal::classify(status.as_u16(), &body, retry_after.as_deref(), reset_hint);
        let message = redact(&err.message, &secrets);
        tracing::warn!(
            upstream_status = status.as_u16(),
            kind = ?err.kind,
            message = %message,
            "Upstream refused the request"
        );
        if stream && err.stream_as_failed() {
            return failed_stream(
                ctx,
                err.failed_code(),
                &redact(&err.failed_message(), &secrets),
            );
        }
        let mut r = json_response(
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::BAD_GATEWAY),
            redact_bytes(err.openai_body(), &secrets),
        );
        if let Some(secs) = err.retry_after_header() {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        return r;
    }

    if stream {
        guard_into_stream(state, up, resp, ctx, guard, secrets).await
    } else {
        let body = match read_json_reply(resp, &up).await {
            Ok(b) => b,
            Err(e) => return finish_error(e),
        };
        let (json, outcome) = translate_chat_completion(&body, ctx);
        if outcome.is_success() {
            guard.succeeded();
        }
        tracing::info!(
            status = 200,
            outcome = outcome.as_str(),
            duration_ms = guard.elapsed().as_millis() as u64,
            bytes = json.len(),
            "Request finished"
        );
        json_response(StatusCode::OK, json)
    }
}

async fn guard_into_stream(
    state: Arc<State>,
    up: Arc<Upstream>,
    resp: reqwest::Response,
    ctx: ReplyContext,
    guard: crate::service::state::RequestGuard,
    secrets: Vec<String>,
) -> Response<ShimBody> {
    let translator = StreamTranslator::new(ctx);
    let body = pump::start(pump::Pump {
        state,
        upstream: up,
        response: resp,
        translator,
        guard,
        secrets,
    })
    .await;
    sse_response(body)
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

fn sse_response(body: ShimBody) -> Response<ShimBody> {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn finish_error(e: ApiError) -> Response<ShimBody> {
    if e.status.is_server_error() {
        tracing::warn!(status = e.status.as_u16(), message = %e.message, "Request failed");
    } else {
        tracing::info!(status = e.status.as_u16(), message = %e.message, "Request refused");
    }
    e.into_response()
}

fn translate_error(e: TranslateError) -> ApiError {
    match &e {
        TranslateError::InvalidJson(_) => ApiError::bad_request("invalid_json", e.to_string()),
        TranslateError::Invalid(_) => ApiError::bad_request("invalid_request", e.to_string()),
        TranslateError::Unsupported(_) => ApiError::bad_request("unsupported", e.to_string()),
    }
}

pub fn failure_to_api(f: &UpstreamFailure) -> ApiError {
    if f.is_timeout() {
        ApiError::gateway_timeout(f.to_string())
    } else {
        ApiError::bad_gateway(f.to_string())
    }
}

/// Reads a request body up to `limit` bytes (413 past it; checked on `content-length` first
/// so an honest oversized request is refused before we read it).
pub async fn read_body(
    headers: &hyper::HeaderMap,
    body: Incoming,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(enc) = header_str(headers, "content-encoding")
        && !enc.eq_ignore_ascii_case("identity")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            Some("unsupported_content_encoding"),
            format!(
                "request bodies with content-encoding '{enc}' are not supported; send them uncompressed"
            ),
        ));
    }
    let declared = header_str(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::body_too_large(limit));
    }
    // One buffer, sized from content-length when the client says it (Codex always does), so a
    // large body is not assembled from chunks and copied again.
    let mut buf = Vec::with_capacity(declared.map_or(16 * 1024, |n| n as usize));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!("could not read the request body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(ApiError::body_too_large(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// Reads at most `limit` bytes of an upstream body; errors end the read (best effort: this
/// is only used for error bodies, which we then classify).
async fn read_limited(resp: reqwest::Response, limit: usize) -> Vec<u8> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    let mut s = resp.bytes_stream();
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            chunk = s.next() => match chunk {
                Some(Ok(b)) => {
                    let room = limit - out.len();
                    out.extend_from_slice(&b[..b.len().min(room)]);
                    if out.len() >= limit { break; }
                }
                _ => break,
            },
            _ = &mut deadline => break,
        }
    }
    out
}

async fn read_json_reply(resp: reqwest::Response, up: &Upstream) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    let mut s = resp.bytes_stream();
    loop {
        match tokio::time::timeout(up.timeout, s.next()).await {
            Err(_) => {
                return Err(ApiError::gateway_timeout(format!(
                    "upstream {} stopped sending for {} s",
                    up.url,
                    up.timeout.as_secs()
                )));
            }
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => {
                return Err(failure_to_api(&crate::upstream::describe(e, &up.url)));
            }
            Ok(Some(Ok(b))) => {
                if out.len() + b.len() > MAX_JSON_REPLY {
                    return Err(ApiError::bad_gateway("upstream reply is too large"));
                }
                out.extend_from_slice(&b);
            }
        }
    }
}

fn header_str(h: &hyper::HeaderMap, name: &str) -> Option<String> {
    h.get(name)?.to_str().ok().map(|s| s.trim().to_owned())
}

/// Seconds until a rate limit resets, from the headers some providers send instead of
/// `Retry-After` (`retry-after-ms`, `x-ratelimit-reset-requests: 1.5s`, `x-ratelimit-reset: 2`).
fn reset_hint(h: &hyper::HeaderMap) -> Option<f64> {
    if let Some(ms) = header_str(h, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(ms / 1000.0);
    }
    [
        "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens",
        "x-ratelimit-reset",
    ]
    .iter()
    .filter_map(|n| header_str(h, n))
    .filter_map(|v| refusal::parse_duration_hint(&v))
    .reduce(f64::max)
}

/// Every secret that could appear in text we log or relay for this request.
fn secrets_of(up: &Upstream, bearer: Option<&str>) -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    if let Some(t) = &up.token {
        s.push(t.expose().to_owned());
    }
    if let Some(b) = bearer {
        s.push(b.to_owned());
    }
    for (_, v) in &up.headers {
        s.push(v.expose().to_owned());
    }
    s.retain(|x| x.len() >= 4);
    s.sort();
    s.dedup();
    s
}

/// Replaces every occurrence of a secret with `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

fn redact_bytes(body: Vec<u8>, secrets: &[String]) -> Vec<u8> {
    match std::str::from_utf8(&body) {
        Ok(s) if secrets.iter().any(|x| s.contains(x.as_str())) => redact(s, secrets).into_bytes(),
        _ => body,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_hints_from_headers() {
        let mut h = hyper::HeaderMap::new();
        assert_eq!(reset_hint(&h), None);
        h.insert("x-ratelimit-reset-requests", "1.5s".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "6m0s".parse().unwrap());
        assert_eq!(reset_hint(&h), Some(360.0));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(reset_hint(&h), Some(0.25));
    }

    #[test]
    fn redaction_replaces_every_occurrence() {
        let s = vec!["sk-secret-123".to_string()];
        assert_eq!(
            redact("bad key sk-secret-123 (sk-secret-123)", &s),
            "bad key *** (***)"
        );
    }
}
