//! Why a request cannot be translated.

/// Why a Responses body cannot be translated. Every variant becomes HTTP 400
/// `invalid_request_error` (the message is shown to the user verbatim by Codex).
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The body is not JSON, or not the shape of a Responses request.
    #[error("invalid JSON body: {0}")]
    InvalidJson(String),
    /// A field has a value we cannot use (e.g. `input` is a number).
    #[error("{0}")]
    Invalid(String),
    /// A feature a chat provider cannot serve (e.g. `compaction_trigger`, responses-lite).
    #[error("{0}")]
    Unsupported(String),
}
