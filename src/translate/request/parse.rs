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
