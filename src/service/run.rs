//! The daemon's main loop: bind, serve, notify, then handle signals and reloads until stop,
//! then drain.
//!
//! Every reload trigger (SIGHUP, the file watcher, `shimctl reload`) goes through one channel
//! to this loop, so reloads never run concurrently and their results are reported in one place.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::logging;
use super::notify;
use super::signals::{self, SignalEvent};
use super::state::State;
use crate::config::Config;

/// Builds the next configuration from the current one (re-reads the file; flags and env
/// stay pinned). Provided by `main`, which owns the command line and environment snapshot.
pub type Reloader = Box<dyn Fn(&Config) -> Result<Config, ReloadRefused> + Send + Sync>;

/// Why a reload was refused (every problem, one per line).
#[derive(Debug, Clone)]
pub struct ReloadRefused(pub String);

/// The result of one reload, as reported to `shimctl reload`.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    Applied { changes: Vec<String> },
    Refused { reason: String },
}

/// Events the main loop reacts to.
pub enum Event {
    Stop(&'static str),
    Reload {
        source: &'static str,
        reply: Option<oneshot::Sender<ReloadOutcome>>,
    },
}

/// Describes the difference between two configs (lines for logs and `shimctl reload`).
pub type Differ = fn(&Config, &Config) -> Vec<String>;

pub struct Daemon {
    pub config: Config,
    pub reloader: Reloader,
    pub differ: Differ,
    /// The config file to watch for changes (None: nothing to watch).
    pub watch_path: Option<std::path::PathBuf>,
}

/// Runs the daemon until a stop signal; returns the process exit code.
pub async fn run(d: Daemon) -> i32 {
    let log = logging::init(d.config.log.format, &d.config.log.level);
    let state = State::new(d.config, log);
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    // The control socket comes first: it is also the "is another daemon running?" check, so a
    // second daemon refuses before binding anything. Dropping `_control` (any return below)
    // removes the socket file.
    let control_path = state.config().control_socket.clone();
    let _control =
        match crate::control::server::spawn(Arc::clone(&state), ev_tx.clone(), &control_path).await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "Cannot start the control socket");
                eprintln!("deepinfra-shim: {e}");
                return 2;
            }
        };
    let addr = state.config().bind_addr();
    let listener = match TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "Cannot listen");
            eprintln!("deepinfra-shim: cannot listen on {addr}: {e}");
            return 1;
        }
    };
    let local: SocketAddr = listener.local_addr().expect("bound socket has an address");
    let _ = state.listen_addr.set(local);
    // Signals and the file watcher are armed before we announce the address: an edit or a
    // SIGHUP that follows the "Listening" line must never be missed.
    spawn_signal_forwarder(ev_tx.clone());
    let _watcher = super::watch::spawn(d.watch_path.as_deref(), ev_tx.clone());

    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(crate::server::serve(listener, Arc::clone(&state), stop_rx));
    tracing::info!(
        upstream = %state.config().default_upstream.url,
        version = crate::VERSION,
        "Listening on http://{local}"
    );
    spawn_watchdog(Arc::clone(&state));
    spawn_timer_anchor();
    notify::ready(&status_line(&state));

    let why = loop {
        match ev_rx.recv().await {
            Some(Event::Stop(why)) => break why,
            Some(Event::Reload { source, reply }) => {
                let outcome = reload(&state, &d.reloader, d.differ, source);
                if let Some(r) = reply {
                    let _ = r.send(outcome);
                }
            }
            None => break "event channel closed",
        }
    };

    tracing::info!(
        signal = why,
        "Stopping: no new connections; draining streams in flight"
    );
    notify::stopping(&format!("stopping ({why}); draining"));
    let _ = stop_tx.send(true);
    let graceful = match server.await {
        Ok(g) => g,
        Err(_) => return 1,
    };
    // A second stop signal while draining exits at once.
    tokio::spawn(async move {
        while let Some(ev) = ev_rx.recv().await {
            if let Event::Stop(why) = ev {
                tracing::warn!(
                    signal = why,
                    "Second stop signal: exiting without waiting for streams"
                );
                std::process::exit(0);
            }
        }
    });
    let drain = state.config().drain_timeout;
    let all_done = graceful.shutdown();
    tokio::pin!(all_done);
    tokio::select! {
        _ = &mut all_done => tracing::info!("All connections finished"),
        _ = tokio::time::sleep(drain) => {
            let active = state.stats.active.load(std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(active, drain_ms = drain.as_millis() as u64, "Drain timeout: ending the remaining streams with response.failed");
            state.signal_drain_deadline();
            if tokio::time::timeout(Duration::from_secs(5), &mut all_done).await.is_err() {
                tracing::warn!("Connections still open after the drain deadline; exiting anyway");
            }
        }
    }
    tracing::info!("Stopped");
    0
}

