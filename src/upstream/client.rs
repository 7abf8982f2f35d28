//! The one HTTP client for every provider request the project makes: the proxy's, the
//! catalog's model lists and `shimctl doctor`'s probes.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

use super::error::UpstreamError;
use super::limits::CONNECT_TIMEOUT;

/// One `reqwest::Client` for the whole process, so connections to a provider are pooled and
/// reused across requests and across config reloads. No total timeout: limits apply per
/// phase (see [`super::limits`]), since a long answer may legitimately take many minutes.
#[derive(Clone)]
pub struct UpstreamClient {
    pub(super) http: reqwest::Client,
}

impl Default for UpstreamClient {
    fn default() -> Self {
        Self::new()
    }
}

impl UpstreamClient {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            // Each token matters for latency: no Nagle delay on small SSE writes.
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT)
            // A redirect would carry the token to wherever the provider points; never follow.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("deepinfra-shim/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client builds with static settings");
        UpstreamClient { http }
    }

    /// Sends `req` and waits at most `wait` for the response headers. `base` (the upstream's
    /// base URL) is what error messages name. A 3xx is [`UpstreamError::Redirect`]: every
    /// request the project makes to a provider goes through here, so none follows or relays one.
    pub(super) async fn send(
        &self,
        req: reqwest::RequestBuilder,
        base: &str,
        wait: Duration,
    ) -> Result<reqwest::Response, UpstreamError> {
        match tokio::time::timeout(wait, req.send()).await {
            Err(_) => Err(UpstreamError::NoHeaders {
                url: base.to_owned(),
                secs: wait.as_secs().max(1),
            }),
            // Not followed (the policy above) and not relayed either: a 3xx handed to a
            // client could be followed by it, and says nothing a user can act on.
            Ok(Ok(resp)) if resp.status().is_redirection() => Err(UpstreamError::redirect(
                base,
                resp.status().as_u16(),
                resp.url(),
                resp.headers()
                    .get(reqwest::header::LOCATION)
                    .map(|v| v.as_bytes()),
            )),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(UpstreamError::from_reqwest(e, base)),
        }
    }
}

/// Adds the extra headers and `Authorization: Bearer <token>`, all marked sensitive (never
/// printed by the HTTP stack). A name or value that is not a valid header is skipped (the
/// config check refuses them; a client's token with control characters is not sent).
pub(super) fn with_credentials<'a>(
    mut req: reqwest::RequestBuilder,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    bearer: Option<&str>,
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        if let (Ok(n), Ok(mut v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            v.set_sensitive(true);
            req = req.header(n, v);
        }
    }
    if let Some(token) = bearer.filter(|t| !t.is_empty())
        && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        v.set_sensitive(true);
        req = req.header(AUTHORIZATION, v);
    }
    req
}
