//! `POST /v1/chat/completions` and `GET /v1/models`, relayed to the upstream as they are.
//!
//! Chat bodies are forwarded byte for byte (no parse), and streamed replies are forwarded
//! chunk by chunk as they arrive, never buffered whole. Every reply body, success or error,
//! JSON, text or HTML, leaves through a [`StreamRedactor`](crate::redact::StreamRedactor) holding the request's secrets (the
//! config's and the client's own bearer): a secret in any form, split across two chunks or
//! not, becomes `***`, while an SSE event (ending in a blank line, which begins no secret)
//! leaves as soon as it arrives. Of the provider's headers only the content type and a
//! well-formed `Retry-After` are relayed ([`crate::upstream::Relayed`]).
//!
//! The model in the body is only peeked at to pick the route's upstream; an aliased model is
//! not rewritten here (the route's `model:` applies to `/v1/responses`, which the shim
//! translates).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};

use super::auth::{self, Caller};
use super::body::{ShimBody, json_response};
use super::error::ApiError;
use super::{destination, request_body};
use crate::config::Config;
use crate::metrics::{Reply, Tracker};
use crate::redact::Redactor;
use crate::service::state::{RequestGuard, State};
use crate::upstream::limits::MAX_MODEL_LIST;
use crate::upstream::{Relayed, UpstreamError};

pub async fn chat(
    state: Arc<State>,
    cfg: Arc<Config>,
    caller: Caller,
    req: Request<Incoming>,
    track: &mut Tracker,
) -> Response<ShimBody> {
    let mut guard = state.stats.begin();
    let (parts, body) = req.into_parts();
    let redactor = request_redactor(&cfg, &parts.headers);
    let bytes = match request_body::read(&parts.headers, body, cfg.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    #[derive(serde::Deserialize)]
    struct Peek {
        model: Option<String>,
        #[serde(default)]
        stream: bool,
    }
    let peek: Peek = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            // serde's message may quote a value of the body.
            return ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}"))
                .redacted(&redactor)
                .into_response();
        }
    };
    let model = peek.model.unwrap_or_default();
    tracing::Span::current().record("model", model.as_str());
    track.set_model(&model, cfg.routes.exact.contains_key(&model));
    track.set_stream(peek.stream);
    let (up, bearer) = match destination::upstream_for(&cfg, &model, &caller) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    tracing::Span::current().record("upstream", up.name.as_str());
    guard.set_upstream(&up.name);
    track.set_upstream(&up.name, Some(&model));
    let relayed = match state.http.relay_chat(up, bearer, bytes, peek.stream).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(&e).redacted(&redactor).into_response(),
    };
    track.upstream_answered();
    if relayed.status.is_success() {
        guard.succeeded();
    }
    relay(relayed, guard, track.defer(), redactor)
}

/// The request's secrets: every one the config holds, and the bearer the client sent.
fn request_redactor(cfg: &Config, headers: &hyper::HeaderMap) -> Redactor {
    match auth::bearer(headers) {
        Some(b) => cfg.redactor().with_extra(b),
        None => cfg.redactor().clone(),
    }
}

