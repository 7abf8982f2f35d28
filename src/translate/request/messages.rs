//! Responses input items -> chat `messages`, in order, satisfying the chat rules.
//!
//! Two passes:
//! 1. **Walk** the items into blocks: the leading system text, user messages, assistant
//!    *turns* (everything one response produced: reasoning, text, calls) and call outputs.
//!    A turn ends at a user message, an output, or a reasoning item that follows turn content
//!    (a reasoning item opens the next response).
//! 2. **Assemble**: each assistant turn with calls is followed directly by exactly one tool
//!    message per call, in call order, wherever the outputs were in the history (placeholder
//!    text for a call without output). Outputs whose call is nowhere become user text.
//!    Images returned by tools follow the tool messages as one user message.
//!
//! Text joining: developer/system messages and their parts are joined with a blank line
//! ("\n\n"), and so are the text parts of a user message (Codex sends them as separate blocks);
//! the `output_text` parts of one assistant message are concatenated as is (one model output
//! split in pieces) and separate assistant messages of one turn are joined with "\n\n"; the
//! text parts of an array tool output are joined with "\n".

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use serde_json::value::RawValue;

use super::chat::{
    Arguments, ChatContent, ChatFunctionCall, ChatMessage, ChatPart, ChatText, ChatToolCall,
    ImageUrl, Role,
};
use super::error::TranslateError;
use super::input::{self, Content, Input, Instructions, Item, Part, RawKind};
use crate::translate::options::{ImagePolicy, ReasoningPolicy, TranslateOptions};
use crate::translate::reasoning;
use crate::translate::tools::ToolTable;

/// Replaces an image for text-only models.
pub(crate) const IMAGE_PLACEHOLDER: &str = "[image omitted: this model accepts text only]";
/// The tool reply sent for a call that has no output anywhere in the history.
pub(crate) const MISSING_OUTPUT: &str = "[no output recorded]";
/// Put in a tool message whose images follow in a user message.
const IMAGE_FOLLOWS: &str = "[image attached in the next message]";

const REMOTE_COMPACTION: &str = "remote compaction (`compaction_trigger`) is only for a provider \
     named \"OpenAI\"; this shim serves a chat provider. Rename the model provider in Codex's \
     config.toml (any name but \"OpenAI\") so Codex compacts locally.";
const RESPONSES_LITE: &str = "this model slug uses Codex's \"responses lite\" mode \
     (`additional_tools`), which a chat provider cannot serve; use the provider's own model \
     slug (e.g. deepseek-ai/DeepSeek-V4-Flash) instead.";

pub(crate) fn build<'a>(
    instructions: Option<&'a RawValue>,
    input: Option<&'a Input<'_>>,
    table: &ToolTable,
    opts: &TranslateOptions,
) -> Result<Vec<ChatMessage<'a>>, TranslateError> {
    let mut w = Walker {
        opts,
        table,
        system: Vec::new(),
        leading: true,
        blocks: Vec::new(),
        turn: None,
    };
    let instructions = match instructions.and_then(input::instructions) {
        Some(Instructions::Text(raw)) => Some(ChatText::raw(raw)),
        Some(Instructions::Parts(parts)) => Some(ChatText::join(
            parts
                .into_iter()
                .filter_map(|p| p.text.map(ChatText::raw).or(p.refusal.map(ChatText::owned)))
                .collect(),
            "\n\n",
        )),
        None => None,
    };
    if let Some(text) = instructions.filter(|t| !t.is_empty()) {
        w.system.push(text);
    }
    match input {
        None => {}
        Some(Input::Text(s)) => w.blocks.push(Block::User {
            content: ChatContent::Text(ChatText::borrowed(s)),
            from_user: true,
        }),
        Some(Input::Items(items)) => {
            for item in items {
                w.item(item)?;
            }
        }
    }
    w.close_turn();
    let Walker { system, blocks, .. } = w;
    let messages = assemble(system, blocks, opts);
    if messages.iter().all(|m| m.role == Role::System) {
        return Err(TranslateError::Invalid(
            "the request has no input messages; a chat request needs at least one message".into(),
        ));
    }
    Ok(messages)
}

enum Block<'a> {
    User {
        content: ChatContent<'a>,
        /// A real user message (not a converted developer message): the current tool loop
        /// starts after the last one.
        from_user: bool,
    },
    Assistant(Turn<'a>),
    Output(Output<'a>),
}

/// What one response produced.
#[derive(Default)]
struct Turn<'a> {
    texts: Vec<ChatText<'a>>,
    calls: Vec<ChatToolCall<'a>>,
    reasoning: Vec<ChatText<'a>>,
}

