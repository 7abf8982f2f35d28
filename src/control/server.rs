//! The daemon side of the control socket.
//!
//! [`spawn`] prepares the socket's directory (created 0700; an existing one must pass the rule
//! of [`super::trust::check_dir`]), refuses to start when another daemon answers on the
//! socket, replaces a stale socket file nobody listens on, binds (socket file 0600) and serves
//! connections until the returned [`ControlServer`] is dropped, which also removes the socket
//! file (only if it is still ours). A client whose uid is not ours is closed unanswered.
//!
//! Each connection carries one request line and gets one reply line (see
//! [`super::protocol`]). A connection is bounded in size ([`MAX_LINE`], checked before the
//! buffer grows past it) and time ([`REQUEST_TIMEOUT`] to send the whole line, the same to take
//! the reply), and at most [`MAX_CONNECTIONS`] are served at once, so a client that sends
//! garbage or never finishes cannot hurt the daemon. Every reply passes the config's redactor
//! on its way out (in [`serve_connection`], the one place replies are written).
//!
//! `reload` does not reload here: it goes to the daemon's main loop as
//! [`Event::Reload`], the same path as SIGHUP and the file watcher; `plan-reload` goes there
//! too ([`Event::Plan`]), so a dry run plans against the configuration in force.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use interprocess::local_socket::tokio::Stream as LocalStream;
use interprocess::local_socket::traits::tokio::{Listener as _, Stream as _};
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::framing::{LineError, read_line_capped};
use super::trust::{self, DirProblem};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::protocol::{
    KeyChange, MAX_LINE, PinReport, ReloadReport, Reply, Request, RequestCounters, RequestLine,
    RouteReport, StatusReport, UpstreamStatus, WatchStatus, rfc3339,
};
use crate::config::{Change, Pin, PinSource, Upstream};
use crate::service::reload::{Event, ReloadOutcome};
use crate::service::state::{LastReload, State, WatchState};

pub use super::protocol::REQUEST_TIMEOUT;

/// Connections served at the same time; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;

/// How long `reload` waits for the main loop's answer.
const RELOAD_WAIT: Duration = Duration::from_secs(60);

