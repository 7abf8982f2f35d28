//! What can go wrong talking to a provider, other than the provider refusing (a refusal is a
//! reply: `translate::refusal::ProviderRefusal`).
//!
//! A cause may quote text the shim did not write (a TLS or HTTP library's error, which can
//! repeat what the peer sent): every message logged or returned goes through
//! [`UpstreamError::redacted`], redacted before it is cut.

use crate::redact::Redactor;
use crate::translate::refusal::MAX_MESSAGE_BYTES;

/// Whose fault an error is (as pingora's `ErrorSource`): the provider or the network to it,
/// the client that sent the request, or the shim itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Upstream,
    Downstream,
    Internal,
}

impl Side {
    /// The word logs use (`side=upstream`).
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Upstream => "upstream",
            Side::Downstream => "downstream",
            Side::Internal => "internal",
        }
    }
}

/// The provider could not be reached, did not answer in time, or sent something we cannot
/// take. Messages name the upstream's base URL and never contain credentials (reqwest's
/// errors are stripped of the URL, whose query could hold one; headers never appear).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot reach upstream {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot reach upstream {url}: no connection within {secs} s")]
    ConnectTimeout { url: String, secs: u64 },
    #[error("upstream {url} did not send response headers within {secs} s")]
    NoHeaders { url: String, secs: u64 },
    /// The body stalled between two chunks.
    #[error("upstream {url} sent nothing for {secs} s")]
    Idle { url: String, secs: u64 },
    /// A whole exchange (a model list, a probe) took longer than its limit.
    #[error("upstream {url} did not answer within {secs} s")]
    Deadline { url: String, secs: u64 },
    #[error("upstream {url} request failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("upstream reply is too large (over {limit} bytes from {url})")]
    TooLarge { url: String, limit: usize },
    /// A non-2xx reply where only success is usable (model lists).
    #[error("upstream {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// The request could not be made at all (e.g. a URL that does not parse).
    #[error("cannot make a request to upstream {url}: {reason}")]
    Request { url: String, reason: String },
    /// A 3xx: never followed, since it would carry the prompt, the token and the
    /// `upstream.headers` secrets to wherever the provider points (docs/security.md#bounds).
    /// `to` is the Location's host (or "an address it did not give").
    #[error(
        "upstream {url} answered {status} redirecting to {to}; deepinfra-shim does not follow redirects: set the upstream's url (upstream.url or upstreams.NAME.url) to the final address"
    )]
    Redirect {
        url: String,
        status: u16,
        to: String,
    },
}

impl UpstreamError {
    pub fn side(&self) -> Side {
        match self {
            UpstreamError::Request { .. } => Side::Internal,
            _ => Side::Upstream,
        }
    }

