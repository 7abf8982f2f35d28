//! Path and method dispatch, with the per-request span and the client-key check.
//!
//! Paths are accepted with and without the `/v1` prefix, so a Codex `base_url` of either
//! `http://127.0.0.1:8797/v1` or `http://127.0.0.1:8797` works.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tracing::Instrument;

use super::body::{ShimBody, json_response};
use super::error::ApiError;
use super::{auth, passthrough, responses};
use crate::service::state::State;

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// A short, unique-per-process request id for logs (`req_<pid-ish>_<n>`).
pub fn next_request_id() -> String {
    format!("req_{:x}", REQUEST_SEQ.fetch_add(1, Ordering::Relaxed))
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<ShimBody> {
    let id = next_request_id();
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        model = tracing::field::Empty,
        upstream = tracing::field::Empty,
    );
    dispatch(state, req).instrument(span).await
}

async fn dispatch(state: Arc<State>, req: Request<Incoming>) -> Response<ShimBody> {
    let path = req.uri().path().to_owned();
    let route = path
        .strip_prefix("/v1")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(&path);
    let method = req.method().clone();

    if route == "/health" {
        return if method == Method::GET || method == Method::HEAD {
            health(&state)
        } else {
            ApiError::method_not_allowed(&method, &path, "GET").into_response()
        };
    }

    let (allowed, known) = match route {
        "/responses" => (Method::POST, true),
        "/chat/completions" => (Method::POST, true),
        "/models" => (Method::GET, true),
        _ => (Method::GET, false),
    };
    if !known {
        return ApiError::not_found(&path).into_response();
    }
    if method != allowed {
        return ApiError::method_not_allowed(&method, &path, allowed.as_str()).into_response();
    }

    // One snapshot for the whole request, held until its stream ends.
    let cfg = state.config();
    let caller = match auth::admit(&cfg, req.headers()) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match route {
        "/responses" => responses::handle(state, cfg, caller, req).await,
        "/chat/completions" => passthrough::chat(state, cfg, caller, req).await,
        _ => passthrough::models(state, cfg, caller, req).await,
    }
}

fn health(state: &State) -> Response<ShimBody> {
    let cfg = state.config();
    let body = serde_json::json!({
        "ok": true,
        "upstream": cfg.default_upstream.url,
        "version": crate::VERSION,
    });
    json_response(StatusCode::OK, serde_json::to_vec(&body).expect("json"))
}
