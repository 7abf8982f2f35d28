//! See main.rs for what this module covers: a provider that redirects, clients and providers
//! that stall or flood (docs/security.md#bounds).
//!
//! The upstreams here are raw TCP servers written for each test, so that a test controls every
//! byte and every pause: a 307 to a second server, a body that stops halfway, 80 MB of deltas.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::common::codex::TEST_TOKEN;
use super::common::daemon::{Daemon, daemon_bin};

/// A header value the daemon must treat as a secret and never send anywhere but its upstream.
const HEADER_SECRET: &str = "hdr-secret-5f1d8c2a9e7b4d30";

/// A raw upstream: for each connection, reads one request (head and `content-length` body),
/// records its head and hands the socket to `reply`.
struct Raw {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Raw {
    async fn start<F, Fut>(reply: F) -> Raw
    where
        F: Fn(String, tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(reply);
        let (c, h) = (connections.clone(), heads.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (h, reply) = (h.clone(), reply.clone());
                tokio::spawn(async move {
                    let Some(head) = read_request(&mut sock).await else {
                        return;
                    };
                    h.lock().unwrap().push(head.clone());
                    reply(head, sock).await;
                });
            }
        });
        Raw {
            addr,
            connections,
            heads,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// One request's head (lower-cased), its body read and dropped.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - end;
    while have < length {
        let n = sock.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        have += n;
    }
    Some(head)
}

/// A streamed chat chunk carrying `text`.
fn delta_event(text: &str) -> String {
    let chunk = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{"content":text},"finish_reason":null}]});
    format!("data: {chunk}\n\n")
}

fn finish_events() -> String {
    let chunk = json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{},"finish_reason":"stop"}]});
    format!("data: {chunk}\n\ndata: [DONE]\n\n")
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";

fn responses_body(stream: bool) -> Value {
    json!({"model": "m", "input": "hi", "stream": stream})
}

/// One HTTP/1.1 exchange over a fresh connection (`Connection: close`), within `wait`: the
/// status and body, or `None` when no complete answer came in time.
/// A streamed `POST /v1/responses` as Codex sends it, on a client of its own (so its
/// connection closes with it).
async fn stream_responses(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/responses"))
        .bearer_auth(TEST_TOKEN)
        .header("content-type", "application/json")
        .body(responses_body(true).to_string())
        .send()
        .await
        .unwrap()
}

fn raw_exchange(
    addr: SocketAddr,
    head: &str,
    body: &[u8],
    wait: Duration,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(wait)).unwrap();
    s.set_write_timeout(Some(wait)).unwrap();
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    read_answer(&mut s)
}

/// Reads an answer up to the connection's close (the daemon's replies here are small).
fn read_answer(s: &mut TcpStream) -> Option<(u16, String)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) if !out.is_empty() => break,
            Err(_) => return None,
        }
        let text = String::from_utf8_lossy(&out);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len = head
                .to_lowercase()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if len.is_some_and(|n| rest.len() >= n) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn post_head(addr: SocketAddr, path: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nauthorization: Bearer {TEST_TOKEN}\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    )
}

fn get_head(addr: SocketAddr, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TEST_TOKEN}\r\nconnection: close\r\n\r\n"
    )
}

fn daemon(yaml: &str) -> Daemon {
    Daemon::builder()
        .token(TEST_TOKEN)
        .config_yaml(yaml)
        .start()
}

fn error_of(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(
        v["error"]["message"].is_string(),
        "OpenAI error shape: {body}"
    );
    v["error"].clone()
}

// ---------------------------------------------------------------------------------------------
// Redirects.

