//! The reply side of the translation: what every reply translation knows about the request it
//! answers ([`ReplyContext`]) and reports when done ([`Outcome`], [`Usage`]), and the
//! non-streamed path ([`translate_chat_completion`]). The streamed path is
//! [`crate::translate::stream::StreamTranslator`]; both produce the same items for the same
//! provider output (docs/protocol.md#json-reply).

mod completion;
pub mod context;

pub use completion::{translate_chat_completion, translate_chat_completion_counted};
pub use context::{Outcome, ReplyContext, Usage};
