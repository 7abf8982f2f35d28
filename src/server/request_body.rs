//! Reading a client's request body: uncompressed only, within `limits.max_body_bytes`, and
//! within a deadline (docs/security.md#bounds).
//!
//! The deadline: the body must not pause for [`BODY_IDLE`], and after its first
//! [`BODY_IDLE`] it must keep up an average of [`BODY_MIN_RATE`] (byte `n` is due by
//! `10 s + n / 64 KiB/s`), else 408. A client that stalls, or trickles a byte now and then,
//! therefore holds its connection for about 10 s, not forever; a 10 MiB body may take up
//! to 170 s, far more than any real client on a link this daemon serves needs.
//!
//! A body that has paused for [`STALL_GRACE`] may also be ended early: when the daemon is at
//! its connection cap ([`crate::server`]'s accept loop) or out of descriptors, the one that
//! has stalled longest gets its 408 at once ([`evict_stalled`]), so that stalled uploads
//! cannot keep `/health` or a new request waiting for their full deadline.
//!
//! A body over the limit is read to its end and thrown away (up to [`MAX_DRAIN`]) before the
//! 413 is sent: a client that writes its whole body before it reads (most HTTP clients do)
//! would otherwise never see the 413, since closing a socket with unread data makes the
//! kernel reset the connection.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_ENCODING, CONTENT_LENGTH, EXPECT};
use hyper::{HeaderMap, StatusCode};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::error::ApiError;

/// Longest pause allowed between two pieces of a request body.
pub const BODY_IDLE: Duration = Duration::from_secs(10);

/// Slowest average rate (bytes per second) a body may keep up after its first [`BODY_IDLE`].
pub const BODY_MIN_RATE: u64 = 64 * 1024;

/// A body paused this long may give way to a new connection ([`evict_stalled`]).
pub const STALL_GRACE: Duration = Duration::from_secs(1);

/// Most bytes of an oversized body read and discarded so that its client sees the 413; past
/// it the 413 is sent and the connection closed (the client may then see a reset).
pub const MAX_DRAIN: u64 = 64 * 1024 * 1024;

/// Reads a request body up to `limit` bytes (413 past it; checked on `content-length` first
/// so an honest oversized request is refused before we buffer it), within the deadline
/// described above (408).
pub async fn read(headers: &HeaderMap, body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    if let Some(enc) = header_str(headers, CONTENT_ENCODING)
        && !enc.eq_ignore_ascii_case("identity")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            Some("unsupported_content_encoding"),
            format!(
                "request bodies with content-encoding '{enc}' are not supported; send them uncompressed"
            ),
        ));
    }
    let mut body = Timed::new(body);
    let declared = header_str(headers, CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > limit as u64) {
        // A client that sent `Expect: 100-continue` waits for our word before it sends the
        // body: reading it would ask for it. Nor is a body too large to drain read.
        let waits =
            header_str(headers, EXPECT).is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
        if !waits && n <= MAX_DRAIN {
            body.drain().await;
        }
        return Err(ApiError::body_too_large(limit));
    }
    // One buffer, sized from content-length when the client says it (Codex always does), so a
    // large body is not assembled from chunks and copied again.
    let mut buf = Vec::with_capacity(declared.map_or(16 * 1024, |n| n as usize));
    while let Some(data) = body.next().await? {
        if buf.len() + data.len() > limit {
            body.drain().await;
            return Err(ApiError::body_too_large(limit));
        }
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}

/// A request body read under the deadline.
struct Timed {
    body: Incoming,
    started: Instant,
    last: Instant,
    received: u64,
}

impl Timed {
    fn new(body: Incoming) -> Self {
        let now = Instant::now();
        Timed {
            body,
            started: now,
            last: now,
            received: 0,
        }
    }

    /// When the next piece is due: within [`BODY_IDLE`] of the last one, and by the time the
    /// minimum rate says the bytes so far should have been followed by more.
    fn due(&self) -> Instant {
        let pace = Duration::from_secs_f64(self.received as f64 / BODY_MIN_RATE as f64);
        (self.last + BODY_IDLE).min(self.started + BODY_IDLE + pace)
    }

