//! The control socket: one protocol shared by the daemon and `shimctl`.
//!
//! - [`protocol`]: the request and reply types (newline-delimited JSON, versioned, fields only
//!   ever added) and the limits both sides respect.
//! - [`server`]: the daemon side: socket setup (0700 directory, 0600 socket, live-daemon check,
//!   stale-socket replacement), bounded connections, request handling.
//! - [`client`]: the `shimctl` side: one request, one reply, errors that say how to start us.
//! - [`framing`]: reading one capped line.
//! - [`stats`]: the daemon side of `stats` and `capture`; [`render_stats`]: what `shimctl
//!   stats` and `shimctl capture` print.
//! - [`render`], [`codex_config`], [`doctor`]: what `shimctl` prints (pure where possible, so the
//!   binary only parses arguments, asks, and prints).

pub mod client;
pub mod codex_config;
pub mod doctor;
pub mod framing;
pub mod protocol;
pub mod render;
pub mod render_stats;
pub mod server;
pub mod stats;

pub use client::{Client, CtlError};
pub use protocol::{Reply, Request, RequestLine, StatusReport};
pub use server::{ControlError, ControlServer};
