//! The daemon's main loop: bind, serve, notify, then handle signals and reloads until stop,
//! then drain.
//!
//! Every reload trigger (SIGHUP, the file watcher, `shimctl reload`) goes through one channel
//! to this loop, which runs [`reload::reload`] for each in turn; dry runs
//! (`shimctl reload --dry-run`) take the same loop, so they plan against the configuration
//! in force.
//!
//! Once listening, the daemon logs one start-up summary ([`summary::Summary`]: the config file
//! or how to create one, the control socket, the token variables, the pinned keys, the watch)
//! and sends its one-line form in sd-notify `STATUS=`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::logging;
use super::notify;
use super::reload::{self, Event};
use super::signals::{self, SignalEvent};
use super::state::State;
use super::summary::{self, Summary};
use crate::config::cli::Cli;
use crate::config::load::Env;
use crate::config::{Config, LogFormat, PinSource};
use crate::control::hints::{self, Os};

/// What the daemon runs with: the checked configuration, and the command line and
/// environment snapshot it came from (reloads read the file again with both).
pub struct Daemon {
    pub config: Config,
    pub cli: Cli,
    pub env: Env,
}

/// Runs the daemon until a stop signal; returns the process exit code.
pub async fn run(d: Daemon) -> i32 {
    let Daemon { config, cli, env } = d;
    // Watch the path even when the default file does not exist yet: creating it later is a
    // reload like any other edit.
    let watch_path = crate::config::load::config_path(&cli, &env).0;
    let log = logging::init(config.log.format, &config.log.level);
    let state = State::new(config, log);
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
            let config = state.config();
            let why = listen_error(&addr, &e, &config, watch_path.as_deref(), Os::current());
            // One line, wherever it goes: the log when it is structured (journald, JSON)
            // and errors are logged; else stderr (where text logs go too).
            if config.log.format != LogFormat::Text && tracing::enabled!(tracing::Level::ERROR) {
                tracing::error!(%addr, error = %why, "Cannot listen");
            } else {
                eprintln!("deepinfra-shim: {why}");
            }
            return 1;
        }
    };
    let local: SocketAddr = listener.local_addr().expect("bound socket has an address");
    let _ = state.listen_addr.set(local);
    // Signals and the file watcher are armed before we announce the address: an edit or a
    // SIGHUP that follows the "Listening" line must never be missed.
    spawn_signal_forwarder(ev_tx.clone());
    let _watcher = super::watch::spawn(watch_path, ev_tx.clone(), Arc::clone(&state));

    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(crate::server::serve(listener, Arc::clone(&state), stop_rx));
    tracing::info!(
        upstream = %state.config().default_upstream.url,
        version = crate::VERSION,
        "Listening on http://{local}"
    );
    Summary::of(&state).log();
    crate::config::paths::log_permission_warning(state.config().config_path.as_deref());
    spawn_watchdog(Arc::clone(&state));
    spawn_timer_anchor();
    notify::ready(&summary::status_line(&state));

    let why = loop {
        match ev_rx.recv().await {
            Some(Event::Stop(why)) => break why,
            Some(Event::Reload { source, reply }) => {
                let outcome = reload::reload(&state, &cli, &env, source).await;
                if let Some(r) = reply {
                    let _ = r.send(outcome);
                }
            }
            Some(Event::Plan { file, reply }) => {
                let _ = reply.send(reload::dry_run(&state, &cli, &env, file.as_deref()).await);
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

/// The one line for a listen address that cannot be bound: what failed, and for a port in
/// use, how to find the other process and which setting chose the port.
/// `file` is the config file the daemon reads (or would read, when it does not exist).
fn listen_error(
    addr: &str,
    e: &std::io::Error,
    config: &Config,
    file: Option<&std::path::Path>,
    os: Os,
) -> String {
    if e.kind() != std::io::ErrorKind::AddrInUse {
        return format!("cannot listen on {addr}: {e}");
    }
    let port = config.listen.port;
    let pinned = config.pins.iter().find(|p| p.key == "listen.port");
    let setting = match pinned.map(|p| p.by) {
        Some(PinSource::Flag(f)) => format!("this one comes from {f}: pass another"),
        Some(PinSource::Env(v)) => format!("this one comes from {v}: set another"),
        None => match file {
            Some(f) => format!("set listen.port in {}, or pass --port", f.display()),
            None => "set listen.port in the config file, or pass --port".to_owned(),
        },
    };
    format!(
        "cannot listen on {addr}: port {port} is already in use by another process (see which: \
         `{}`); stop it, or choose another port ({setting})",
        hints::find_listener(os, port)
    )
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
            notify::status(&summary::status_line(&state));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::Cli;

    fn config(args: &[&str], pairs: &[(&str, &str)]) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let mut env = vec![("HOME", home), ("XDG_RUNTIME_DIR", home)];
        env.extend_from_slice(pairs);
        let cli = <Cli as clap::Parser>::try_parse_from(
            std::iter::once("deepinfra-shim").chain(args.iter().copied()),
        )
        .unwrap();
        crate::config::load(&cli, &Env::from_pairs(env)).unwrap()
    }

    #[test]
    fn a_port_in_use_is_one_line_naming_the_port_the_tool_and_the_setting() {
        let in_use = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let c = config(&[], &[]);
        let file = std::path::Path::new("/home/u/.config/deepinfra-shim/config.yaml");
        let line = listen_error("127.0.0.1:8797", &in_use, &c, Some(file), Os::Linux);
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("cannot listen on 127.0.0.1:8797: port 8797 is already in use"),
            "{line}"
        );
        assert!(line.contains("`ss -ltnp 'sport = :8797'`"), "{line}");
        assert!(
            line.contains(
                "set listen.port in /home/u/.config/deepinfra-shim/config.yaml, or pass --port"
            ),
            "{line}"
        );
        let mac = listen_error("127.0.0.1:8797", &in_use, &c, None, Os::Macos);
        assert!(mac.contains("`lsof -nP -iTCP:8797 -sTCP:LISTEN`"), "{mac}");

        let flag = config(&["--port", "9000"], &[]);
        let line = listen_error("127.0.0.1:9000", &in_use, &flag, None, Os::Linux);
        assert!(
            line.contains("port 9000") && line.contains("this one comes from --port"),
            "{line}"
        );
        let var = config(&[], &[("DEEPINFRA_CODEX_SHIM_PORT", "9001")]);
        let line = listen_error("127.0.0.1:9001", &in_use, &var, None, Os::Linux);
        assert!(
            line.contains("this one comes from DEEPINFRA_CODEX_SHIM_PORT"),
            "{line}"
        );
    }

    #[test]
    fn other_bind_errors_say_what_the_os_said() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let line = listen_error("127.0.0.1:80", &denied, &config(&[], &[]), None, Os::Linux);
        assert!(
            line.starts_with("cannot listen on 127.0.0.1:80: "),
            "{line}"
        );
        assert!(!line.contains("ss -ltnp"), "{line}");
    }
}
