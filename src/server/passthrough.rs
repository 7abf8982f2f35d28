//! `POST /v1/chat/completions` and `GET /v1/models`, relayed to the upstream as they are.
//!
//! Chat bodies are forwarded byte for byte (no parse), and streamed replies are forwarded
//! chunk by chunk as they arrive, never buffered whole. The model in the body is only peeked
//! at to pick the route's upstream; an aliased model is not rewritten here (the route's
//! `model:` applies to `/v1/responses`, which the shim translates).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};

use super::auth::Caller;
use super::body::{ShimBody, json_response};
use super::error::ApiError;
use super::{destination, request_body};
use crate::config::Config;
use crate::metrics::{Reply, Tracker};
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
            return ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}"))
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
        Err(e) => return ApiError::from(&e).into_response(),
    };
    track.upstream_answered();
    if relayed.status.is_success() {
        guard.succeeded();
    }
    relay(relayed, guard, track.defer())
}

pub async fn models(
    state: Arc<State>,
    cfg: Arc<Config>,
    caller: Caller,
    req: Request<Incoming>,
    track: &mut Tracker,
) -> Response<ShimBody> {
    let mut guard = state.stats.begin();
    let up = &cfg.default_upstream;
    tracing::Span::current().record("upstream", up.name.as_str());
    guard.set_upstream(&up.name);
    track.set_upstream(&up.name, None);
    let bearer = destination::bearer_for(up, &caller).ok().flatten();
    let relayed = match state.http.relay_models(up, bearer, req.uri().query()).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(&e).into_response(),
    };
    track.upstream_answered();
    if relayed.status.is_success() {
        guard.succeeded();
    }
    let aliases: Vec<&String> = cfg.routes.exact.keys().collect();
    if !relayed.status.is_success() || aliases.is_empty() {
        return relay(relayed, guard, track.defer());
    }
    // Add the configured aliases to the provider's list, so a client that lists models sees
    // every name this daemon answers to.
    let status = relayed.status;
    let body = match relayed.body.read_all(MAX_MODEL_LIST).await {
        Ok(b) => b,
        Err(e) => {
            guard.failed();
            return ApiError::from(&e).into_response();
        }
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
fn relay(relayed: Relayed, guard: RequestGuard, mut track: Tracker) -> Response<ShimBody> {
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
            let mut sent = 0u64;
            loop {
                tokio::select! {
                    biased;
                    _ = tx.closed() => {
                        track.cancelled();
                        break;
                    }
                    next = body.next_chunk() => match next {
                        Some(Ok(b)) => {
                            sent += b.len() as u64;
                            if tx.send(b).await.is_err() {
                                track.cancelled();
                                break;
                            }
                        }
                        Some(Err(UpstreamError::Idle { secs, .. })) => {
                            tracing::warn!(secs, "Upstream went silent; closing the relayed stream");
                            track.failed("upstream_timeout", None);
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "Upstream stream broke");
                            track.failed("upstream_unreachable", None);
                            break;
                        }
                        None => break,
                    }
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
