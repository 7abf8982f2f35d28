//! The output of one reply: its items (reasoning, message, tool calls), their ids and output
//! indices, and the events that open, grow and close them (docs/protocol.md#events).
//!
//! Ids are derived from the response id and a counter (`msg_<suffix>_<n>`, `rs_`, `fc_`,
//! `ctc_`, `tsc_`, `call_`), so the translation needs no clock and no random numbers and the
//! same input always gives the same bytes.

use serde_json::Value;

use super::calls::CallAcc;
use super::emitter::Emitter;
use super::events::{
    ContentPartBody, ErrorObj, IncompleteDetails, Item, ItemBody, Part, ResponseBody, ResponseObj,
    SummaryPartBody, UsageOut, response_obj,
};
use super::think::Piece;
use crate::translate::reasoning;
use crate::translate::reply::context::{ReplyContext, Usage};
use crate::translate::tools::{ToolKind, ToolTable};

/// An item shown while it grows (reasoning, the message): its text so far.
#[derive(Debug)]
struct Growing {
    id: String,
    output_index: u32,
    text: String,
}

pub(super) struct Output {
    ctx: ReplyContext,
    /// The response id without `resp_`, for item ids.
    id_suffix: String,
    next_id: u32,
    next_output_index: u32,
    em: Emitter,
    reasoning: Option<Growing>,
    message: Option<Growing>,
}

impl Output {
    pub(super) fn new(ctx: ReplyContext, quiet: bool) -> Self {
        let id_suffix = ctx
            .response_id
            .strip_prefix("resp_")
            .unwrap_or(&ctx.response_id)
            .to_owned();
        Output {
            ctx,
            id_suffix,
            next_id: 0,
            next_output_index: 0,
            em: Emitter::new(quiet),
            reasoning: None,
            message: None,
        }
    }

    pub(super) fn ctx(&self) -> &ReplyContext {
        &self.ctx
    }

    /// True once some reasoning or message text was shown.
    pub(super) fn has_text(&self) -> bool {
        self.reasoning.is_some() || self.message.is_some()
    }

    /// True once any item was opened (stays true after the items are closed).
    pub(super) fn has_shown(&self) -> bool {
        self.next_output_index > 0
    }

    /// The texts shown so far (message, then reasoning).
    pub(super) fn texts(&self) -> impl Iterator<Item = &str> {
        [&self.message, &self.reasoning]
            .into_iter()
            .flatten()
            .map(|g| g.text.as_str())
    }

    /// `response.created` then `response.in_progress`.
    pub(super) fn created(&mut self, out: &mut Vec<u8>) {
        let resp = response_obj(&self.ctx, "in_progress");
        let body = ResponseBody { response: &resp };
        self.em.emit(out, "response.created", &body);
        self.em.emit(out, "response.in_progress", &body);
    }

    /// `response.in_progress` again (the heartbeat).
    pub(super) fn in_progress(&mut self, out: &mut Vec<u8>) {
        let resp = response_obj(&self.ctx, "in_progress");
        self.em.emit(
            out,
            "response.in_progress",
            &ResponseBody { response: &resp },
        );
    }

    /// Shows a piece of content: reasoning or message text.
    pub(super) fn piece(&mut self, piece: Piece<'_>, out: &mut Vec<u8>) {
        match piece {
            Piece::Reasoning(s) => self.reasoning_delta(s, out),
            Piece::Text(s) => self.text_delta(s, out),
        }
    }

    pub(super) fn reasoning_delta(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        if self.reasoning.is_none() {
            self.reasoning = Some(self.open_reasoning(out));
        }
        let r = self.reasoning.as_mut().expect("reasoning item exists");
        r.text.push_str(s);
        self.em.emit_delta(
            out,
            "response.reasoning_text.delta",
            &r.id,
            r.output_index,
            "content_index",
            s,
        );
        if self.ctx.opts.reasoning_summary {
            self.em.emit_delta(
                out,
                "response.reasoning_summary_text.delta",
                &r.id,
                r.output_index,
                "summary_index",
                s,
            );
        }
    }

