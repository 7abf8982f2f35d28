//! The translation between the Responses API (what Codex speaks) and Chat Completions (what
//! the provider speaks). Everything here is pure: values in, values (or bytes) out, no I/O,
//! no clocks, no tokio. The server owns the sockets and calls into this module.
//!
//! Data flow for one request:
//! 1. [`request::translate_request`] turns the parsed Responses body into a chat body plus a
//!    [`tools::ToolTable`] (wire name -> Codex tool identity).
//! 2. For a streamed reply, the server feeds upstream bytes into [`sse::SseParser`], and each
//!    `data:` payload into a [`stream::StreamTranslator`], which writes Responses SSE bytes.
//! 3. For a JSON reply, [`stream::translate_chat_response`] runs the same accumulator over the
//!    whole chat message and returns the Responses object.
//! 4. [`errors`] maps provider errors (before or inside the stream) to what Codex acts on.

pub mod errors;
pub mod options;
pub mod reasoning;
pub mod request;
pub mod sse;
pub mod stream;
pub mod tools;

pub use options::{ImagePolicy, ReasoningPolicy, TranslateOptions};
