//! Configuration: the command line ([`cli::Cli`]), the environment snapshot ([`env::Env`]),
//! the YAML file, and the checked runtime value ([`Config`]) the rest of the daemon reads.
//! Effective configuration = built-in defaults < file < env < flags.
//!
//! Every key is declared once, in [`keys`]; the rest is derived from it:
//!
//! - [`file`]: the file's text -> the values of known keys (unknown keys refused, with line).
//! - [`layers`]: flag > env > file > default for each key, what pins it, every problem.
//! - [`validate`]: the rules that span several keys -> [`Config`] or every problem.
//! - [`diff`]: what a reload changes, what waits for a restart, which pins hid a file value.
//! - [`load`]: the entry points (start, reload, check a file); [`read`]: reading the file
//!   (twice, until stable, on reload); [`paths`]: where the file and the socket live.
//! - [`kinds`] and [`rules`]: how one value is read and checked; [`lines`]: where a key is in
//!   the text; [`docs`]: the key table of docs/configuration.md; [`model`]: the runtime types.
//!
//! A running daemon holds `Arc<Config>` snapshots: each request loads the current snapshot once
//! and keeps it until it ends, so a reload never changes a request in flight.

#[doc(hidden)]
pub mod check;
pub mod cli;
pub mod diff;
pub mod docs;
pub mod env;
pub mod error;
pub mod file;
pub mod keys;
pub mod kinds;
pub mod layers;
pub mod lines;
pub mod load;
pub mod model;
pub mod paths;
pub mod read;
pub mod rules;
pub mod validate;

pub use diff::{ReloadPlan, ReloadReport};
pub use error::{LoadError, Problem};
pub use load::{check_file, load, plan_reload, plan_reload_from, reload};
pub use model::{
    Change, Compat, Config, DEFAULT_UPSTREAM, Limits, Listen, LogFormat, LogSettings, Pin,
    PinSource, Resolved, Route, Routes, Secret, Upstream,
};
pub use read::read_stable;

#[cfg(test)]
mod testutil;
