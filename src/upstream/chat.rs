//! `POST {url}/chat/completions`: the translated request (answered with a typed
//! [`ChatReply`]) and the passthrough (relayed as it is).

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};

use super::body::UpstreamStream;
use super::client::{UpstreamClient, with_credentials};
use super::error::UpstreamError;
use super::limits::{ERROR_BODY_WAIT, MAX_ERROR_BODY, MAX_JSON_REPLY};
use super::relay::Relayed;
use crate::config::Upstream;
use crate::redact::Redactor;
use crate::translate::refusal::{self, ProviderRefusal};

/// The provider's answer to a chat request, once its headers (and, for JSON, its body) are in.
pub enum ChatReply {
    /// A whole `chat.completion` (a request with `stream: false`).
    Json(Vec<u8>),
    /// A 2xx reply to a streamed request: the SSE body, as it arrives.
    Stream(UpstreamStream),
    /// A non-2xx reply, classified (docs/protocol.md#errors).
    Refused(ProviderRefusal),
}

impl UpstreamClient {
    /// Sends a translated chat request. `bearer` is the token to send, if any. A refusal's
    /// body is redacted with `redactor` before it is classified, so before its message is cut
    /// to length (a provider may echo the key it refused).
    pub async fn chat(
        &self,
        up: &Arc<Upstream>,
        bearer: Option<&str>,
        body: Bytes,
        stream: bool,
        redactor: &Redactor,
    ) -> Result<ChatReply, UpstreamError> {
        let resp = self.post_chat(up, bearer, body, stream).await?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = header_str(resp.headers(), "retry-after");
            let reset_hint = reset_hint(resp.headers());
            let body = UpstreamStream::new(resp, &up.url, up.timeout)
                .read_prefix(MAX_ERROR_BODY, ERROR_BODY_WAIT)
                .await;
            let body = redactor.redact_bytes(&body);
            return Ok(ChatReply::Refused(refusal::classify(
                status.as_u16(),
                &body,
                retry_after.as_deref(),
                reset_hint,
            )));
        }
        let body = UpstreamStream::new(resp, &up.url, up.timeout);
        if stream {
            Ok(ChatReply::Stream(body))
        } else {
            Ok(ChatReply::Json(body.read_all(MAX_JSON_REPLY).await?))
        }
    }

    /// Sends a client's chat body byte for byte and hands back the reply as it is.
    pub async fn relay_chat(
        &self,
        up: &Arc<Upstream>,
        bearer: Option<&str>,
        body: Bytes,
        stream: bool,
    ) -> Result<Relayed, UpstreamError> {
        let resp = self.post_chat(up, bearer, body, stream).await?;
        Ok(Relayed::new(resp, up))
    }

    async fn post_chat(
        &self,
        up: &Upstream,
        bearer: Option<&str>,
        body: Bytes,
        stream: bool,
    ) -> Result<reqwest::Response, UpstreamError> {
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let req = self
            .http
            .post(up.chat_url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, accept)
            .body(body);
        let headers = up.headers.iter().map(|(n, v)| (n.as_str(), v.expose()));
        let req = with_credentials(req, headers, bearer);
        self.send(req, &up.url, up.timeout).await
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)?.to_str().ok().map(|s| s.trim().to_owned())
}

/// Seconds until a rate limit resets, from the headers some providers send instead of
/// `Retry-After` (`retry-after-ms`, `x-ratelimit-reset-requests: 1.5s`, `x-ratelimit-reset: 2`;
/// docs/protocol.md#rate-limits).
fn reset_hint(h: &HeaderMap) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_hints_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(reset_hint(&h), None);
        h.insert("x-ratelimit-reset-requests", "1.5s".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "6m0s".parse().unwrap());
        assert_eq!(reset_hint(&h), Some(360.0));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(reset_hint(&h), Some(0.25));
    }
}
