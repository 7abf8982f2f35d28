//! Watches the config file and asks the main loop to reload when it changes, for the daemon's
//! whole life, whether or not the file or its directory exist yet.
//!
//! - We watch the file's *directory*, not the file: editors save by writing a temp file and
//!   renaming it over the original, which replaces the inode a file watch would follow.
//! - While the directory does not exist (the usual case after a fresh install:
//!   `~/.config/deepinfra-shim/` is missing), we watch its nearest existing ancestor and move
//!   down as directories appear, and back up when one is removed. Each move is checked again
//!   after the watch is armed, so a directory created meanwhile is not missed, and a directory
//!   removed and created again (a new inode under the same name) is watched anew. A slow
//!   re-check ([`RECHECK`]) catches whatever the kernel did not report, and retries a watcher
//!   that could not start.
//! - Events for the file are gathered into bursts: a reload is asked for [`QUIET`] after the
//!   last event, and at the latest [`MAX_DELAY`] after the first, so steady rewrites cannot
//!   starve it. One reload from here is in flight at a time; events that arrive meanwhile
//!   start the next burst, so the last write always wins.
//!
//! [`WatchState`] in the shared state says what is watched, for `status` and the start-up
//! summary.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::reload::{Event, ReloadOutcome};
use super::state::{State, WatchState};

/// Quiet time after the last event of a burst before we reload.
pub const QUIET: Duration = Duration::from_millis(150);

/// Longest wait from the first event of a burst to its reload, however many events follow.
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// How often the watched directory is checked against the file system without an event.
pub const RECHECK: Duration = Duration::from_secs(5);

/// Keeps the watcher alive; dropping it stops watching.
pub struct Watcher {
    task: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Starts watching for `file` (the config file the daemon reads, absolute; None: there is no
/// path to watch). The first arming happens before this returns, so the watch state is known
/// to the start-up summary.
pub fn spawn(
    file: Option<PathBuf>,
    events: mpsc::UnboundedSender<Event>,
    state: Arc<State>,
) -> Watcher {
    let Some(file) = file else {
        state.set_watch_state(WatchState::Off {
            file: None,
            reason: "no config file path (HOME is not set and no --config was given)".to_owned(),
        });
        return Watcher { task: None };
    };
    let (raw_tx, raw_rx) = mpsc::unbounded_channel();
    let mut arming = Arming::new(file, raw_tx);
    arming.rearm(&state);
    // A file created between loading the config and arming the watch is a change too.
    let pending = (arming.file.is_file() && state.config().config_path.is_none())
        .then(|| Burst::new(Instant::now()));
    let task = tokio::spawn(run(arming, raw_rx, events, state, pending));
    Watcher { task: Some(task) }
}

/// Events of one burst: when the first and the last arrived.
#[derive(Debug, Clone, Copy)]
struct Burst {
    first: Instant,
    last: Instant,
}

impl Burst {
    fn new(at: Instant) -> Burst {
        Burst {
            first: at,
            last: at,
        }
    }

    /// When the burst's reload is due: quiet for [`QUIET`], or [`MAX_DELAY`] after the first.
    fn due(&self) -> Instant {
        (self.last + QUIET).min(self.first + MAX_DELAY)
    }
}

fn note(burst: &mut Option<Burst>, at: Instant) {
    match burst {
        Some(b) => b.last = at,
        None => *burst = Some(Burst::new(at)),
    }
}

async fn run(
    mut arming: Arming,
    mut raw: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    events: mpsc::UnboundedSender<Event>,
    state: Arc<State>,
    mut burst: Option<Burst>,
) {
    let mut recheck = tokio::time::interval_at(Instant::now() + RECHECK, RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight: Option<oneshot::Receiver<ReloadOutcome>> = None;
    loop {
        let due = burst.map(|b| b.due());
        tokio::select! {
            Some(res) = raw.recv() => {
                let seen = match &res {
                    Ok(ev) => arming.classify(ev),
                    // An error from the watcher (queue overflow, a watch that vanished): arm
                    // again from scratch and assume the file changed.
                    Err(e) => {
                        tracing::debug!(error = %e, "File watcher error; re-arming");
                        Seen { file: true, chain: true, lost: true }
                    }
                };
                if seen.lost {
                    arming.forget();
                }
                let moved_in = seen.chain && arming.rearm(&state) && arming.file.is_file();
                if seen.file || moved_in {
                    tracing::debug!(path = %arming.file.display(), "Config file changed");
                    note(&mut burst, Instant::now());
                }
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)),
                if due.is_some() && in_flight.is_none() =>
            {
                let (tx, rx) = oneshot::channel();
                let ev = Event::Reload { source: "file change", reply: Some(tx) };
                if events.send(ev).is_err() {
                    return;
                }
                in_flight = Some(rx);
                burst = None;
            }
            _ = async { in_flight.as_mut().expect("guarded by the precondition").await },
                if in_flight.is_some() =>
            {
                in_flight = None;
            }
            _ = recheck.tick() => {
                if arming.rearm(&state) && arming.file.is_file() {
                    note(&mut burst, Instant::now());
                }
            }
        }
    }
}

/// (device, inode, birth time where the file system records it): tells a directory from
/// another made under the same name (an inode number is often reused at once).
type Identity = (u64, u64, Option<std::time::SystemTime>);

/// What one event means for the watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    /// The config file may have changed.
    file: bool,
    /// The config directory or one of its ancestors may have appeared, gone or moved.
    chain: bool,
    /// The watched directory itself was removed or moved: its watch is dead.
    lost: bool,
}

impl Seen {
    const NOTHING: Seen = Seen {
        file: false,
        chain: false,
        lost: false,
    };
}

/// The watch itself: which directory is watched, and moving it as directories come and go.
struct Arming {
    file: PathBuf,
    /// The file's directory.
    dir: PathBuf,
    name: Option<OsString>,
    raw_tx: mpsc::UnboundedSender<notify::Result<notify::Event>>,
    watcher: Option<notify::RecommendedWatcher>,
    /// The directory watched now, with its identity.
    watched: Option<(PathBuf, Identity)>,
}

impl Arming {
    fn new(file: PathBuf, raw_tx: mpsc::UnboundedSender<notify::Result<notify::Event>>) -> Self {
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let name = file.file_name().map(|n| n.to_owned());
        Arming {
            file,
            dir,
            name,
            raw_tx,
            watcher: None,
            watched: None,
        }
    }