impl Turn<'_> {
    fn has_output(&self) -> bool {
        !self.texts.is_empty() || !self.calls.is_empty()
    }
}

struct Output<'a> {
    call_id: &'a str,
    content: ChatContent<'a>,
    images: Vec<ChatPart<'a>>,
}

struct Walker<'a, 'o> {
    opts: &'o TranslateOptions,
    table: &'o ToolTable,
    system: Vec<ChatText<'a>>,
    /// Still in the leading developer/system section.
    leading: bool,
    blocks: Vec<Block<'a>>,
    turn: Option<Turn<'a>>,
}

impl<'a> Walker<'a, '_> {
    fn item(&mut self, item: &'a Item<'_>) -> Result<(), TranslateError> {
        let kind = item.kind.as_deref();
        match kind {
            Some("message") | None if item.role.is_some() => self.message(item),
            Some("reasoning") => {
                self.leading = false;
                if self.turn.as_ref().is_some_and(Turn::has_output) {
                    self.close_turn();
                }
                let text = reasoning_text(item);
                let turn = self.turn.get_or_insert_with(Turn::default);
                turn.reasoning.extend(text);
            }
            Some("function_call") | Some("custom_tool_call") | Some("tool_search_call") => {
                self.leading = false;
                let call = self.call(item)?;
                self.turn.get_or_insert_with(Turn::default).calls.push(call);
            }
            Some("function_call_output")
            | Some("custom_tool_call_output")
            | Some("tool_search_output") => {
                self.leading = false;
                self.close_turn();
                let out = self.output(item)?;
                self.blocks.push(Block::Output(out));
            }
            Some("compaction_trigger") => {
                return Err(TranslateError::Unsupported(REMOTE_COMPACTION.into()));
            }
            Some("additional_tools") => {
                return Err(TranslateError::Unsupported(RESPONSES_LITE.into()));
            }
            other => {
                tracing::debug!(
                    item_type = other,
                    "Skipping an input item with no chat equivalent"
                );
            }
        }
        Ok(())
    }

    fn message(&mut self, item: &'a Item<'_>) {
        let role = item.role.as_deref().unwrap_or_default();
        let Some(content) = &item.content else {
            tracing::debug!(role, "Skipping a message without content");
            return;
        };
        match role {
            "developer" | "system" => {
                let text = text_of(content, "\n\n");
                if self.leading {
                    if !text.is_empty() {
                        self.system.push(text);
                    }
                } else {
                    // Strict templates (Qwen) reject a system message that is not first, and
                    // DeepInfra rejects `developer`: keep it in place as tagged user text.
                    self.close_turn();
                    let wrapped = text.wrap("<system-message>\n", "\n</system-message>");
                    self.blocks.push(Block::User {
                        content: ChatContent::Text(wrapped),
                        from_user: false,
                    });
                }
            }
            "user" => {
                self.leading = false;
                self.close_turn();
                let content = user_content(content, self.opts.images);
                self.blocks.push(Block::User {
                    content,
                    from_user: true,
                });
            }
            "assistant" => {
                self.leading = false;
                let text = assistant_text(content);
                let turn = self.turn.get_or_insert_with(Turn::default);
                if !text.is_empty() {
                    turn.texts.push(text);
                }
            }
            other => tracing::debug!(role = other, "Skipping a message with an unknown role"),
        }
    }

    fn call(&self, item: &'a Item<'_>) -> Result<ChatToolCall<'a>, TranslateError> {
        let kind = item.kind.as_deref().unwrap_or_default();
        let id = required(item.call_id.as_deref(), kind, "call_id")?;
        let ns = item.namespace.as_deref();
        let (name, arguments) = match kind {
            "function_call" => {
                let name = required(item.name.as_deref(), kind, "name")?;
                (
                    self.table.wire_for(ns, name),
                    json_arguments(item.arguments),
                )
            }
            "custom_tool_call" => {
                let name = required(item.name.as_deref(), kind, "name")?;
                let input = item.input.map_or(r#""""#, RawValue::get);
                let args = format!(r#"{{"input":{input}}}"#);
                (
                    self.table.wire_for(ns, name),
                    Arguments::Text(Cow::Owned(args)),
                )
            }
            _ => {
                let name = item.name.as_deref().unwrap_or("tool_search");
                (
                    self.table.wire_for(ns, name),
                    json_arguments(item.arguments),
                )
            }
        };
        Ok(ChatToolCall {
            id,
            kind: "function",
            function: ChatFunctionCall { name, arguments },
        })
    }

    fn output(&self, item: &'a Item<'_>) -> Result<Output<'a>, TranslateError> {
        let kind = item.kind.as_deref().unwrap_or_default();
        let call_id = required(item.call_id.as_deref(), kind, "call_id")?;
        if kind == "tool_search_output" {
            return Ok(Output {
                call_id,
                content: ChatContent::Text(ChatText::owned(self.loaded_tools(item))),
                images: Vec::new(),
            });
        }
        let Some(raw) = item.output else {
            return Ok(Output {
                call_id,
                content: ChatContent::Text(ChatText::borrowed("")),
                images: Vec::new(),
            });
        };
        let (content, images) = match input::raw_kind(raw) {
            // The common case: pass the string through without decoding it.
            RawKind::String => (ChatContent::Text(ChatText::raw(raw)), Vec::new()),
            RawKind::Array => {
                let parts: Vec<Part<'_>> = input::parse_raw_list(raw);
                self.array_output(parts)
            }
            RawKind::Null => (ChatContent::Text(ChatText::borrowed("")), Vec::new()),
            // An object or number: give the model its JSON text.
            RawKind::Object | RawKind::Other => {
                (ChatContent::Text(ChatText::borrowed(raw.get())), Vec::new())
            }
        };
        Ok(Output {
            call_id,
            content,
            images,
        })
    }

    /// An array output: text parts joined with "\n"; images split off (or placeholders).
    /// The parts were parsed from the output's raw JSON, so their texts borrow the body.
    fn array_output(&self, parts: Vec<Part<'a>>) -> (ChatContent<'a>, Vec<ChatPart<'a>>) {
        let mut lines: Vec<ChatText<'a>> = Vec::with_capacity(parts.len());
        let mut images = Vec::new();
        for p in parts {
            if is_image(&p) {
                match (self.opts.images, p.image_url) {
                    (ImagePolicy::Keep, Some(url)) => {
                        lines.push(ChatText::borrowed(IMAGE_FOLLOWS));
                        images.push(owned_image(url, p.detail));
                    }
                    (ImagePolicy::Placeholder, _) => {
                        lines.push(ChatText::borrowed(IMAGE_PLACEHOLDER));
                    }
                    (ImagePolicy::Keep, None) => {
                        tracing::debug!("Skipping an image part without a URL");
                    }
                }
            } else if let Some(t) = p.text {
                lines.push(ChatText::raw(t));
            } else if let Some(t) = p.refusal {
                lines.push(ChatText::owned(t));
            }
        }
        (ChatContent::Text(ChatText::join(lines, "\n")), images)
    }

    /// The text of a `tool_search_output`: the wire names of the tools it loaded (they are
    /// in the chat `tools` array under those names).
    fn loaded_tools(&self, item: &Item<'_>) -> String {
        let mut names = Vec::new();
        for def in item.tools.as_deref().unwrap_or_default() {
            let Some(name) = def.name.as_deref() else {
                continue;
            };
            match def.kind.as_deref() {
                Some("namespace") => {
                    for t in def.tools.as_deref().unwrap_or_default() {
                        if let Some(inner) = t.name.as_deref() {
                            names.push(self.table.wire_for(Some(name), inner));
                        }
                    }
                }
                _ => names.push(self.table.wire_for(None, name)),
            }
        }
        if names.is_empty() {
            "No tools were found.".to_owned()
        } else {
            format!("Tools loaded and now available: {}", names.join(", "))
        }
    }

    fn close_turn(&mut self) {
        if let Some(turn) = self.turn.take() {
            if turn.has_output() {
                self.blocks.push(Block::Assistant(turn));
            } else if !turn.reasoning.is_empty() {
                tracing::debug!("Dropping reasoning that no output of its response followed");
            }
        }
    }
}

