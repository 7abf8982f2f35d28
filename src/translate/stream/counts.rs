//! What one reply did with its tools, counted for the daemon's per-model accounting
//! (`shimctl stats`, `/metrics`).
//!
//! Every count is taken where the translator already decides something about the reply, once,
//! at its end (the calls are classified when they are finished, the text is scanned for leaked
//! markup when it is closed): nothing here runs per token. The caller reads [`Counts`] after
//! the terminal event.

use crate::translate::reply::context::Usage;

/// Markup that opens one tool call a provider's parser failed to extract and printed as text
/// (docs/protocol.md#leaked-tool-calls). Kimi's `section_begin` wraps several calls, Qwen's
/// `<function=` sits inside a `<tool_call>`: counting the kind that appears most often gives one
/// per call in every format.
const CALL_OPENERS: &[&str] = &[
    "<|tool_call_begin|>",
    "<tool_call>",
    "<|channel|>commentary to=",
    "<function=",
];

/// The tool-use record of one reply. Each call counts once in [`Counts::tool_calls`] and at
/// most once among the problems, under the worst it had: malformed arguments, then an unknown
/// tool, then repaired arguments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tool calls the model made (every call with a name, kept or not).
    pub tool_calls: u32,
    /// Calls whose arguments were not valid JSON (cut short or garbled): the reply was answered
    /// `incomplete` and no call ran.
    pub malformed_arguments: u32,
    /// Calls naming a tool the request did not offer (arguments fine).
    pub unknown_tools: u32,
    /// Calls we fixed so that Codex could run them: empty arguments sent as `{}`, a freeform
    /// tool's input taken as it came instead of inside `{"input": …}`.
    pub repaired_arguments: u32,
    /// Tool calls the model printed as text (the provider's tool parser failed): not calls for
    /// Codex, counted apart from [`Counts::tool_calls`].
    pub leaked_calls: u32,
    /// The last usable usage the provider reported (tokens as it counted them).
    pub usage: Option<Usage>,
}

impl Counts {
    /// Counts one call under its worst problem, if any.
    pub(super) fn add_call(&mut self, malformed: bool, unknown_tool: bool, repaired: bool) {
        self.tool_calls += 1;
        if malformed {
            self.malformed_arguments += 1;
        } else if unknown_tool {
            self.unknown_tools += 1;
        } else if repaired {
            self.repaired_arguments += 1;
        }
    }

    /// Counts the leaked calls in the texts of a reply.
    pub(super) fn count_leaked(&mut self, texts: &[&str]) {
        let most = CALL_OPENERS
            .iter()
            .map(|m| texts.iter().map(|t| t.matches(m).count()).sum::<usize>())
            .max()
            .unwrap_or(0);
        self.leaked_calls = u32::try_from(most).unwrap_or(u32::MAX);
    }
}

#[cfg(test)]
mod tests;
