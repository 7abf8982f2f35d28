//! Path and method dispatch, with the per-request span, its tracker, the browser guard
//! ([`guard`]: `Host`, `Origin`, `Content-Type`) and the client-key check.
//!
//! Paths are accepted with and without the `/v1` prefix, so a Codex `base_url` of either
//! `http://127.0.0.1:8797/v1` or `http://127.0.0.1:8797` works.
//!
//! Every reply leaves here with `x-request-id`: the client's own when it sent a usable one
//! (printable ASCII, at most [`MAX_CLIENT_REQUEST_ID`] bytes), else ours; the same id is the
//! `id` of the request's log lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use tracing::Instrument;

use super::body::{ShimBody, json_response};
use super::error::ApiError;
use super::{auth, guard, passthrough, responses};
use crate::metrics::{Endpoint, Tracker, expose};
use crate::service::state::State;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest client-sent request id we adopt.
pub const MAX_CLIENT_REQUEST_ID: usize = 128;

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// A short, unique-per-process request id for logs (`req_<pid-ish>_<n>`).
pub fn next_request_id() -> String {
    format!("req_{:x}", REQUEST_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// The client's `x-request-id`, when it is one we can echo and log safely.
pub fn client_request_id(headers: &HeaderMap) -> Option<&str> {
    let id = headers.get(REQUEST_ID)?.to_str().ok()?;
    let usable = !id.is_empty()
        && id.len() <= MAX_CLIENT_REQUEST_ID
        && id.bytes().all(|b| b.is_ascii_graphic());
    usable.then_some(id)
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<ShimBody> {
    let id = match client_request_id(req.headers()) {
        Some(id) => id.to_owned(),
        None => next_request_id(),
    };
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        model = tracing::field::Empty,
        upstream = tracing::field::Empty,
    );
    let endpoint = endpoint_of(route_of(req.uri().path()));
    let mut resp = async {
        let mut track = state.metrics.track(endpoint, req.headers(), &id);
        let resp = dispatch(state, req, &mut track).await;
        track.finish(reply_of(&resp));
        resp
    }
    .instrument(span)
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The path without its optional `/v1` prefix.
fn route_of(path: &str) -> &str {
    path.strip_prefix("/v1")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path)
}

fn endpoint_of(route: &str) -> Endpoint {
    match route {
        "/responses" => Endpoint::Responses,
        "/chat/completions" => Endpoint::ChatCompletions,
        "/models" => Endpoint::Models,
        "/health" | "/metrics" => Endpoint::Probe,
        _ => Endpoint::Other,
    }
}

/// What the tracker needs of a reply that is complete when the handler returns (a deferred
/// tracker ignores it): status, the error code of an error body, `Retry-After`, the body.
fn reply_of(resp: &Response<ShimBody>) -> crate::metrics::Reply<'_> {
    let body = match resp.body() {
        ShimBody::Full(Some(b)) => Some(&b[..]),
        _ => None,
    };
    let status = resp.status().as_u16();
    crate::metrics::Reply {
        status,
        error_code: body
            .filter(|_| status >= 400)
            .and_then(|b| serde_json::from_slice::<ErrorBody<'_>>(b).ok())
            .and_then(|e| e.error.code),
        retry_after_s: resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse().ok()),
        bytes: body.map_or(0, |b| b.len() as u64),
        body,
        body_is_sse: resp
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")),
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow)]
    error: ErrorFields<'a>,
}

#[derive(serde::Deserialize)]
struct ErrorFields<'a> {
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

async fn dispatch(
    state: Arc<State>,
    req: Request<Incoming>,
    track: &mut Tracker,
) -> Response<ShimBody> {
    // One snapshot for the whole request, held until its stream ends. Its `listen` is the
    // one the listener started with: a reload never changes it (config::diff::keep_running).
    let cfg = state.config();
    // The key check comes first because a valid key lifts the guard's Host rule; its
    // refusal is answered after the guard's, so a web page learns nothing more from it.
    let admitted = auth::admit(&cfg, req.headers());
    let keyed = matches!(&admitted, Ok(c) if c.keys_required);
    let pass = match guard::check(&cfg.listen, req.method(), req.uri(), req.headers(), keyed) {
        Ok(p) => p,
        Err(e) => return e.reply(),
    };
    if req.method() == Method::OPTIONS && pass.cors_origin.is_some() {
        return guard::preflight(&pass);
    }
    let mut resp = dispatch_route(state, cfg, admitted, req, track).await;
    pass.decorate(&mut resp);
    resp
}

async fn dispatch_route(
    state: Arc<State>,
    cfg: Arc<crate::config::Config>,
    admitted: Result<auth::Caller, ApiError>,
    req: Request<Incoming>,
    track: &mut Tracker,
) -> Response<ShimBody> {
    let path = req.uri().path().to_owned();
    let route = route_of(&path);
    let method = req.method().clone();

    if route == "/health" {
        return if method == Method::GET || method == Method::HEAD {
            health(&cfg)
        } else {
            ApiError::method_not_allowed(&method, &path, "GET").into_response()
        };
    }

    let (allowed, known) = match route {
        "/responses" => (Method::POST, true),
        "/chat/completions" => (Method::POST, true),
        "/models" => (Method::GET, true),
        "/metrics" => (Method::GET, true),
        _ => (Method::GET, false),
    };
    if !known {
        return ApiError::not_found(&path).into_response();
    }
    let head_metrics = route == "/metrics" && method == Method::HEAD;
    if method != allowed && !head_metrics {
        return ApiError::method_not_allowed(&method, &path, allowed.as_str()).into_response();
    }

    let caller = match admitted {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match route {
        "/responses" => responses::handle(state, cfg, caller, req, track).await,
        "/chat/completions" => passthrough::chat(state, cfg, caller, req, track).await,
        "/metrics" => metrics(&state),
        _ => passthrough::models(state, cfg, caller, req, track).await,
    }
}

/// `GET /metrics`: the accounting since start, as Prometheus scrapes it.
fn metrics(state: &State) -> Response<ShimBody> {
    let text = expose::render(
        state.metrics.totals(),
        state.stats.active.load(Ordering::Relaxed),
        state.started.elapsed().as_secs_f64(),
    );
    let mut r = Response::new(ShimBody::full(text));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(expose::CONTENT_TYPE));
    r
}

fn health(cfg: &crate::config::Config) -> Response<ShimBody> {
    let body = serde_json::json!({
        "ok": true,
        "upstream": cfg.default_upstream.url,
        "version": crate::VERSION,
    });
    json_response(StatusCode::OK, serde_json::to_vec(&body).expect("json"))
}
