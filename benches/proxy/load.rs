//! The load client: `c` keep-alive connections, each sending the same request back to back
//! (closed loop) until the phase's request budget is spent or its time is up.
//!
//! Runs on the caller's (current-thread) runtime. Per request it records the latency (first
//! byte written to last body byte read) and the time to first token (the first
//! `response.output_text.delta` through the daemon; the end of the first content event
//! straight from the mock), then checks the reply (see `check`).

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::check::{self, Needles};
use crate::http::{self, Reader};
use crate::workload::{Expect, Scenario};

/// One side of a scenario, ready to send.
pub struct Target {
    pub addr: SocketAddr,
    /// The whole request (head + body).
    pub request: Vec<u8>,
    pub kind: TargetKind,
    pub expect: Expect,
}

pub enum TargetKind {
    /// Straight to the mock: the reply must equal these bytes. `first_token_end` is the
    /// offset just past the first content event (0: none).
    Direct {
        reply: Vec<u8>,
        first_token_end: usize,
    },
    /// Through the daemon.
    Daemon { stream: bool },
}

impl Target {
    pub fn direct(addr: SocketAddr, s: &Scenario) -> Target {
        let reply = s.reply_body();
        let first_token_end = if s.stream {
            // The first event whose delta has non-empty `content`.
            let mut off = 0;
            let mut found = 0;
            for ev in reply.split_inclusive(|&b| b == b'\n') {
                off += ev.len();
                if check::contains(ev, b"\"content\":\"")
                    && !check::contains(ev, b"\"content\":\"\"")
                {
                    found = off;
                    break;
                }
            }
            found
        } else {
            0
        };
        Target {
            addr,
            request: http::post(
                "/v1/chat/completions",
                if s.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
                &s.chat_body,
            ),
            kind: TargetKind::Direct {
                reply,
                first_token_end,
            },
            expect: s.expect.clone(),
        }
    }

    pub fn daemon(addr: SocketAddr, s: &Scenario) -> Target {
        Target {
            addr,
            request: http::post(
                "/v1/responses",
                if s.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
                &s.responses_body,
            ),
            kind: TargetKind::Daemon { stream: s.stream },
            expect: s.expect.clone(),
        }
    }
}

#[derive(Default)]
pub struct PhaseResult {
    pub ok: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    pub latencies_us: Vec<u64>,
    pub ttft_us: Vec<u64>,
    pub wall: Duration,
}

