//! The payloads of the `stats` and `capture` control requests, shared by the daemon and
//! `shimctl` (`shimctl stats --json` prints [`StatsReport`] as it is). Fields are only ever
//! added, each with a default, like every control payload.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `shimctl stats`: what each model did in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// The window asked for, in seconds.
    pub window_s: u64,
    /// The part of it the daemon was up for (shorter right after a start).
    #[serde(default)]
    pub covered_s: u64,
    #[serde(default)]
    pub uptime_s: u64,
    /// One row per endpoint, model and upstream that had requests in the window, busiest first.
    #[serde(default)]
    pub rows: Vec<StatsRow>,
    /// Every row added up (its `model` and `upstream` are empty).
    #[serde(default)]
    pub total: StatsRow,
    /// Rows with requests but no price known for their model (their cost is null, and the
    /// total's estimate leaves them out).
    #[serde(default)]
    pub unpriced_rows: u64,
}

/// The numbers of one row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsRow {
    /// `responses`, `chat_completions`, `models` or `other`.
    #[serde(default)]
    pub endpoint: String,
    /// The model the client asked for; `other` for names past the label cap.
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub upstream: String,
    /// The model name sent upstream, when it differs from `model`.
    #[serde(default)]
    pub upstream_model: Option<String>,
    pub requests: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub incomplete: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub cancelled: u64,
    /// Requests that were Codex resending after our 429/5xx or failed stream.
    #[serde(default)]
    pub codex_retries: u64,
    /// Failed requests by error code (`rate_limit_exceeded`, `http_502`, …).
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// Time to the upstream's response headers.
    #[serde(default)]
    pub ttfb_ms: Quantiles,
    /// Time to the first token (streamed replies).
    #[serde(default)]
    pub ttft_ms: Quantiles,
    #[serde(default)]
    pub duration_ms: Quantiles,
    /// Output tokens per second after the first token (streamed replies).
    #[serde(default)]
    pub output_tokens_per_s: Quantiles,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub tool_calls: ToolCalls,
    /// Assistant messages sent back upstream with their reasoning.
    #[serde(default)]
    pub reasoning_replayed: u64,
    /// An estimate in US dollars from the provider's list prices; null when it publishes none.
    #[serde(default)]
    pub estimated_cost_usd: Option<f64>,
}

/// The median and 90th percentile of the window's samples (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    #[serde(default)]
    pub samples: u64,
    #[serde(default)]
    pub p50: Option<f64>,
    #[serde(default)]
    pub p90: Option<f64>,
}

/// Tokens as the provider reported them (`input` includes `cached`, `output` includes
/// `reasoning`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(default)]
    pub input: u64,
    #[serde(default)]
    pub cached: u64,
    #[serde(default)]
    pub output: u64,
    #[serde(default)]
    pub reasoning: u64,
    /// Replies that carried usage at all (the others add nothing above).
    #[serde(default)]
    pub replies_with_usage: u64,
}

/// The model's tool use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCalls {
    /// Calls made.
    #[serde(default)]
    pub calls: u64,
    /// Calls whose arguments were not valid JSON.
    #[serde(default)]
    pub malformed: u64,
    /// Calls we repaired (empty arguments, a freeform tool's bare input).
    #[serde(default)]
    pub repaired: u64,
    /// Calls naming a tool that was not offered.
    #[serde(default)]
    pub unknown_tool: u64,
    /// Calls the model printed as text instead of making them.
    #[serde(default)]
    pub leaked: u64,
}

/// What `capture` asks: record the next requests into `dir`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRequest {
    /// Absolute path of the directory to write (created 0700; an existing one must be empty
    /// and ours).
    pub dir: String,
    /// How long to record, in seconds.
    #[serde(default)]
    pub for_s: Option<u64>,
    /// Most requests to record.
    #[serde(default)]
    pub max: Option<u32>,
    /// Only requests for this model (as the client names it, or as sent upstream).
    #[serde(default)]
    pub model: Option<String>,
}

/// What `capture` armed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureReport {
    pub dir: String,
    pub for_s: u64,
    /// When recording stops at the latest, RFC 3339 UTC.
    #[serde(default)]
    pub until: String,
    pub max: u32,
    #[serde(default)]
    pub model: Option<String>,
    /// Largest file written (a longer body is cut, and the cut is marked).
    #[serde(default)]
    pub max_file_bytes: u64,
    /// Most bytes written in all (recording stops there).
    #[serde(default)]
    pub max_total_bytes: u64,
}