    fn open_reasoning(&mut self, out: &mut Vec<u8>) -> Growing {
        let id = self.make_id("rs");
        let output_index = self.take_output_index();
        let item = Item::Reasoning {
            id: &id,
            summary: Vec::new(),
            content: None,
            encrypted_content: None,
        };
        let body = ItemBody {
            output_index,
            item: &item,
        };
        self.em.emit(out, "response.output_item.added", &body);
        if self.ctx.opts.reasoning_summary {
            let part = SummaryPartBody {
                item_id: &id,
                output_index,
                summary_index: 0,
                part: Part::SummaryText { text: "" },
            };
            self.em
                .emit(out, "response.reasoning_summary_part.added", &part);
        }
        Growing {
            id,
            output_index,
            text: String::new(),
        }
    }

    pub(super) fn text_delta(&mut self, s: &str, out: &mut Vec<u8>) {
        if s.is_empty() {
            return;
        }
        if self.message.is_none() {
            self.message = Some(self.open_message(out));
        }
        let m = self.message.as_mut().expect("message item exists");
        m.text.push_str(s);
        self.em.emit_delta(
            out,
            "response.output_text.delta",
            &m.id,
            m.output_index,
            "content_index",
            s,
        );
    }

    fn open_message(&mut self, out: &mut Vec<u8>) -> Growing {
        let id = self.make_id("msg");
        let output_index = self.take_output_index();
        let item = Item::Message {
            id: &id,
            role: "assistant",
            status: "in_progress",
            content: Vec::new(),
        };
        let body = ItemBody {
            output_index,
            item: &item,
        };
        self.em.emit(out, "response.output_item.added", &body);
        let part = ContentPartBody {
            item_id: &id,
            output_index,
            content_index: 0,
            part: Part::OutputText {
                text: "",
                annotations: [],
            },
        };
        self.em.emit(out, "response.content_part.added", &part);
        Growing {
            id,
            output_index,
            text: String::new(),
        }
    }

    /// `response.failed`. Items shown so far are never closed: nothing half-finished lands in
    /// Codex's history. Returns the Response object when silent (the non-streamed reply).
    pub(super) fn failed(
        &mut self,
        code: &str,
        message: &str,
        out: &mut Vec<u8>,
    ) -> Option<Vec<u8>> {
        let mut resp = response_obj(&self.ctx, "failed");
        resp.error = Some(ErrorObj { code, message });
        terminal(&mut self.em, out, "response.failed", &resp)
    }

    /// Closes every item and writes the terminal event: `output_item.done` for the items shown
    /// while they grew, in `output_index` order; then each call as `output_item.added`
    /// directly followed by its `output_item.done`; then `response.completed`, or
    /// `response.incomplete` when `incomplete` gives a reason. Returns the Response object
    /// when silent.
    pub(super) fn finished(
        &mut self,
        calls: Vec<CallAcc>,
        incomplete: Option<&str>,
        usage: Option<&Usage>,
        out: &mut Vec<u8>,
    ) -> Option<Vec<u8>> {
        let reasoning = self.reasoning.take();
        let message = self.message.take();
        let encrypted = reasoning.as_ref().map(|r| {
            reasoning::encode(
                &self.ctx.opts.provider,
                &self.ctx.opts.upstream_model,
                &r.text,
            )
        });
        let calls: Vec<FinishedCall> = calls.into_iter().map(|c| self.finish_call(c)).collect();

        // Everything the items borrow lives in the locals above.
        let mut items =
            self.grown_items(reasoning.as_ref(), message.as_ref(), encrypted.as_deref());
        let first_call = items.len();
        for c in &calls {
            let output_index = self.next_output_index;
            self.next_output_index += 1;
            items.push((output_index, c.item(&self.ctx.tools)));
        }
        for (n, (output_index, item)) in items.iter().enumerate() {
            let body = ItemBody {
                output_index: *output_index,
                item,
            };
            if n >= first_call {
                self.em.emit(out, "response.output_item.added", &body);
            }
            self.em.emit(out, "response.output_item.done", &body);
        }

        let output: Vec<&Item<'_>> = items.iter().map(|(_, it)| it).collect();
        let (status, event) = match incomplete {
            Some(_) => ("incomplete", "response.incomplete"),
            None => ("completed", "response.completed"),
        };
        let resp = ResponseObj {
            incomplete_details: incomplete.map(|reason| IncompleteDetails { reason }),
            output: &output,
            usage: usage.map(UsageOut::from),
            ..response_obj(&self.ctx, status)
        };
        terminal(&mut self.em, out, event, &resp)
    }

