//! What the daemon tells people about itself at start and in sd-notify `STATUS=`: the config
//! file in use (or how to create one), the control socket, where each upstream's token comes
//! from (the variable's name and whether it is set, never the value), the keys pinned by a
//! flag or variable, and what the file watcher watches.
//!
//! One [`Summary`] feeds both forms: the start-up log event (one event, a field per fact, so
//! journald and JSON logs keep them apart) and the one-line `STATUS=` text.

use super::state::State;
use crate::config::Config;

/// The facts of the start-up summary, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The absolute config path, or `none, built-in defaults (create PATH to configure)`.
    pub config: String,
    pub socket: String,
    /// `default: DEEPINFRA_TOKEN (set), local: LOCAL_KEY (not set)`.
    pub tokens: String,
    /// `upstream.url by --upstream, log.level by DEEPINFRA_CODEX_SHIM_LOG_LEVEL`, or `none`.
    pub pinned: String,
    /// `watching DIR`, `watching ANCESTOR until DIR appears`, `not watching: why`.
    pub watch: String,
}

impl Summary {
    /// The summary of the daemon's current state.
    pub fn of(state: &State) -> Summary {
        let watch = state.watch_state();
        Summary::new(&state.config(), watch.file(), &watch.to_string())
    }

    /// The summary of `config`; `file` is the config file the daemon reads (or would read)
    /// when `config` has none.
    pub fn new(config: &Config, file: Option<&std::path::Path>, watch: &str) -> Summary {
        let config_text = match (&config.config_path, file) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(f)) => format!(
                "none, built-in defaults (create {} to configure)",
                f.display()
            ),
            (None, None) => {
                "none, built-in defaults (no config path: set HOME or pass --config)".to_owned()
            }
        };
        let tokens = config
            .all_upstreams()
            .map(|u| {
                format!(
                    "{}: {} ({})",
                    u.name,
                    u.api_key_env,
                    if u.token.is_some() { "set" } else { "not set" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let pinned = if config.pins.is_empty() {
            "none".to_owned()
        } else {
            config
                .pins
                .iter()
                .map(|p| format!("{} by {}", p.key, p.by.name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Summary {
            config: config_text,
            socket: crate::config::paths::absolute(&config.control_socket)
                .display()
                .to_string(),
            tokens,
            pinned,
            watch: watch.to_owned(),
        }
    }

    /// One line: `config PATH; socket PATH; tokens ...; pinned ...; watching DIR`.
    pub fn one_line(&self) -> String {
        format!(
            "config {}; socket {}; tokens {}; pinned {}; {}",
            self.config, self.socket, self.tokens, self.pinned, self.watch
        )
    }

    /// The start-up block: one info event with a field per fact.
    pub fn log(&self) {
        tracing::info!(
            config = %self.config,
            socket = %self.socket,
            tokens = %self.tokens,
            pinned = %self.pinned,
            watch = %self.watch,
            "Started"
        );
    }
}

/// The one-line text for sd-notify `STATUS=`: requests, the last reload, then the summary.
pub fn status_line(state: &State) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let info = state.reload_info();
    let reload = match (&info.last_error, &info.last_result) {
        (Some(e), _) => format!("last reload refused: {}", e.lines().next().unwrap_or("")),
        (None, Some(r)) => format!("last reload {r}"),
        (None, None) => "config loaded".to_owned(),
    };
    format!(
        "{} requests ({} active, {} failed); {}; {}",
        state.stats.total.load(Relaxed),
        state.stats.active.load(Relaxed),
        state.stats.failed.load(Relaxed),
        reload,
        Summary::of(state).one_line()
    )
}

#[cfg(test)]
mod tests;
