//! The control socket: one protocol shared by the daemon and `shimctl`.
//!
//! - [`protocol`]: the request and reply types (newline-delimited JSON, versioned, fields only
//!   ever added) and the limits both sides respect.
//! - [`server`]: the daemon side: socket setup (0700 directory, 0600 socket, live-daemon check,
//!   stale-socket replacement), bounded connections, request handling.
//! - [`client`]: the `shimctl` side: one request, one reply, errors that say how to start us.
//! - [`check_upstreams`]: the daemon side of `check-upstreams` (each upstream asked with the
//!   daemon's own token).
//! - [`framing`]: reading one capped line; [`trust`]: who may be on the other end (the socket
//!   directory rule, peer credentials).
//! - [`render`], [`codex_config`], [`doctor`], [`smoke`]: what `shimctl` prints (pure where
//!   possible, so the binary only parses arguments, asks, and prints); [`hints`]: the commands
//!   those messages suggest, for the OS at hand.
//! - [`stats`]: the daemon side of `stats` and `capture`; [`render_stats`]: what `shimctl
//!   stats` and `shimctl capture` print.

#[doc(hidden)]
pub mod check;
pub mod check_upstreams;
pub mod client;
pub mod codex_config;
pub mod doctor;
pub mod framing;
pub mod hints;
pub mod protocol;
pub mod render;
pub mod render_stats;
pub mod server;
pub mod smoke;
pub mod stats;
pub mod trust;

pub use client::{Client, CtlError};
pub use protocol::{Reply, Request, RequestLine, StatusReport};
pub use server::{ControlError, ControlServer};
