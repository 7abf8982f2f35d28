//! deepinfra-shim: a loopback daemon between the Codex CLI (OpenAI Responses API) and
//! providers that only speak Chat Completions (DeepInfra and friends).
//!
//! Crate map (who owns what, and one request's path: docs/architecture.md; the wires:
//! docs/protocol.md):
//! - [`translate`]: the pure translation (Responses request -> chat request, chat reply or
//!   chat SSE stream -> Responses object or Responses SSE events, provider refusals -> what
//!   Codex acts on). No I/O, no tokio.
//! - [`config`]: the YAML file as written, the checked runtime [`config::Config`], loading,
//!   precedence (defaults < file < env < flags) and validation.
//! - [`upstream`]: every request to a provider: the HTTP client, URLs, limits, typed replies.
//! - [`server`]: the HTTP front end Codex talks to (routes, handlers, streaming, errors).
//! - [`catalog`]: the Codex model catalog (`model_catalog_json`) and the facts behind it
//!   (`shimctl codex-config --catalog`, `shimctl models`).
//! - [`control`]: the control-socket protocol shared by the daemon and `shimctl`.
//! - [`codex_toml`]: Codex's own config files, edited in place (`shimctl codex-config
//!   --write`) and checked (`shimctl doctor`).
//! - [`service`]: process life: logging, signals, sd-notify, reload, shutdown.
//! - [`metrics`]: what each model does (per-model accounting, `GET /metrics`, `shimctl stats`,
//!   `shimctl capture`), fed one summary per request.
//! - [`redact`]: the secrets in every form they can take in output (plain, JSON-escaped,
//!   percent-encoded, base64), replaced by `***` at every exit; pure, like `translate`.
//! - [`text`]: cutting text to a byte budget on a character boundary, for every bounded
//!   message and label.
#![forbid(unsafe_code)]
// Unit tests may unwrap and sleep: a panic is how a test fails, and they run without a runtime.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::disallowed_methods))]

pub mod catalog;
pub mod codex_toml;
pub mod config;
pub mod control;
pub mod metrics;
pub mod redact;
pub mod server;
pub mod service;
pub mod text;
pub mod translate;
pub mod upstream;

/// The version reported by `/health`, `--version` and `shimctl status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
