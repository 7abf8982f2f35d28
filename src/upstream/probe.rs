//! The token check (`shimctl doctor`, through the daemon's `check-upstreams`): the cheapest
//! request a provider only answers for a valid token.
//!
//! `GET {url}/models` does not do: DeepInfra serves its model list to anyone, so a revoked
//! token passes it. A chat completion capped at one output token (`max_tokens: 1`, not
//! streamed) for a model the upstream serves is authenticated by every provider we know of,
//! and costs a dozen prompt tokens. It carries the daemon's own credentials for that upstream
//! (its token, its extra headers), never a client's; the client follows no redirects, so a
//! 3xx comes back as its status, with the host it pointed to; and the provider's message is read with every credential it was
//! sent removed (before it is cut to length).

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::body::UpstreamStream;
use super::client::{UpstreamClient, with_credentials};
use super::error::UpstreamError;
use super::limits::{ERROR_BODY_WAIT, MAX_ERROR_BODY};
use crate::config::Upstream;
use crate::redact::Redactor;
use crate::translate::refusal;

/// What the probe asks the model.
pub const PROBE_PROMPT: &str = "Reply with OK.";

/// What the provider answered to [`UpstreamClient::probe_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenProbe {
    /// The HTTP status.
    pub status: u16,
    /// On a non-2xx answer, the provider's message (credentials removed, at most about 1 KB).
    pub message: Option<String>,
    /// From sending the request to the answer's status (and, on a refusal, its body).
    pub elapsed: Duration,
    /// Whether the request carried a token (the upstream has one).
    pub sent_token: bool,
}

/// The probe's request body: one user message, one output token, no stream, no tools.
pub fn probe_body(model: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": PROBE_PROMPT}],
        "max_tokens": 1,
        "temperature": 0,
        "stream": false,
    }))
    .expect("a JSON value always serializes")
}

impl UpstreamClient {
    /// `POST {url}/chat/completions` with [`probe_body`] for `model`, carrying `up`'s own token
    /// (none when it has none) and extra headers, within `limit` for the whole exchange.
    pub async fn probe_token(
        &self,
        up: &Upstream,
        model: &str,
        limit: Duration,
    ) -> Result<TokenProbe, UpstreamError> {
        let bearer = up.token.as_ref().map(|t| t.expose());
        let req = self
            .http
            .post(up.chat_url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(probe_body(model));
        let headers = up.headers.iter().map(|(n, v)| (n.as_str(), v.expose()));
        let req = with_credentials(req, headers, bearer);
        let started = Instant::now();
        let exchange = async {
            let resp = match self.send(req, &up.url, limit).await {
                Ok(resp) => resp,
                // A redirect is an answer, and doctor says how to fix it (the final address).
                Err(e @ UpstreamError::Redirect { status, .. }) => {
                    return Ok(TokenProbe {
                        status,
                        message: Some(e.cause()),
                        elapsed: started.elapsed(),
                        sent_token: bearer.is_some(),
                    });
                }
                Err(e) => return Err(e),
            };
            let status = resp.status();
            let message = if status.is_success() {
                // The one token is not needed; dropping the body ends the request.
                None
            } else {
                let body = UpstreamStream::new(resp, &up.url, limit)
                    .read_prefix(MAX_ERROR_BODY, ERROR_BODY_WAIT.min(limit))
                    .await;
                Some(refusal_message(status.as_u16(), &body, up))
            };
            Ok(TokenProbe {
                status: status.as_u16(),
                message,
                elapsed: started.elapsed(),
                sent_token: bearer.is_some(),
            })
        };
        tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(UpstreamError::Deadline {
                    url: up.url.clone(),
                    secs: limit.as_secs().max(1),
                })
            })
    }
}

/// The provider's message from a refusal body, with every credential `up` sends removed
/// first (a provider may echo the key it refused).
fn refusal_message(status: u16, body: &[u8], up: &Upstream) -> String {
    let secrets = up
        .token
        .iter()
        .map(|t| t.expose())
        .chain(up.headers.iter().map(|(_, v)| v.expose()));
    let redactor = Redactor::new(secrets);
    let clean = redactor.redact_bytes(body);
    refusal::classify(status, &clean, None, None).message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::Cli;
    use crate::config::load::Env;

    /// The default upstream of a config loaded from `pairs` alone (no config file).
    fn upstream(pairs: &[(&str, &str)]) -> Upstream {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let mut env = vec![("HOME", home), ("XDG_RUNTIME_DIR", home)];
        env.extend_from_slice(pairs);
        let c = crate::config::load(&Cli::default(), &Env::from_pairs(env)).unwrap();
        (*c.default_upstream).clone()
    }

    #[test]
    fn the_body_asks_for_one_token_without_a_stream() {
        let v: serde_json::Value = serde_json::from_slice(&probe_body("m/x")).unwrap();
        assert_eq!(v["model"], "m/x");
        assert_eq!(v["max_tokens"], 1);
        assert_eq!(v["stream"], false);
        assert_eq!(v["messages"][0]["role"], "user");
        assert!(v.get("tools").is_none());
    }

    #[test]
    fn a_refusal_message_never_repeats_the_token() {
        let up = upstream(&[("DEEPINFRA_TOKEN", "sk-live-abcdefghijklmnop")]);
        let body = br#"{"error":{"message":"Invalid key sk-live-abcdefghijklmnop","type":"invalid_request_error"}}"#;
        let m = refusal_message(401, body, &up);
        assert!(m.starts_with("Invalid key "), "{m}");
        assert!(!m.contains("abcdefghijklmnop"), "{m}");
        // A body without a message still says what happened.
        assert_eq!(
            refusal_message(401, b"", &up),
            "upstream returned HTTP 401 (Unauthorized)"
        );
    }
}
