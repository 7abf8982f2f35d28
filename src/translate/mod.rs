//! The translation between the Responses API (what Codex speaks) and Chat Completions (what
//! the provider speaks). Everything here is pure: values in, values (or bytes) out, no I/O,
//! no clocks, no tokio. The server owns the sockets and calls into this module. What is
//! translated, and why, is specified in docs/protocol.md.
//!
//! Data flow for one request:
//! 1. [`request::parse_request`] reads the Responses body; [`options`] turns the route and
//!    the upstream's compat settings into [`TranslateOptions`];
//!    [`request::translate_request`] builds the chat body plus a [`tools::ToolTable`]
//!    (wire name -> Codex tool identity).
//! 2. For a streamed reply, the server feeds upstream bytes into [`sse::SseParser`], and each
//!    `data:` payload into a [`stream::StreamTranslator`], which writes Responses SSE bytes.
//! 3. For a JSON reply, [`reply::translate_chat_completion`] runs the same state machine over
//!    the whole chat message and returns the Responses object.
//! 4. [`refusal`] classifies provider refusals (before or inside the stream) into what Codex
//!    acts on; [`openai_error_body`] writes the OpenAI error envelope.

#[doc(hidden)]
pub mod check;
pub mod options;
pub mod reasoning;
pub mod refusal;
pub mod reply;
pub mod request;
pub mod sse;
pub mod stream;
pub mod tools;

pub use options::{ImagePolicy, ReasoningPolicy, RouteFacts, TranslateOptions};
pub use refusal::openai_error_body;

/// Parses JSON bytes as text: one UTF-8 check of the whole input lets serde skip its own
/// check of every key, string and raw value (measured: ~15 % of an upstream chunk's parse,
/// ~5 % of a 400 KB request's; see docs/benchmarks.md). Input that is not UTF-8 goes through
/// serde's byte reader, only for its error, which says where the bad byte is.
pub(crate) fn json_from_bytes<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}
