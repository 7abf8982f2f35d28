//! The one place where an error becomes an HTTP status and an OpenAI error body
//! `{"error":{"message","type","code"}}` (docs/protocol.md#errors):
//!
//! - the shim's own refusals and failures ([`ApiError`]): bad requests ([`TranslateError`]
//!   too), missing credentials, an unreachable or silent upstream ([`UpstreamError`]: 502,
//!   or 504 when a wait ran out). Every such reply carries the `x-deepinfra-shim-error`
//!   header, so a user (or test) can tell it from a provider's reply;
//! - a provider's refusal ([`ProviderRefusal`]), relayed with the status Codex acts on, the
//!   provider's message (secrets removed) and `Retry-After` ([`refusal_response`]).
//!
//! Provider text reaches a body here only through a [`Redactor`]: [`refusal_response`] redacts
//! the whole body it builds, and [`ApiError::redacted`] a message made from an
//! [`UpstreamError`] (redacted, then cut, so no prefix of a secret survives the cut).
//!
//! A streamed request that fails before its stream began is answered in the stream instead
//! (`response.failed`), by the handler.

use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};

use super::body::{ShimBody, json_response};
use crate::redact::Redactor;
use crate::translate::refusal::{MAX_MESSAGE_BYTES, ProviderRefusal};
use crate::translate::request::TranslateError;
use crate::upstream::{Side, UpstreamError};

/// Marks replies made by the shim rather than relayed from the provider.
pub const PROXY_ERROR_HEADER: &str = "x-deepinfra-shim-error";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<String>,
    /// Whose fault it is: the client's (4xx) or the upstream's (and the log level with it).
    pub side: Side,
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
            side: if status.is_client_error() {
                Side::Downstream
            } else {
                Side::Upstream
            },
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
                "no route for {path}; this shim serves POST /v1/responses, POST /v1/chat/completions, GET /v1/models, GET /health and GET /metrics"
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

    /// This error with its message redacted by `redactor` and then cut to
    /// [`MAX_MESSAGE_BYTES`]: for every message that may carry text the shim did not write
    /// (an upstream error's cause).
    pub fn redacted(mut self, redactor: &Redactor) -> Self {
        self.message = redactor.redact_truncated(&self.message, MAX_MESSAGE_BYTES);
        self
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        crate::translate::openai_error_body(&self.message, self.kind, self.code.as_deref())
    }

    /// The reply, logged: a refusal of the client's request at info, a failure at warn.
    pub fn reply(self) -> Response<ShimBody> {
        if self.side == Side::Downstream {
            tracing::info!(status = self.status.as_u16(), message = %self.message, "Request refused");
        } else {
            tracing::warn!(status = self.status.as_u16(), side = self.side.as_str(), message = %self.message, "Request failed");
        }
        self.into_response()
    }

    /// The reply, not logged.
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

impl From<TranslateError> for ApiError {
    fn from(e: TranslateError) -> Self {
        let code = match &e {
            TranslateError::InvalidJson(_) => "invalid_json",
            TranslateError::Invalid(_) => "invalid_request",
            TranslateError::Unsupported(_) => "unsupported",
        };
        ApiError::bad_request(code, e.to_string())
    }
}

impl From<&UpstreamError> for ApiError {
    fn from(e: &UpstreamError) -> Self {
        let mut api = if e.is_timeout() {
            ApiError::gateway_timeout(e.to_string())
        } else {
            ApiError::bad_gateway(e.to_string())
        };
        api.code = Some(e.code().to_owned());
        api.side = e.side();
        api
    }
}

/// A provider's refusal, answered before any byte of the reply was sent: the status Codex
/// acts on, the OpenAI envelope with the provider's message (without this request's
/// secrets: `redactor` is the request's, its bearer included), and `Retry-After` for rate
/// limits. Not marked as proxy-made: it is the provider's answer.
///
/// The refusal's message was classified from a body already redacted (so before its 1 KiB
/// cut); the body is redacted once more here, at the exit, whatever built the refusal.
pub fn refusal_response(refusal: &ProviderRefusal, redactor: &Redactor) -> Response<ShimBody> {
    let status = StatusCode::from_u16(refusal.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = refusal.openai_body();
    let body = match redactor.redact_bytes(&body) {
        std::borrow::Cow::Borrowed(_) => body,
        std::borrow::Cow::Owned(clean) => clean,
    };
    let mut r = json_response(status, body);
    if let Some(secs) = refusal.retry_after_header() {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_errors_map_to_502_or_504_with_their_side() {
        let timeout = ApiError::from(&UpstreamError::NoHeaders {
            url: "http://u".into(),
            secs: 2,
        });
        assert_eq!(timeout.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(timeout.code.as_deref(), Some("upstream_timeout"));
        assert_eq!(timeout.side, Side::Upstream);
        let broken = ApiError::from(&UpstreamError::TooLarge {
            url: "http://u".into(),
            limit: 1,
        });
        assert_eq!(broken.status, StatusCode::BAD_GATEWAY);
        assert_eq!(broken.code.as_deref(), Some("upstream_unreachable"));
        let internal = ApiError::from(&UpstreamError::Request {
            url: "http://u".into(),
            reason: "x".into(),
        });
        assert_eq!(internal.side, Side::Internal);
    }

    #[test]
    fn translate_errors_are_400_with_their_code() {
        let e = ApiError::from(TranslateError::Unsupported("no".into()));
        assert_eq!(
            (e.status, e.code.as_deref(), e.side),
            (
                StatusCode::BAD_REQUEST,
                Some("unsupported"),
                Side::Downstream
            )
        );
    }

    #[test]
    fn a_refusal_keeps_the_provider_status_kind_and_hides_secrets() {
        let refusal = crate::translate::refusal::classify(
            429,
            br#"{"error":{"message":"slow down, key sk-abcdef"}}"#,
            Some("7"),
            None,
        );
        let r = refusal_response(&refusal, &Redactor::new(["sk-abcdef"]));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[RETRY_AFTER], "7");
        // The provider's answer, not one of ours.
        assert!(r.headers().get(PROXY_ERROR_HEADER).is_none());
        let ShimBody::Full(Some(body)) = r.into_body() else {
            panic!("a whole body")
        };
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.contains("slow down, key ***"), "{text}");
        assert!(!text.contains("sk-abcdef"), "{text}");
    }

    #[test]
    fn an_upstream_error_is_redacted_before_it_is_cut() {
        let token = "sk-live-0123456789abcdefghij";
        // The token straddles the cut: a message cut first would keep its beginning.
        let reason = format!("{} {token} and more", "x".repeat(970));
        let e = UpstreamError::Transport {
            url: "http://u".into(),
            reason,
        };
        let api = ApiError::from(&e).redacted(&Redactor::new([token]));
        assert!(
            api.message.len() <= MAX_MESSAGE_BYTES,
            "{}",
            api.message.len()
        );
        assert!(!api.message.contains(&token[..12]), "{}", api.message);
        assert!(api.message.contains("***"), "{}", api.message);
    }
}
