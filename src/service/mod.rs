//! Process life: logging, the shared state, signals, sd-notify, reload and shutdown.
//!
//! [`run()`] is the daemon after argument parsing: bind, serve, tell the service manager we are
//! ready, then react to signals and reload requests ([`reload`]) until asked to stop, then
//! drain.

pub mod logging;
pub mod notify;
pub mod reload;
pub mod run;
pub mod signals;
pub mod state;
pub mod summary;
pub mod watch;

pub use run::run;
