//! Responses request -> Chat Completions request.
//!
//! [`parse_request`] reads the body once into typed structs (lenient below the top level, so
//! unknown item and tool types never fail a request; schemas and argument/output strings stay
//! raw JSON). [`translate_request`] builds the chat body from borrowed structs and serialises
//! it once; it also returns the [`ToolTable`] the reply translation needs and a content-free
//! [`RequestShape`] for `--log-requests`.
//!
//! Submodules: `parse` (reading the body), `input` (Responses shapes), `tooldefs` (tool
//! definitions and the name table), `messages` (items -> messages, chat ordering rules),
//! `chat` (the body we send), `error`.
//!
//! Decisions worth knowing:
//! - `instructions` and every *leading* developer/system message become one leading `system`
//!   message (parts joined with "\n\n"). A developer/system message later in the history is
//!   kept in place as a `user` message wrapped in `<system-message>…</system-message>`: strict
//!   templates (Qwen) reject non-leading system messages, and DeepInfra rejects `developer`.
//! - Reasoning goes back as `reasoning_content` per [`ReasoningPolicy`]; never as an empty
//!   string.
//! - `parallel_tool_calls` is sent only when the options allow it *and* tools are sent
//!   (OpenAI-style servers reject it without tools).
//! - Unknown item and tool types are skipped (debug log); `compaction_trigger` and
//!   `additional_tools` (responses-lite) are [`TranslateError::Unsupported`].

mod chat;
mod error;
mod input;
mod messages;
mod parse;
#[cfg(test)]
mod tests;
mod tooldefs;

pub use self::error::TranslateError;
pub use self::parse::{ResponsesRequest, parse_request};

use std::fmt;

use serde_json::value::RawValue;

use self::chat::{
    ChatRequest, JsonSchema, NamedFunction, Params, ResponseFormat, StreamOptions, ToolChoice,
};
use self::input::{Input, RawKind};
use super::TranslateOptions;
use super::tools::ToolTable;

#[cfg(doc)]
use super::ReasoningPolicy;

/// The request shape for `--log-requests`: no content, just structure.
#[derive(Debug, Clone, Default)]
pub struct RequestShape {
    /// The model Codex asked for.
    pub model: String,
    /// The roles of the chat messages sent, in order.
    pub roles: Vec<&'static str>,
    /// The number of chat tools sent.
    pub tools: usize,
    /// The number of Responses input items received.
    pub input_items: usize,
    /// Assistant messages sent with their reasoning (`reasoning_content`) replayed.
    pub reasoning_replayed: usize,
}

impl fmt::Display for RequestShape {
    /// `model=X items=12 roles=system,user,assistant,tool tools=9`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "model={} items={} roles=", self.model, self.input_items)?;
        for (i, r) in self.roles.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(r)?;
        }
        write!(f, " tools={}", self.tools)
    }
}

/// The chat request to send, and the tool table needed to translate the reply.
#[derive(Debug)]
pub struct TranslatedRequest {
    /// Serialised chat body (`stream: true` plus `stream_options.include_usage` for streamed
    /// requests).
    pub body: Vec<u8>,
    pub tools: ToolTable,
    pub shape: RequestShape,
}