fn required<'a>(v: Option<&'a str>, kind: &str, field: &str) -> Result<&'a str, TranslateError> {
    v.ok_or_else(|| TranslateError::Invalid(format!("a `{kind}` input item has no `{field}`")))
}

/// A call's arguments as a JSON string: a string passes through, an object becomes its JSON
/// text, and missing/empty becomes `{}`.
fn json_arguments(raw: Option<&RawValue>) -> Arguments<'_> {
    match raw {
        None => Arguments::Text(Cow::Borrowed("{}")),
        Some(raw) => match input::raw_kind(raw) {
            RawKind::String if raw.get() == r#""""# => Arguments::Text(Cow::Borrowed("{}")),
            RawKind::String => Arguments::Raw(raw),
            RawKind::Null => Arguments::Text(Cow::Borrowed("{}")),
            _ => Arguments::Text(Cow::Borrowed(raw.get())),
        },
    }
}

fn is_image(p: &Part<'_>) -> bool {
    matches!(
        p.kind.as_deref(),
        Some("input_image") | Some("image_url") | Some("image")
    )
}

fn image_part<'a>(url: &'a str, detail: Option<&'a str>) -> ChatPart<'a> {
    ChatPart::ImageUrl {
        image_url: ImageUrl {
            url: Cow::Borrowed(url),
            detail: detail.map(Cow::Borrowed),
        },
    }
}