/// A provider answering 307 to a second server: the second server never hears from the daemon
/// (so neither the prompt nor the token nor the `upstream.headers` secret goes there), and
/// every endpoint answers 502 naming the status and the host it pointed to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_never_followed_and_named_in_a_502() {
    let elsewhere = Raw::start(|_, mut sock| async move {
        let _ = sock.write_all(SSE_HEAD.as_bytes()).await;
    })
    .await;
    let target = format!("http://{}/v1/steal", elsewhere.addr);
    let redirecting = Raw::start(move |_, mut sock| {
        let target = target.clone();
        async move {
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    })
    .await;
    let d = daemon(&format!(
        "upstream:\n  url: {}\n  headers: {{ X-Secret: {HEADER_SECRET} }}\nmodels:\n  alias: {{ model: m }}\n",
        redirecting.url()
    ));
    let addr = d.addr;
    let host = format!("127.0.0.1:{}", elsewhere.addr.port());
    let wait = Duration::from_secs(10);
    let chat = json!({"model":"m","messages":[{"role":"user","content":"hi"}]}).to_string();
    let responses = responses_body(false).to_string();
    let cases = [
        (
            "/v1/responses",
            post_head(addr, "/v1/responses", responses.len()),
            responses.clone(),
        ),
        (
            "/v1/chat/completions",
            post_head(addr, "/v1/chat/completions", chat.len()),
            chat,
        ),
        ("/v1/models", get_head(addr, "/v1/models"), String::new()),
    ];
    for (path, head, body) in cases {
        let (status, text) = tokio::task::spawn_blocking(move || {
            raw_exchange(addr, &head, body.as_bytes(), wait).expect("an answer")
        })
        .await
        .unwrap();
        assert_eq!(status, 502, "{path}: {text}");
        let e = error_of(&text);
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("307") && message.contains(&host),
            "{path}: {message}"
        );
        assert!(
            message.contains("does not follow redirects"),
            "{path}: {message}"
        );
        assert_eq!(e["code"], "upstream_redirect", "{path}: {text}");
        assert!(!text.contains(HEADER_SECRET), "{path}: {text}");
    }
    // A streamed /v1/responses learns it in the stream, with the same words.
    let resp = stream_responses(&d.url()).await;
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("response.failed") && text.contains(&host),
        "{text}"
    );
    // The upstream was asked (with the secret), the place it pointed to never was.
    let asked = redirecting.heads.lock().unwrap().clone();
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert!(
        asked
            .iter()
            .all(|h| h.contains(&HEADER_SECRET.to_lowercase()))
    );
    assert_eq!(elsewhere.connections.load(Ordering::SeqCst), 0);
    assert!(!d.logs().contains(HEADER_SECRET));
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

/// More connections with stalled bodies than the daemon has descriptors (`prlimit
/// --nofile=64:64`): `/health` and a real `/v1/responses` are still answered within a few
/// seconds (a stalled body gives way to a new connection once the connection cap is reached),
/// and every stalled body ends with a 408 in the OpenAI shape, never left hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_beyond_the_descriptor_limit_get_408_and_starve_nobody() {
    let upstream = Raw::start(|_, mut sock| async move {
        let body = format!("{}{}", delta_event("hello"), finish_events());
        let _ = sock.write_all(format!("{SSE_HEAD}{body}").as_bytes()).await;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("limited");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec prlimit --nofile=64:64 -- {} \"$@\"\n",
            daemon_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = Daemon::builder_for(&wrapper)
        .token(TEST_TOKEN)
        .config_yaml(format!("upstream:\n  url: {}\n", upstream.url()))
        .start();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 64 ")),
        "the daemon runs with 64 descriptors: {limits}"
    );
    let addr = d.addr;

    // 80 connections: each sends its headers and half its body, then nothing.
    const STALLED: usize = 80;
    let started = Instant::now();
    let stalled: Vec<_> = (0..STALLED)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
                let body = responses_body(false).to_string();
                let half = body.len() / 2;
                s.write_all(post_head(addr, "/v1/responses", body.len()).as_bytes())
                    .unwrap();
                s.write_all(&body.as_bytes()[..half]).unwrap();
                let answer = read_answer(&mut s);
                (answer, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let asked = Instant::now();
    let health = tokio::task::spawn_blocking(move || {
        raw_exchange(
            addr,
            &get_head(addr, "/health"),
            b"",
            Duration::from_secs(30),
        )
    });
    let body = responses_body(true).to_string();
    let real = tokio::task::spawn_blocking(move || {
        let head = post_head(addr, "/v1/responses", body.len());
        raw_exchange(addr, &head, body.as_bytes(), Duration::from_secs(30))
    });
    let (status, text) = health.await.unwrap().expect("/health answers");
    assert_eq!(status, 200, "{text}");
    let health_took = asked.elapsed();
    let (status, text) = real.await.unwrap().expect("/v1/responses answers");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("hello"), "{text}");
    let real_took = asked.elapsed();
    assert!(
        health_took < Duration::from_secs(5) && real_took < Duration::from_secs(5),
        "/health took {health_took:?}, /v1/responses {real_took:?}"
    );

    for t in stalled {
        let (answer, at) = t.join().unwrap();
        let (status, text) = answer.expect("a stalled body gets an answer");
        assert_eq!(status, 408, "{text}");
        assert_eq!(error_of(&text)["code"], "request_body_timeout");
        // The plain deadline is 10 s; none waits much longer than that.
        assert!(at < Duration::from_secs(20), "answered after {at:?}");
    }
    println!(
        "bounds: /health {health_took:?}, /v1/responses {real_took:?} behind {STALLED} stalled bodies at 64 descriptors"
    );
}

