//! The daemon's shared state: the current config snapshot, counters, reload status, and the
//! shutdown signals. One `Arc<State>` is shared by the HTTP server, the reload task and the
//! control socket; every field is either atomic or behind a short-lived lock.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::{Config, ReloadReport};
use crate::metrics::{Capture, Metrics};
use crate::service::logging::LogControl;
use crate::upstream::UpstreamClient;

/// How many recent latencies each upstream keeps for `status`.
const RECENT_LATENCIES: usize = 32;

pub struct State {
    config: ArcSwap<Config>,
    pub http: UpstreamClient,
    pub log: LogControl,
    pub started: Instant,
    pub started_at: SystemTime,
    pub stats: Arc<Stats>,
    /// Per-model accounting (`/metrics`, `shimctl stats`).
    pub metrics: Arc<Metrics>,
    /// `shimctl capture`'s switch.
    pub capture: Capture,
    pub reload: Mutex<ReloadInfo>,
    /// What the config file watcher watches (set by `service::watch`).
    pub watch: Mutex<WatchState>,
    pub listen_addr: OnceLock<SocketAddr>,
    /// Flips to true when streams still running must end now (drain deadline passed).
    drain_deadline: watch::Sender<bool>,
}

#[derive(Debug, Clone)]
pub struct ReloadInfo {
    /// Bumped by every applied reload (0 = the config loaded at start).
    pub generation: u64,
    pub loaded_at: SystemTime,
    pub reload_count: u64,
    pub last_error: Option<String>,
    pub last_result: Option<String>,
    /// The last reload, applied or refused (None until one runs).
    pub last: Option<LastReload>,
}

/// One reload as `status` shows it afterwards.
#[derive(Debug, Clone)]
pub struct LastReload {
    pub at: SystemTime,
    /// `file change`, `SIGHUP`, `shimctl`.
    pub source: &'static str,
    /// The file read (absolute); None: built-in defaults.
    pub config_path: Option<PathBuf>,
    /// Applied with this report, or refused with every problem (one per line).
    pub result: Result<ReloadReport, Vec<String>>,
}

/// What the config file watcher is doing, for `status` and the start-up summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchState {
    /// Watching `dir`, the directory of the config file `file`.
    Watching { dir: PathBuf, file: PathBuf },
    /// `dir` (the config file's directory) does not exist yet: watching its nearest existing
    /// ancestor until it appears.
    Waiting {
        ancestor: PathBuf,
        dir: PathBuf,
        file: PathBuf,
    },
    /// Not watching, and why (`file`: the config file it would watch, when known).
    Off {
        file: Option<PathBuf>,
        reason: String,
    },
}

impl WatchState {
    /// The config file the watcher is (or would be) watching for.
    pub fn file(&self) -> Option<&Path> {
        match self {
            WatchState::Watching { file, .. } | WatchState::Waiting { file, .. } => Some(file),
            WatchState::Off { file, .. } => file.as_deref(),
        }
    }
}

impl std::fmt::Display for WatchState {
    /// `watching DIR`, `watching ANCESTOR until DIR appears`, `not watching: why`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchState::Watching { dir, .. } => write!(f, "watching {}", dir.display()),
            WatchState::Waiting { ancestor, dir, .. } => write!(
                f,
                "watching {} until {} appears",
                ancestor.display(),
                dir.display()
            ),
            WatchState::Off { reason, .. } => write!(f, "not watching: {reason}"),
        }
    }
}

impl State {
    pub fn new(config: Config, log: LogControl) -> Arc<Self> {
        let (drain_deadline, _) = watch::channel(false);
        let started = Instant::now();
        // Log lines are redacted with the secrets of the config in force from now on.
        log.follow(config.redactor());
        Arc::new(State {
            config: ArcSwap::from_pointee(config),
            http: UpstreamClient::new(),
            log,
            started,
            started_at: SystemTime::now(),
            stats: Arc::new(Stats::default()),
            metrics: Arc::new(Metrics::new(started)),
            capture: Capture::default(),
            reload: Mutex::new(ReloadInfo {
                generation: 0,
                loaded_at: SystemTime::now(),
                reload_count: 0,
                last_error: None,
                last_result: None,
                last: None,
            }),
            watch: Mutex::new(WatchState::Off {
                file: None,
                reason: "the watcher has not started".to_owned(),
            }),
            listen_addr: OnceLock::new(),
            drain_deadline,
        })
    }

