//! Provider refusals -> what Codex acts on (docs/protocol.md#errors).
//!
//! A refusal is the provider's own answer that it will not serve the request: a non-2xx
//! reply, or an `error` object inside a 200 stream. It is not a failure of ours (those are
//! `upstream::UpstreamError`). Pure classification: the caller hands over the upstream status,
//! the body bytes and the retry headers' values; we return a [`ProviderRefusal`] that says
//! what went wrong (its [`RefusalKind`]) and, through its methods, how to answer Codex:
//!
//! | kind | before streaming ([`ProviderRefusal::http_status`]) | inside a stream ([`ProviderRefusal::failed_code`]) |
//! |---|---|---|
//! | `ContextLength` | 400 `context_length_exceeded` (Codex compacts) | `context_length_exceeded` |
//! | `RateLimited` | 429 + `Retry-After` (always; Codex gives up at once without it) | `rate_limit_exceeded`, "try again in Ns" in the message |
//! | `Quota` | 429 `insufficient_quota` (fatal, clear text) | `insufficient_quota` |
//! | `Auth` | the upstream's 401/403 | `server_error` |
//! | `Invalid` | 400 (fatal, body shown) | `server_error` |
//! | `NotFound` | 400 `model_not_found` (a 404 would cost Codex 6 useless attempts) | `server_error` |
//! | `Overloaded` | 503 `server_is_overloaded` (JSON requests) | `server_is_overloaded` (fatal "at capacity") |
//! | `Server` | 502 for JSON requests; streamed requests get 200 + `response.failed` | `server_error` (Codex retries) |
//!
//! Bodies come in many shapes (OpenAI envelope, FastAPI `detail` list or object, a bare
//! `error` string, plain text, nothing; docs/protocol.md#error-shapes). Only the provider's
//! message text is kept (cut to about 1 KB); header values never reach a message.

use serde_json::Value;

/// Longest provider message we pass on (bytes, cut on a character boundary).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// `Retry-After` we send on a 429 when the upstream gave no usable hint.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 2;

/// Longest `Retry-After` we pass on. Codex waits the full delay before each of its 6
/// attempts and shows nothing meanwhile; a daily-quota reset hint would freeze it for hours.
pub const MAX_RETRY_AFTER_SECS: u64 = 300;

/// What went wrong upstream, in the terms Codex can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The prompt does not fit the model's context window: Codex must compact.
    ContextLength,
    /// Too many requests / model busy: retry after a delay.
    RateLimited,
    /// Billing, credit or quota exhausted: retrying does not help.
    Quota,
    /// The provider refused the credentials.
    Auth,
    /// The provider refused the request (validation, unsupported feature).
    Invalid,
    /// Unknown model or path.
    NotFound,
    /// The provider says it is at capacity (503 "overloaded").
    Overloaded,
    /// 5xx, a provider-side timeout, or anything unrecognised.
    Server,
}

impl RefusalKind {
    /// The word logs use (`kind=rate_limited`).
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::ContextLength => "context_length",
            RefusalKind::RateLimited => "rate_limited",
            RefusalKind::Quota => "quota",
            RefusalKind::Auth => "auth",
            RefusalKind::Invalid => "invalid",
            RefusalKind::NotFound => "not_found",
            RefusalKind::Overloaded => "overloaded",
            RefusalKind::Server => "server",
        }
    }
}

/// A classified provider refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefusal {
    pub kind: RefusalKind,
    /// The provider's message (at most [`MAX_MESSAGE_BYTES`]), or a description of ours.
    pub message: String,
    /// The upstream HTTP status; 0 when there was none (an error event inside a 200 stream
    /// that carried no numeric code).
    pub upstream_status: u16,
    /// Seconds Codex should wait before retrying (only for [`RefusalKind::RateLimited`]).
    pub retry_after_secs: Option<u64>,
}