/// Away from the connection cap, the plain deadline: a body that stops, and one that trickles
/// a byte a second (never pausing 10 s), both get their 408 after about 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_trickling_body_gets_408_after_its_deadline() {
    let d = daemon("upstream:\n  url: http://127.0.0.1:9/v1\n");
    let addr = d.addr;
    let clients: Vec<_> = [false, true]
        .into_iter()
        .map(|trickle| {
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(1000)))
                    .unwrap();
                s.write_all(post_head(addr, "/v1/responses", 1000).as_bytes())
                    .unwrap();
                s.write_all(b"{\"model\":").unwrap();
                loop {
                    let mut buf = [0u8; 4096];
                    match s.read(&mut buf) {
                        Ok(n) if n > 0 => {
                            let mut rest = buf[..n].to_vec();
                            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                            if let Ok(m) = s.read(&mut buf) {
                                rest.extend_from_slice(&buf[..m]);
                            }
                            return (
                                String::from_utf8_lossy(&rest).into_owned(),
                                started.elapsed(),
                            );
                        }
                        Ok(_) => return (String::new(), started.elapsed()),
                        Err(_) if started.elapsed() > Duration::from_secs(30) => {
                            return (String::new(), started.elapsed());
                        }
                        Err(_) if trickle => {
                            let _ = s.write_all(b" ");
                        }
                        Err(_) => {}
                    }
                }
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let (answer, at) = c.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "client {i}: {answer}");
        assert!(
            answer.contains("request_body_timeout"),
            "client {i}: {answer}"
        );
        assert!(
            at > Duration::from_millis(9500) && at < Duration::from_secs(14),
            "client {i} answered after {at:?}"
        );
    }
}

/// A body over `limits.max_body_bytes` from a client that writes all of it before it reads
/// (most clients do): it gets the 413, not a connection reset. With and without
/// `content-length`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_written_before_reading_gets_its_413() {
    let d = daemon("upstream:\n  url: http://127.0.0.1:9/v1\n");
    let addr = d.addr;
    let answers = tokio::task::spawn_blocking(move || {
        let big = vec![b'x'; 11 * 1024 * 1024];
        let declared = post_head(addr, "/v1/responses", big.len());
        let chunked = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
        let mut body = format!("{:x}\r\n", big.len()).into_bytes();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        [
            raw_exchange(addr, &declared, &big, Duration::from_secs(20)),
            raw_exchange(addr, &chunked, &body, Duration::from_secs(20)),
        ]
    })
    .await
    .unwrap();
    for answer in answers {
        let (status, text) = answer.expect("an answer, not a reset");
        assert_eq!(status, 413, "{text}");
        let e = error_of(&text);
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("limits.max_body_bytes"),
            "{e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Connections.

/// `limits.max_connections: 4`: four streams run to their end unharmed while a fifth
/// connection waits; it is served once a slot is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_new_connection_waits_and_streams_are_not_cut() {
    let upstream = Raw::start(|_, mut sock| async move {
        if sock.write_all(SSE_HEAD.as_bytes()).await.is_err() {
            return;
        }
        for i in 0..10 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if sock
                .write_all(delta_event(&format!("part{i} ")).as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sock.write_all(finish_events().as_bytes()).await;
    })
    .await;
    let d = daemon(&format!(
        "upstream:\n  url: {}\nlimits:\n  max_connections: 4\n",
        upstream.url()
    ));
    let url = d.url();
    let streams: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let resp = stream_responses(&url).await;
                assert_eq!(resp.status(), 200);
                resp.text().await.unwrap()
            })
        })
        .collect();
    // Let the four connect first.
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.connections.load(Ordering::SeqCst) < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 4);
    let addr = d.addr;
    let fifth = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let answer = raw_exchange(
            addr,
            &get_head(addr, "/health"),
            b"",
            Duration::from_secs(15),
        );
        (answer, started.elapsed())
    });
    for s in streams {
        let text = s.await.unwrap();
        assert!(text.contains("response.completed"), "{text}");
        assert!(text.contains("part9"), "every delta arrived: {text}");
    }
    let (answer, took) = fifth.await.unwrap();
    let (status, _) = answer.expect("the fifth is served once a slot is free");
    assert_eq!(status, 200);
    // The streams take 2 s; the fifth connection waited for one of them.
    assert!(
        took > Duration::from_millis(1000),
        "the fifth was served at once: {took:?}"
    );
}

