//! Reloading the configuration: the events the daemon's main loop reacts to, and the reload
//! itself (re-read the file with the flags and environment of the start, validate, swap, or
//! keep the old configuration and say why).
//!
//! Every trigger (SIGHUP, the file watcher, `shimctl reload`) sends an [`Event::Reload`] to the
//! main loop, so reloads never run concurrently and their results are reported in one place.

use tokio::sync::oneshot;

use super::notify;
use super::state::State;
use crate::config::cli::Cli;
use crate::config::load::{self, Env};

/// Events the main loop reacts to.
pub enum Event {
    Stop(&'static str),
    Reload {
        source: &'static str,
        reply: Option<oneshot::Sender<ReloadOutcome>>,
    },
}

/// The result of one reload, as reported to `shimctl reload`.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// The new configuration is in force; what changed, one line each.
    Applied { changes: Vec<String> },
    /// The old configuration stays: why (the whole text), and every problem, one line each.
    Refused {
        reason: String,
        reasons: Vec<String>,
    },
}

/// Parse -> validate -> swap, or keep the old config and say why. `cli` and `env` are the
/// daemon's own (flags and environment stay pinned; only the file is read again).
pub fn reload(state: &State, cli: &Cli, env: &Env, source: &str) -> ReloadOutcome {
    notify::reloading();
    let old = state.config();
    let outcome = match load::reload(&old, cli, env) {
        Ok(new) => {
            let changes = load::diff(&old, &new);
            if new.log.level != old.log.level
                && let Err(e) = state.log.set_level(&new.log.level)
            {
                tracing::warn!(error = %e, "Log level from the new config refused");
            }
            state.swap_config(new);
            let summary = if changes.is_empty() {
                "applied (no changes)".to_owned()
            } else {
                format!("applied ({} changes)", changes.len())
            };
            state.record_reload(Ok(summary));
            tracing::info!(source, changes = %changes.join("; "), "Configuration reloaded");
            ReloadOutcome::Applied { changes }
        }
        Err(e) => {
            let reason = e.to_string();
            tracing::warn!(source, reason = %reason, "Configuration reload refused; keeping the current configuration");
            state.record_reload(Err(reason.clone()));
            // One entry per line, even where one problem's text spans several.
            let reasons = e
                .lines()
                .iter()
                .flat_map(|l| l.lines())
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
            ReloadOutcome::Refused { reason, reasons }
        }
    };
    notify::ready(&state.status_line());
    outcome
}
