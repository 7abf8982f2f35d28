//! Fetching upstream model lists: `GET {url}/models?filter=with_meta` (DeepInfra then lists
//! only models with metadata; other providers ignore the parameter).
//!
//! Short time limit, no retries: the catalog works without the lists, it only knows less.
//! The token (when the caller has one) goes as `Authorization: Bearer`; DeepInfra's list is
//! public, so a missing token is no error. Errors never contain the token or header values.

use std::collections::BTreeMap;
use std::time::Duration;

use super::meta::{ModelMeta, parse_models};
use crate::config::{Config, Upstream};

/// Default time limit for one list.
pub const TIMEOUT: Duration = Duration::from_secs(8);

/// Largest list body read (DeepInfra's full list is a few hundred KB).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The URL asked: `{base}/models?filter=with_meta`.
pub fn models_url(base: &str) -> String {
    format!("{}/models?filter=with_meta", base.trim_end_matches('/'))
}

/// Fetches and parses one list.
pub async fn fetch_models(
    base_url: &str,
    token: Option<&str>,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<Vec<ModelMeta>, String> {
    let url = models_url(base_url);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut req = client.get(&url).header("accept", "application/json");
    for (name, value) in headers {
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| describe(&url, &e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("GET {url} answered {status}"));
    }
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(format!(
            "GET {url}: the list is larger than {MAX_BODY} bytes"
        ));
    }
    let body = resp.bytes().await.map_err(|e| describe(&url, &e))?;
    if body.len() > MAX_BODY {
        return Err(format!(
            "GET {url}: the list is larger than {MAX_BODY} bytes"
        ));
    }
    parse_models(&body).map_err(|e| format!("GET {url}: {e}"))
}

/// One upstream's list, with its own token and extra headers.
pub async fn fetch_upstream(
    upstream: &Upstream,
    timeout: Duration,
) -> Result<Vec<ModelMeta>, String> {
    let headers: Vec<(String, String)> = upstream
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
        .collect();
    fetch_models(
        &upstream.url,
        upstream.token.as_ref().map(|t| t.expose()),
        &headers,
        timeout,
    )
    .await
}

/// The lists of the default upstream and of every named upstream a route uses, fetched at
/// the same time; keyed by upstream name.
pub async fn fetch_all(
    config: &Config,
    timeout: Duration,
) -> BTreeMap<String, Result<Vec<ModelMeta>, String>> {
    let mut upstreams = vec![config.default_upstream.clone()];
    let used = config
        .routes
        .exact
        .values()
        .chain(config.routes.prefixes.iter().map(|(_, r)| r));
    for route in used {
        if let Some(u) = config.upstreams.get(&route.upstream)
            && !upstreams.iter().any(|x| x.name == u.name)
        {
            upstreams.push(u.clone());
        }
    }
    let fetches = upstreams.iter().map(|u| async move {
        let list = fetch_upstream(u, timeout).await;
        (u.name.clone(), list)
    });
    futures_util::future::join_all(fetches)
        .await
        .into_iter()
        .collect()
}

/// A one-line reason without the request's headers.
fn describe(url: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        // reqwest's Display names the URL and the cause, never header values.
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg = format!("{msg}: {s}");
            source = s.source();
        }
        msg
    };
    format!("GET {url}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url() {
        assert_eq!(
            models_url("https://api.deepinfra.com/v1/openai/"),
            "https://api.deepinfra.com/v1/openai/models?filter=with_meta"
        );
    }

    #[tokio::test]
    async fn unreachable_is_an_error_line() {
        // A port that was free a moment ago: connecting is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}/v1");
        let e = fetch_models(&base, Some("secret-token"), &[], TIMEOUT)
            .await
            .unwrap_err();
        assert!(e.starts_with(&format!("GET {base}/models")), "{e}");
        assert!(!e.contains("secret-token"));
    }
}
