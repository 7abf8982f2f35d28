//! Fetching upstream model lists: `GET {url}/models?filter=with_meta` (DeepInfra then lists
//! only models with metadata; other providers ignore the parameter).
//!
//! Short time limit, no retries: the catalog works without the lists, it only knows less.
//! The token (when the caller has one) goes as `Authorization: Bearer`; DeepInfra's list is
//! public, so a missing token is no error. The request itself (client, limits, error words)
//! is [`crate::upstream`]'s; errors never contain the token or header values.

use std::collections::BTreeMap;
use std::time::Duration;

use super::meta::{ModelMeta, parse_models};
use crate::config::{Config, Upstream};
use crate::upstream::{UpstreamClient, limits};

/// Default time limit for one list.
pub const TIMEOUT: Duration = limits::MODEL_LIST_TIMEOUT;

/// The URL asked: `{base}/models?filter=with_meta`.
pub fn models_url(base: &str) -> String {
    crate::upstream::models_url(base, Some("filter=with_meta"))
}

/// Fetches and parses one list. The error is one line naming the URL asked.
pub async fn fetch_models(
    base_url: &str,
    token: Option<&str>,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<Vec<ModelMeta>, String> {
    let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    fetch(&UpstreamClient::new(), base_url, token, headers, timeout).await
}

/// One upstream's list, with its own token and extra headers.
pub async fn fetch_upstream(
    upstream: &Upstream,
    timeout: Duration,
) -> Result<Vec<ModelMeta>, String> {
    fetch_upstream_with(&UpstreamClient::new(), upstream, timeout).await
}

async fn fetch_upstream_with(
    client: &UpstreamClient,
    upstream: &Upstream,
    timeout: Duration,
) -> Result<Vec<ModelMeta>, String> {
    let headers = upstream
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose()));
    let token = upstream.token.as_ref().map(|t| t.expose());
    fetch(client, &upstream.url, token, headers, timeout).await
}

async fn fetch<'a>(
    client: &UpstreamClient,
    base_url: &str,
    token: Option<&str>,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    timeout: Duration,
) -> Result<Vec<ModelMeta>, String> {
    let url = models_url(base_url);
    let body = client
        .fetch_list(base_url, &url, token, headers, timeout)
        .await
        .map_err(|e| format!("GET {url}: {}", e.cause()))?;
    parse_models(&body).map_err(|e| format!("GET {url}: {e}"))
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
    let client = UpstreamClient::new();
    let fetches = upstreams.iter().map(|u| {
        let client = &client;
        async move {
            let list = fetch_upstream_with(client, u, timeout).await;
            (u.name.clone(), list)
        }
    });
    futures_util::future::join_all(fetches)
        .await
        .into_iter()
        .collect()
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

    /// A list that moved is not fetched from where it points (the token would go along):
    /// the error names the status and the host.
    #[tokio::test]
    async fn a_redirected_list_is_an_error_naming_the_target_host() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let reply = "HTTP/1.1 301 Moved Permanently\r\nlocation: https://lists.example/v1/models?k=1\r\ncontent-length: 0\r\n\r\n";
            let _ = sock.write_all(reply.as_bytes()).await;
        });
        let e = fetch_models(&base, Some("secret-token"), &[], TIMEOUT)
            .await
            .unwrap_err();
        assert!(e.contains("301 redirecting to lists.example"), "{e}");
        assert!(!e.contains("k=1") && !e.contains("secret-token"), "{e}");
    }
}
