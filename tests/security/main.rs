//! The attacks of docs/security.md, each reproduced against the real daemon binary: the test
//! fails if the attack succeeds. One module per threat:
//! - `exits`: a provider (or a careless proxy) echoing the user's secrets back, in every form,
//!   on every endpoint, in logs and in control replies;
//! - `browser`: a web page in the user's browser (DNS rebinding, cross-site POSTs);
//! - `socket`: another local user (a spoofed control socket, a planted symlink);
//! - `bounds`: a client or provider that stalls or floods (bodies, connections, output),
//!   redirects, and reloads that try to weaken the listener.
//!
//! Tests that need two users run as root (as CI does) and drop to scratch uids with
//! `setpriv`; elsewhere they print `SKIPPED` and why. With `CI=true` they never skip.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

#[path = "../common/mod.rs"]
mod common;

mod bounds;
mod browser;
mod exits;
mod socket;