    /// What an event means: the config file changed, a directory on its path appeared or
    /// went, the watched directory itself is gone.
    fn classify(&self, ev: &notify::Event) -> Seen {
        if ev.need_rescan() {
            return Seen {
                file: true,
                chain: true,
                lost: true,
            };
        }
        let relevant = match ev.kind {
            // Our own reads open and close the file; metadata (atime, mode) is not content.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
            _ => true,
        };
        if !relevant {
            return Seen::NOTHING;
        }
        let file = ev.paths.iter().any(|p| {
            p.parent() == Some(self.dir.as_path()) && p.file_name() == self.name.as_deref()
        });
        let chain = ev.paths.iter().any(|p| self.dir.starts_with(p));
        let gone = matches!(
            ev.kind,
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
        );
        let lost = gone
            && self
                .watched
                .as_ref()
                .is_some_and(|(w, _)| ev.paths.iter().any(|p| p == w));
        Seen { file, chain, lost }
    }

    /// Drops the current watch (its directory is gone or moved), so the next
    /// [`Arming::rearm`] arms afresh even when a directory of the same identity stands there.
    fn forget(&mut self) {
        if let (Some(w), Some((old, _))) = (self.watcher.as_mut(), self.watched.take()) {
            let _ = w.unwatch(&old);
        }
    }

    /// Points the watch at the config directory, or at its nearest existing ancestor, and
    /// publishes the state. True when the config directory has just become watched (it
    /// appeared, or was made again), so a file already inside it counts as a change.
    fn rearm(&mut self, state: &State) -> bool {
        let before = self.watched.clone();
        if let Err(reason) = self.arm() {
            self.publish(
                state,
                WatchState::Off {
                    file: Some(self.file.clone()),
                    reason,
                },
            );
            return false;
        }
        let Some((watched, _)) = &self.watched else {
            return false;
        };
        let now = if *watched == self.dir {
            WatchState::Watching {
                dir: self.dir.clone(),
                file: self.file.clone(),
            }
        } else {
            WatchState::Waiting {
                ancestor: watched.clone(),
                dir: self.dir.clone(),
                file: self.file.clone(),
            }
        };
        let dir_now = matches!(now, WatchState::Watching { .. });
        self.publish(state, now);
        dir_now && self.watched != before
    }

    /// Arms the watch on the nearest existing directory, again until it holds still (a
    /// directory may appear between looking and arming).
    fn arm(&mut self) -> Result<(), String> {
        if self.watcher.is_none() {
            let tx = self.raw_tx.clone();
            let w = notify::recommended_watcher(move |res| {
                let _ = tx.send(res);
            })
            .map_err(|e| {
                format!(
                    "cannot start a file watcher ({e}); retrying every {} s",
                    RECHECK.as_secs()
                )
            })?;
            self.watcher = Some(w);
        }
        let Some(watcher) = self.watcher.as_mut() else {
            return Err("no file watcher".to_owned());
        };
        for _ in 0..8 {
            let Some(target) = nearest_dir(&self.dir) else {
                return Err(format!("no directory of {} exists", self.dir.display()));
            };
            if self.watched.as_ref() == Some(&target) {
                return Ok(());
            }
            if let Some((old, _)) = self.watched.take() {
                // Fails when the kernel already dropped the watch (the directory is gone).
                let _ = watcher.unwatch(&old);
            }
            watcher
                .watch(&target.0, RecursiveMode::NonRecursive)
                .map_err(|e| {
                    format!(
                        "cannot watch {} ({e}); retrying every {} s",
                        target.0.display(),
                        RECHECK.as_secs()
                    )
                })?;
            self.watched = Some(target);
        }
        Ok(())
    }

    fn publish(&self, state: &State, now: WatchState) {
        let was = state.watch_state();
        if was == now {
            return;
        }
        // The first state is in the start-up summary; later moves are news.
        let first = matches!(&was, WatchState::Off { file: None, .. });
        match &now {
            WatchState::Off { reason, .. } => {
                tracing::warn!(path = %self.file.display(), %reason, "Not watching the config file; SIGHUP and `shimctl reload` still reload")
            }
            _ if first => {}
            WatchState::Watching { dir, .. } => {
                tracing::info!(dir = %dir.display(), "Watching the config directory")
            }
            WatchState::Waiting { ancestor, dir, .. } => tracing::info!(
                dir = %dir.display(),
                ancestor = %ancestor.display(),
                "The config directory does not exist; watching its nearest ancestor until it appears"
            ),
        }
        state.set_watch_state(now);
    }
}

/// `dir` or its nearest ancestor that is a directory, with its identity.
fn nearest_dir(dir: &Path) -> Option<(PathBuf, Identity)> {
    dir.ancestors().find_map(|p| {
        let m = std::fs::metadata(p).ok().filter(|m| m.is_dir())?;
        Some((p.to_path_buf(), (m.dev(), m.ino(), m.created().ok())))
    })
}

#[cfg(test)]
mod tests;
