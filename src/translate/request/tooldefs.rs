//! Codex tool definitions -> chat `tools`, registering each in the [`ToolTable`].
//!
//! Sources, in this order (so wire names are deterministic): the request's `tools`, then the
//! tools loaded by every `tool_search_output` in the input (Codex dispatches calls to those but
//! never adds them to the top-level `tools`). A tool offered twice is sent once.

use std::collections::HashSet;

use serde_json::value::RawValue;

use super::chat::{ChatFunction, ChatText, ChatTool, Params};
use super::input::{self, Item, RawKind, ToolDef};
use crate::translate::tools::{ToolKind, ToolTable};

/// The schema of the single `input` argument a freeform (`custom`) tool gets on the wire.
const CUSTOM_PARAMS: &str = r#"{"type":"object","properties":{"input":{"type":"string","description":"Raw freeform text for this tool, not JSON-wrapped"}},"required":["input"]}"#;

/// The schema used when a function has none (or one that is not a JSON object).
const EMPTY_PARAMS: &str = r#"{"type":"object","properties":{}}"#;

/// Put in front of a custom tool's description. It comes first because Codex's own text for
/// `apply_patch` says "do not wrap the patch in JSON": on this wire the call *is* a JSON
/// function call, so the model must read that sentence as being about the text inside `input`.
const CUSTOM_NOTE: &str = "Call this tool with a single argument, `input`: the raw text for \
     the tool, exactly as the tool should receive it. Only that outer argument is JSON; the text \
     inside `input` is not JSON-wrapped or escaped beyond what a JSON string needs.";

pub(crate) struct ToolsOut<'a> {
    pub tools: Vec<ChatTool<'a>>,
    pub table: ToolTable,
}

pub(crate) fn build<'a>(top: Option<&'a [ToolDef<'_>]>, items: &'a [Item<'_>]) -> ToolsOut<'a> {
    let mut b = Builder {
        out: Vec::new(),
        table: ToolTable::new(),
        seen: HashSet::new(),
    };
    for def in top.unwrap_or_default() {
        b.add(def, None);
    }
    for item in items {
        if item.kind.as_deref() == Some("tool_search_output") {
            for def in item.tools.as_deref().unwrap_or_default() {
                b.add(def, None);
            }
        }
    }
    ToolsOut {
        tools: b.out,
        table: b.table,
    }
}

/// The namespace an inner tool belongs to.
struct Ns<'a> {
    name: &'a str,
    /// A JSON string token.
    description: Option<&'a RawValue>,
}

struct Builder<'a> {
    out: Vec<ChatTool<'a>>,
    table: ToolTable,
    /// Wire names already in `out`.
    seen: HashSet<String>,
}

impl<'a> Builder<'a> {
    fn add(&mut self, def: &'a ToolDef<'_>, ns: Option<&Ns<'a>>) {
        let kind = def.kind.as_deref().unwrap_or("function");
        match kind {
            "function" => {
                let Some(name) = def.name.as_deref() else {
                    tracing::debug!("Dropping a function tool without a name");
                    return;
                };
                let params = match &def.parameters {
                    Some(raw) if input::raw_kind(raw) == RawKind::Object => Params::Borrowed(raw),
                    _ => owned_params(EMPTY_PARAMS),
                };
                let description = describe(ns, def.description);
                self.push(ns, name, ToolKind::Function, description, params);
            }
            "custom" => {
                let Some(name) = def.name.as_deref() else {
                    tracing::debug!("Dropping a custom tool without a name");
                    return;
                };
                // Pieces joined without decoding Codex's (escaped) description text.
                let mut pieces = Vec::with_capacity(5);
                if let Some(nd) = ns.and_then(|n| n.description) {
                    pieces.push(ChatText::raw(nd));
                    pieces.push(ChatText::borrowed("\n\n"));
                }
                pieces.push(ChatText::borrowed(CUSTOM_NOTE));
                if let Some(d) = nonempty(def.description) {
                    pieces.push(ChatText::borrowed("\n\n"));
                    pieces.push(ChatText::raw(d));
                }
                if let Some(f) = &def.format
                    && let Some(definition) = f.definition.as_deref().filter(|d| !d.is_empty())
                {
                    let syntax = match f.syntax.as_deref() {
                        Some("lark") | None => "Lark grammar".to_owned(),
                        Some("regex") => "regular expression".to_owned(),
                        Some(other) => format!("{other} grammar"),
                    };
                    pieces.push(ChatText::owned(format!(
                        "\n\nThe input must follow this {syntax}:\n{definition}"
                    )));
                }
                let description = Some(ChatText::join(pieces, ""));
                self.push(
                    ns,
                    name,
                    ToolKind::Custom,
                    description,
                    owned_params(CUSTOM_PARAMS),
                );
            }
            "tool_search" => {
                let name = def.name.as_deref().unwrap_or("tool_search");
                let params = match &def.parameters {
                    Some(raw) if input::raw_kind(raw) == RawKind::Object => Params::Borrowed(raw),
                    _ => owned_params(EMPTY_PARAMS),
                };
                let description = describe(ns, def.description);
                self.push(ns, name, ToolKind::ToolSearch, description, params);
            }
            "namespace" if ns.is_none() => {
                let Some(name) = def.name.as_deref() else {
                    tracing::debug!("Dropping a namespace tool without a name");
                    return;
                };
                let inner = Ns {
                    name,
                    description: nonempty(def.description),
                };
                for t in def.tools.as_deref().unwrap_or_default() {
                    self.add(t, Some(&inner));
                }
            }
            other => {
                // Hosted tools (web_search, …) have no chat equivalent.
                tracing::debug!(tool_type = other, "Dropping a tool with no chat equivalent");
            }
        }
    }

    fn push(
        &mut self,
        ns: Option<&Ns<'a>>,
        name: &str,
        kind: ToolKind,
        description: Option<ChatText<'a>>,
        parameters: Params<'a>,
    ) {
        let wire = self.table.register(ns.map(|n| n.name), name, kind);
        if !self.seen.insert(wire.clone()) {
            return;
        }
        self.out.push(ChatTool {
            kind: "function",
            function: ChatFunction {
                name: wire,
                description,
                parameters,
            },
        });
    }
}

/// The description: the namespace's in front of the tool's, when there is one.
fn describe<'a>(ns: Option<&Ns<'a>>, own: Option<&'a RawValue>) -> Option<ChatText<'a>> {
    match (ns.and_then(|n| n.description), nonempty(own)) {
        (Some(nd), Some(d)) => Some(ChatText::join(
            vec![ChatText::raw(nd), ChatText::raw(d)],
            "\n\n",
        )),
        (Some(nd), None) => Some(ChatText::raw(nd)),
        (None, Some(d)) => Some(ChatText::raw(d)),
        (None, None) => None,
    }
}

/// A JSON string token that is not `""`.
fn nonempty(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| r.get() != r#""""#)
}

fn owned_params(json: &str) -> Params<'static> {
    Params::Owned(RawValue::from_string(json.to_owned()).expect("constant schema is valid JSON"))
}
