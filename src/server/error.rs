//! Replies the shim makes itself, in the OpenAI error shape
//! `{"error":{"message","type","code"}}`. Every proxy-made reply also carries the
//! `x-deepinfra-shim-error` header, so a user (or test) can tell it from a provider's reply.

use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use super::body::ShimBody;

/// Marks replies made by the shim rather than relayed from the provider.
pub const PROXY_ERROR_HEADER: &str = "x-deepinfra-shim-error";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            code: code.map(str::to_owned),
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some(code),
            message,
        )
    }

    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("not_found"),
            format!(
                "no route for {path}; this shim serves POST /v1/responses, POST /v1/chat/completions, GET /v1/models and GET /health"
            ),
        )
    }

    pub fn method_not_allowed(method: &hyper::Method, path: &str, allowed: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            Some("method_not_allowed"),
            format!("{method} is not allowed on {path}; use {allowed}"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("missing_api_key"),
            message,
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!(
                "request body exceeds the limit of {limit} bytes (limits.max_body_bytes / --max-body-bytes)"
            ),
        )
    }

    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "server_error",
            Some("upstream_unreachable"),
            message,
        )
    }

    pub fn gateway_timeout(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "server_error",
            Some("upstream_timeout"),
            message,
        )
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        crate::translate::openai_error_body(&self.message, self.kind, self.code.as_deref())
    }

    pub fn into_response(self) -> Response<ShimBody> {
        let body = self.body_bytes();
        let mut resp = Response::new(ShimBody::full(body));
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // Every ApiError is made by the shim; relayed provider errors never pass through here.
        h.insert(PROXY_ERROR_HEADER, HeaderValue::from_static("1"));
        resp
    }
}

/// A JSON reply with the given status.
pub fn json_response(status: StatusCode, body: impl Into<bytes::Bytes>) -> Response<ShimBody> {
    let mut resp = Response::new(ShimBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
