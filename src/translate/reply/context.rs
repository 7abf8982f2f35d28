//! The values shared by the streamed and the non-streamed reply translation.

use crate::translate::TranslateOptions;
use crate::translate::tools::ToolTable;

/// Everything the reply translation needs about the request it answers.
#[derive(Debug, Clone)]
pub struct ReplyContext {
    /// `resp_…`, made by the server.
    pub response_id: String,
    /// The model name Codex asked for (echoed in the Response object).
    pub requested_model: String,
    /// Unix seconds, from the server's clock (the translation reads no clock).
    pub created_at: u64,
    pub tools: ToolTable,
    pub opts: TranslateOptions,
}

/// How the response ended (for logs, counters and status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InProgress,
    Completed,
    Incomplete { reason: String },
    Failed { code: String, message: String },
}

impl Outcome {
    /// The word logs use for this outcome (`outcome=completed`): the Responses status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::InProgress => "in_progress",
            Outcome::Completed => "completed",
            Outcome::Incomplete { .. } => "incomplete",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// True when Codex got a usable answer (completed, or cut short by a limit).
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Completed | Outcome::Incomplete { .. })
    }
}

/// Token counts in Responses terms (all integers; details default to 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
}