fn owned_image<'a>(url: String, detail: Option<String>) -> ChatPart<'a> {
    ChatPart::ImageUrl {
        image_url: ImageUrl {
            url: Cow::Owned(url),
            detail: detail.map(Cow::Owned),
        },
    }
}

/// Joins pieces, borrowing when there is only one.
fn join<'a>(pieces: Vec<ChatText<'a>>, sep: &str) -> ChatText<'a> {
    ChatText::join(pieces, sep)
}

/// A part's text (kept escaped) or refusal.
fn part_text<'a>(p: &'a Part<'a>) -> Option<ChatText<'a>> {
    match (&p.text, &p.refusal) {
        (Some(t), _) => Some(ChatText::raw(t)),
        (None, Some(r)) => Some(ChatText::borrowed(r)),
        (None, None) => None,
    }
}

/// The text of a content value (text-bearing parts only), parts joined with `sep`.
fn text_of<'a>(c: &'a Content<'_>, sep: &str) -> ChatText<'a> {
    match c {
        Content::Text(s) => ChatText::borrowed(s),
        Content::Parts(parts) => join(parts.iter().filter_map(part_text).collect(), sep),
    }
}

fn assistant_text<'a>(c: &'a Content<'a>) -> ChatText<'a> {
    text_of(c, "")
}

/// A user message's content: a string when it is all text (or images become placeholders),
/// else `text` / `image_url` parts.
fn user_content<'a>(c: &'a Content<'a>, images: ImagePolicy) -> ChatContent<'a> {
    let parts = match c {
        Content::Text(s) => return ChatContent::Text(ChatText::borrowed(s)),
        Content::Parts(parts) => parts,
    };
    let has_image = parts.iter().any(is_image);
    if has_image && images == ImagePolicy::Keep {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            if is_image(p) {
                match p.image_url.as_deref() {
                    Some(url) => out.push(image_part(url, p.detail.as_deref())),
                    None => tracing::debug!("Skipping an image part without a URL"),
                }
            } else if let Some(t) = p.text {
                out.push(ChatPart::Text {
                    text: ChatText::raw(t),
                });
            }
        }
        return ChatContent::Parts(out);
    }
    let texts = parts
        .iter()
        .filter_map(|p| {
            if is_image(p) {
                Some(ChatText::borrowed(IMAGE_PLACEHOLDER))
            } else {
                p.text.map(ChatText::raw)
            }
        })
        .collect();
    ChatContent::Text(join(texts, "\n\n"))
}

/// A reasoning item's text: our envelope, else the raw reasoning text, else the summary.
fn reasoning_text<'a>(item: &'a Item<'a>) -> Option<ChatText<'a>> {
    if let Some(text) = item
        .encrypted_content
        .as_deref()
        .and_then(reasoning::decode_text_raw)
    {
        let text = ChatText::RawOwned(text);
        if !text.is_empty() {
            return Some(text);
        }
    }
    if let Some(c) = &item.content {
        let t = text_of(c, "");
        if !t.is_empty() {
            return Some(t);
        }
    }
    let summary = join(
        item.summary
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.text.map(ChatText::raw))
            .filter(|t| !t.is_empty())
            .collect(),
        "\n\n",
    );
    (!summary.is_empty()).then_some(summary)
}