/// How long probing an existing socket may take before we call it live.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the control socket could not be set up. Each message names the path.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(
        "another deepinfra-shim is already running with control socket {} \
         (stop it first, e.g. `systemctl --user stop deepinfra-shim`, or give this one its own \
         --control-socket)",
        .path.display()
    )]
    InUse { path: PathBuf },
    #[error("{} exists and is not a socket; refusing to replace it", .path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot create the control socket directory {}: {source}", .dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The directory fails the rule of [`trust::check_dir`]; `reason` names it and the fix.
    #[error("{reason}")]
    UnsafeDir { dir: PathBuf, reason: String },
    #[error("cannot tell which user we run as (needed to check the control socket): {source}")]
    Uid {
        #[source]
        source: io::Error,
    },
    #[error("cannot replace the stale control socket {}: {source}", .path.display())]
    RemoveStale {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create the control socket {}: {source}", .path.display())]
    Bind {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The running control server. Dropping it stops serving and removes the socket file.
pub struct ControlServer {
    path: PathBuf,
    /// (device, inode) of the socket file we bound, so we never remove a successor's socket.
    identity: Option<(u64, u64)>,
    task: JoinHandle<()>,
}

impl ControlServer {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        if self.identity.is_some() && file_identity(&self.path) == self.identity {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Sets up the socket at `path` and serves it on the current tokio runtime.
pub async fn spawn(
    state: Arc<State>,
    events: mpsc::UnboundedSender<Event>,
    path: &Path,
) -> Result<ControlServer, ControlError> {
    let me = trust::effective_uid().map_err(|source| ControlError::Uid { source })?;
    prepare_dir(path, me)?;
    clear_stale(path).await?;
    let listener = bind(path)?;
    let identity = file_identity(path);
    let task = tokio::spawn(accept_loop(listener, state, events, me));
    tracing::debug!(path = %path.display(), "Control socket ready");
    Ok(ControlServer {
        path: path.to_owned(),
        identity,
        task,
    })
}

/// Creates the socket's directory 0700 if missing, then holds it to the rule of
/// [`trust::check_dir`] (also when we just created it: a directory someone made in between
/// is not ours). A directory that fails is refused, not repaired: it may belong to someone
/// who is waiting for our socket.
fn prepare_dir(path: &Path, me: u32) -> Result<(), ControlError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = trust::socket_dir(path);
    let unsafe_dir = |dir: &Path, reason: String| ControlError::UnsafeDir {
        dir: dir.to_owned(),
        reason,
    };
    match trust::check_dir(&dir, me) {
        Ok(()) => return Ok(()),
        Err(DirProblem::Missing) => {}
        Err(p) => return Err(unsafe_dir(&dir, p.to_string())),
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|source| ControlError::CreateDir {
            dir: dir.clone(),
            source,
        })?;
    trust::check_dir(&dir, me).map_err(|p| unsafe_dir(&dir, p.to_string()))
}

/// A socket file someone answers on means another daemon: refuse. One nobody answers on is
/// left over from a crash: remove it. Anything else at that path is not ours to delete.
async fn clear_stale(path: &Path) -> Result<(), ControlError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ControlError::Bind {
                path: path.to_owned(),
                source,
            });
        }
        Ok(m) => m,
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotASocket {
            path: path.to_owned(),
        });
    }
    match tokio::time::timeout(PROBE_TIMEOUT, connect(path)).await {
        Ok(Ok(_live)) => {
            return Err(ControlError::InUse {
                path: path.to_owned(),
            });
        }
        // A full backlog (or a wedged daemon) still means someone holds the socket.
        Err(_elapsed) => {
            return Err(ControlError::InUse {
                path: path.to_owned(),
            });
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {}
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Ok(Err(source)) => {
            return Err(ControlError::Bind {
                path: path.to_owned(),
                source,
            });
        }
    }
    tracing::info!(path = %path.display(), "Replacing a stale control socket (no daemon answered on it)");
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ControlError::RemoveStale {
            path: path.to_owned(),
            source,
        }),
    }
}

pub(crate) async fn connect(path: &Path) -> io::Result<LocalStream> {
    let name = path.to_fs_name::<GenericFilePath>()?;
    LocalStream::connect(name).await
}