    /// The next data frame (trailers are skipped), `None` at the end.
    async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            let due = self.due();
            let grace = (self.last + STALL_GRACE).min(due);
            let frame = match tokio::time::timeout_at(grace, self.body.frame()).await {
                Ok(f) => f,
                // Paused past the grace: from now on it may be asked to give way. (Dropping
                // and re-polling `frame()` loses nothing: it only polls the body.)
                Err(_) => {
                    let (_entry, evicted) = Stalled::enter();
                    tokio::select! {
                        f = tokio::time::timeout_at(due, self.body.frame()) => match f {
                            Ok(f) => f,
                            Err(_) => return Err(self.timed_out()),
                        },
                        _ = evicted => return Err(self.evicted()),
                    }
                }
            };
            let Some(frame) = frame else {
                return Ok(None);
            };
            let frame = frame.map_err(|e| {
                ApiError::bad_request(
                    "invalid_body",
                    format!("could not read the request body: {e}"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                self.last = Instant::now();
                self.received += data.len() as u64;
                return Ok(Some(data));
            }
        }
    }

    /// Reads and discards the rest of the body, at most [`MAX_DRAIN`] bytes in all and under
    /// the same deadline; whatever goes wrong just ends it (the 413 follows either way).
    async fn drain(&mut self) {
        while self.received <= MAX_DRAIN {
            match self.next().await {
                Ok(Some(_)) => {}
                _ => return,
            }
        }
    }

    fn evicted(&self) -> ApiError {
        tracing::info!(
            received = self.received,
            "Request body stalled while the daemon was at its connection limit; ended"
        );
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            Some("request_body_timeout"),
            format!(
                "the request body stalled for over {} s while the daemon was at its connection limit (limits.max_connections), so it gave way to a new connection; send the whole body without pausing",
                STALL_GRACE.as_secs()
            ),
        )
    }

    fn timed_out(&self) -> ApiError {
        let idle = Instant::now().saturating_duration_since(self.last);
        let why = if idle >= BODY_IDLE {
            format!("nothing arrived for {} s", BODY_IDLE.as_secs())
        } else {
            format!(
                "it arrived slower than {} KiB/s ({} bytes in {} s)",
                BODY_MIN_RATE / 1024,
                self.received,
                self.started.elapsed().as_secs()
            )
        };
        tracing::info!(received = self.received, "Request body timed out");
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            Some("request_body_timeout"),
            format!(
                "the request body was not received in time: {why}; send the whole body without pausing (a body may pause at most {} s and must average {} KiB/s after that)",
                BODY_IDLE.as_secs(),
                BODY_MIN_RATE / 1024
            ),
        )
    }
}

/// The bodies paused past [`STALL_GRACE`], oldest first, each with the sender that ends it.
/// One per process: the accept loop and the handlers of one daemon share it.
static STALLED: Mutex<BTreeMap<u64, oneshot::Sender<()>>> = Mutex::new(BTreeMap::new());

/// One stalled body's place in [`STALLED`], left when its read ends or is dropped.
struct Stalled(u64);

impl Stalled {
    fn enter() -> (Stalled, oneshot::Receiver<()>) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock().insert(id, tx);
        (Stalled(id), rx)
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        lock().remove(&self.0);
    }
}

fn lock() -> std::sync::MutexGuard<'static, BTreeMap<u64, oneshot::Sender<()>>> {
    // The map stays consistent whatever panicked while holding it.
    STALLED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ends the read of the body that has stalled longest (it answers 408 and its connection
/// closes). False when no body is stalled past [`STALL_GRACE`].
pub fn evict_stalled() -> bool {
    loop {
        let Some((_, tx)) = lock().pop_first() else {
            return false;
        };
        if tx.send(()).is_ok() {
            return true;
        }
    }
}

/// How many bodies are stalled past [`STALL_GRACE`] right now.
pub fn stalled_count() -> usize {
    lock().len()
}

fn header_str(h: &HeaderMap, name: hyper::header::HeaderName) -> Option<&str> {
    h.get(name)?.to_str().ok().map(str::trim)
}