    /// The reasoning and message items in their final form, by output index.
    fn grown_items<'a>(
        &self,
        reasoning: Option<&'a Growing>,
        message: Option<&'a Growing>,
        encrypted: Option<&'a str>,
    ) -> Vec<(u32, Item<'a>)> {
        let mut items = Vec::new();
        if let Some(r) = reasoning {
            let summary = if self.ctx.opts.reasoning_summary {
                vec![Part::SummaryText { text: &r.text }]
            } else {
                Vec::new()
            };
            items.push((
                r.output_index,
                Item::Reasoning {
                    id: &r.id,
                    summary,
                    content: Some(vec![Part::ReasoningText { text: &r.text }]),
                    encrypted_content: encrypted,
                },
            ));
        }
        if let Some(m) = message {
            items.push((
                m.output_index,
                Item::Message {
                    id: &m.id,
                    role: "assistant",
                    status: "completed",
                    content: vec![Part::OutputText {
                        text: &m.text,
                        annotations: [],
                    }],
                },
            ));
        }
        items.sort_by_key(|(i, _)| *i);
        items
    }

    /// Gives a call its item id, call id (the upstream's, else one of ours) and payload.
    fn finish_call(&mut self, c: CallAcc) -> FinishedCall {
        let kind = self
            .ctx
            .tools
            .lookup(&c.name)
            .map_or(ToolKind::Function, |e| e.kind);
        let prefix = match kind {
            ToolKind::Function => "fc",
            ToolKind::Custom => "ctc",
            ToolKind::ToolSearch => "tsc",
        };
        let item_id = self.make_id(prefix);
        let call_id = if c.id.is_empty() {
            self.make_id("call")
        } else {
            c.id
        };
        FinishedCall {
            item_id,
            call_id,
            payload: Payload::new(kind, c.arguments),
            wire_name: c.name,
        }
    }

    fn make_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{}_{}", self.id_suffix, self.next_id)
    }

    fn take_output_index(&mut self) -> u32 {
        let i = self.next_output_index;
        self.next_output_index += 1;
        i
    }
}

/// Writes a terminal event; when silent, returns the Response object instead.
fn terminal(
    em: &mut Emitter,
    out: &mut Vec<u8>,
    event: &'static str,
    resp: &ResponseObj<'_>,
) -> Option<Vec<u8>> {
    em.emit(out, event, &ResponseBody { response: resp });
    em.quiet
        .then(|| serde_json::to_vec(resp).expect("response serialises"))
}

/// What a call carries, by the kind of tool it calls.
enum Payload {
    /// A function's JSON arguments, as a string.
    Arguments(String),
    /// A freeform tool's raw input.
    Input(String),
    /// `tool_search`'s arguments, as an object.
    Object(Value),
}

impl Payload {
    fn new(kind: ToolKind, arguments: String) -> Payload {
        match kind {
            ToolKind::Function => Payload::Arguments(arguments),
            ToolKind::Custom => {
                // The freeform tool was offered as a function taking `{"input": string}`.
                let input = match serde_json::from_str::<Value>(&arguments) {
                    Ok(Value::Object(mut o)) => match o.remove("input") {
                        Some(Value::String(s)) => s,
                        _ => arguments,
                    },
                    _ => arguments,
                };
                Payload::Input(input)
            }
            ToolKind::ToolSearch => Payload::Object(
                serde_json::from_str(&arguments)
                    .unwrap_or_else(|_| Value::Object(Default::default())),
            ),
        }
    }
}

struct FinishedCall {
    item_id: String,
    call_id: String,
    wire_name: String,
    payload: Payload,
}

impl FinishedCall {
    /// The call as a Codex item: the wire name mapped back through the tool table.
    fn item<'a>(&'a self, tools: &'a ToolTable) -> Item<'a> {
        let entry = tools.lookup(&self.wire_name);
        let name = entry.map_or(self.wire_name.as_str(), |e| e.name.as_str());
        match &self.payload {
            Payload::Arguments(arguments) => Item::FunctionCall {
                id: &self.item_id,
                status: "completed",
                call_id: &self.call_id,
                namespace: entry.and_then(|e| e.namespace.as_deref()),
                name,
                arguments,
            },
            Payload::Input(input) => Item::CustomToolCall {
                id: &self.item_id,
                status: "completed",
                call_id: &self.call_id,
                name,
                input,
            },
            Payload::Object(arguments) => Item::ToolSearchCall {
                id: &self.item_id,
                call_id: &self.call_id,
                status: "completed",
                execution: "client",
                arguments,
            },
        }
    }
}
