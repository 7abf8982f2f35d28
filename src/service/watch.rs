//! Watches the config file and asks the main loop to reload when it changes.
//!
//! We watch the file's *directory*, not the file: editors save by writing a temp file and
//! renaming it over the original, which replaces the inode a file watch would follow. Events
//! are debounced (a save is often several events) and filtered by file name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc::UnboundedSender;

use super::reload::Event;

/// Quiet time after the last event of a burst before we reload.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Keeps the watcher alive; dropping it stops watching.
pub struct Watcher {
    _inner: Option<Box<dyn std::any::Any + Send>>,
}

/// Starts watching `path` (None: nothing to watch).
pub fn spawn(path: Option<&Path>, tx: UnboundedSender<Event>) -> Watcher {
    let Some(path) = path else {
        return Watcher { _inner: None };
    };
    if path
        .parent()
        .is_some_and(|d| !d.as_os_str().is_empty() && !d.is_dir())
    {
        // The usual case with built-in defaults: ~/.config/deepinfra-shim does not exist.
        tracing::debug!(path = %path.display(), "Config directory does not exist; not watching (SIGHUP and `shimctl reload` still work)");
        return Watcher { _inner: None };
    }
    match start(path, tx) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "Cannot watch the config file; reload with SIGHUP or `shimctl reload`");
            Watcher { _inner: None }
        }
    }
}

fn start(path: &Path, tx: UnboundedSender<Event>) -> Result<Watcher, notify::Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = path.file_name().map(|n| n.to_owned());
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |res: DebounceEventResult| {
        let Ok(events) = res else { return };
        let touches_config = events.iter().any(|ev| {
            ev.event.kind.is_create() || ev.event.kind.is_modify() || ev.event.kind.is_remove()
        } && ev.event.paths.iter().any(|p| p.file_name() == name.as_deref()));
        if touches_config {
            let _ = tx.send(Event::Reload {
                source: "file change",
                reply: None,
            });
        }
    })?;
    debouncer.watch(&dir, RecursiveMode::NonRecursive)?;
    tracing::debug!(dir = %dir.display(), "Watching the config directory");
    Ok(Watcher {
        _inner: Some(Box::new(debouncer)),
    })
}
