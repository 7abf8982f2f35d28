//! The HTTP front end Codex talks to: the accept loop, routing, and the handlers. It knows
//! hyper and Codex; the provider is behind [`crate::upstream`] (docs/architecture.md).
//!
//! - [`routes`]: path/method dispatch, the per-request span, the browser guard ([`guard`]),
//!   the client-key check ([`auth`]).
//! - [`responses`]: `POST /v1/responses`, top to bottom: [`request_body`], parse,
//!   [`destination`], translate, upstream, reply ([`pump`] for streams).
//! - [`pump`]: moves one upstream stream through the translator to the client.
//! - [`passthrough`]: `POST /v1/chat/completions` and `GET /v1/models`, relayed as they are.
//! - [`error`]: the one mapping of errors to HTTP statuses and OpenAI error bodies.
//! - [`body`]: the response body type and the JSON/SSE reply shapes. Secrets are kept out of
//!   what is logged or relayed by [`crate::redact`], at each exit (docs/security.md).

pub mod auth;
pub mod body;
pub mod destination;
pub mod error;
pub mod guard;
pub mod passthrough;
pub mod pump;
pub mod request_body;
pub mod responses;
pub mod routes;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::service::state::State;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How often at most a failed accept (EMFILE: out of descriptors) is logged; the lines in
/// between are counted and the count goes with the next one.
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after a failed accept, so that running out of
/// descriptors does not spin a core.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// How often a connection waiting for a free slot asks a stalled body to give way again.
const WAIT_FOR_SLOT_TICK: Duration = Duration::from_millis(250);

/// Accepts connections until `stop` turns true, then returns the tracker of the connections
/// still open, so the caller can drain them (HTTP/1.1 keep-alive connections that are idle
/// close at once; connections with a request in flight finish it first).
///
/// At most [`connection_cap`] connections are open at once, each holding a permit until it
/// closes: past the cap the loop stops accepting (new connections wait in the kernel's
/// queue), and a stalled request body or an idle connection gives way to the waiting
/// connection ([`make_room`]). Streams in progress are never cut.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.keep_alive(true)
        .timer(TokioTimer::new())
        // A client that opens a connection and never sends its headers is dropped.
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let cap = connection_cap(state.config().limits.max_connections, descriptor_room());
    let slots = Arc::new(Semaphore::new(cap));
    let open = Arc::new(Open::default());
    let mut accept_errors = Throttle::default();
    let mut full = Throttle::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: a stalled body gives way, and we back off
                        // instead of spinning, with one log line per interval.
                        let evicted = make_room(&open);
                        if let Some(count) = accept_errors.hit() {
                            tracing::warn!(error = %e, count, evicted, "Accept failed (counting every failure since the last line)");
                        }
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                        continue;
                    }
                };
                let permit = match Arc::clone(&slots).try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        if let Some(count) = full.hit() {
                            tracing::warn!(cap, count, "At the connection limit (limits.max_connections); new connections wait for a free slot");
                        }
                        let Some(p) = wait_for_slot(&slots, &open, &mut stop).await else {
                            break;
                        };
                        p
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (entry, slot) = open.enter();
                let st = Arc::clone(&state);
                let in_flight = Arc::clone(&slot);
                let svc = service_fn(move |req| {
                    let st = Arc::clone(&st);
                    let busy = Busy::new(&in_flight);
                    async move {
                        let resp = routes::handle(st, req).await;
                        // Busy until hyper drops the body: when the reply was sent, or the
                        // client went away.
                        Ok::<_, Infallible>(resp.map(|body| Tracked { body, _busy: busy }))
                    }
                });
                let conn = http.serve_connection(TokioIo::new(tcp), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // The slot is free again when the connection is closed.
                    let _permit = permit;
                    let _entry = entry;
                    tokio::pin!(conn);
                    loop {
                        tokio::select! {
                            ended = &mut conn => {
                                if let Err(e) = ended {
                                    tracing::debug!(%peer, error = %e, "Connection ended with an error");
                                }
                                break;
                            }
                            // Asked to make room: only while no request is in flight.
                            _ = slot.close.notified() => if slot.busy.load(Ordering::Acquire) == 0 {
                                tracing::debug!(%peer, "Closed an idle connection to make room for a new one");
                                break;
                            }
                        }
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    graceful
}

/// Waits for a connection slot, asking a stalled body or an idle connection to give way now
/// and then ([`make_room`]). `None` when the daemon is told to stop meanwhile.
async fn wait_for_slot(
    slots: &Arc<Semaphore>,
    open: &Open,
    stop: &mut watch::Receiver<bool>,
) -> Option<OwnedSemaphorePermit> {
    loop {
        make_room(open);
        tokio::select! {
            p = Arc::clone(slots).acquire_owned() => return p.ok(),
            _ = stop.changed() => return None,
            _ = tokio::time::sleep(WAIT_FOR_SLOT_TICK) => {}
        }
    }
}

/// Asks one connection to give way to a new one: the request body stalled longest (it gets a
/// 408), else the connection without a request in flight for longest (an idle keep-alive
/// connection, or one still sending its headers), after [`request_body::STALL_GRACE`] of
/// either. A connection with a request in flight is never chosen. True when one was asked.
fn make_room(open: &Open) -> bool {
    request_body::evict_stalled() || open.close_idle()
}

/// The open connections, for [`make_room`].
#[derive(Default)]
struct Open {
    conns: Mutex<BTreeMap<u64, Arc<Slot>>>,
    next: AtomicU64,
}

/// One open connection: how many of its requests are in flight (from the handler's call to the
/// end of the reply body), since when it has had none, and the signal that closes it.
struct Slot {
    busy: AtomicUsize,
    idle_since: Mutex<Instant>,
    close: Notify,
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Slot>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enter(self: &Arc<Self>) -> (Entry, Arc<Slot>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            close: Notify::new(),
        });
        self.lock().insert(id, Arc::clone(&slot));
        (Entry(Arc::clone(self), id), slot)
    }

    /// Signals the connection idle longest, if one has been idle past the grace.
    fn close_idle(&self) -> bool {
        let now = Instant::now();
        let conns = self.lock();
        let oldest = conns
            .values()
            .filter(|c| c.busy.load(Ordering::Acquire) == 0)
            .map(|c| (*c.idle_since.lock().unwrap_or_else(|e| e.into_inner()), c))
            .filter(|(since, _)| now.duration_since(*since) >= request_body::STALL_GRACE)
            .min_by_key(|(since, _)| *since);
        match oldest {
            Some((_, c)) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in [`Open`], left when its task ends.
struct Entry(Arc<Open>, u64);

impl Drop for Entry {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}

/// One request in flight on a connection.
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: &Arc<Slot>) -> Self {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(slot))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
    }
}

