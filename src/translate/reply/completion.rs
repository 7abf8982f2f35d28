//! A whole (non-streamed) chat completion -> the Responses object.

use serde::de::IgnoredAny;

use super::context::{Outcome, ReplyContext};
use crate::translate::stream::{Counts, StreamTranslator};

/// A whole `chat.completion` body -> the Responses object JSON bytes, and how it ended.
///
/// Runs the stream's state machine, silenced, over `choices[0].message` as one delta, so a JSON
/// reply gets exactly the items a stream with the same content would. An error body (or a
/// body that is not JSON) gives a `failed` Response object and an [`Outcome::Failed`]: a
/// provider's fault is not a request error.
pub fn translate_chat_completion(body: &[u8], ctx: ReplyContext) -> (Vec<u8>, Outcome) {
    let (bytes, outcome, _) = translate_chat_completion_counted(body, ctx);
    (bytes, outcome)
}

/// [`translate_chat_completion`], with what the reply did with its tools and the usage it
/// reported (the daemon's accounting).
pub fn translate_chat_completion_counted(
    body: &[u8],
    ctx: ReplyContext,
) -> (Vec<u8>, Outcome, Counts) {
    let mut t = StreamTranslator::silent(ctx);
    let mut sink = Vec::new();
    t.start(&mut sink);
    if serde_json::from_slice::<IgnoredAny>(body).is_err() {
        t.fail("server_error", "upstream reply is not JSON", &mut sink);
    } else {
        t.push_data(body, &mut sink);
        t.end_of_message(&mut sink);
    }
    let bytes = t
        .take_response()
        .expect("a terminated silent translator keeps its response");
    (bytes, t.outcome().clone(), t.counts())
}