fn spawn_signal_forwarder(ev_tx: mpsc::UnboundedSender<Event>) {
    let (sig_tx, mut sig_rx) = mpsc::unbounded_channel();
    if let Err(e) = signals::spawn(sig_tx) {
        tracing::error!(error = %e, "Cannot install signal handlers");
        return;
    }
    tokio::spawn(async move {
        while let Some(s) = sig_rx.recv().await {
            let ev = match s {
                SignalEvent::Stop(why) => Event::Stop(why),
                SignalEvent::Reload => Event::Reload {
                    source: "SIGHUP",
                    reply: None,
                },
            };
            if ev_tx.send(ev).is_err() {
                break;
            }
        }
    });
}

/// `WATCHDOG=1` at half the interval systemd asked for. It runs on the same runtime that
/// serves requests, so a wedged runtime stops the pings and systemd restarts us.
fn spawn_watchdog(state: Arc<State>) {
    let Some(every) = notify::watchdog_interval() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            notify::watchdog();
            notify::status(&status_line(&state));
        }
    });
}

/// How often the timer anchor fires (see [`spawn_timer_anchor`]): shorter than the timers
/// armed per request (hyper's 30 s header-read timeout on every keep-alive request, the
/// upstream timeout of 120 s by default).
const TIMER_ANCHOR_PERIOD: std::time::Duration = std::time::Duration::from_secs(20);
const _: () = assert!(
    TIMER_ANCHOR_PERIOD.as_secs() < crate::server::HEADER_READ_TIMEOUT.as_secs(),
    "the anchor must fire before the per-request timers it keeps quiet"
);

/// Keeps one timer always pending, at most [`TIMER_ANCHOR_PERIOD`] away.
///
/// Every request arms timers (hyper's header-read timeout, our upstream timeout). Tokio wakes
/// its I/O driver (an eventfd write, then an extra `epoll_wait` return) whenever a timer is
/// inserted earlier than the driver's planned wake-up, and with no timer pending that is every
/// insertion: two syscalls per request for nothing (measured with `perf record -e
/// syscalls:sys_enter_write -g`). With this anchor pending, a timer due after the anchor
/// inserts quietly. The cost is three wake-ups a minute while idle.
fn spawn_timer_anchor() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TIMER_ANCHOR_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
        }
    });
}

/// Finds `ADDR` in a line containing the `Listening on http://ADDR` message logged above (in
/// any log format), for harnesses and scripts that start the daemon with `--port 0`.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    const MARK: &str = "Listening on http://";
    let rest = &line[line.find(MARK)? + MARK.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Parse -> validate -> swap, or keep the old config and say why.
pub fn reload(state: &State, reloader: &Reloader, differ: Differ, source: &str) -> ReloadOutcome {
    notify::reloading();
    let old = state.config();
    let outcome = match reloader(&old) {
        Ok(new) => {
            let changes = differ(&old, &new);
            if new.log.level != old.log.level
                && let Err(e) = state.log.set_level(&new.log.level)
            {
                tracing::warn!(error = %e, "Log level from the new config refused");
            }
            state.swap_config(new);
            let mut info = state.reload.lock().expect("reload lock");
            info.generation += 1;
            info.reload_count += 1;
            info.loaded_at = std::time::SystemTime::now();
            info.last_error = None;
            info.last_result = Some(if changes.is_empty() {
                "applied (no changes)".to_owned()
            } else {
                format!("applied ({} changes)", changes.len())
            });
            drop(info);
            tracing::info!(source, changes = %changes.join("; "), "Configuration reloaded");
            ReloadOutcome::Applied { changes }
        }
        Err(ReloadRefused(reason)) => {
            let mut info = state.reload.lock().expect("reload lock");
            info.last_error = Some(reason.clone());
            info.last_result = Some("refused".to_owned());
            drop(info);
            tracing::warn!(source, reason = %reason, "Configuration reload refused; keeping the current configuration");
            ReloadOutcome::Refused { reason }
        }
    };
    notify::ready(&status_line(state));
    outcome
}

/// The one-line summary for sd-notify `STATUS=`.
pub fn status_line(state: &State) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let info = state.reload_info();
    let reload = match (&info.last_error, &info.last_result) {
        (Some(e), _) => format!("last reload refused: {}", e.lines().next().unwrap_or("")),
        (None, Some(r)) => format!("last reload {r}"),
        (None, None) => "config loaded".to_owned(),
    };
    format!(
        "{} requests ({} active, {} failed); {}",
        state.stats.total.load(Relaxed),
        state.stats.active.load(Relaxed),
        state.stats.failed.load(Relaxed),
        reload
    )
}
