//! Reloading the configuration: the events the daemon's main loop reacts to, and the reload
//! itself (re-read the file with the flags and environment of the start, validate, swap, or
//! keep the old configuration and say why).
//!
//! Every trigger (SIGHUP, the file watcher, `shimctl reload`) sends an [`Event::Reload`] to the
//! main loop, so reloads never run concurrently and their results are reported in one place.
//! A dry run (`shimctl reload --dry-run`, `shimctl check-config --diff`) is an [`Event::Plan`]
//! on the same loop: the same read and the same plan as a reload, against the configuration in
//! force, with nothing applied.
//!
//! The file is read with [`read_stable`]: two reads [`STABLE_QUIET`] apart must agree, so a
//! file caught in the middle of being rewritten is never applied; an empty file is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;

use super::notify;
use super::state::State;
use super::summary;
use crate::config::cli::Cli;
use crate::config::load::{self, Env};
use crate::config::{LoadError, ReloadPlan, ReloadReport, read_stable};

/// How long the file must stay the same between the two reads of a reload.
pub const STABLE_QUIET: Duration = Duration::from_millis(25);

/// Events the main loop reacts to.
pub enum Event {
    Stop(&'static str),
    Reload {
        source: &'static str,
        reply: Option<oneshot::Sender<ReloadOutcome>>,
    },
    /// What a reload would do now, nothing applied. `file`: plan as if the config file were
    /// this one (absolute) instead of the daemon's own.
    Plan {
        file: Option<PathBuf>,
        reply: oneshot::Sender<ReloadOutcome>,
    },
}

/// The result of one reload or dry run.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// The new configuration is in force: what it changed, and its generation.
    Applied {
        report: ReloadReport,
        generation: u64,
        config_path: Option<PathBuf>,
    },
    /// A dry run of a valid file: what a reload would change (nothing was applied).
    Planned {
        report: ReloadReport,
        config_path: Option<PathBuf>,
    },
    /// The old configuration stays (or, for a dry run, would stay): why (the whole text), and
    /// every problem, one line each.
    Refused {
        reason: String,
        reasons: Vec<String>,
        config_path: Option<PathBuf>,
    },
}

/// Read -> parse -> validate -> swap, or keep the old config and say why. `cli` and `env` are
/// the daemon's own (flags and environment stay pinned; only the file is read again).
pub async fn reload(state: &State, cli: &Cli, env: &Env, source: &'static str) -> ReloadOutcome {
    notify::reloading();
    crate::config::paths::log_permission_warning(load::config_path(cli, env).0.as_deref());
    let outcome = match plan(state, cli, env, None).await {
        Ok(plan) => apply(state, plan, source),
        Err(e) => {
            let path = load::config_path(cli, env).0;
            let (reason, reasons) = explain(&e);
            tracing::warn!(source, reason = %reason, "Configuration reload refused; keeping the current configuration");
            state.record_refused(source, path.clone(), reason.clone(), reasons.clone());
            ReloadOutcome::Refused {
                reason,
                reasons,
                config_path: path,
            }
        }
    };
    notify::ready(&summary::status_line(state));
    outcome
}

/// What a reload would do now (or, with `file`, a reload of that file), nothing applied.
pub async fn dry_run(state: &State, cli: &Cli, env: &Env, file: Option<&Path>) -> ReloadOutcome {
    match plan(state, cli, env, file).await {
        Ok(plan) => ReloadOutcome::Planned {
            config_path: plan.config.config_path.clone(),
            report: plan.report,
        },
        Err(e) => {
            let (reason, reasons) = explain(&e);
            ReloadOutcome::Refused {
                reason,
                reasons,
                config_path: file
                    .map(Path::to_path_buf)
                    .or_else(|| load::config_path(cli, env).0),
            }
        }
    }
}

/// The one plan both a reload and a dry run use: a stable read of the file, then
/// [`load::plan_reload_from`] against the configuration in force.
async fn plan(
    state: &State,
    cli: &Cli,
    env: &Env,
    file: Option<&Path>,
) -> Result<ReloadPlan, LoadError> {
    let running = state.config();
    match file {
        None => {
            let read = match load::config_path(cli, env).0 {
                Some(path) => read_stable(&path, STABLE_QUIET).await,
                None => Ok(String::new()),
            };
            load::plan_reload_from(&running, cli, env, read)
        }
        Some(path) => {
            // Another file is read as if `--config` named it, with the daemon's other flags
            // and environment, so it is checked exactly as a reload of it would be.
            let read = read_stable(path, STABLE_QUIET).await;
            if let Err(LoadError::MissingFile { .. }) = read {
                return Err(LoadError::MissingFile {
                    path: path.to_owned(),
                    origin: None,
                });
            }
            let cli = Cli {
                config: Some(path.display().to_string()),
                ..cli.clone()
            };
            load::plan_reload_from(&running, &cli, env, read)
        }
    }
}

fn apply(state: &State, plan: ReloadPlan, source: &'static str) -> ReloadOutcome {
    let ReloadPlan { config, report } = plan;
    let old = state.config();
    if config.log.level != old.log.level
        && let Err(e) = state.log.set_level(&config.log.level)
    {
        tracing::warn!(error = %e, "Log level from the new config refused");
    }
    let config_path = config.config_path.clone();
    state.swap_config(config);
    let generation = state.record_applied(source, config_path.clone(), &report, summary(&report));
    log_applied(source, generation, &report);
    ReloadOutcome::Applied {
        report,
        generation,
        config_path,
    }
}

/// One info line: `Configuration reloaded: no changes`, or the changes, the keys waiting for
/// a restart and the pinned keys whose file value was ignored, each field only when it has
/// something to say.
fn log_applied(source: &'static str, generation: u64, r: &ReloadReport) {
    let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join("; "));
    let changes = join(r.changed.iter().map(ToString::to_string).collect());
    let restart = join(r.restart.iter().map(ToString::to_string).collect());
    let pinned = join(pin_lines(r));
    if changes.is_none() && restart.is_none() {
        tracing::info!(
            source,
            generation,
            pinned,
            "Configuration reloaded: no changes"
        );
    } else {
        tracing::info!(
            source,
            generation,
            changes,
            waiting_for_restart = restart,
            pinned,
            "Configuration reloaded"
        );
    }
}

/// The report in one line: `no changes` when nothing is applied and nothing waits for a
/// restart (followed by the pins that hid a file value, if any), else every entry joined with
/// `; `.
pub fn summary(r: &ReloadReport) -> String {
    if r.changed.is_empty() && r.restart.is_empty() {
        std::iter::once("no changes".to_owned())
            .chain(pin_lines(r))
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        r.lines().join("; ")
    }
}

/// The report's lines about pinned keys (the last of [`ReloadReport::lines`]).
pub fn pin_lines(r: &ReloadReport) -> Vec<String> {
    let skip = r.changed.len() + r.restart.len();
    r.lines().into_iter().skip(skip).collect()
}

/// The whole reason, and one entry per line even where one problem's text spans several.
fn explain(e: &LoadError) -> (String, Vec<String>) {
    let reasons = e
        .lines()
        .iter()
        .flat_map(|l| l.lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    (e.to_string(), reasons)
}