/// The parts of an error body we look at.
#[derive(Debug, Default)]
struct Parsed {
    message: Option<String>,
    type_: Option<String>,
    code: Option<String>,
    /// A numeric `code`/`status` inside the body (vLLM, OpenRouter put the HTTP status there).
    numeric_code: Option<u16>,
}

/// Classifies a non-2xx upstream reply (or a 2xx reply whose body is an error object).
///
/// `retry_after` is the raw `Retry-After` header value; `reset_hint_secs` is a delay the
/// server derived from `x-ratelimit-reset-*` headers (see [`parse_duration_hint`]).
pub fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<&str>,
    reset_hint_secs: Option<f64>,
) -> ProviderRefusal {
    let parsed = parse_body(body);
    let message = match &parsed.message {
        Some(m) if !m.trim().is_empty() => truncate(m.trim()),
        _ => format!("upstream returned HTTP {status}{}", reason_suffix(status)),
    };
    let kind = kind_for(status, &parsed, &message);
    let retry_after_secs = (kind == RefusalKind::RateLimited).then(|| {
        retry_after
            .and_then(parse_retry_after)
            .or(reset_hint_secs.and_then(secs_from_f64))
            .or_else(|| try_again_hint(&message))
            .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
            .clamp(1, MAX_RETRY_AFTER_SECS)
    });
    ProviderRefusal {
        kind,
        message,
        upstream_status: status,
        retry_after_secs,
    }
}

/// Classifies the value of an `error` key found inside a 200 stream (or a 200 JSON reply):
/// an object (`{"message","type","code"}`, with `code` possibly an HTTP status) or a bare
/// string.
pub fn classify_embedded(error: &Value) -> ProviderRefusal {
    let parsed = parse_error_value(error);
    let status = parsed.numeric_code.unwrap_or(0);
    let message = match &parsed.message {
        Some(m) if !m.trim().is_empty() => truncate(m.trim()),
        _ => "upstream reported an error inside the stream".to_owned(),
    };
    let kind = kind_for(status, &parsed, &message);
    let retry_after_secs = (kind == RefusalKind::RateLimited).then(|| {
        try_again_hint(&message)
            .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
            .clamp(1, MAX_RETRY_AFTER_SECS)
    });
    ProviderRefusal {
        kind,
        message,
        upstream_status: status,
        retry_after_secs,
    }
}

impl ProviderRefusal {
    /// The HTTP status to answer Codex with when the error is known before any byte of the
    /// reply was sent (see the module table). For a streamed request the server answers
    /// [`Self::stream_as_failed`] errors with 200 + `response.failed` instead.
    pub fn http_status(&self) -> u16 {
        match self.kind {
            RefusalKind::ContextLength | RefusalKind::Invalid | RefusalKind::NotFound => 400,
            RefusalKind::RateLimited | RefusalKind::Quota => 429,
            RefusalKind::Auth => match self.upstream_status {
                401 | 403 => self.upstream_status,
                _ => 401,
            },
            RefusalKind::Overloaded => 503,
            RefusalKind::Server => 502,
        }
    }

    /// True when a streamed request should get HTTP 200 + `response.failed` rather than an
    /// HTTP error status: Codex retries `server_error` 6 times (a 502 would cost 30 attempts)
    /// and treats `server_is_overloaded` as a clear, fatal "at capacity".
    pub fn stream_as_failed(&self) -> bool {
        matches!(self.kind, RefusalKind::Server | RefusalKind::Overloaded)
    }

