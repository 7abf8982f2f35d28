//! The Chat Completions request we send, as borrowed structs serialised once with
//! `serde_json::to_vec`. Text borrowed from the parsed Responses request is not copied;
//! raw JSON (schemas, argument strings, string tool outputs) is written out verbatim.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

#[derive(Debug, Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<ChatMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ChatTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<&'a str>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatMessage<'a> {
    pub role: Role,
    /// Always present; `null` only on an assistant message that has only tool calls.
    pub content: ChatContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

impl<'a> ChatMessage<'a> {
    pub fn new(role: Role, content: ChatContent<'a>) -> Self {
        ChatMessage {
            role,
            content,
            reasoning_content: None,
            tool_calls: None,
            tool_call_id: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum ChatContent<'a> {
    /// Serialised as `null` (an untagged unit variant).
    Null,
    Text(Cow<'a, str>),
    /// A JSON string token passed through verbatim (a string tool output).
    Raw(&'a RawValue),
    Parts(Vec<ChatPart<'a>>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub(crate) enum ChatPart<'a> {
    #[serde(rename = "text")]
    Text { text: Cow<'a, str> },
    #[serde(rename = "image_url")]
    ImageUrl { image_url: ImageUrl<'a> },
}

#[derive(Debug, Serialize)]
pub(crate) struct ImageUrl<'a> {
    pub url: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Cow<'a, str>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ChatFunctionCall<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatFunctionCall<'a> {
    pub name: String,
    pub arguments: Arguments<'a>,
}

/// A call's `arguments`: always a JSON *string* on the wire.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Arguments<'a> {
    /// A JSON string token from the request, written verbatim.
    Raw(&'a RawValue),
    Text(Cow<'a, str>),
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ChatFunction<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatFunction<'a> {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    pub parameters: Params<'a>,
}

/// A tool's JSON schema: the request's own bytes, or one we made.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Params<'a> {
    Borrowed(&'a RawValue),
    Owned(Box<RawValue>),
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum ToolChoice {
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: NamedFunction,
    },
}

#[derive(Debug, Serialize)]
pub(crate) struct NamedFunction {
    pub name: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub(crate) enum ResponseFormat<'a> {
    #[serde(rename = "json_schema")]
    JsonSchema { json_schema: JsonSchema<'a> },
    #[serde(rename = "json_object")]
    JsonObject,
}

#[derive(Debug, Serialize)]
pub(crate) struct JsonSchema<'a> {
    pub name: &'a str,
    pub schema: Params<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}