    /// True when trying again later may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Status { status, .. } => *status == 429 || *status >= 500,
            UpstreamError::TooLarge { .. }
            | UpstreamError::Request { .. }
            | UpstreamError::Redirect { .. } => false,
            _ => true,
        }
    }

    /// The OpenAI error code a client sees for this failure (docs/protocol.md#errors): a wait
    /// that ran out, a redirect we refused to follow, or anything else that kept the reply away.
    pub fn code(&self) -> &'static str {
        if self.is_timeout() {
            "upstream_timeout"
        } else if matches!(self, UpstreamError::Redirect { .. }) {
            "upstream_redirect"
        } else {
            "upstream_unreachable"
        }
    }

    /// A wait ran out (the reply to Codex is then 504, not 502).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            UpstreamError::ConnectTimeout { .. }
                | UpstreamError::NoHeaders { .. }
                | UpstreamError::Idle { .. }
                | UpstreamError::Deadline { .. }
        )
    }

    /// The message with every secret of `redactor` removed, then cut to [`MAX_MESSAGE_BYTES`]
    /// (in that order: a secret across the cut leaves no prefix). What logs and replies use.
    pub fn redacted(&self, redactor: &Redactor) -> String {
        redactor.redact_truncated(&self.to_string(), MAX_MESSAGE_BYTES)
    }

    /// The cause in a few words, without the upstream's URL, for lines that already name
    /// what was asked (`GET https://…/models: could not connect: …`).
    pub fn cause(&self) -> String {
        match self {
            UpstreamError::Connect { reason, .. } => format!("could not connect: {reason}"),
            UpstreamError::ConnectTimeout { secs, .. } => {
                format!("could not connect within {secs} s")
            }
            UpstreamError::NoHeaders { secs, .. } => format!("no response headers within {secs} s"),
            UpstreamError::Idle { secs, .. } => format!("nothing received for {secs} s"),
            UpstreamError::Deadline { secs, .. } => format!("timed out after {secs} s"),
            UpstreamError::Transport { reason, .. } | UpstreamError::Request { reason, .. } => {
                reason.clone()
            }
            UpstreamError::TooLarge { limit, .. } => format!("larger than {limit} bytes"),
            UpstreamError::Status { status, .. } => format!("answered HTTP {status}"),
            UpstreamError::Redirect { status, to, .. } => {
                format!("answered {status} redirecting to {to} (redirects are never followed)")
            }
        }
    }

    /// The error for a 3xx reply to a request sent to `request_url`: the host its `Location`
    /// points to (resolved against the request's URL, so a relative one names the upstream's
    /// own host), never the rest of the Location, whose path or query could hold anything.
    pub(super) fn redirect(
        base: &str,
        status: u16,
        request_url: &reqwest::Url,
        location: Option<&[u8]>,
    ) -> UpstreamError {
        let to = location
            .and_then(|l| std::str::from_utf8(l).ok())
            .and_then(|l| request_url.join(l.trim()).ok())
            .and_then(|u| {
                let host = u.host_str()?.to_owned();
                Some(match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| "an address it did not give".to_owned());
        UpstreamError::Redirect {
            url: base.to_owned(),
            status,
            to,
        }
    }

    /// A reqwest error in words a user can act on, without the URL's query or any header.
    pub(super) fn from_reqwest(e: reqwest::Error, base: &str) -> UpstreamError {
        let url = base.to_owned();
        let (timeout, connect, builder) = (e.is_timeout(), e.is_connect(), e.is_builder());
        let e = e.without_url();
        let mut reason = e.to_string();
        let mut src = std::error::Error::source(&e);
        // reqwest's top-level text is generic ("error sending request"); the cause says why.
        while let Some(s) = src {
            let text = s.to_string();
            if !reason.contains(&text) {
                reason.push_str(": ");
                reason.push_str(&text);
            }
            src = s.source();
        }
        if builder {
            UpstreamError::Request { url, reason }
        } else if timeout {
            // The only time limit the client itself enforces is the connect timeout.
            UpstreamError::ConnectTimeout {
                url,
                secs: super::limits::CONNECT_TIMEOUT.as_secs(),
            }
        } else if connect {
            UpstreamError::Connect { url, reason }
        } else {
            UpstreamError::Transport { url, reason }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> String {
        "https://api.example.com/v1".to_owned()
    }

    #[test]
    fn waits_that_ran_out_are_timeouts_and_worth_a_retry() {
        let waits = [
            UpstreamError::ConnectTimeout {
                url: url(),
                secs: 10,
            },
            UpstreamError::NoHeaders {
                url: url(),
                secs: 120,
            },
            UpstreamError::Idle {
                url: url(),
                secs: 120,
            },
            UpstreamError::Deadline {
                url: url(),
                secs: 8,
            },
        ];
        for e in &waits {
            assert!(e.is_timeout() && e.is_retryable(), "{e}");
            assert_eq!(e.side(), Side::Upstream);
        }
        let refused = UpstreamError::Connect {
            url: url(),
            reason: "connection refused".into(),
        };
        assert!(!refused.is_timeout() && refused.is_retryable());
        assert_eq!(
            refused.to_string(),
            "cannot reach upstream https://api.example.com/v1: connection refused"
        );
    }

    #[test]
    fn what_a_retry_cannot_fix_says_so() {
        let big = UpstreamError::TooLarge {
            url: url(),
            limit: 16,
        };
        assert!(!big.is_retryable() && !big.is_timeout());
        let bad = UpstreamError::Request {
            url: url(),
            reason: "builder error".into(),
        };
        assert_eq!((bad.side(), bad.is_retryable()), (Side::Internal, false));
        let status = |status| UpstreamError::Status { url: url(), status };
        assert!(!status(404).is_retryable());
        assert!(status(429).is_retryable() && status(503).is_retryable());
    }

    #[test]
    fn a_redirect_names_its_status_and_target_host_only() {
        let req = reqwest::Url::parse("https://api.example.com/v1/chat/completions").unwrap();
        let e = UpstreamError::redirect(
            "https://api.example.com/v1",
            307,
            &req,
            Some(b"https://other.example:8443/steal?token=sk-x"),
        );
        let text = e.to_string();
        assert!(
            text.contains("307 redirecting to other.example:8443"),
            "{text}"
        );
        assert!(text.contains("does not follow redirects"), "{text}");
        assert!(!text.contains("steal") && !text.contains("sk-x"), "{text}");
        assert!(!e.is_retryable() && !e.is_timeout());
        assert_eq!(e.code(), "upstream_redirect");
        // Relative: the upstream's own host. Missing: said so.
        let rel = UpstreamError::redirect("b", 301, &req, Some(b"/v2/chat"));
        assert!(
            rel.to_string().contains("redirecting to api.example.com;"),
            "{rel}"
        );
        let none = UpstreamError::redirect("b", 302, &req, None);
        assert!(
            none.cause()
                .contains("302 redirecting to an address it did not give")
        );
    }

    #[test]
    fn a_logged_message_is_redacted_then_cut() {
        let token = "sk-live-0123456789abcdefghij";
        let e = UpstreamError::Connect {
            url: url(),
            reason: format!("{} {token} {}", "y".repeat(949), "z".repeat(100)),
        };
        let m = e.redacted(&Redactor::new([token]));
        assert!(m.len() <= MAX_MESSAGE_BYTES && m.ends_with('…'), "{m}");
        assert!(!m.contains(&token[..12]), "{m}");
        let short = UpstreamError::Transport {
            url: url(),
            reason: format!("peer said {token}"),
        };
        assert!(
            short
                .redacted(&Redactor::new([token]))
                .ends_with("peer said ***")
        );
    }

    #[test]
    fn causes_leave_the_url_to_the_caller() {
        let e = UpstreamError::Status {
            url: url(),
            status: 404,
        };
        assert_eq!(e.cause(), "answered HTTP 404");
        let e = UpstreamError::Deadline {
            url: url(),
            secs: 8,
        };
        assert_eq!(e.cause(), "timed out after 8 s");
        assert!(!e.cause().contains("example.com"));
    }
}
