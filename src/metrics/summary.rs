//! What one finished request was, as the accounting keeps it: the [`Summary`] the server hands
//! over once per request, and the bounded vocabularies its labels come from.

use std::time::Duration;

use crate::translate::stream::Counts;

/// Which API a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `POST /v1/responses`, translated.
    Responses,
    /// `POST /v1/chat/completions`, passed through.
    ChatCompletions,
    /// `GET /v1/models`, passed through.
    Models,
    /// Anything else that reached the daemon (unknown paths, wrong methods).
    Other,
    /// `GET /health` and `GET /metrics`: logged at debug, never counted (a scraper polling
    /// them would drown what is worth seeing).
    Probe,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Responses => "responses",
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Models => "models",
            Endpoint::Other => "other",
            Endpoint::Probe => "probe",
        }
    }
}

/// How a request ended, from the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A whole answer (`response.completed`, or a 2xx for the other endpoints).
    Completed,
    /// `response.incomplete`: cut by a limit, a content filter, or tool arguments cut short.
    Incomplete,
    /// An error, with its code: an HTTP error status or `response.failed`.
    Failed,
    /// The client went away before the end.
    Cancelled,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Completed => "completed",
            Ended::Incomplete => "incomplete",
            Ended::Failed => "failed",
            Ended::Cancelled => "cancelled",
        }
    }

    /// Codex got an answer it can use.
    pub fn is_success(self) -> bool {
        matches!(self, Ended::Completed | Ended::Incomplete)
    }
}

/// One finished request.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub endpoint: Endpoint,
    /// The model the client asked for (empty when the request named none).
    pub model: String,
    /// The upstream it went to (empty when it never got that far).
    pub upstream: String,
    /// The model name sent upstream.
    pub upstream_model: Option<String>,
    /// The model is the exact name of a configured route (always gets its own label).
    pub known_model: bool,
    /// The HTTP status of the reply (200 for a stream, whatever its end).
    pub status: u16,
    pub ended: Ended,
    /// Why it failed ([`Ended::Failed`] only), from [`error_code`]'s bounded list.
    pub code: Option<&'static str>,
    /// From the request's arrival to the reply's last byte.
    pub duration: Duration,
    /// From the arrival to the upstream's response headers (when the reply is ours to send).
    pub ttfb: Option<Duration>,
    /// From the arrival to the first token the model produced (streamed replies).
    pub ttft: Option<Duration>,
    pub counts: Counts,
    /// Assistant messages whose reasoning went back upstream with the request.
    pub reasoning_replayed: u32,
    /// Codex resending the request after our 429/5xx or failed stream.
    pub codex_retry: bool,
    /// Reply bytes sent.
    pub bytes: u64,
}

impl Summary {
    /// Output tokens per second of generation (after the first token), when the stream had
    /// both a first token and enough output over a measurable time.
    pub fn output_tokens_per_second(&self) -> Option<f64> {
        let ttft = self.ttft?;
        let out = self.counts.usage?.output_tokens;
        let generating = self.duration.checked_sub(ttft)?;
        (out >= 2 && generating >= MIN_GENERATION).then(|| out as f64 / generating.as_secs_f64())
    }
}

/// Shorter than this after the first token, a rate would only measure how the provider
/// batched its writes.
const MIN_GENERATION: Duration = Duration::from_millis(5);

/// The error codes a label may carry: those the daemon and Codex use (docs/protocol.md#errors).
/// Anything else a provider or client sends becomes `other`, so the label set stays bounded.
const CODES: &[&str] = &[
    "server_error",
    "rate_limit_exceeded",
    "insufficient_quota",
    "server_is_overloaded",
    "context_length_exceeded",
    "invalid_prompt",
    "model_not_found",
    "invalid_json",
    "invalid_request",
    "invalid_body",
    "unsupported",
    "missing_api_key",
    "invalid_api_key",
    "not_found",
    "method_not_allowed",
    "request_too_large",
    "unsupported_content_encoding",
    "upstream_unreachable",
    "upstream_timeout",
    "upstream_redirect",
    "request_body_timeout",
    "max_output_bytes",
    "forbidden",
    "output_too_large",
    "host_not_allowed",
    "origin_not_allowed",
    "unsupported_media_type",
];