/// Builds the chat request for `req`.
pub fn translate_request(
    req: &ResponsesRequest<'_>,
    opts: &TranslateOptions,
) -> Result<TranslatedRequest, TranslateError> {
    let f = &req.fields;
    let items: &[input::Item<'_>] = match &f.input {
        Some(Input::Items(items)) => items,
        _ => &[],
    };
    let tooldefs::ToolsOut { tools, table } = tooldefs::build(f.tools.as_deref(), items);
    let messages = messages::build(f.instructions, f.input.as_ref(), &table, opts)?;

    let tool_choice = if tools.is_empty() {
        None
    } else {
        f.tool_choice
            .and_then(|raw| tool_choice(raw, &table, &tools))
    };
    let parallel_tool_calls = if opts.send_parallel_tool_calls && !tools.is_empty() {
        f.parallel_tool_calls
    } else {
        None
    };

    let chat = ChatRequest {
        model: &opts.upstream_model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens: f.max_output_tokens.or(opts.max_output_tokens),
        temperature: f.temperature,
        top_p: f.top_p,
        reasoning_effort: f
            .reasoning
            .as_ref()
            .and_then(|r| r.effort.as_deref())
            .map(reasoning_effort),
        response_format: f
            .text
            .as_ref()
            .and_then(|t| t.format.as_ref())
            .and_then(response_format),
        prompt_cache_key: f.prompt_cache_key.as_deref(),
        service_tier: f
            .service_tier
            .as_deref()
            .filter(|t| matches!(*t, "priority" | "flex")),
        stream: req.stream,
        stream_options: req.stream.then_some(StreamOptions {
            include_usage: true,
        }),
    };

    let shape = RequestShape {
        model: req.model.clone(),
        roles: chat.messages.iter().map(|m| m.role.as_str()).collect(),
        tools: chat.tools.len(),
        input_items: req.input_items(),
        reasoning_replayed: chat
            .messages
            .iter()
            .filter(|m| m.reasoning_content.is_some())
            .count(),
    };
    let mut body = Vec::with_capacity(req.body_len + 1024);
    serde_json::to_writer(&mut body, &chat)
        .map_err(|e| TranslateError::Invalid(format!("cannot encode the chat request: {e}")))?;
    Ok(TranslatedRequest {
        body,
        tools: table,
        shape,
    })
}

/// `reasoning.effort` -> DeepInfra's gateway enum, which it validates for every model (422 on
/// anything else): known values pass, synonyms map, anything unknown becomes `high`.
fn reasoning_effort(effort: &str) -> &'static str {
    match effort.trim().to_ascii_lowercase().as_str() {
        "none" | "off" | "disabled" | "false" => "none",
        "minimal" | "min" | "lowest" => "minimal",
        "low" => "low",
        "medium" | "med" | "default" | "normal" => "medium",
        "high" => "high",
        "xhigh" | "x-high" | "extra_high" | "extra-high" => "xhigh",
        "max" | "maximum" => "max",
        _ => "high",
    }
}

/// `tool_choice`: the mode strings pass; `{"type":"function","name":X}` (or `custom`) names a
/// tool by its wire name. Anything we cannot express (a dropped hosted tool) is omitted.
fn tool_choice(
    raw: &RawValue,
    table: &ToolTable,
    tools: &[chat::ChatTool<'_>],
) -> Option<ToolChoice> {
    match input::raw_kind(raw) {
        RawKind::String => match input::decode_raw_string(raw).as_deref() {
            Some("auto") => Some(ToolChoice::Mode("auto")),
            Some("none") => Some(ToolChoice::Mode("none")),
            Some("required") => Some(ToolChoice::Mode("required")),
            other => {
                tracing::debug!(tool_choice = other, "Dropping an unknown tool_choice");
                None
            }
        },
        RawKind::Object => {
            #[derive(serde::Deserialize)]
            struct Named {
                #[serde(rename = "type")]
                kind: Option<String>,
                name: Option<String>,
                namespace: Option<String>,
            }
            let named: Named = serde_json::from_str(raw.get()).ok()?;
            let name = match named.kind.as_deref() {
                Some("function") | Some("custom") => named.name?,
                Some("tool_search") => "tool_search".to_owned(),
                _ => {
                    tracing::debug!("Dropping a tool_choice object with no chat equivalent");
                    return None;
                }
            };
            let wire = table.wire_for(named.namespace.as_deref(), &name);
            if !tools.iter().any(|t| t.function.name == wire) {
                tracing::debug!("Dropping a tool_choice naming a tool that is not offered");
                return None;
            }
            Some(ToolChoice::Function {
                kind: "function",
                function: NamedFunction { name: wire },
            })
        }
        _ => None,
    }
}

/// `text.format` -> `response_format`; `text` (the default) -> nothing.
fn response_format<'a>(format: &'a input::TextFormat<'a>) -> Option<ResponseFormat<'a>> {
    match format.kind.as_deref() {
        Some("json_schema") => {
            let schema = format.schema?;
            Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchema {
                    name: format.name.as_deref().unwrap_or("output"),
                    schema: Params::Borrowed(schema),
                    strict: format.strict,
                },
            })
        }
        Some("json_object") => Some(ResponseFormat::JsonObject),
        _ => None,
    }
}
