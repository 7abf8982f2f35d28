//! The benchmark's mock upstream: a lean Chat Completions server on one thread.
//!
//! It runs a current-thread tokio runtime on its own OS thread (so its CPU time can be read
//! from that thread's `schedstat`). Replies are prebuilt per scenario at start (head and
//! HTTP chunk frames, one chunk per SSE event), so serving a request allocates nothing.
//!
//! Writes: a paced reply (first event after a delay, then one every `gap`) is one write per
//! event, like a provider that flushes every token as the model produces it; this is the
//! scenario that measures the per-chunk path. An unpaced reply is written in one burst (head
//! and every chunk frame in one write), like tokens that queued up in a provider's or CDN's
//! buffer; those scenarios measure the per-request and translation cost. With
//! `BENCH_SPLIT_WRITES=1` unpaced replies are also written one event per write (then the
//! loopback TCP cost of each write dominates both sides' CPU on small replies).
//!
//! Which reply: the scenario named by the request's `model` (`bench/<name>`; the first
//! `"model":"` in the body, which is the first field both the daemon and the direct client
//! send). The request is checked cheaply, so a daemon that forwarded the wrong thing is
//! caught: the body must be at least 90% of the direct chat body's size and say
//! `"stream":true` exactly when the scenario streams. A failed check answers 400, which the
//! client counts as an error. Nothing is recorded.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::http::{Reader, chunk_frame};
use crate::workload::{Reply, Scenario};

struct Entry {
    stream: bool,
    min_body: usize,
    kind: Kind,
}

enum Kind {
    /// Head and body in one write.
    Json(Vec<u8>),
    /// The head, then one prebuilt chunk frame per event (the last one carries the
    /// terminating zero chunk).
    Sse {
        head: Vec<u8>,
        frames: Vec<Vec<u8>>,
        /// Head and all frames, for a burst.
        whole: Vec<u8>,
        split: bool,
        first: Duration,
        gap: Duration,
    },
}

pub struct Mock {
    pub addr: SocketAddr,
    /// Linux thread id of the mock's thread (for `/proc/self/task/<tid>/schedstat`).
    pub tid: u32,
}

/// Starts the mock on its own thread; returns once it is listening.
pub fn start(scenarios: &[Scenario], split_writes: bool) -> io::Result<Mock> {
    let mut table = HashMap::new();
    for s in scenarios {
        let kind = match &s.reply {
            Reply::Json(body) => {
                let mut b = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                b.extend_from_slice(body);
                Kind::Json(b)
            }
            Reply::Sse { events, first, gap } => {
                let mut frames: Vec<Vec<u8>> = events.iter().map(|e| chunk_frame(e)).collect();
                if let Some(last) = frames.last_mut() {
                    last.extend_from_slice(b"0\r\n\r\n");
                }
                let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                let whole = [head.clone(), frames.concat()].concat();
                Kind::Sse {
                    head,
                    frames,
                    whole,
                    split: split_writes,
                    first: *first,
                    gap: *gap,
                }
            }
        };
        table.insert(
            s.model.clone(),
            Entry {
                stream: s.stream,
                min_body: s.chat_body.len() * 9 / 10,
                kind,
            },
        );
    }
    let table = Arc::new(table);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bench-mock".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let addr = listener.local_addr().expect("bound address");
                let _ = tx.send(Ok((addr, crate::procfs::current_tid())));
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = sock.set_nodelay(true);
                    tokio::spawn(serve(sock, Arc::clone(&table)));
                }
            });
        })?;
    let (addr, tid) = rx
        .recv()
        .map_err(|_| io::Error::other("mock thread died"))??;
    Ok(Mock { addr, tid })
}

const ERR_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 81\r\n\r\n{\"error\":{\"message\":\"bench mock: unexpected request\",\"type\":\"invalid_request\"}}";

async fn serve(sock: TcpStream, table: Arc<HashMap<String, Entry>>) {
    let mut r = Reader::new(sock);
    let mut body = Vec::with_capacity(64 * 1024);
    loop {
        let head = match r.read_head().await {
            Ok(Some(h)) => h,
            _ => return,
        };
        body.clear();
        if r.read_body(&head, &mut |d| body.extend_from_slice(d))
            .await
            .is_err()
        {
            return;
        }
        let entry = if head.path.ends_with("/chat/completions") {
            model_of(&body).and_then(|m| table.get(m))
        } else {
            None
        };
        let ok =
            entry.is_some_and(|e| body.len() >= e.min_body && e.stream == says_stream_true(&body));
        let res = match (ok, entry) {
            (true, Some(e)) => write_reply(&mut r.io, e).await,
            _ => r.io.write_all(ERR_400).await,
        };
        if res.is_err() {
            return;
        }
    }
}

async fn write_reply(io: &mut TcpStream, e: &Entry) -> io::Result<()> {
    match &e.kind {
        Kind::Json(b) => io.write_all(b).await,
        Kind::Sse {
            head,
            frames,
            whole,
            split,
            first,
            gap,
        } => {
            let paced = !first.is_zero() || !gap.is_zero();
            if !paced && !split {
                return io.write_all(whole).await;
            }
            io.write_all(head).await?;
            let start = Instant::now();
            for (i, f) in frames.iter().enumerate() {
                if paced {
                    tokio::time::sleep_until(start + *first + *gap * i as u32).await;
                }
                io.write_all(f).await?;
            }
            Ok(())
        }
    }
}

/// The value of the first `"model":"…"` (no escapes in our model names).
fn model_of(body: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"model\":\"";
    let start = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = body[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&body[start..start + len]).ok()
}

/// `"stream":true` in the last 256 bytes (both senders write it after the messages and tools).
fn says_stream_true(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"stream\":true";
    let tail = &body[body.len().saturating_sub(256)..];
    tail.windows(KEY.len()).any(|w| w == KEY)
}
