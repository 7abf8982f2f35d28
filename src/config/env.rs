//! A snapshot of the process environment ([`Env`]), taken once at startup.
//!
//! The daemon never modifies its environment and a reload never re-reads it: flags and
//! variables are those of the start, so what they pin stays pinned. Empty variables count as
//! unset wherever a setting is read ([`Env::non_empty`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::cli::env as var;

/// A snapshot of the process environment (plus the two process facts loading needs: the uid,
/// for the default socket path, and stderr's device/inode, to recognise the journal).
/// `Debug` shows no values: the environment holds tokens.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    uid: Option<u32>,
    stderr_id: Option<(u64, u64)>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("vars", &self.vars.len())
            .field("uid", &self.uid)
            .field("stderr_id", &self.stderr_id)
            .finish()
    }
}

impl Env {
    /// Reads the environment once (call at startup). Variables that are not UTF-8 are skipped.
    pub fn from_process() -> Env {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let mut env = Env {
            vars,
            uid: None,
            stderr_id: None,
        };
        env.uid = proc_status_uid()
            .or_else(|| env.get("UID").and_then(|u| u.trim().parse().ok()))
            .or_else(|| env.get("HOME").and_then(|h| owner_uid(Path::new(h))));
        if env.get("JOURNAL_STREAM").is_some() {
            env.stderr_id = ["/proc/self/fd/2", "/dev/stderr"]
                .iter()
                .find_map(|p| file_id(Path::new(p)));
        }
        env
    }

    /// An environment made of the given pairs (tests, `shimctl`).
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            uid: None,
            stderr_id: None,
        }
    }

    /// Sets the uid (otherwise taken from `UID`).
    pub fn with_uid(mut self, uid: u32) -> Env {
        self.uid = Some(uid);
        self
    }

    /// Sets stderr's (device, inode), compared with `JOURNAL_STREAM`.
    pub fn with_stderr_id(mut self, dev: u64, ino: u64) -> Env {
        self.stderr_id = Some((dev, ino));
        self
    }

    /// The same environment without any `DEEPINFRA_CODEX_SHIM_*` variable (to check a file on
    /// its own, as `shimctl check-config PATH` does).
    pub fn without_shim_vars(&self) -> Env {
        let mut e = self.clone();
        e.vars.retain(|k, _| !k.starts_with(var::PREFIX));
        e
    }

    /// A variable's value, empty included.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A variable's value when set and not blank.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    pub fn uid(&self) -> Option<u32> {
        self.uid
            .or_else(|| self.get("UID").and_then(|u| u.trim().parse().ok()))
    }

    /// True when `JOURNAL_STREAM` (`dev:ino`) names stderr: systemd connected it to the journal.
    pub fn stderr_is_journal(&self) -> bool {
        let Some((dev, ino)) = self.get("JOURNAL_STREAM").and_then(|s| s.split_once(':')) else {
            return false;
        };
        match (
            dev.trim().parse::<u64>(),
            ino.trim().parse::<u64>(),
            self.stderr_id,
        ) {
            (Ok(d), Ok(i), Some(id)) => id == (d, i),
            _ => false,
        }
    }
}

/// The real uid from `/proc/self/status` (Linux).
fn proc_status_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line["Uid:".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(unix)]
fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn owner_uid(_: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<(u64, u64)> {
    None
}