/// The text of a tool output content, for an orphan output turned into user text.
fn plain_text(c: ChatContent<'_>) -> ChatText<'_> {
    match c {
        ChatContent::Text(t) => t,
        ChatContent::Null | ChatContent::Parts(_) => ChatText::borrowed(""),
    }
}

fn assemble<'a>(
    system: Vec<ChatText<'a>>,
    blocks: Vec<Block<'a>>,
    opts: &TranslateOptions,
) -> Vec<ChatMessage<'a>> {
    let n = blocks.len();
    let mut messages = Vec::with_capacity(n + 1);
    if !system.is_empty() {
        messages.push(ChatMessage::new(
            Role::System,
            ChatContent::Text(join(system, "\n\n")),
        ));
    }

    // Pair every call with the first unclaimed output of the same id, wherever it is.
    let mut outputs_by_id: HashMap<&'a str, VecDeque<usize>> = HashMap::new();
    for (i, b) in blocks.iter().enumerate() {
        if let Block::Output(o) = b {
            outputs_by_id.entry(o.call_id).or_default().push_back(i);
        }
    }
    let mut claimed = vec![false; n];
    let mut pairing: Vec<Vec<Option<usize>>> = (0..n).map(|_| Vec::new()).collect();
    for (i, b) in blocks.iter().enumerate() {
        if let Block::Assistant(t) = b {
            pairing[i] = t
                .calls
                .iter()
                .map(|c| {
                    let j = outputs_by_id.get_mut(c.id).and_then(VecDeque::pop_front);
                    if let Some(j) = j {
                        claimed[j] = true;
                    }
                    j
                })
                .collect();
        }
    }

    let last_user = blocks.iter().rposition(|b| {
        matches!(
            b,
            Block::User {
                from_user: true,
                ..
            }
        )
    });
    let mut slots: Vec<Option<Block<'a>>> = blocks.into_iter().map(Some).collect();

    for i in 0..n {
        if claimed[i] {
            continue; // emitted (or to be emitted) right after its call
        }
        let Some(block) = slots[i].take() else {
            continue;
        };
        match block {
            Block::User { content, .. } => messages.push(ChatMessage::new(Role::User, content)),
            Block::Assistant(turn) => {
                let replay = match opts.reasoning {
                    ReasoningPolicy::Replay => true,
                    ReasoningPolicy::Drop => false,
                    // The current tool loop, plus every earlier turn that called tools:
                    // DeepSeek V3.2+/V4 and Kimi K2.x reject a tool-call message without its
                    // reasoning in *any* later request (docs/protocol.md#reasoning-replay); plain text answers
                    // of earlier turns are ignored by them, so they are not resent.
                    ReasoningPolicy::Auto => {
                        last_user.is_none_or(|u| i > u) || !turn.calls.is_empty()
                    }
                };
                let ids: Vec<&'a str> = turn.calls.iter().map(|c| c.id).collect();
                let content = if turn.texts.is_empty()
                    || (opts.drop_tool_call_content && !turn.calls.is_empty())
                {
                    ChatContent::Null
                } else {
                    ChatContent::Text(join(turn.texts, "\n\n"))
                };
                let mut msg = ChatMessage::new(Role::Assistant, content);
                if replay && !turn.reasoning.is_empty() {
                    msg.reasoning_content = Some(join(turn.reasoning, "\n\n"));
                }
                if !turn.calls.is_empty() {
                    msg.tool_calls = Some(turn.calls);
                }
                messages.push(msg);

                let mut images: Vec<ChatPart<'a>> = Vec::new();
                for (id, out) in ids.into_iter().zip(std::mem::take(&mut pairing[i])) {
                    let out = out.and_then(|j| match slots[j].take() {
                        Some(Block::Output(o)) => Some(o),
                        _ => None,
                    });
                    let content = match out {
                        Some(o) => {
                            if !o.images.is_empty() {
                                images.push(ChatPart::Text {
                                    text: ChatText::owned(format!("[image output of call {id}]")),
                                });
                                images.extend(o.images);
                            }
                            o.content
                        }
                        None => ChatContent::Text(ChatText::borrowed(MISSING_OUTPUT)),
                    };
                    let mut tool = ChatMessage::new(Role::Tool, content);
                    tool.tool_call_id = Some(id);
                    messages.push(tool);
                }
                if !images.is_empty() {
                    messages.push(ChatMessage::new(Role::User, ChatContent::Parts(images)));
                }
            }
            Block::Output(o) => {
                tracing::debug!(
                    call_id = o.call_id,
                    "Tool output without a call; sent as user text"
                );
                let prefix = format!("[tool output for call {}]: ", o.call_id);
                let text = plain_text(o.content).wrap(&prefix, "");
                let content = if o.images.is_empty() {
                    ChatContent::Text(text)
                } else {
                    let mut parts = vec![ChatPart::Text { text }];
                    parts.extend(o.images);
                    ChatContent::Parts(parts)
                };
                messages.push(ChatMessage::new(Role::User, content));
            }
        }
    }
    messages
}