/// At the cap, connections without a request in flight give way: idle keep-alive connections
/// and connections that never finish their headers do not make a new one wait for hyper's
/// 30 s header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_max_connections_idle_and_header_stalled_connections_give_way() {
    let d = daemon("upstream:\n  url: http://127.0.0.1:9/v1\nlimits:\n  max_connections: 4\n");
    let addr = d.addr;
    let (took, held) = tokio::task::spawn_blocking(move || {
        let mut held = Vec::new();
        for _ in 0..2 {
            // Keep-alive: answered, then left open and silent.
            let mut s = TcpStream::connect(addr).unwrap();
            let head = format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n\r\n");
            s.write_all(head.as_bytes()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            held.push(s);
        }
        for _ in 0..2 {
            // Half a request head, then nothing.
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n").as_bytes())
                .unwrap();
            held.push(s);
        }
        let started = Instant::now();
        let answer = raw_exchange(
            addr,
            &get_head(addr, "/health"),
            b"",
            Duration::from_secs(20),
        );
        let (status, _) = answer.expect("the fifth is served");
        assert_eq!(status, 200);
        (started.elapsed(), held)
    })
    .await
    .unwrap();
    assert!(took < Duration::from_secs(5), "the fifth waited {took:?}");
    drop(held);
}

// ---------------------------------------------------------------------------------------------
// What the upstream sends back.

/// `GET /v1/models` through aliases (the daemon reads the list whole) with an upstream that
/// sends half its body and stalls, or trickles a byte every 300 ms (never silent for the idle
/// timeout): a timeout error within about the upstream's timeout, not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_trickling_model_list_ends_with_a_timeout() {
    for trickle in [false, true] {
        let upstream = Raw::start(move |_, mut sock| async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"data\":[";
            let _ = sock.write_all(head.as_bytes()).await;
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if trickle && sock.write_all(b" ").await.is_err() {
                    return;
                }
            }
        })
        .await;
        let d = daemon(&format!(
            "upstream:\n  url: {}\n  timeout_ms: 1500\nmodels:\n  alias: {{ model: m }}\n",
            upstream.url()
        ));
        let addr = d.addr;
        let started = Instant::now();
        let answer = tokio::task::spawn_blocking(move || {
            raw_exchange(
                addr,
                &get_head(addr, "/v1/models"),
                b"",
                Duration::from_secs(20),
            )
        })
        .await
        .unwrap();
        let took = started.elapsed();
        let (status, text) = answer.expect("an answer");
        assert_eq!(status, 504, "trickle {trickle}: {text}");
        assert_eq!(error_of(&text)["code"], "upstream_timeout");
        assert!(
            took < Duration::from_secs(5),
            "trickle {trickle}: took {took:?}"
        );
    }
}

/// An 80 MB streamed reply of small deltas: the stream ends with `response.failed`
/// (`max_output_bytes`, naming the setting) once the default 16 MiB are reached, and the
/// daemon's peak memory stays far below 128 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_reply_is_cut_at_max_output_bytes_in_bounded_memory() {
    const TOTAL: usize = 80 * 1024 * 1024;
    let upstream = Raw::start(|_, mut sock| async move {
        if sock.write_all(SSE_HEAD.as_bytes()).await.is_err() {
            return;
        }
        let one = delta_event(&"word ".repeat(16));
        let batch = one.repeat(64 * 1024 / one.len());
        let mut sent = 0;
        while sent < TOTAL {
            if sock.write_all(batch.as_bytes()).await.is_err() {
                return;
            }
            sent += batch.len();
        }
        let _ = sock.write_all(finish_events().as_bytes()).await;
    })
    .await;
    let d = daemon(&format!("upstream:\n  url: {}\n", upstream.url()));
    let resp = stream_responses(&d.url()).await;
    assert_eq!(resp.status(), 200);
    // Read it all, keeping only the end.
    let mut resp = resp;
    let mut tail = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        total += chunk.len();
        tail.extend_from_slice(&chunk);
        if tail.len() > 64 * 1024 {
            tail.drain(..tail.len() - 64 * 1024);
        }
    }
    let tail = String::from_utf8_lossy(&tail);
    let last = tail.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: response.failed"), "{last}");
    let data: Value = serde_json::from_str(last.split_once("data: ").unwrap().1).unwrap();
    assert_eq!(data["response"]["error"]["code"], "max_output_bytes");
    let message = data["response"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("limits.max_output_bytes"), "{message}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    println!(
        "bounds: {total} bytes streamed; daemon peak RSS (VmHWM) {} MiB",
        hwm_kb / 1024
    );
    assert!(hwm_kb < 128 * 1024, "VmHWM {hwm_kb} kB");
}
