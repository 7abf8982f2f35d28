//! The Responses shapes we write (docs/protocol.md#events): the Response object, output
//! items and their parts, usage, and the bodies of the events that carry them. Borrowed
//! throughout: an event is serialised straight from the translator's state.

use serde::Serialize;
use serde_json::Value;

use crate::translate::reply::context::{ReplyContext, Usage};

#[derive(Serialize)]
pub(super) struct ResponseBody<'a> {
    pub(super) response: &'a ResponseObj<'a>,
}

#[derive(Serialize)]
pub(super) struct ResponseObj<'a> {
    pub(super) id: &'a str,
    pub(super) object: &'a str,
    pub(super) created_at: u64,
    pub(super) status: &'a str,
    pub(super) model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<ErrorObj<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) incomplete_details: Option<IncompleteDetails<'a>>,
    pub(super) output: &'a [&'a Item<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) usage: Option<UsageOut>,
}

#[derive(Serialize)]
pub(super) struct ErrorObj<'a> {
    pub(super) code: &'a str,
    pub(super) message: &'a str,
}

#[derive(Serialize)]
pub(super) struct IncompleteDetails<'a> {
    pub(super) reason: &'a str,
}

/// Always all three totals and both details objects, with integers: Codex refuses a usage
/// object with a missing or non-integer count (docs/protocol.md#usage).
#[derive(Serialize)]
pub(super) struct UsageOut {
    pub(super) input_tokens: u64,
    pub(super) input_tokens_details: CachedTokens,
    pub(super) output_tokens: u64,
    pub(super) output_tokens_details: ReasoningTokens,
    pub(super) total_tokens: u64,
}

#[derive(Serialize)]
pub(super) struct CachedTokens {
    pub(super) cached_tokens: u64,
}

#[derive(Serialize)]
pub(super) struct ReasoningTokens {
    pub(super) reasoning_tokens: u64,
}

impl From<&Usage> for UsageOut {
    fn from(u: &Usage) -> Self {
        UsageOut {
            input_tokens: u.input_tokens,
            input_tokens_details: CachedTokens {
                cached_tokens: u.cached_tokens,
            },
            output_tokens: u.output_tokens,
            output_tokens_details: ReasoningTokens {
                reasoning_tokens: u.reasoning_tokens,
            },
            total_tokens: u.total_tokens,
        }
    }
}

#[derive(Serialize)]
pub(super) struct ItemBody<'a> {
    pub(super) output_index: u32,
    pub(super) item: &'a Item<'a>,
}

#[derive(Serialize)]
pub(super) struct SummaryPartBody<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: u32,
    pub(super) summary_index: u32,
    pub(super) part: Part<'a>,
}

#[derive(Serialize)]
pub(super) struct ContentPartBody<'a> {
    pub(super) item_id: &'a str,
    pub(super) output_index: u32,
    pub(super) content_index: u32,
    pub(super) part: Part<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the variant names are the wire `type` values
pub(super) enum Part<'a> {
    SummaryText { text: &'a str },
    ReasoningText { text: &'a str },
    OutputText { text: &'a str, annotations: [(); 0] },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Item<'a> {
    Reasoning {
        id: &'a str,
        /// Always present: Codex drops reasoning items without it.
        summary: Vec<Part<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<Vec<Part<'a>>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<&'a str>,
    },
    Message {
        id: &'a str,
        role: &'a str,
        status: &'a str,
        content: Vec<Part<'a>>,
    },
    FunctionCall {
        id: &'a str,
        status: &'a str,
        call_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<&'a str>,
        name: &'a str,
        /// Always a string (an object is silently dropped by Codex).
        arguments: &'a str,
    },
    CustomToolCall {
        id: &'a str,
        status: &'a str,
        call_id: &'a str,
        name: &'a str,
        input: &'a str,
    },
    ToolSearchCall {
        id: &'a str,
        call_id: &'a str,
        status: &'a str,
        execution: &'a str,
        /// Always an object (a string fails to parse in Codex).
        arguments: &'a Value,
    },
}

/// A Response object without output, usage or details (`created`, `in_progress`, `failed`).
pub(super) fn response_obj<'a>(ctx: &'a ReplyContext, status: &'a str) -> ResponseObj<'a> {
    ResponseObj {
        id: &ctx.response_id,
        object: "response",
        created_at: ctx.created_at,
        status,
        model: &ctx.requested_model,
        error: None,
        incomplete_details: None,
        output: &[],
        usage: None,
    }
}
