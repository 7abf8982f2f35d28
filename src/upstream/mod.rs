//! The HTTP client that talks to chat-completions providers.
//!
//! One `reqwest::Client` for the whole daemon, so connections to the provider are pooled and
//! reused across requests and across config reloads. Timeouts are applied per phase rather
//! than as a total: the wait for response headers here, the wait between two body chunks by
//! the stream pump (a long answer may legitimately take many minutes in total).

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::config::Upstream;

/// Why the upstream could not be reached or did not answer in time. Messages never contain
/// credentials (reqwest's errors are stripped of the URL; we name the host ourselves).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamFailure {
    #[error("upstream {url} did not send response headers within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("cannot reach upstream {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("upstream {url} request failed: {reason}")]
    Other { url: String, reason: String },
}

impl UpstreamFailure {
    pub fn is_timeout(&self) -> bool {
        matches!(self, UpstreamFailure::Timeout { .. })
    }
}

#[derive(Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
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
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("deepinfra-shim/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client builds with static settings");
        UpstreamClient { http }
    }

    /// `POST {url}/{path}` with a JSON body; resolves once the response headers arrived (or
    /// the upstream's timeout passed). `bearer` is the token to send, if any.
    pub async fn post_json(
        &self,
        up: &Upstream,
        path: &str,
        bearer: Option<&str>,
        body: Bytes,
        stream: bool,
    ) -> Result<reqwest::Response, UpstreamFailure> {
        let mut req = if path == "chat/completions" {
            self.http.post(up.chat_url.clone())
        } else {
            self.http.post(format!("{}/{}", up.url, path))
        };
        req = req
            .header(CONTENT_TYPE, "application/json")
            .header(
                ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .body(body);
        req = with_auth_and_headers(req, up, bearer);
        self.send(req, &up.url, up.timeout).await
    }

    /// `GET {url}/{path}` (the models list).
    pub async fn get(
        &self,
        up: &Upstream,
        path_and_query: &str,
        bearer: Option<&str>,
    ) -> Result<reqwest::Response, UpstreamFailure> {
        let url = format!("{}/{}", up.url, path_and_query);
        let req = with_auth_and_headers(self.http.get(&url), up, bearer);
        self.send(req, &up.url, up.timeout).await
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        base: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response, UpstreamFailure> {
        match tokio::time::timeout(timeout, req.send()).await {
            Err(_) => Err(UpstreamFailure::Timeout {
                url: base.to_owned(),
                secs: timeout.as_secs().max(1),
            }),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(describe(e, base)),
        }
    }
}

fn with_auth_and_headers(
    mut req: reqwest::RequestBuilder,
    up: &Upstream,
    bearer: Option<&str>,
) -> reqwest::RequestBuilder {
    for (name, value) in &up.headers {
        if let (Ok(n), Ok(mut v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.expose()),
        ) {
            v.set_sensitive(true);
            req = req.header(n, v);
        }
    }
    if let Some(token) = bearer
        && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        v.set_sensitive(true);
        req = req.header(AUTHORIZATION, v);
    }
    req
}

/// A transport error in words a user can act on, without the URL's query or any header.
pub fn describe(e: reqwest::Error, base: &str) -> UpstreamFailure {
    let url = base.to_owned();
    let timeout = e.is_timeout();
    let connect = e.is_connect();
    let e = e.without_url();
    let mut reason = e.to_string();
    let mut src = std::error::Error::source(&e);
    // reqwest's top-level text is generic ("error sending request"); the cause says why.
    while let Some(s) = src {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        src = s.source();
    }
    if timeout {
        UpstreamFailure::Timeout { url, secs: 0 }
    } else if connect {
        UpstreamFailure::Connect { url, reason }
    } else {
        UpstreamFailure::Other { url, reason }
    }
}