fn bind(path: &Path) -> Result<interprocess::local_socket::tokio::Listener, ControlError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |source| ControlError::Bind {
        path: path.to_owned(),
        source,
    };
    let options = || -> io::Result<ListenerOptions<'_>> {
        Ok(ListenerOptions::new()
            .name(path.to_fs_name::<GenericFilePath>()?)
            // We remove the file ourselves on drop, after checking it is still ours.
            .reclaim_name(false)
            .try_overwrite(false))
    };
    // Mode set before bind (no window where the socket is open to others); platforms that
    // cannot do that get a chmod right after bind, inside the 0700 directory.
    let listener = match options().and_then(|o| o.mode(0o600).create_tokio()) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            options().and_then(|o| o.create_tokio()).map_err(err)?
        }
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            return Err(ControlError::InUse {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(err(e)),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

async fn accept_loop(
    listener: interprocess::local_socket::tokio::Listener,
    state: Arc<State>,
    events: mpsc::UnboundedSender<Event>,
    me: u32,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok(stream) => {
                // Only our own user gets an answer (the socket is 0600 in a 0700 directory,
                // but root, or a descriptor passed on, could still reach it). No reply at
                // all to anyone else: they learn nothing, not even our version.
                match trust::peer(&stream) {
                    Ok((uid, _)) if uid == me => {}
                    Ok((uid, pid)) => {
                        tracing::warn!(
                            peer_uid = uid,
                            peer_pid = pid,
                            "Control socket: refused a client of another user"
                        );
                        drop(permit);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(
                            error = %e,
                            "Control socket: refused a client whose user cannot be known"
                        );
                        drop(permit);
                        continue;
                    }
                }
                let state = Arc::clone(&state);
                let events = events.clone();
                tokio::spawn(async move {
                    serve_connection(stream, &state, &events).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "Control socket: accept failed");
                drop(permit);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    state: &State,
    events: &mpsc::UnboundedSender<Event>,
) {
    let reply = match tokio::time::timeout(REQUEST_TIMEOUT, read_line_capped(&mut stream, MAX_LINE))
        .await
    {
        Err(_elapsed) => {
            tracing::debug!("Control socket: request not complete in time; closing");
            Reply::error(format!(
                "request not complete within {} s; closing",
                REQUEST_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(LineError::Empty)) | Ok(Err(LineError::Io(_))) => return,
        Ok(Err(LineError::TooLong)) => Reply::error(format!(
            "request line longer than {MAX_LINE} bytes; closing"
        )),
        Ok(Ok(line)) => match RequestLine::parse(&line) {
            Err(e) => Reply::error(e),
            Ok(req) => handle(req.request, state, events).await,
        },
    };
    // The one exit of every reply: status, errors, reload reports and upstream checks can all
    // quote provider text, so the whole line passes the redactor of the config in force.
    // Redacting the serialized line catches a secret in any field, in its JSON-escaped form
    // too, and `***` needs no escaping, so the line stays valid JSON.
    let line = reply.to_line();
    let config = state.config();
    let line = config.redactor().redact(&line);
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
        stream.write_all(line.as_bytes()).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
}

/// Answers one request.
pub async fn handle(req: Request, state: &State, events: &mpsc::UnboundedSender<Event>) -> Reply {
    tracing::debug!(cmd = req.name(), "Control request");
    match req {
        Request::Status => Reply {
            status: Some(status(state)),
            ..Reply::ok()
        },
        Request::GetLogLevel => Reply {
            log_level: Some(state.log.level()),
            ..Reply::ok()
        },
        Request::SetLogLevel { level } => match state.log.set_level(&level) {
            Ok(()) => {
                let now = state.log.level();
                tracing::info!(level = %now, "Log level changed by shimctl");
                Reply {
                    log_level: Some(now),
                    ..Reply::ok()
                }
            }
            Err(e) => Reply {
                log_level: Some(state.log.level()),
                ..Reply::error(e)
            },
        },
        Request::Reload => reload(state, events).await,
        Request::PlanReload { file } => plan_reload(state, events, file).await,
        Request::Resolve { model } => Reply {
            route: Some(resolve(state, &model)),
            ..Reply::ok()
        },
        Request::CheckUpstreams { model } => {
            super::check_upstreams::reply(state, model.as_deref()).await
        }
        Request::Stats { window_s } => super::stats::stats(state, window_s).await,
        Request::Capture(c) => super::stats::capture(state, &c),
    }
}

async fn reload(state: &State, events: &mpsc::UnboundedSender<Event>) -> Reply {
    let (tx, rx) = oneshot::channel();
    let ev = Event::Reload {
        source: "shimctl",
        reply: Some(tx),
    };
    match ask_loop(events, ev, rx).await {
        Ok(outcome) => {
            let mut reply = reload_reply(outcome, state.reload_info().generation, false);
            if let Some(r) = reply.reload.as_mut() {
                r.source = Some("shimctl".to_owned());
                r.at = Some(rfc3339(std::time::SystemTime::now()));
            }
            reply
        }
        Err(reply) => reply,
    }
}

/// `plan-reload`: the same read and plan as `reload`, on the same loop, nothing applied.
async fn plan_reload(
    state: &State,
    events: &mpsc::UnboundedSender<Event>,
    file: Option<String>,
) -> Reply {
    let file = file.map(PathBuf::from);
    if let Some(f) = file.as_ref().filter(|f| !f.is_absolute()) {
        return Reply::error(format!(
            "plan-reload: the file must be an absolute path, got '{}'",
            f.display()
        ));
    }
    let (tx, rx) = oneshot::channel();
    let ev = Event::Plan { file, reply: tx };
    match ask_loop(events, ev, rx).await {
        Ok(outcome) => reload_reply(outcome, state.reload_info().generation, true),
        Err(reply) => reply,
    }
}

/// Sends `ev` to the main loop and waits for its outcome (an error reply when it cannot).
async fn ask_loop(
    events: &mpsc::UnboundedSender<Event>,
    ev: Event,
    rx: oneshot::Receiver<ReloadOutcome>,
) -> Result<ReloadOutcome, Reply> {
    if events.send(ev).is_err() {
        return Err(Reply::error("the daemon is shutting down; no reload"));
    }
    match tokio::time::timeout(RELOAD_WAIT, rx).await {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(_)) => Err(Reply::error("the daemon is shutting down; no reload")),
        Err(_) => Err(Reply::error(format!(
            "no answer from the reload within {} s",
            RELOAD_WAIT.as_secs()
        ))),
    }
}

/// The reply for a reload's (or dry run's) outcome; `generation` is the one in force now.
fn reload_reply(outcome: ReloadOutcome, generation: u64, dry_run: bool) -> Reply {
    match outcome {
        ReloadOutcome::Applied {
            report,
            generation,
            config_path,
        } => Reply {
            reload: Some(ReloadReport {
                applied: true,
                generation,
                config_path: shown(config_path.as_deref()),
                ..report_of(&report)
            }),
            ..Reply::ok()
        },
        ReloadOutcome::Planned {
            report,
            config_path,
        } => Reply {
            reload: Some(ReloadReport {
                dry_run: true,
                generation,
                config_path: shown(config_path.as_deref()),
                ..report_of(&report)
            }),
            ..Reply::ok()
        },
        ReloadOutcome::Refused {
            reason,
            reasons,
            config_path,
        } => Reply {
            reload: Some(ReloadReport {
                reasons,
                generation,
                dry_run,
                summary: "refused".to_owned(),
                config_path: shown(config_path.as_deref()),
                ..ReloadReport::default()
            }),
            ..Reply::error(if dry_run {
                format!("a reload now would be refused (nothing applied): {reason}")
            } else {
                format!("reload refused; the current configuration stays in force: {reason}")
            })
        },
    }
}

/// The protocol form of a reload report (`applied`, `generation` and the rest left for the
/// caller).
fn report_of(r: &crate::config::ReloadReport) -> ReloadReport {
    let change = |c: &Change| KeyChange {
        key: c.key.clone(),
        old: c.old.clone(),
        new: c.new.clone(),
    };
    ReloadReport {
        changes: r.lines(),
        changed: r.changed.iter().map(change).collect(),
        needs_restart: r.restart.iter().map(change).collect(),
        pinned: r.pinned.iter().map(pin_report).collect(),
        summary: crate::service::reload::summary(r),
        ..ReloadReport::default()
    }
}

fn pin_report(p: &Pin) -> PinReport {
    PinReport {
        key: p.key.to_owned(),
        by: match p.by {
            PinSource::Flag(n) | PinSource::Env(n) => n.to_owned(),
        },
        value: p.value.clone(),
        file_value: p.file_value.clone(),
    }
}

fn shown(p: Option<&Path>) -> Option<String> {
    p.map(|p| p.display().to_string())
}

/// The last reload as `status` shows it.
fn last_reload(l: &LastReload, generation: u64) -> ReloadReport {
    let base = match &l.result {
        Ok(report) => ReloadReport {
            applied: true,
            ..report_of(report)
        },
        Err(reasons) => ReloadReport {
            reasons: reasons.clone(),
            summary: "refused".to_owned(),
            ..ReloadReport::default()
        },
    };
    ReloadReport {
        generation,
        source: Some(l.source.to_owned()),
        at: Some(rfc3339(l.at)),
        config_path: shown(l.config_path.as_deref()),
        ..base
    }
}

fn watch_status(w: &WatchState) -> WatchStatus {
    let path = |p: &Path| p.display().to_string();
    let (watching, waiting_for, reason) = match w {
        WatchState::Watching { dir, .. } => (Some(path(dir)), None, None),
        WatchState::Waiting { ancestor, dir, .. } => (Some(path(ancestor)), Some(path(dir)), None),
        WatchState::Off { reason, .. } => (None, None, Some(reason.clone())),
    };
    WatchStatus {
        file: w.file().map(path),
        watching,
        waiting_for,
        reason,
        summary: w.to_string(),
    }
}

/// The status report from the daemon's live state. Counters are read without a lock, so
/// `total`, `active` and `failed` may be a request apart from each other.
pub fn status(state: &State) -> StatusReport {
    let config = state.config();
    let info = state.reload_info();
    let stats = state.stats.snapshot();
    let upstream_status = |u: &Upstream| {
        let s = stats.get(&u.name);
        let (requests, errors, last, p50, recent) = match s {
            None => (0, 0, None, None, 0),
            Some(s) => {
                let mut sorted: Vec<u64> = s.recent_latency_ms.iter().copied().collect();
                sorted.sort_unstable();
                let p50 = (!sorted.is_empty()).then(|| sorted[(sorted.len() - 1) / 2]);
                (
                    s.requests,
                    s.errors,
                    s.recent_latency_ms.back().copied(),
                    p50,
                    sorted.len() as u32,
                )
            }
        };
        UpstreamStatus {
            name: u.name.clone(),
            url: u.url.clone(),
            api_key_env: u.api_key_env.clone(),
            token_present: u.token.is_some(),
            requests,
            errors,
            last_latency_ms: last,
            p50_latency_ms: p50,
            recent,
        }
    };
    let upstreams = std::iter::once(&config.default_upstream)
        .chain(config.upstreams.values())
        .map(|u| upstream_status(u))
        .collect();
    StatusReport {
        version: crate::VERSION.to_owned(),
        pid: std::process::id(),
        uptime_s: state.started.elapsed().as_secs(),
        started_at: rfc3339(state.started_at),
        listen: state
            .listen_addr
            .get()
            .map(ToString::to_string)
            .unwrap_or_else(|| config.bind_addr()),
        upstream: config.default_upstream.url.clone(),
        config_path: config.config_path.as_ref().map(|p| p.display().to_string()),
        config_loaded_at: rfc3339(info.loaded_at),
        generation: info.generation,
        reload_count: info.reload_count,
        last_reload_error: info.last_error,
        last_reload_result: info.last_result,
        last_reload: info.last.as_ref().map(|l| last_reload(l, info.generation)),
        log_level: state.log.level(),
        pinned: config.pinned.clone(),
        pins: config.pins.iter().map(pin_report).collect(),
        token_present: config.default_upstream.token.is_some(),
        requests: RequestCounters {
            total: state.stats.total.load(Relaxed),
            active: state.stats.active.load(Relaxed),
            failed: state.stats.failed.load(Relaxed),
        },
        upstreams,
        control_socket: crate::config::paths::absolute(&config.control_socket)
            .display()
            .to_string(),
        client_keys_env: config.listen.client_keys_env.clone(),
        watch: Some(watch_status(&state.watch_state())),
        config_warning: config
            .config_path
            .as_deref()
            .and_then(crate::config::paths::permission_warning),
    }
}

fn resolve(state: &State, model: &str) -> RouteReport {
    let config = state.config();
    let matched = if config.routes.exact.contains_key(model) {
        Some(model.to_owned())
    } else {
        config
            .routes
            .prefixes
            .iter()
            .find(|(p, _)| model.starts_with(p.as_str()))
            .map(|(p, _)| format!("{p}*"))
    };
    let r = config.resolve(model);
    let route = r.route.cloned().unwrap_or_default();
    RouteReport {
        model: model.to_owned(),
        matched,
        upstream: r.upstream.name.clone(),
        upstream_model: r.upstream_model,
        context_window: route.context_window,
        max_output_tokens: route.max_output_tokens,
        vision: route.vision,
        reasoning: route.reasoning,
        apply_patch: route.apply_patch,
    }
}
