//! `GET {url}/models`: relayed for `GET /v1/models`, fetched whole for the catalog, probed by
//! `shimctl doctor`.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::ACCEPT;

use super::body::UpstreamStream;
use super::client::{UpstreamClient, with_credentials};
use super::error::UpstreamError;
use super::limits::MAX_MODEL_LIST;
use super::relay::Relayed;
use crate::config::Upstream;

/// `{base}/models`, with `query` (without `?`) when given. A trailing `/` on `base` is dropped.
pub fn models_url(base: &str, query: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    match query {
        Some(q) => format!("{base}/models?{q}"),
        None => format!("{base}/models"),
    }
}

impl UpstreamClient {
    /// `GET {url}/models[?query]` for a client, relayed as it is; the body within
    /// `upstream.timeout_ms` of its headers, whole (a relayed list is then cut off).
    pub async fn relay_models(
        &self,
        up: &Upstream,
        bearer: Option<&str>,
        query: Option<&str>,
    ) -> Result<Relayed, UpstreamError> {
        let req = self.http.get(models_url(&up.url, query));
        let headers = up.headers.iter().map(|(n, v)| (n.as_str(), v.expose()));
        let req = with_credentials(req, headers, bearer);
        let resp = self.send(req, &up.url, up.timeout).await?;
        let mut relayed = Relayed::new(resp, up);
        // A list is small: all of it within the upstream's timeout, however it trickles.
        relayed.body = relayed.body.with_deadline(up.timeout);
        Ok(relayed)
    }

    /// The body of a successful `GET url` (a model list), within `limit` for the whole
    /// exchange and at most [`MAX_MODEL_LIST`] bytes. `base` is the upstream's base URL
    /// (what error messages name).
    pub async fn fetch_list<'a>(
        &self,
        base: &str,
        url: &str,
        bearer: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        limit: Duration,
    ) -> Result<Vec<u8>, UpstreamError> {
        let req = self.http.get(url).header(ACCEPT, "application/json");
        let req = with_credentials(req, headers, bearer);
        let fetch = async {
            let resp = self.send(req, base, limit).await?;
            let status = resp.status();
            if !status.is_success() {
                return Err(UpstreamError::Status {
                    url: base.to_owned(),
                    status: status.as_u16(),
                });
            }
            UpstreamStream::new(resp, base, limit)
                .read_all(MAX_MODEL_LIST)
                .await
        };
        tokio::time::timeout(limit, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(UpstreamError::Deadline {
                    url: base.to_owned(),
                    secs: limit.as_secs(),
                })
            })
    }

    /// The status of `GET {base}/models` (reachability and token checks), within `limit`.
    pub async fn probe_models(
        &self,
        base: &str,
        bearer: Option<&str>,
        limit: Duration,
    ) -> Result<StatusCode, UpstreamError> {
        let req = with_credentials(self.http.get(models_url(base, None)), [], bearer);
        Ok(self.send(req, base, limit).await?.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_url_with_and_without_a_query() {
        assert_eq!(
            models_url("https://api.deepinfra.com/v1/openai/", None),
            "https://api.deepinfra.com/v1/openai/models"
        );
        assert_eq!(
            models_url("http://127.0.0.1:9/v1", Some("filter=with_meta")),
            "http://127.0.0.1:9/v1/models?filter=with_meta"
        );
    }
}
