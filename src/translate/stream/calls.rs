//! Tool calls, accumulated from their fragments (docs/protocol.md#tool-call-fragments).
//!
//! Calls are collected silently and shown only when the upstream finished: Codex ignores
//! argument deltas, and waiting means the item type (from the tool table) and the call id
//! are final when first shown. Arguments are concatenated as raw text.

use std::borrow::Cow;

use serde::de::IgnoredAny;

use super::chunk::{Args, ToolCallDelta, index_of};
use super::counts::Counts;
use crate::translate::tools::{ToolKind, ToolTable};

/// One call being collected.
#[derive(Debug, Default)]
pub(super) struct CallAcc {
    index: Option<u64>,
    /// The upstream id (kept verbatim, e.g. Kimi's `functions.shell:0`); empty if none yet.
    pub(super) id: String,
    /// The wire name the provider called.
    pub(super) name: String,
    pub(super) arguments: String,
}

/// The calls of one reply.
#[derive(Debug, Default)]
pub(super) struct ToolCalls {
    calls: Vec<CallAcc>,
    /// A call was started (stays true once the calls are taken).
    started: bool,
}

impl ToolCalls {
    pub(super) fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub(super) fn any_started(&self) -> bool {
        self.started
    }

    /// Accumulates one `tool_calls[]` fragment (`pos_in_chunk`: its place in the chunk's array).
    /// Which call it belongs to:
    /// - with `index`: the latest call with that index, unless it carries a different
    ///   non-empty id and that call already has a name (Gemini sends every parallel call as
    ///   index 0 with its own id), which starts a new call;
    ///   a call without index that has the same id (or, for a fragment with neither id nor
    ///   name, the last call if it had no index) is continued too;
    /// - without `index` but with an id: the call with that id, or a new one;
    /// - with neither: the last call, except that further elements of the same chunk's
    ///   array are separate calls, and so is a named fragment with arguments after a call
    ///   whose arguments are already complete JSON (Ollama-style whole calls without index
    ///   or id; merging them would give `{"a":1}{"b":2}`).
    pub(super) fn push_fragment(&mut self, frag: ToolCallDelta<'_>, pos_in_chunk: usize) {
        let index = frag.index.as_ref().and_then(index_of);
        let id = frag.id.map(|t| t.0).filter(|s| !s.is_empty());
        let (name, arguments) = match frag.function {
            Some(f) => (f.name.map(|t| t.0).filter(|s| !s.is_empty()), f.arguments),
            None => (None, None),
        };
        let i = self
            .continued(index, id.as_deref(), &name, &arguments, pos_in_chunk)
            .unwrap_or_else(|| {
                self.started = true;
                self.calls.push(CallAcc {
                    index,
                    ..CallAcc::default()
                });
                self.calls.len() - 1
            });
        let call = &mut self.calls[i];
        if call.index.is_none() {
            call.index = index;
        }
        if call.id.is_empty()
            && let Some(id) = id
        {
            call.id = id.into_owned();
        }
        if call.name.is_empty()
            && let Some(name) = name
        {
            call.name = name.into_owned();
        }
        if let Some(a) = arguments {
            call.arguments.push_str(&a.0);
        }
    }

    /// The call a fragment continues (see [`Self::push_fragment`]), or `None` for a new one.
    fn continued(
        &self,
        index: Option<u64>,
        id: Option<&str>,
        name: &Option<Cow<'_, str>>,
        arguments: &Option<Args<'_>>,
        pos_in_chunk: usize,
    ) -> Option<usize> {
        let calls = &self.calls;
        match (index, id) {
            (Some(ix), _) => calls
                .iter()
                .rposition(|c| c.index == Some(ix))
                .filter(|&i| {
                    let c = &calls[i];
                    let other_id = matches!(id, Some(new) if !c.id.is_empty() && c.id != new);
                    !other_id || c.name.is_empty()
                })
                .or_else(|| match id {
                    // A call opened without an index, continued with one.
                    Some(new) => calls.iter().rposition(|c| c.id == new),
                    None => (name.is_none() && calls.last().is_some_and(|c| c.index.is_none()))
                        .then(|| calls.len() - 1),
                }),
            (None, Some(new)) => calls.iter().rposition(|c| c.id == new),
            (None, None) => match calls.last() {
                Some(last) if pos_in_chunk == 0 && !starts_new_call(last, name, arguments) => {
                    Some(calls.len() - 1)
                }
                _ => None,
            },
        }
    }

    /// Takes the calls at the end of the reply: nameless calls dropped, empty arguments made
    /// `{}`. The flag is true when some call's arguments are cut (not JSON), as when a
    /// provider reports a call cut by `max_tokens` as `tool_calls`. What each call needed is
    /// added to `counts`.
    pub(super) fn finish(
        &mut self,
        tools: &ToolTable,
        counts: &mut Counts,
    ) -> (Vec<CallAcc>, bool) {
        let mut calls = std::mem::take(&mut self.calls);
        calls.retain(|c| {
            if c.name.is_empty() {
                tracing::warn!(call_id = %c.id, "Dropping an upstream tool call that has no name");
            }
            !c.name.is_empty()
        });
        let mut cut = false;
        for c in &mut calls {
            let entry = tools.lookup(&c.name);
            let custom = entry.is_some_and(|e| e.kind == ToolKind::Custom);
            let mut malformed = false;
            let mut repaired = false;
            if c.arguments.trim().is_empty() {
                c.arguments = "{}".to_owned();
                repaired = true;
            } else if serde_json::from_str::<IgnoredAny>(&c.arguments).is_err() {
                // A freeform tool may get its raw input instead of `{"input": …}`; only
                // something that started as a JSON object and does not parse is truncated.
                if !custom || c.arguments.trim_start().starts_with('{') {
                    cut = true;
                    malformed = true;
                } else {
                    repaired = true;
                }
            } else if custom && !wraps_input(&c.arguments) {
                // Valid JSON that is not `{"input": "…"}` reaches the tool as its raw text.
                repaired = true;
            }
            counts.add_call(malformed, entry.is_none(), repaired);
        }
        (calls, cut)
    }
}

/// Whether an index-less, id-less fragment begins a new call rather than continuing `last`.
/// Providers that repeat the name on every fragment keep continuing while the arguments are
/// incomplete, and a trailing fragment with no arguments never opens an empty call.
fn starts_new_call(
    last: &CallAcc,
    name: &Option<Cow<'_, str>>,
    arguments: &Option<Args<'_>>,
) -> bool {
    let Some(name) = name else {
        return false;
    };
    if last.name.is_empty() {
        return false;
    }
    let has_args = arguments.as_ref().is_some_and(|a| !a.0.is_empty());
    let last_empty = last.arguments.trim().is_empty();
    let complete = last_empty || serde_json::from_str::<IgnoredAny>(&last.arguments).is_ok();
    complete && (**name != *last.name || (has_args && !last_empty))
}

/// `{"input": "<string>"}`: how a freeform tool's call should arrive (it was offered as a
/// function taking that one argument). Only run for freeform tools, once per call.
fn wraps_input(arguments: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Wrapped<'a> {
        #[serde(borrow)]
        input: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Wrapped<'_>>(arguments).is_ok_and(|w| w.input.is_some())
}