    /// The current configuration snapshot. A request calls this once and keeps the `Arc`.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Swaps in a new configuration (already validated).
    pub fn swap_config(&self, config: Config) {
        // Before the swap: a line about the new config may already name its secrets.
        self.log.follow(config.redactor());
        self.config.store(Arc::new(config));
    }

    /// A receiver that turns true when the drain deadline passed.
    pub fn drain_deadline(&self) -> watch::Receiver<bool> {
        self.drain_deadline.subscribe()
    }

    pub fn signal_drain_deadline(&self) {
        self.drain_deadline.send_replace(true);
    }

    pub fn reload_info(&self) -> ReloadInfo {
        self.reload.lock().expect("reload lock").clone()
    }

    /// Records an applied reload (`summary`: the report in one line); returns the generation
    /// now in force.
    pub fn record_applied(
        &self,
        source: &'static str,
        config_path: Option<PathBuf>,
        report: &ReloadReport,
        summary: String,
    ) -> u64 {
        let mut info = self.reload.lock().expect("reload lock");
        info.generation += 1;
        info.reload_count += 1;
        info.loaded_at = SystemTime::now();
        info.last_error = None;
        info.last_result = Some(format!("applied: {summary}"));
        info.last = Some(LastReload {
            at: info.loaded_at,
            source,
            config_path,
            result: Ok(report.clone()),
        });
        info.generation
    }

    /// Records a refused reload: `reason` whole, `reasons` one problem per entry. The
    /// generation does not move.
    pub fn record_refused(
        &self,
        source: &'static str,
        config_path: Option<PathBuf>,
        reason: String,
        reasons: Vec<String>,
    ) {
        let mut info = self.reload.lock().expect("reload lock");
        info.last_error = Some(reason);
        info.last_result = Some("refused".to_owned());
        info.last = Some(LastReload {
            at: SystemTime::now(),
            source,
            config_path,
            result: Err(reasons),
        });
    }

    pub fn watch_state(&self) -> WatchState {
        self.watch.lock().expect("watch lock").clone()
    }

    pub fn set_watch_state(&self, w: WatchState) {
        *self.watch.lock().expect("watch lock") = w;
    }
}

/// Request counters, overall and per upstream.
#[derive(Default)]
pub struct Stats {
    pub total: AtomicU64,
    pub active: AtomicU64,
    pub failed: AtomicU64,
    per_upstream: Mutex<BTreeMap<String, UpstreamStats>>,
}

#[derive(Debug, Clone, Default)]
pub struct UpstreamStats {
    pub requests: u64,
    pub errors: u64,
    /// Milliseconds, newest last.
    pub recent_latency_ms: VecDeque<u64>,
}

impl Stats {
    /// Counts a request as started; the guard counts it as finished (failed unless
    /// [`RequestGuard::succeeded`] was called) when dropped.
    pub fn begin(self: &Arc<Self>) -> RequestGuard {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
        RequestGuard {
            stats: Arc::clone(self),
            upstream: None,
            started: Instant::now(),
            ok: false,
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, UpstreamStats> {
        self.per_upstream.lock().expect("stats lock").clone()
    }

    fn finish(&self, upstream: Option<&str>, ok: bool, elapsed: Duration) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(name) = upstream {
            let mut map = self.per_upstream.lock().expect("stats lock");
            let s = map.entry(name.to_owned()).or_default();
            s.requests += 1;
            if !ok {
                s.errors += 1;
            }
            if s.recent_latency_ms.len() == RECENT_LATENCIES {
                s.recent_latency_ms.pop_front();
            }
            s.recent_latency_ms.push_back(elapsed.as_millis() as u64);
        }
    }
}

/// Tracks one request from start to end (including the whole stream).
pub struct RequestGuard {
    stats: Arc<Stats>,
    upstream: Option<String>,
    started: Instant,
    ok: bool,
}

impl RequestGuard {
    pub fn set_upstream(&mut self, name: &str) {
        self.upstream = Some(name.to_owned());
    }

    pub fn succeeded(&mut self) {
        self.ok = true;
    }

    pub fn failed(&mut self) {
        self.ok = false;
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.stats
            .finish(self.upstream.as_deref(), self.ok, self.started.elapsed());
    }
}