    /// The `Retry-After` header value (seconds) to send with [`Self::http_status`].
    pub fn retry_after_header(&self) -> Option<u64> {
        match self.kind {
            RefusalKind::RateLimited => {
                Some(self.retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS))
            }
            _ => None,
        }
    }

    /// `error.code` for a `response.failed` event.
    pub fn failed_code(&self) -> &'static str {
        match self.kind {
            RefusalKind::ContextLength => "context_length_exceeded",
            RefusalKind::RateLimited => "rate_limit_exceeded",
            RefusalKind::Quota => "insufficient_quota",
            RefusalKind::Overloaded => "server_is_overloaded",
            RefusalKind::Auth
            | RefusalKind::Invalid
            | RefusalKind::NotFound
            | RefusalKind::Server => "server_error",
        }
    }

    /// `error.message` for a `response.failed` event. For rate limits it carries
    /// "try again in Ns", which Codex parses as its retry delay.
    pub fn failed_message(&self) -> String {
        if self.kind == RefusalKind::RateLimited && try_again_hint(&self.message).is_none() {
            let secs = self.retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS);
            format!("{} (try again in {secs}s)", self.message)
        } else {
            self.message.clone()
        }
    }

    /// `error.type` of the OpenAI envelope.
    pub fn error_type(&self) -> &'static str {
        match self.kind {
            RefusalKind::ContextLength | RefusalKind::Invalid | RefusalKind::NotFound => {
                "invalid_request_error"
            }
            RefusalKind::RateLimited => "rate_limit_error",
            RefusalKind::Quota => "insufficient_quota",
            RefusalKind::Auth => "authentication_error",
            RefusalKind::Overloaded | RefusalKind::Server => "server_error",
        }
    }

    /// `error.code` of the OpenAI envelope.
    pub fn error_code(&self) -> Option<&'static str> {
        match self.kind {
            RefusalKind::ContextLength => Some("context_length_exceeded"),
            RefusalKind::RateLimited => Some("rate_limit_exceeded"),
            RefusalKind::Quota => Some("insufficient_quota"),
            RefusalKind::NotFound => Some("model_not_found"),
            RefusalKind::Overloaded => Some("server_is_overloaded"),
            RefusalKind::Server => Some("server_error"),
            RefusalKind::Auth | RefusalKind::Invalid => None,
        }
    }

    /// The OpenAI error envelope to send with [`Self::http_status`]. The message names the
    /// upstream status so the user can tell provider errors from the shim's own.
    pub fn openai_body(&self) -> Vec<u8> {
        let message = if self.upstream_status == 0 {
            format!("upstream error: {}", self.failed_message())
        } else {
            format!(
                "upstream returned HTTP {}: {}",
                self.upstream_status,
                self.failed_message()
            )
        };
        openai_error_body(&message, self.error_type(), self.error_code())
    }
}

/// The OpenAI error envelope `{"error":{"message","type","code"}}`: the body of every error
/// reply, the shim's own and relayed refusals alike.
pub fn openai_error_body(message: &str, type_: &str, code: Option<&str>) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Inner<'a> {
        message: &'a str,
        #[serde(rename = "type")]
        type_: &'a str,
        code: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        error: Inner<'a>,
    }
    serde_json::to_vec(&Envelope {
        error: Inner {
            message,
            type_,
            code,
        },
    })
    .expect("error envelope serialises")
}

/// Parses a `Retry-After` value given as delta-seconds (integer or decimal). An HTTP-date
/// cannot be turned into a delay without a clock, so it yields `None` (callers fall back).
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let v = value.trim();
    let secs: f64 = v.parse().ok()?;
    secs_from_f64(secs)
}

/// Parses an `x-ratelimit-reset-*` style duration into seconds: `"20ms"`, `"1.5s"`, `"6m0s"`,
/// `"1h2m3s"`, or plain seconds (`"12"`, `"0.5"`). Values that look like Unix timestamps
/// (over a year) are refused: turning them into a delay needs a clock.
pub fn parse_duration_hint(value: &str) -> Option<f64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(n) = v.parse::<f64>() {
        return (n.is_finite() && (0.0..=31_536_000.0).contains(&n)).then_some(n);
    }
    let mut total = 0.0;
    let mut rest = v;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * factor;
    }
    Some(total)
}

fn secs_from_f64(secs: f64) -> Option<u64> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Round up: retrying a little late is fine, a little early earns another 429.
    Some(secs.ceil().min(u64::MAX as f64) as u64)
}

