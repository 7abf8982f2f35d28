//! Reading a Responses request body (docs/protocol.md#request): once, into typed structs
//! that borrow from the body.

use super::error::TranslateError;
use super::input::{Input, RequestFields};
use crate::translate::json_from_bytes;

/// The parsed Responses request. `model` and `stream` are for the server; the rest is read
/// by [`super::translate_request`] only.
#[derive(Debug)]
pub struct ResponsesRequest<'a> {
    pub model: String,
    pub stream: bool,
    pub(super) fields: RequestFields<'a>,
    /// Size of the Responses body: the chat body is about as large, so its buffer is sized
    /// from this once instead of doubling its way up (a copy per doubling; measured on the
    /// 400 KB session).
    pub(super) body_len: usize,
}

impl ResponsesRequest<'_> {
    /// How many input items the request has (a string `input` counts as one).
    pub fn input_items(&self) -> usize {
        match &self.fields.input {
            None => 0,
            Some(Input::Text(_)) => 1,
            Some(Input::Items(items)) => items.len(),
        }
    }
}

/// Parses a Responses request body.
pub fn parse_request(body: &[u8]) -> Result<ResponsesRequest<'_>, TranslateError> {
    let mut fields: RequestFields<'_> = json_from_bytes(body).map_err(|e| {
        if e.is_data() {
            TranslateError::Invalid(format!("invalid request: {e}"))
        } else {
            TranslateError::InvalidJson(e.to_string())
        }
    })?;
    if let Some(at) = lone_surrogate(body) {
        return Err(TranslateError::InvalidJson(format!(
            "the string escape at byte {at} is half of a UTF-16 surrogate pair"
        )));
    }
    let model = fields
        .model
        .take()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| TranslateError::Invalid("`model` is required".into()))?;
    let stream = fields.stream.unwrap_or(false);
    Ok(ResponsesRequest {
        model,
        stream,
        fields,
        body_len: body.len(),
    })
}

/// The offset of the first `\uD800`–`\uDFFF` escape that is not half of a valid pair, in a
/// body that parsed as JSON (so every backslash is inside a string and every `\u` has four hex
/// digits). serde_json checks the pairing only in the strings it decodes; the texts, arguments
/// and schemas kept raw go upstream verbatim, and one lone surrogate there makes the whole chat
/// body invalid JSON (found by the `request` fuzz target). Codex never sends one: its strings
/// are UTF-8.
fn lone_surrogate(body: &[u8]) -> Option<usize> {
    let unit = |i: usize| -> Option<u16> {
        if body.get(i..i + 2)? != b"\\u" {
            return None;
        }
        let hex = std::str::from_utf8(body.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    };
    // Codex's strings are UTF-8, so `\u` is rare in its bodies: look only where one is (one
    // SIMD search over the body) rather than at every backslash (code and diffs hold many).
    let mut pair_end = 0;
    for i in memchr::memmem::find_iter(body, b"\\u") {
        // The low half of a pair just checked, or the `u` of an escaped backslash (`\\u`:
        // an odd run of backslashes before this one means it is itself escaped).
        let escaped = body[..i].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1;
        if i < pair_end || escaped {
            continue;
        }
        match unit(i) {
            Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => {
                pair_end = i + 12;
            }
            Some(0xD800..=0xDFFF) => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod surrogate_tests {
    use super::*;

    /// A user message whose text (kept raw, sent verbatim) is `text` as written in JSON.
    fn body(text: &str) -> String {
        format!(
            r#"{{"model":"m","input":[{{"type":"message","role":"user","content":[{{"type":"input_text","text":"{text}"}}]}}]}}"#
        )
    }

    #[test]
    fn lone_surrogates_are_refused_and_pairs_pass() {
        for text in [
            r"a\ud83cb",
            r"\ude00",
            r"\ud83c\ud83c",
            r"\\\ud83c",
            r"x\uDBFF",
        ] {
            let e = parse_request(body(text).as_bytes()).unwrap_err();
            assert!(e.to_string().contains("surrogate pair"), "{text}: {e}");
        }
        for text in [r"\ud83d\ude00 \\ud83c \n", r"\\", r"\u00e9\/"] {
            assert!(parse_request(body(text).as_bytes()).is_ok(), "{text}");
        }
    }
}
