//! Loading: the entry points that turn the command line, the environment snapshot and the
//! config file into a checked [`Config`]: at start ([`load`]), on reload ([`plan_reload`],
//! [`plan_reload_from`], [`reload`]) and to check a file ([`check_file`]).
//!
//! Data flow: [`Env`] + [`Cli`] + the file's text -> [`file::read`] (the values of known keys,
//! unknown keys refused) -> [`Layers`] (flag > env > file > default, pins) -> [`validate`] ->
//! [`Config`], or every problem at once ([`LoadError::Invalid`]).
//!
//! A missing default file means built-in defaults; a missing explicit file is an error; on
//! reload a file that disappeared ([`LoadError::Vanished`]) or is empty ([`LoadError::Empty`])
//! is refused and the running configuration stays. At start an empty file means defaults.
//!
//! Items that moved to their own modules are re-exported here under their old paths.

use std::path::{Path, PathBuf};

use super::cli::Cli;
use super::diff;
use super::file;
use super::layers::{FileText, Layers};
use super::model::Config;
use super::paths::absolute;
use super::validate::validate;

pub use super::diff::{ReloadPlan, ReloadReport, diff};
pub use super::env::Env;
pub use super::error::{LoadError, Problem};
pub use super::paths::{
    config_path, control_socket_path, default_config_path, default_control_socket,
};
pub use super::read::{read_stable, read_text};

/// The effective configuration at startup.
pub fn load(cli: &Cli, env: &Env) -> Result<Config, LoadError> {
    let (path, origin) = config_path(cli, env);
    let file = match path {
        None => None,
        Some(path) => match read_text(&path, origin) {
            Ok(text) => Some(FileText { path, text }),
            // Only the default path may be missing: it means built-in defaults.
            Err(LoadError::MissingFile { origin: None, .. }) => None,
            Err(e) => return Err(e),
        },
    };
    from_file(cli, env, file)
}

/// Validates a file on its own (`shimctl check-config PATH`): flags and
/// `DEEPINFRA_CODEX_SHIM_*` variables are ignored, other variables (tokens, client keys) are
/// used. The path is made absolute; a missing file is an error naming just the file.
pub fn check_file(path: &Path, env: &Env) -> Result<Config, LoadError> {
    let path = absolute(path);
    let text = read_text(&path, None)?;
    from_file(
        &Cli::default(),
        &env.without_shim_vars(),
        Some(FileText { path, text }),
    )
}

/// A reload (file watch, SIGHUP, `shimctl reload`), reading the file once: the configuration
/// to swap in and what it changes. Flags and env vars are those of the start (the environment
/// cannot change), so pinned values stay as they were.
pub fn plan_reload(running: &Config, cli: &Cli, env: &Env) -> Result<ReloadPlan, LoadError> {
    let read = match config_path(cli, env) {
        (Some(path), origin) => read_text(&path, origin),
        (None, _) => Ok(String::new()),
    };
    plan_reload_from(running, cli, env, read)
}

/// [`plan_reload`] with the file's text as the caller read it (from [`read_stable`], at the
/// path [`config_path`] gives). A deleted file is [`LoadError::Vanished`], an empty one
/// [`LoadError::Empty`]; a default file that appeared since the start is read.
pub fn plan_reload_from(
    running: &Config,
    cli: &Cli,
    env: &Env,
    read: Result<String, LoadError>,
) -> Result<ReloadPlan, LoadError> {
    let (path, origin) = config_path(cli, env);
    let file = match (path, read) {
        (None, _) => None,
        (Some(path), Ok(text)) if text.trim().is_empty() => {
            return Err(LoadError::Empty { path });
        }
        (Some(path), Ok(text)) => Some(FileText { path, text }),
        (Some(path), Err(LoadError::MissingFile { .. })) => {
            if running.config_path.as_deref() == Some(path.as_path()) {
                return Err(LoadError::Vanished { path });
            }
            if origin.is_some() {
                return Err(LoadError::MissingFile { path, origin });
            }
            None
        }
        (Some(_), Err(e)) => return Err(e),
    };
    let requested = from_file(cli, env, file)?;
    Ok(diff::plan(running, requested))
}

/// The configuration after a reload ([`plan_reload`] without the report).
pub fn reload(previous: &Config, cli: &Cli, env: &Env) -> Result<Config, LoadError> {
    plan_reload(previous, cli, env).map(|p| p.config)
}

fn from_file(cli: &Cli, env: &Env, file: Option<FileText>) -> Result<Config, LoadError> {
    let (values, misplaced) = match &file {
        // Blank text has no keys (a file of only spaces and tabs is not a YAML error).
        Some(ft) if ft.text.trim().is_empty() => Default::default(),
        Some(ft) => file::read(&ft.text).map_err(|e| LoadError::Parse {
            path: ft.path.clone(),
            line: e.line,
            message: e.message,
        })?,
        None => Default::default(),
    };
    let config_path: Option<PathBuf> = file.as_ref().map(|f| f.path.clone());
    let layers = Layers::new(cli, env, file.as_ref(), &values, misplaced);
    validate(layers, config_path).map_err(|problems| LoadError::Invalid { problems })
}

#[cfg(test)]
mod tests;
