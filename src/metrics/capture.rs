//! `shimctl capture DIR`: recording the next requests as they pass, for a bug report about a
//! model (docs/capture.md).
//!
//! The control request arms a capture and returns at once; from then on each `/v1/responses`
//! request that starts inside the window (and names the model asked for, if any) is recorded:
//! the Responses request Codex sent, the chat request we sent, the provider's raw reply, what
//! we answered, and a `meta.json` (status, outcome, timings, the request's headers). Every
//! file goes through the redactor of the daemon's secrets. Bounds: `--max` requests, a size
//! per file ([`MAX_FILE_BYTES`], the rest cut and marked) and in total ([`MAX_TOTAL_BYTES`]).
//! The capture ends when the window ends, the count or the total is reached, or the daemon
//! stops: it lives in memory only.
//!
//! Off, it costs one relaxed atomic load per request ([`Capture::is_armed`]).

mod tap;
mod write;

pub use self::tap::{Part, Tap};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use self::write::Budget;
use super::report::{CaptureReport, CaptureRequest};
use crate::redact::Redactor;

/// How long a capture records unless told.
pub const DEFAULT_FOR: Duration = Duration::from_secs(60);
/// The longest window a capture may have.
pub const MAX_FOR: Duration = Duration::from_secs(3600);
/// How many requests a capture records unless told.
pub const DEFAULT_MAX: u32 = 10;
/// The most requests one capture may record.
pub const MAX_MAX: u32 = 1000;
/// The largest file a capture writes (a Codex request with images can be several MB).
pub const MAX_FILE_BYTES: usize = 8 << 20;
/// The most one capture writes in all.
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;

#[derive(Debug)]
struct Session {
    dir: PathBuf,
    until: Instant,
    max: u32,
    taken: u32,
    model: Option<String>,
    budget: Arc<Budget>,
}

/// The daemon's capture switch (off unless `shimctl capture` armed it).
#[derive(Debug, Default)]
pub struct Capture {
    armed: AtomicBool,
    session: Mutex<Option<Session>>,
}

impl Capture {
    /// True while a capture may take requests: the only cost of captures on the request path.
    #[inline]
    pub fn is_armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// Arms a capture into `req.dir`. Refused (with the reason, naming the fix) when a capture is
    /// already running or the directory is not one we may fill. The report's `until` is left
    /// for the caller, which owns the clock format.
    pub fn arm(&self, req: &CaptureRequest, now: Instant) -> Result<CaptureReport, String> {
        let window = Duration::from_secs(req.for_s.unwrap_or(DEFAULT_FOR.as_secs()));
        if window.is_zero() || window > MAX_FOR {
            return Err(format!(
                "--for must be between 1 s and {} min",
                MAX_FOR.as_secs() / 60
            ));
        }
        let max = req.max.unwrap_or(DEFAULT_MAX);
        if max == 0 || max > MAX_MAX {
            return Err(format!("--max must be between 1 and {MAX_MAX}"));
        }
        let model = req.model.clone().filter(|m| !m.trim().is_empty());
        let mut session = self.session.lock().expect("capture lock");
        if let Some(s) = session
            .as_ref()
            .filter(|s| now < s.until && s.taken < s.max)
        {
            return Err(format!(
                "a capture into {} is already running ({} of {} requests taken); wait for it to end",
                s.dir.display(),
                s.taken,
                s.max
            ));
        }
        let dir = PathBuf::from(&req.dir);
        prepare_dir(&dir)?;
        *session = Some(Session {
            dir: dir.clone(),
            until: now + window,
            max,
            taken: 0,
            model: model.clone(),
            budget: Arc::new(Budget::new(MAX_TOTAL_BYTES)),
        });
        self.armed.store(true, Ordering::Relaxed);
        tracing::info!(dir = %dir.display(), for_s = window.as_secs(), max, model = model.as_deref(), "Capture armed");
        Ok(CaptureReport {
            dir: dir.display().to_string(),
            for_s: window.as_secs(),
            until: String::new(),
            max,
            model,
            max_file_bytes: MAX_FILE_BYTES as u64,
            max_total_bytes: MAX_TOTAL_BYTES,
        })
    }

    /// A tap for a request that starts now, when a capture wants it. `name` is the request's
    /// id, `model` and `upstream_model` what it asked for and what goes upstream.
    pub fn claim(
        &self,
        id: &str,
        model: &str,
        upstream_model: &str,
        redactor: Redactor,
        now: Instant,
    ) -> Option<Tap> {
        let mut guard = self.session.lock().expect("capture lock");
        let s = guard.as_mut()?;
        if now >= s.until || s.taken >= s.max || s.budget.is_spent() {
            tracing::info!(dir = %s.dir.display(), requests = s.taken, "Capture ended");
            *guard = None;
            self.armed.store(false, Ordering::Relaxed);
            return None;
        }
        if s.model
            .as_deref()
            .is_some_and(|m| m != model && m != upstream_model)
        {
            return None;
        }
        s.taken += 1;
        let tap = Tap::new(
            s.dir.clone(),
            format!("{:03}-{}", s.taken, safe_name(id)),
            redactor,
            Arc::clone(&s.budget),
            MAX_FILE_BYTES,
        );
        if s.taken >= s.max {
            tracing::info!(dir = %s.dir.display(), requests = s.taken, "Capture ended (all requests taken)");
            *guard = None;
            self.armed.store(false, Ordering::Relaxed);
        }
        Some(tap)
    }
}

/// A request id fit for a file name.
fn safe_name(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The capture directory: created 0700 if missing (its parent must exist); an existing one
/// must be a real directory of ours and empty, and is made 0700.
fn prepare_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if !dir.is_absolute() {
        return Err(format!(
            "{}: the capture directory must be an absolute path",
            dir.display()
        ));
    }
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                format!(
                    "cannot create {}: {e} (does its parent directory exist?)",
                    dir.display()
                )
            }),
        Err(e) => Err(format!("{}: {e}", dir.display())),
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "{} is a symbolic link; give the directory itself",
            dir.display()
        )),
        Ok(m) if !m.is_dir() => Err(format!("{} exists and is not a directory", dir.display())),
        Ok(m) => {
            let me = crate::config::load::Env::from_process().uid();
            if me.is_some_and(|me| me != m.uid()) {
                return Err(format!(
                    "{} belongs to uid {}, not to this daemon's user; give a directory of your own",
                    dir.display(),
                    m.uid()
                ));
            }
            let mut entries =
                std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            if entries.next().is_some() {
                return Err(format!(
                    "{} is not empty; give a new or empty directory (a capture never mixes with other files)",
                    dir.display()
                ));
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("cannot make {} private (0700): {e}", dir.display()))
        }
    }
}

#[cfg(test)]
mod tests;
