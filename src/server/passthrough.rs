//! `POST /v1/chat/completions` and `GET /v1/models`, relayed to the upstream as they are.
//!
//! Chat bodies are forwarded byte for byte (no parse), and streamed replies are forwarded
//! chunk by chunk as they arrive, never buffered whole. The model in the body is only peeked
//! at to pick the route's upstream; an aliased model is not rewritten here (the route's
//! `model:` applies to `/v1/responses`, which the shim translates).

use std::sync::Arc;

use futures_util::StreamExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::auth;
use super::body::ShimBody;
use super::error::{ApiError, json_response};
use super::responses::{failure_to_api, read_body};
use crate::config::{Config, Upstream};
use crate::service::state::State;

pub async fn chat(
    state: Arc<State>,
    cfg: Arc<Config>,
    req: Request<Incoming>,
) -> Response<ShimBody> {
    let mut guard = state.stats.begin();
    let (parts, body) = req.into_parts();
    let bytes = match read_body(&parts.headers, body, cfg.max_body_bytes).await {
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
    let up = Arc::clone(cfg.resolve(&model).upstream);
    tracing::Span::current().record("upstream", up.name.as_str());
    guard.set_upstream(&up.name);
    let bearer = match auth::upstream_bearer(&cfg, &up, &parts.headers) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let resp = match state
        .http
        .post_json(&up, "chat/completions", bearer, bytes, peek.stream)
        .await
    {
        Ok(r) => r,
        Err(f) => return failure_to_api(&f).into_response(),
    };
    if resp.status().is_success() {
        guard.succeeded();
    }
    relay(resp, up, guard)
}

pub async fn models(
    state: Arc<State>,
    cfg: Arc<Config>,
    req: Request<Incoming>,
) -> Response<ShimBody> {
    let mut guard = state.stats.begin();
    let up = Arc::clone(&cfg.default_upstream);
    guard.set_upstream(&up.name);
    let bearer = auth::upstream_bearer(&cfg, &up, req.headers())
        .ok()
        .flatten();
    let path = match req.uri().query() {
        Some(q) => format!("models?{q}"),
        None => "models".to_owned(),
    };
    let resp = match state.http.get(&up, &path, bearer).await {
        Ok(r) => r,
        Err(f) => return failure_to_api(&f).into_response(),
    };
    if resp.status().is_success() {
        guard.succeeded();
    }
    let aliases: Vec<&String> = cfg.routes.exact.keys().collect();
    if !resp.status().is_success() || aliases.is_empty() {
        return relay(resp, up, guard);
    }
    // Add the configured aliases to the provider's list, so a client that lists models sees
    // every name this daemon answers to.
    let status = resp.status();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            guard.failed();
            return failure_to_api(&crate::upstream::describe(e, &up.url)).into_response();
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
/// would talking to the provider directly).
fn relay(
    resp: reqwest::Response,
    up: Arc<Upstream>,
    guard: crate::service::state::RequestGuard,
) -> Response<ShimBody> {
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
    let (tx, body) = ShimBody::channel();
    let span = tracing::Span::current();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let _guard = guard;
            let mut s = resp.bytes_stream();
            loop {
                tokio::select! {
                    biased;
                    _ = tx.closed() => break,
                    next = tokio::time::timeout(up.timeout, s.next()) => match next {
                        Ok(Some(Ok(b))) => {
                            if tx.send(b).await.is_err() { break; }
                        }
                        Ok(Some(Err(e))) => {
                            tracing::warn!(error = %crate::upstream::describe(e, &up.url), "Upstream stream broke");
                            break;
                        }
                        Ok(None) => break,
                        Err(_) => {
                            tracing::warn!(secs = up.timeout.as_secs(), "Upstream went silent; closing the relayed stream");
                            break;
                        }
                    }
                }
            }
        },
        span,
    ));
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut().insert(CONTENT_TYPE, ct);
    }
    if let Some(ra) = retry_after {
        r.headers_mut().insert("retry-after", ra);
    }
    r
}