pub struct Limits {
    pub requests: u64,
    pub time: Duration,
    /// Deep-check every n-th reply (and the first few of each connection).
    pub deep_every: u64,
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs one phase. Connections are opened before the clock starts.
pub async fn run(target: Rc<Target>, conns: usize, limits: &Limits) -> io::Result<PhaseResult> {
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        let s = TcpStream::connect(target.addr).await?;
        s.set_nodelay(true)?;
        streams.push(s);
    }
    let issued = Rc::new(Cell::new(0u64));
    let result = Rc::new(RefCell::new(PhaseResult::default()));
    let start = Instant::now();
    let deadline = start + limits.time;
    let needles = Rc::new(Needles::new(&target.expect));
    let local = tokio::task::LocalSet::new();
    for s in streams {
        let target = Rc::clone(&target);
        let issued = Rc::clone(&issued);
        let result = Rc::clone(&result);
        let needles = Rc::clone(&needles);
        let (budget, deep_every) = (limits.requests, limits.deep_every.max(1));
        local.spawn_local(async move {
            let mut conn = Reader::new(s);
            let mut body = Vec::with_capacity(64 * 1024);
            let mut mine = 0u64;
            loop {
                let n = issued.get();
                if n >= budget || Instant::now() >= deadline {
                    break;
                }
                issued.set(n + 1);
                let deep = mine < 2 || n.is_multiple_of(deep_every);
                mine += 1;
                let outcome = tokio::time::timeout(
                    REQUEST_TIMEOUT,
                    one(&mut conn, &target, &needles, deep, &mut body),
                )
                .await;
                // What to do next; the RefCell borrow ends before any await.
                let reconnect = {
                    let mut r = result.borrow_mut();
                    let failed = |r: &mut PhaseResult, msg: String| {
                        r.errors += 1;
                        if r.first_errors.len() < 3 {
                            r.first_errors.push(msg);
                        }
                    };
                    match outcome {
                        Ok(Ok((lat, ttft))) => {
                            r.ok += 1;
                            r.latencies_us.push(lat.as_micros() as u64);
                            if let Some(t) = ttft {
                                r.ttft_us.push(t.as_micros() as u64);
                            }
                            false
                        }
                        Ok(Err(Failure::Wrong(msg))) => {
                            failed(&mut r, msg);
                            false
                        }
                        Ok(Err(Failure::Io(e))) => {
                            failed(&mut r, format!("I/O error: {e}"));
                            true
                        }
                        Err(_) => {
                            failed(
                                &mut r,
                                format!("no complete reply within {REQUEST_TIMEOUT:?}"),
                            );
                            break;
                        }
                    }
                };
                if reconnect {
                    // The connection is out of step; open a new one.
                    match TcpStream::connect(target.addr).await {
                        Ok(s) => {
                            let _ = s.set_nodelay(true);
                            conn = Reader::new(s);
                        }
                        Err(_) => break,
                    }
                }
            }
        });
    }
    local.await;
    let mut r = Rc::try_unwrap(result)
        .ok()
        .expect("all tasks done")
        .into_inner();
    r.wall = start.elapsed();
    Ok(r)
}

enum Failure {
    Io(io::Error),
    Wrong(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

const MARKER: &[u8] = b"response.output_text.delta";

async fn one(
    conn: &mut Reader<TcpStream>,
    t: &Target,
    needles: &Needles,
    deep: bool,
    body: &mut Vec<u8>,
) -> Result<(Duration, Option<Duration>), Failure> {
    body.clear();
    let t0 = Instant::now();
    conn.io.write_all(&t.request).await?;
    let head = conn
        .read_head()
        .await?
        .ok_or_else(|| Failure::Io(io::ErrorKind::UnexpectedEof.into()))?;
    let mut ttft = None;
    let mut scanned = 0usize;
    let first_token_end = match &t.kind {
        TargetKind::Direct {
            first_token_end, ..
        } => *first_token_end,
        TargetKind::Daemon { .. } => 0,
    };
    let marker_scan =
        matches!(t.kind, TargetKind::Daemon { stream: true }) && t.expect.text.is_some();
    conn.read_body(&head, &mut |d| {
        body.extend_from_slice(d);
        if ttft.is_none() {
            if marker_scan {
                if check::contains(&body[scanned..], MARKER) {
                    ttft = Some(t0.elapsed());
                }
                scanned = body.len().saturating_sub(MARKER.len());
            } else if first_token_end > 0 && body.len() >= first_token_end {
                ttft = Some(t0.elapsed());
            }
        }
    })
    .await?;
    let latency = t0.elapsed();
    if head.status != 200 {
        return Err(Failure::Wrong(format!(
            "HTTP {}: {}",
            head.status,
            String::from_utf8_lossy(&body[..body.len().min(400)])
        )));
    }
    let verdict = match &t.kind {
        TargetKind::Direct { reply, .. } => {
            if body == reply {
                Ok(())
            } else {
                Err(format!(
                    "direct reply differs from the mock's ({} vs {} bytes)",
                    body.len(),
                    reply.len()
                ))
            }
        }
        TargetKind::Daemon { stream: false } => check::json(body, &t.expect),
        TargetKind::Daemon { stream: true } => check::sse_light(body, needles).and_then(|()| {
            if deep {
                check::sse_deep(body, &t.expect)
            } else {
                Ok(())
            }
        }),
    };
    verdict.map_err(Failure::Wrong)?;
    Ok((latency, ttft))
}
