//! Where things live: the config file, the control socket, and whether the config file is
//! safe from other users.
//!
//! The config file is `--config` / `DEEPINFRA_CODEX_SHIM_CONFIG`, else
//! `$XDG_CONFIG_HOME/deepinfra-shim/config.yaml` (`$HOME/.config/...` when unset or not
//! absolute). Paths are made absolute once, here, so logs, `status` and the watcher all name
//! the same file however the daemon was started.
//!
//! The control socket is `--control-socket` / `DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET`, else
//! `$XDG_RUNTIME_DIR/deepinfra-shim/control.sock`, else
//! `${TMPDIR:-/tmp}/deepinfra-shim-$UID/control.sock`.

use std::path::{Path, PathBuf};

use super::cli::{Cli, env as var};
use super::env::Env;

/// `$XDG_CONFIG_HOME/deepinfra-shim/config.yaml`, else `$HOME/.config/deepinfra-shim/config.yaml`.
pub fn default_config_path(env: &Env) -> Option<PathBuf> {
    let base = match env
        .non_empty("XDG_CONFIG_HOME")
        .filter(|d| d.starts_with('/'))
    {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env.non_empty("HOME")?).join(".config"),
    };
    Some(base.join("deepinfra-shim").join("config.yaml"))
}

/// The config file to read (or watch), absolute, and what named it explicitly (None: the
/// default path, which may be missing).
pub fn config_path(cli: &Cli, env: &Env) -> (Option<PathBuf>, Option<&'static str>) {
    if let Some(p) = &cli.config {
        return (Some(absolute(Path::new(p))), Some("--config"));
    }
    if let Some(p) = env.non_empty(var::CONFIG) {
        return (Some(absolute(Path::new(p))), Some(var::CONFIG));
    }
    (default_config_path(env).map(|p| absolute(&p)), None)
}

/// `path` made absolute against the working directory (not resolving symlinks: the file the
/// user named is the one watched). Unchanged when the working directory is unknown.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// `$XDG_RUNTIME_DIR/deepinfra-shim/control.sock`, else
/// `${TMPDIR:-/tmp}/deepinfra-shim-$UID/control.sock`.
pub fn default_control_socket(env: &Env) -> PathBuf {
    if let Some(d) = env.non_empty("XDG_RUNTIME_DIR") {
        return PathBuf::from(d).join("deepinfra-shim").join("control.sock");
    }
    let tmp = env.non_empty("TMPDIR").unwrap_or("/tmp");
    let dir = match env.uid() {
        Some(uid) => format!("deepinfra-shim-{uid}"),
        None => "deepinfra-shim".to_owned(),
    };
    PathBuf::from(tmp).join(dir).join("control.sock")
}

/// The control socket for a given `--control-socket`/`--socket` flag: flag >
/// `DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET` > default (what `shimctl` uses).
pub fn control_socket_path(flag: Option<&str>, env: &Env) -> PathBuf {
    flag.map(PathBuf::from)
        .or_else(|| env.non_empty(var::CONTROL_SOCKET).map(PathBuf::from))
        .unwrap_or_else(|| default_control_socket(env))
}

/// Longest Unix socket path (sun_path: 104 bytes on macOS, 108 on Linux, NUL included).
pub const MAX_SOCKET_PATH: usize = if cfg!(target_os = "linux") { 107 } else { 103 };

/// A control socket path: not empty, and short enough for a Unix socket.
pub fn check_socket_path(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        return Err("expected a socket path, got ''".to_owned());
    }
    if s.len() > MAX_SOCKET_PATH {
        return Err(format!(
            "socket path is {} bytes long; Unix sockets allow at most {MAX_SOCKET_PATH}: '{s}'",
            s.len()
        ));
    }
    Ok(PathBuf::from(s))
}

/// A warning when the config file, or the directory holding it, can be written by the group
/// or by other users: whoever can write it decides where the daemon sends the provider token
/// (and the daemon reloads it on every change). None when it is private, or missing.
pub fn permission_warning(path: &Path) -> Option<String> {
    let file = group_or_other_writable(path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let (what, at, mode) = match (file, dir.and_then(group_or_other_writable)) {
        (Some(mode), _) => ("the config file", path.to_owned(), mode),
        (None, Some(Some(mode))) => ("the directory of the config file", dir?.to_owned(), mode),
        _ => return None,
    };
    Some(format!(
        "{what} {} is writable by other users (mode {mode:04o}); whoever can write it decides \
         where your provider token is sent: run chmod go-w {}",
        at.display(),
        at.display()
    ))
}

/// Logs [`permission_warning`] for `path` as a WARN line: the daemon does so at start and at
/// every reload, since a file others can write is re-read whenever they change it.
pub fn log_permission_warning(path: Option<&Path>) {
    if let Some((p, w)) = path.and_then(|p| Some((p, permission_warning(p)?))) {
        tracing::warn!(path = %p.display(), "Config file not private: {w}");
    }
}

/// Some(Some(mode)) when writable by group or other, Some(None) when not, None when it
/// cannot be examined (missing file, or not a Unix system).
#[cfg(unix)]
fn group_or_other_writable(path: &Path) -> Option<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    Some((mode & 0o022 != 0).then_some(mode))
}

#[cfg(not(unix))]
fn group_or_other_writable(_: &Path) -> Option<Option<u32>> {
    None
}

#[cfg(test)]
mod tests;
