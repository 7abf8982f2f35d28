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
    pub reasoning_content: Option<ChatText<'a>>,
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
    Text(ChatText<'a>),
    Parts(Vec<ChatPart<'a>>),
}

/// A chat string value. Text from the request stays in its escaped JSON form (`Raw`), so it
/// is written out verbatim instead of being unescaped on parse and escaped again here; texts
/// we compose are plain strings. Joining keeps the escaped form: the contents of JSON string
/// literals concatenate textually, since every escape sequence is self-contained.
#[derive(Debug)]
pub(crate) enum ChatText<'a> {
    Plain(Cow<'a, str>),
    /// A JSON string token (with its quotes), borrowed from the parsed request.
    Raw(&'a RawValue),
    /// A JSON string token (with its quotes) we own: a join, or a part parsed here.
    RawOwned(Box<RawValue>),
}

impl Serialize for ChatText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ChatText::Plain(t) => s.serialize_str(t),
            ChatText::Raw(r) => r.serialize(s),
            ChatText::RawOwned(r) => r.serialize(s),
        }
    }
}

impl<'a> ChatText<'a> {
    pub fn borrowed(t: &'a str) -> Self {
        ChatText::Plain(Cow::Borrowed(t))
    }

    pub fn owned(t: String) -> Self {
        ChatText::Plain(Cow::Owned(t))
    }

    /// A JSON string token (the caller checked the kind).
    pub fn raw(r: &'a RawValue) -> Self {
        ChatText::Raw(r)
    }

    pub fn is_empty(&self) -> bool {
        match self {
            ChatText::Plain(t) => t.is_empty(),
            ChatText::Raw(r) => r.get() == r#""""#,
            ChatText::RawOwned(r) => r.get() == r#""""#,
        }
    }

    /// The decoded characters (only for the fallback in [`ChatText::join`]).
    fn decoded(&self) -> String {
        match self {
            ChatText::Plain(t) => t.to_string(),
            ChatText::Raw(r) => decode(r),
            ChatText::RawOwned(r) => decode(r),
        }
    }

    /// Appends the escaped contents (no quotes) of this text to `out`.
    fn push_escaped(&self, out: &mut String) {
        match self {
            ChatText::Plain(t) => push_escaped(out, t),
            ChatText::Raw(r) => out.push_str(inner(r)),
            ChatText::RawOwned(r) => out.push_str(inner(r)),
        }
    }

    /// Joins pieces with `sep`, without decoding escaped pieces; one piece is returned as is.
    pub fn join(mut pieces: Vec<ChatText<'a>>, sep: &str) -> ChatText<'a> {
        match pieces.len() {
            0 => return ChatText::borrowed(""),
            1 => return pieces.pop().expect("one piece"),
            _ => {}
        }
        if pieces.iter().all(|p| matches!(p, ChatText::Plain(_))) {
            let plain: Vec<&str> = pieces
                .iter()
                .map(|p| match p {
                    ChatText::Plain(t) => t.as_ref(),
                    _ => unreachable!("all plain"),
                })
                .collect();
            return ChatText::owned(plain.join(sep));
        }
        let mut esc_sep = String::new();
        push_escaped(&mut esc_sep, sep);
        let len: usize = pieces.iter().map(ChatText::escaped_len_hint).sum::<usize>()
            + esc_sep.len() * (pieces.len() - 1)
            + 2;
        let mut out = String::with_capacity(len);
        out.push('"');
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                out.push_str(&esc_sep);
            }
            p.push_escaped(&mut out);
        }
        out.push('"');
        // The contents of valid string tokens always concatenate to a valid one; should that
        // ever fail, fall back to decoding rather than failing the request.
        match RawValue::from_string(out) {
            Ok(raw) => ChatText::RawOwned(raw),
            Err(_) => {
                let decoded: Vec<String> = pieces.iter().map(ChatText::decoded).collect();
                ChatText::owned(decoded.join(sep))
            }
        }
    }

    /// `prefix` + this text + `suffix`.
    pub fn wrap(self, prefix: &str, suffix: &str) -> ChatText<'a> {
        let mut pieces = Vec::with_capacity(3);
        if !prefix.is_empty() {
            pieces.push(ChatText::owned(prefix.to_owned()));
        }
        pieces.push(self);
        if !suffix.is_empty() {
            pieces.push(ChatText::owned(suffix.to_owned()));
        }
        ChatText::join(pieces, "")
    }

    fn escaped_len_hint(&self) -> usize {
        match self {
            ChatText::Plain(t) => t.len() + 8,
            ChatText::Raw(r) => r.get().len(),
            ChatText::RawOwned(r) => r.get().len(),
        }
    }
}

/// The contents of a JSON string token, between its quotes.
fn inner(r: &RawValue) -> &str {
    let s = r.get().trim();
    &s[1..s.len() - 1]
}

fn decode(r: &RawValue) -> String {
    serde_json::from_str::<String>(r.get()).unwrap_or_default()
}

/// Appends `t` JSON-escaped, without quotes.
fn push_escaped(out: &mut String, t: &str) {
    let quoted = serde_json::to_string(t).expect("a string serialises");
    out.push_str(&quoted[1..quoted.len() - 1]);
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub(crate) enum ChatPart<'a> {
    #[serde(rename = "text")]
    Text { text: ChatText<'a> },
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
    pub description: Option<ChatText<'a>>,
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