/// A reply body that keeps its request counted as in flight until hyper drops it.
struct Tracked {
    body: body::ShimBody,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Infallible>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The connection cap: `limits.max_connections`, lowered to half the descriptors the process
/// may still open (`room`; each client connection may need one more toward the provider, and
/// the control socket and config reads need theirs), so the cap is reached before the
/// descriptor limit is.
pub fn connection_cap(max_connections: usize, room: Option<usize>) -> usize {
    let cap = match room {
        Some(room) if room / 2 < max_connections => {
            let lowered = (room / 2).max(1);
            // Info, not a warning: a shell's usual `ulimit -n` of 1024 does this, and the
            // lower cap is the right one for it.
            tracing::info!(
                max_connections,
                lowered,
                "Connection cap lowered below limits.max_connections to fit the descriptor limit (ulimit -n, LimitNOFILE=)"
            );
            lowered
        }
        _ => max_connections,
    };
    cap.max(1)
}

/// Descriptors this process may still open: its soft `RLIMIT_NOFILE` less those open now.
/// Read from /proc (Linux); `None` elsewhere or when it cannot be read.
fn descriptor_room() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let soft: usize = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count();
    Some(soft.saturating_sub(open))
}

/// At most one log line per [`ACCEPT_ERROR_LOG_EVERY`], counting the events in between.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    count: u64,
}

impl Throttle {
    /// Counts one event; the count so far when a line is due.
    fn hit(&mut self) -> Option<u64> {
        self.count += 1;
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < ACCEPT_ERROR_LOG_EVERY)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(connection_cap(1024, None), 1024);
        assert_eq!(connection_cap(1024, Some(4000)), 1024);
        assert_eq!(connection_cap(1024, Some(40)), 20);
        assert_eq!(connection_cap(4, Some(1)), 1);
        assert!(descriptor_room().is_none_or(|r| r > 0));
    }

    #[tokio::test]
    async fn only_a_connection_idle_past_the_grace_is_asked_to_close() {
        let open = Arc::new(Open::default());
        let (_a, busy) = open.enter();
        let (_b, idle) = open.enter();
        let _request = Busy::new(&busy);
        // Both just opened: nobody is idle long enough.
        assert!(!open.close_idle());
        let long_ago = Instant::now() - request_body::STALL_GRACE * 2;
        *busy.idle_since.lock().unwrap() = long_ago;
        *idle.idle_since.lock().unwrap() = long_ago;
        assert!(open.close_idle());
        // The idle one was signalled, never the one with a request in flight.
        let signalled = |s: &Slot| s.close.notified().now_or_never().is_some();
        assert!(signalled(&idle));
        assert!(!signalled(&busy));
        drop(_b);
        assert!(!open.close_idle(), "a closed connection leaves the set");
    }

    #[test]
    fn the_throttle_counts_what_it_does_not_log() {
        let mut t = Throttle::default();
        assert_eq!(t.hit(), Some(1));
        assert_eq!(t.hit(), None);
        assert_eq!(t.hit(), None);
        t.last = Some(Instant::now() - ACCEPT_ERROR_LOG_EVERY);
        assert_eq!(t.hit(), Some(3));
    }
}
