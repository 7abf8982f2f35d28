//! Process signals, turned into daemon events: SIGTERM/SIGINT stop, SIGHUP reloads.

use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    Stop(&'static str),
    Reload,
}

/// Listens for signals for the life of the daemon and forwards them.
pub fn spawn(tx: tokio::sync::mpsc::UnboundedSender<SignalEvent>) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let ev = tokio::select! {
                _ = term.recv() => SignalEvent::Stop("SIGTERM"),
                _ = int.recv() => SignalEvent::Stop("SIGINT"),
                _ = hup.recv() => SignalEvent::Reload,
            };
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    Ok(())
}