/// `code` if it is one of the known codes, else `other`.
pub fn error_code(code: &str) -> &'static str {
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("other")
}

/// The code of an error reply whose body named none: its status, for the statuses providers
/// and the daemon use, else its class.
pub fn http_code(status: u16) -> &'static str {
    match status {
        400 => "http_400",
        401 => "http_401",
        402 => "http_402",
        403 => "http_403",
        404 => "http_404",
        405 => "http_405",
        408 => "http_408",
        409 => "http_409",
        413 => "http_413",
        415 => "http_415",
        422 => "http_422",
        429 => "http_429",
        500 => "http_500",
        502 => "http_502",
        503 => "http_503",
        504 => "http_504",
        529 => "http_529",
        _ if status < 500 => "http_4xx",
        _ => "http_5xx",
    }
}

/// True when Codex resends a request that got this answer (docs/protocol.md#codex-retries):
/// a 429 (but for quota), a 5xx, or a failed stream, except for the codes it gives up on.
pub fn codex_retries(status: u16, ended: Ended, code: Option<&str>) -> bool {
    if ended != Ended::Failed {
        return false;
    }
    match status {
        429 => code != Some("insufficient_quota"),
        500.. => true,
        200 => !matches!(
            code,
            Some(
                "context_length_exceeded"
                    | "insufficient_quota"
                    | "server_is_overloaded"
                    | "invalid_prompt"
            )
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::reply::Usage;

    fn summary() -> Summary {
        Summary {
            endpoint: Endpoint::Responses,
            model: "m".into(),
            upstream: "default".into(),
            upstream_model: None,
            known_model: false,
            status: 200,
            ended: Ended::Completed,
            code: None,
            duration: Duration::from_millis(1100),
            ttfb: Some(Duration::from_millis(50)),
            ttft: Some(Duration::from_millis(100)),
            counts: Counts {
                usage: Some(Usage {
                    output_tokens: 50,
                    ..Usage::default()
                }),
                ..Counts::default()
            },
            reasoning_replayed: 0,
            codex_retry: false,
            bytes: 0,
        }
    }

    #[test]
    fn output_rate_counts_from_the_first_token() {
        assert_eq!(summary().output_tokens_per_second(), Some(50.0));
        let burst = Summary {
            duration: Duration::from_millis(101),
            ..summary()
        };
        assert_eq!(burst.output_tokens_per_second(), None, "no time to measure");
        let no_first = Summary {
            ttft: None,
            ..summary()
        };
        assert_eq!(no_first.output_tokens_per_second(), None);
    }

    #[test]
    fn codes_stay_in_a_bounded_set() {
        assert_eq!(error_code("rate_limit_exceeded"), "rate_limit_exceeded");
        assert_eq!(error_code("made_up_by_a_provider"), "other");
        assert_eq!(http_code(429), "http_429");
        assert_eq!(http_code(418), "http_4xx");
        assert_eq!(http_code(599), "http_5xx");
    }

    #[test]
    fn which_answers_codex_retries() {
        assert!(codex_retries(
            429,
            Ended::Failed,
            Some("rate_limit_exceeded")
        ));
        assert!(codex_retries(502, Ended::Failed, None));
        assert!(codex_retries(200, Ended::Failed, Some("server_error")));
        assert!(codex_retries(
            200,
            Ended::Failed,
            Some("upstream_unreachable")
        ));
        assert!(!codex_retries(
            200,
            Ended::Failed,
            Some("context_length_exceeded")
        ));
        assert!(!codex_retries(
            200,
            Ended::Failed,
            Some("server_is_overloaded")
        ));
        assert!(!codex_retries(
            429,
            Ended::Failed,
            Some("insufficient_quota")
        ));
        assert!(!codex_retries(400, Ended::Failed, Some("invalid_request")));
        assert!(!codex_retries(200, Ended::Incomplete, None));
    }
}
