//! Shared integration-test harness. Each test crate includes it with `mod common;`.
//!
//! - [`mock_upstream`]: a scripted Chat Completions provider on 127.0.0.1:0 (in-process).
//! - [`daemon`]: spawns the real `deepinfra-shim` binary with isolated config/runtime dirs.
//! - [`codex`]: runs the real Codex CLI (`CODEX_BIN`) against a daemon.
//! - [`chat`]: reads the chat requests of a Codex turn and scripts tool loops for the mock.
//! - [`live_flow`]: the live checks (smoke answer, tool round trip) against any daemon.
//!
//! Not every test crate uses every helper, hence the crate-wide `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod chat;
pub mod codex;
pub mod daemon;
pub mod live_flow;
pub mod mock_upstream;

pub use mock_upstream::{ChatTurn, Chunk, End, MockUpstream, Recorded, Reply, ToolCall, Usage};
