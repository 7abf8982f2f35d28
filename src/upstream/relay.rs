//! A reply handed on as it is (the passthrough endpoints).

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use super::body::UpstreamStream;
use crate::config::Upstream;

/// A provider's reply with the headers a client of the passthrough may need.
pub struct Relayed {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub retry_after: Option<HeaderValue>,
    pub body: UpstreamStream,
}

impl Relayed {
    pub(super) fn new(resp: reqwest::Response, up: &Upstream) -> Self {
        let h = resp.headers();
        Relayed {
            status: resp.status(),
            content_type: h.get(CONTENT_TYPE).cloned(),
            retry_after: h.get(RETRY_AFTER).cloned(),
            body: UpstreamStream::new(resp, &up.url, up.timeout),
        }
    }
}