/// The delay in an OpenAI-style "try again in 1.5s / 20ms / 3 seconds" message.
fn try_again_hint(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("try again in")?;
    let rest = lower[at + "try again in".len()..].trim_start();
    let num_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let n: f64 = rest[..num_len].parse().ok()?;
    let unit = rest[num_len..].trim_start();
    let secs = if unit.starts_with("ms") {
        n / 1000.0
    } else if unit.starts_with('s') {
        n
    } else if unit.starts_with("min") || unit.starts_with('m') {
        n * 60.0
    } else {
        return None;
    };
    secs_from_f64(secs)
}

fn parse_body(body: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Parsed::default();
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => parse_json_body(&v).unwrap_or_else(|| Parsed {
            message: Some(trimmed.to_owned()),
            ..Parsed::default()
        }),
        // Plain text (a proxy's HTML page, "Bad Gateway", …): the text is the message.
        Err(_) => Parsed {
            message: Some(trimmed.to_owned()),
            ..Parsed::default()
        },
    }
}

fn parse_json_body(v: &Value) -> Option<Parsed> {
    let obj = v.as_object()?;
    if let Some(err) = obj.get("error").filter(|e| !e.is_null()) {
        let mut p = parse_error_value(err);
        if p.numeric_code.is_none() {
            p.numeric_code = status_of(obj.get("status").or(obj.get("code")));
        }
        return Some(p);
    }
    if let Some(detail) = obj.get("detail").filter(|d| !d.is_null()) {
        return Some(parse_detail(detail));
    }
    // Bare `{"message": …, "code"/"type": …}` (several proxies).
    if let Some(msg) = obj.get("message").and_then(Value::as_str) {
        return Some(Parsed {
            message: Some(msg.to_owned()),
            type_: obj.get("type").and_then(Value::as_str).map(str::to_owned),
            code: code_string(obj.get("code")),
            numeric_code: status_of(obj.get("code").or(obj.get("status"))),
        });
    }
    None
}

fn parse_error_value(err: &Value) -> Parsed {
    match err {
        Value::String(s) => Parsed {
            message: Some(s.clone()),
            ..Parsed::default()
        },
        Value::Object(o) => {
            let message = o
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    // `{"error":{"detail": …}}` or an object without a message.
                    o.get("detail").and_then(|d| parse_detail(d).message)
                })
                .or_else(|| Some(err.to_string()));
            Parsed {
                message,
                type_: o.get("type").and_then(Value::as_str).map(str::to_owned),
                code: code_string(o.get("code")),
                numeric_code: status_of(o.get("code").or(o.get("status"))),
            }
        }
        other => Parsed {
            message: Some(other.to_string()),
            ..Parsed::default()
        },
    }
}