pub async fn models(
    state: Arc<State>,
    cfg: Arc<Config>,
    caller: Caller,
    req: Request<Incoming>,
    track: &mut Tracker,
) -> Response<ShimBody> {
    let mut guard = state.stats.begin();
    let redactor = request_redactor(&cfg, req.headers());
    let up = &cfg.default_upstream;
    tracing::Span::current().record("upstream", up.name.as_str());
    guard.set_upstream(&up.name);
    track.set_upstream(&up.name, None);
    let bearer = destination::bearer_for(up, &caller).ok().flatten();
    let relayed = match state.http.relay_models(up, bearer, req.uri().query()).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(&e).redacted(&redactor).into_response(),
    };
    track.upstream_answered();
    if relayed.status.is_success() {
        guard.succeeded();
    }
    let aliases: Vec<&String> = cfg.routes.exact.keys().collect();
    if !relayed.status.is_success() || aliases.is_empty() {
        return relay(relayed, guard, track.defer(), redactor);
    }
    // Add the configured aliases to the provider's list, so a client that lists models sees
    // every name this daemon answers to.
    let status = relayed.status;
    let body = match relayed.body.read_all(MAX_MODEL_LIST).await {
        Ok(b) => b,
        Err(e) => {
            guard.failed();
            return ApiError::from(&e).redacted(&redactor).into_response();
        }
    };
    // Redacted before it is parsed: every form of a secret becomes `***` inside its JSON
    // string, so the list stays valid and the merged output is clean.
    let body = match redactor.redact_bytes(&body) {
        std::borrow::Cow::Borrowed(_) => body,
        std::borrow::Cow::Owned(clean) => clean,
    };
    let mut list: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return json_response(status, body),
    };
    if let Some(data) = list.get_mut("data").and_then(|d| d.as_array_mut()) {
        for alias in aliases {
            if !data
                .iter()
                .any(|m| m.get("id").and_then(|i| i.as_str()) == Some(alias))
            {
                data.push(serde_json::json!({"id": alias, "object": "model", "owned_by": "deepinfra-shim"}));
            }
        }
    }
    json_response(StatusCode::OK, serde_json::to_vec(&list).expect("json"))
}

/// Streams an upstream reply to the client as it arrives, with the idle timeout between
/// chunks; a broken upstream just ends the body (the client sees a truncated stream, as it
/// would talking to the provider directly). The tracker is finished when the body ends.
///
/// Each chunk is redacted on its way: a chunk leaves at once, less only a tail that could
/// still become a secret with the next chunk (flushed, redacted, when the body ends).
fn relay(
    relayed: Relayed,
    guard: RequestGuard,
    mut track: Tracker,
    redactor: Redactor,
) -> Response<ShimBody> {
    let Relayed {
        status,
        content_type,
        retry_after,
        mut body,
    } = relayed;
    let (tx, reply) = ShimBody::channel();
    let span = tracing::Span::current();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let _guard = guard;
            let mut redact = redactor.stream();
            let mut sent = 0u64;
            let mut ended = false;
            loop {
                tokio::select! {
                    biased;
                    _ = tx.closed() => {
                        track.cancelled();
                        break;
                    }
                    next = body.next_chunk() => match next {
                        Some(Ok(b)) => {
                            let mut clean = Vec::with_capacity(b.len());
                            redact.push(&b, &mut clean);
                            if clean.is_empty() {
                                continue;
                            }
                            sent += clean.len() as u64;
                            if tx.send(Bytes::from(clean)).await.is_err() {
                                track.cancelled();
                                break;
                            }
                        }
                        Some(Err(UpstreamError::Idle { secs, .. })) => {
                            tracing::warn!(secs, "Upstream went silent; closing the relayed stream");
                            track.failed("upstream_timeout", None);
                            ended = true;
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e.redacted(&redactor), "Upstream stream broke");
                            track.failed("upstream_unreachable", None);
                            ended = true;
                            break;
                        }
                        None => {
                            ended = true;
                            break;
                        }
                    }
                }
            }
            if ended {
                // What was held back: the start of a secret that never completed is still
                // redacted as far as it matches one.
                let mut rest = Vec::new();
                redact.finish(&mut rest);
                if !rest.is_empty() {
                    sent += rest.len() as u64;
                    let _ = tx.send(Bytes::from(rest)).await;
                }
            }
            track.finish(Reply {
                status: status.as_u16(),
                bytes: sent,
                ..Reply::default()
            });
        },
        span,
    ));
    let mut r = Response::new(reply);
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut().insert(CONTENT_TYPE, ct);
    }
    if let Some(ra) = retry_after {
        r.headers_mut().insert(RETRY_AFTER, ra);
    }
    r
}
