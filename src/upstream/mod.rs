//! Everything the project sends to a chat-completions provider, and everything it reads
//! back: the one HTTP client ([`UpstreamClient`]), the URLs, the time limits and size caps
//! ([`limits`]), credentials on the wire, and what comes back, typed:
//!
//! - [`UpstreamClient::chat`] (the translated `/v1/responses` request) answers one
//!   [`ChatReply`]: a whole JSON reply, a stream ([`UpstreamStream`]), or a classified
//!   provider refusal;
//! - [`UpstreamClient::relay_chat`] / [`UpstreamClient::relay_models`] (the passthrough
//!   endpoints) answer a [`Relayed`] reply;
//! - [`UpstreamClient::fetch_list`] and [`UpstreamClient::probe_models`] serve the catalog;
//!   [`UpstreamClient::probe_token`] is the daemon's token check for `shimctl doctor`.
//!
//! Anything else is an [`UpstreamError`], which records its [`Side`] and whether a retry may
//! help. Callers never see reqwest.

mod body;
mod chat;
mod client;
mod error;
pub mod limits;
mod models;
mod probe;
mod relay;

pub use body::UpstreamStream;
pub use chat::ChatReply;
pub use client::UpstreamClient;
pub use error::{Side, UpstreamError};
pub use models::models_url;
pub use probe::{PROBE_PROMPT, TokenProbe, probe_body};
pub use relay::Relayed;