/// FastAPI shapes: `[{"loc":[…],"msg":…,"type":…}]`, `{"error": …}`, or a string.
fn parse_detail(detail: &Value) -> Parsed {
    match detail {
        Value::String(s) => Parsed {
            message: Some(s.clone()),
            ..Parsed::default()
        },
        Value::Array(items) => {
            let mut parts = Vec::new();
            let mut type_ = None;
            for item in items {
                let msg = item
                    .get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or("invalid value");
                let loc: Vec<String> = item
                    .get("loc")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .map(|p| match p {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if type_.is_none() {
                    type_ = item.get("type").and_then(Value::as_str).map(str::to_owned);
                }
                if loc.is_empty() {
                    parts.push(msg.to_owned());
                } else {
                    parts.push(format!("{}: {msg}", loc.join(".")));
                }
            }
            Parsed {
                message: (!parts.is_empty()).then(|| parts.join("; ")),
                type_,
                ..Parsed::default()
            }
        }
        Value::Object(o) => {
            let message = o
                .get("error")
                .or(o.get("message"))
                .or(o.get("msg"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| detail.to_string());
            Parsed {
                message: Some(message),
                ..Parsed::default()
            }
        }
        other => Parsed {
            message: Some(other.to_string()),
            ..Parsed::default()
        },
    }
}

fn code_string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

/// A numeric HTTP-like status carried inside a body (`"code": 504`, `"code": "429"`).
fn status_of(v: Option<&Value>) -> Option<u16> {
    let n = match v? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (100..600).contains(&n).then_some(n as u16)
}

const CONTEXT_MARKERS: &[&str] = &[
    "context_length_exceeded",
    "context_window_exceeded",
    "maximum context length",
    "max context length",
    "context length",
    "context window",
    "prompt is too long",
    "prompt too long",
    "input too long",
    "input is too long",
    "too many tokens",
    "reduce the length",
    "maximum prompt length",
];

const QUOTA_MARKERS: &[&str] = &[
    "insufficient_quota",
    "exceeded your current quota",
    "insufficient balance",
    "insufficient_balance",
    "insufficient funds",
    "insufficient credit",
    "account balance",
    "credit",
    "spend limit",
    "spending limit",
    "billing",
    "payment required",
    "needs funding",
];

const OVERLOAD_MARKERS: &[&str] = &[
    "overloaded",
    "at capacity",
    "server_is_overloaded",
    "slow_down",
];

fn kind_for(status: u16, p: &Parsed, message: &str) -> RefusalKind {
    let mut hay = message.to_ascii_lowercase();
    for s in [&p.type_, &p.code].into_iter().flatten() {
        hay.push(' ');
        hay.push_str(&s.to_ascii_lowercase());
    }
    let has = |markers: &[&str]| markers.iter().any(|m| hay.contains(m));
    let code_is = |names: &[&str]| {
        [&p.code, &p.type_]
            .into_iter()
            .flatten()
            .any(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
    };
    // An error event inside a 200 stream has no status of its own; vLLM/OpenRouter put one
    // in `code`.
    let status = if (200..300).contains(&status) || status == 0 {
        p.numeric_code.unwrap_or(status)
    } else {
        status
    };

    // Rate-limit messages talk about "tokens per minute", so 429 is never a context overflow.
    if status != 429 && has(CONTEXT_MARKERS) {
        return RefusalKind::ContextLength;
    }
    if status == 413 {
        return RefusalKind::ContextLength;
    }
    if status == 402 || has(QUOTA_MARKERS) {
        return RefusalKind::Quota;
    }
    if code_is(&[
        "rate_limit_exceeded",
        "rate_limit_error",
        "engine_overloaded",
    ]) || status == 429
    {
        return RefusalKind::RateLimited;
    }
    if code_is(&["server_is_overloaded", "overloaded_error", "slow_down"])
        || status == 529
        || (status == 503 && has(OVERLOAD_MARKERS))
    {
        return RefusalKind::Overloaded;
    }
    match status {
        401 | 403 => return RefusalKind::Auth,
        404 => return RefusalKind::NotFound,
        _ => {}
    }
    if code_is(&[
        "authentication_error",
        "invalid_api_key",
        "permission_error",
    ]) {
        return RefusalKind::Auth;
    }
    if code_is(&["model_not_found", "not_found_error"]) || hay.contains("model not found") {
        return RefusalKind::NotFound;
    }
    match status {
        // 408 is a timeout: worth a retry like a 5xx.
        408 => RefusalKind::Server,
        400..=499 => RefusalKind::Invalid,
        _ => RefusalKind::Server,
    }
}

fn truncate(s: &str) -> String {
    crate::text::cut(s, MAX_MESSAGE_BYTES)
}

fn reason_suffix(status: u16) -> &'static str {
    match status {
        400 => " (Bad Request)",
        401 => " (Unauthorized)",
        402 => " (Payment Required)",
        403 => " (Forbidden)",
        404 => " (Not Found)",
        405 => " (Method Not Allowed)",
        408 => " (Request Timeout)",
        413 => " (Payload Too Large)",
        422 => " (Unprocessable Entity)",
        429 => " (Too Many Requests)",
        500 => " (Internal Server Error)",
        502 => " (Bad Gateway)",
        503 => " (Service Unavailable)",
        504 => " (Gateway Timeout)",
        _ => "",
    }
}

#[cfg(test)]
mod tests;
