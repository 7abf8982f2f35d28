//! See main.rs for what this module covers. A web page in the user's browser tries to use the
//! daemon (docs/security.md#web-pages): by DNS rebinding (`Host: attacker.example`), from
//! another origin (`Origin`), with a "simple" cross-site POST (`Content-Type: text/plain`,
//! no preflight), and, with client keys set, after a reload that tries to drop them.
//! Requests are written on raw TCP, so each test says exactly which headers go out.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::codex::TEST_TOKEN;
use crate::common::daemon::{Daemon, stack};
use crate::common::{MockUpstream, Reply};

const KEY: &str = "client-key-browser-0123456789";
const KEYS_VAR: &str = "SHIM_BROWSER_TEST_KEYS";

/// A reply: status, headers (lowercased names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The OpenAI error shape, with its code.
    fn error_code(&self) -> String {
        let v = self.json();
        let e = &v["error"];
        assert!(e["message"].is_string() && e["type"].is_string(), "{v}");
        e["code"].as_str().unwrap_or_default().to_owned()
    }

    fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Sends one HTTP/1.1 request with exactly `headers` (plus `Content-Length` when there is a
/// body, and `Connection: close`) and reads the whole reply.
async fn send(
    d: &Daemon,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let addr = d.url().trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    req.push_str("connection: close\r\n\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .expect("reply within 20 s")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn responses_body() -> String {
    json!({"model": "m", "stream": false, "store": false, "input": [
        {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}
    ]})
    .to_string()
}

fn chat_body() -> String {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

/// `Host: 127.0.0.1:PORT`, what Codex sends.
fn own_host(d: &Daemon) -> String {
    d.url().trim_start_matches("http://").to_owned()
}

fn port(d: &Daemon) -> String {
    own_host(d).rsplit(':').next().unwrap().to_owned()
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// One request per endpoint with `extra` headers (`Host` among them): the POSTs with a JSON
/// body and type unless `extra` names one.
async fn every_endpoint(d: &Daemon, extra: &[(&str, &str)]) -> Vec<(&'static str, Answer)> {
    let mut posts: Vec<(&str, &str)> = extra.to_vec();
    if !posts.iter().any(|(k, _)| *k == "content-type") {
        posts.push(JSON);
    }
    vec![
        (
            "/v1/responses",
            send(d, "POST", "/v1/responses", &posts, &responses_body()).await,
        ),
        (
            "/v1/chat/completions",
            send(d, "POST", "/v1/chat/completions", &posts, &chat_body()).await,
        ),
        ("/v1/models", send(d, "GET", "/v1/models", extra, "").await),
        ("/health", send(d, "GET", "/health", extra, "").await),
        ("/metrics", send(d, "GET", "/metrics", extra, "").await),
    ]
}

fn shimctl(d: &Daemon, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", d.dir())
        .arg("--socket")
        .arg(d.control_socket().expect("harness socket"))
        .args(args)
        .output()
        .expect("running shimctl")
}

fn keyed_daemon(mock: &MockUpstream, listen_yaml: &str) -> Daemon {
    Daemon::builder()
        .upstream(mock.url())
        .token(TEST_TOKEN)
        .env(KEYS_VAR, format!("other-key-abcdefghijkl,{KEY}"))
        .config_yaml(listen_yaml)
        .start()
}

fn assert_nothing_upstream(mock: &MockUpstream, what: &str) {
    let reqs = mock.requests();
    assert!(
        reqs.is_empty(),
        "{what}: {} request(s) reached the upstream: {:?}",
        reqs.len(),
        reqs.iter().map(|r| r.path.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebinding_host_is_refused_on_every_endpoint_and_nothing_goes_upstream() {
    let (mock, d) = stack(None).await;
    let port = port(&d);
    let with_port = format!("attacker.example:{port}");
    for host in ["attacker.example", with_port.as_str(), "evil.localhost"] {
        for (path, a) in every_endpoint(&d, &[("host", host)]).await {
            assert_eq!(a.status, 403, "{host} {path}: {}", a.body);
            assert_eq!(a.error_code(), "host_not_allowed", "{path}");
            assert!(
                a.message().contains("listen.allowed_hosts"),
                "{}",
                a.message()
            );
            assert_eq!(a.header("x-deepinfra-shim-error"), Some("1"), "{path}");
        }
    }
    assert_nothing_upstream(&mock, "rebinding Host");

    // One short log line per refusal, quoting a bounded piece of the Host and nothing else
    // the page sent.
    let long = format!("{}.example", "a".repeat(3000));
    let a = send(
        &d,
        "GET",
        "/v1/models",
        &[("host", &long), ("cookie", "page-cookie-value")],
        "",
    )
    .await;
    assert_eq!(a.status, 403);
    assert!(a.body.len() < 1000, "{}", a.body);
    assert!(
        d.wait_for_log("aaaaaaaa", Duration::from_secs(5)),
        "{}",
        d.logs()
    );
    let logs = d.logs();
    let line = logs.lines().find(|l| l.contains("aaaaaaaa")).unwrap();
    assert!(line.len() < 600, "log line of {} bytes: {line}", line.len());
    assert!(!logs.contains("page-cookie-value"), "{logs}");

    // What Codex sends is served.
    mock.push(Reply::text("ok"));
    let host = own_host(&d);
    let a = send(
        &d,
        "POST",
        "/v1/responses",
        &[("host", &host), JSON],
        &responses_body(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(mock.chat_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_hosts_and_allowed_hosts_are_served() {
    let yaml = "listen:\n  allowed_hosts: [shim.lan, 'box.lan:1']\n";
    let (mock, d) = stack(Some(yaml)).await;
    let port = port(&d);
    let hosts = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "127.0.0.1".to_owned(),
        format!("shim.lan:{port}"),
        "SHIM.LAN".to_owned(),
    ];
    for host in &hosts {
        for (path, a) in every_endpoint(&d, &[("host", host)]).await {
            assert_ne!(a.status, 403, "{host} {path}: {}", a.body);
        }
    }
    // Nothing refused; a request without Host (HTTP/1.0) is served too.
    let a = send(&d, "GET", "/health", &[], "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    // An entry with a port allows that port only.
    let a = send(
        &d,
        "GET",
        "/v1/models",
        &[("host", &format!("box.lan:{port}"))],
        "",
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(!mock.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_is_refused_unless_listed() {
    let (mock, d) = stack(None).await;
    let host = own_host(&d);
    for origin in ["https://evil.example", "null", "http://127.0.0.1:3000"] {
        for (path, a) in every_endpoint(&d, &[("host", &host), ("origin", origin)]).await {
            assert_eq!(a.status, 403, "{origin} {path}: {}", a.body);
            assert_eq!(a.error_code(), "origin_not_allowed", "{path}");
            assert!(
                a.message().contains("listen.allowed_origins"),
                "{}",
                a.message()
            );
        }
        // The CORS preflight a page needs before a JSON POST is refused too.
        let a = send(
            &d,
            "OPTIONS",
            "/v1/responses",
            &[
                ("host", &host),
                ("origin", origin),
                ("access-control-request-method", "POST"),
            ],
            "",
        )
        .await;
        assert_eq!(a.status, 403, "{}", a.body);
        assert!(a.header("access-control-allow-origin").is_none());
    }
    // An `<img src>` GET carries no Origin, but its browser says it is cross-site.
    for site in ["cross-site", "same-site"] {
        for (path, a) in every_endpoint(&d, &[("host", &host), ("sec-fetch-site", site)]).await {
            assert_eq!(a.status, 403, "{site} {path}: {}", a.body);
            assert!(
                a.message().contains("listen.allowed_origins"),
                "{}",
                a.message()
            );
        }
    }
    assert_nothing_upstream(&mock, "Origin");
    // The user typing the address (`none`) is not a page.
    let a = send(
        &d,
        "GET",
        "/health",
        &[("host", &host), ("sec-fetch-site", "none")],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_origin_is_served_with_cors_headers() {
    let yaml = "listen:\n  allowed_origins: ['https://app.example']\n";
    let (mock, d) = stack(Some(yaml)).await;
    let host = own_host(&d);
    let origin = ("origin", "https://app.example");
    let pre = send(
        &d,
        "OPTIONS",
        "/v1/responses",
        &[
            ("host", &host),
            origin,
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization, content-type",
            ),
        ],
        "",
    )
    .await;
    assert_eq!(pre.status, 204, "{}", pre.body);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    mock.push(Reply::text("ok"));
    let a = send(
        &d,
        "POST",
        "/v1/responses",
        &[("host", &host), origin, JSON],
        &responses_body(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(mock.chat_requests().len(), 1);
    // Another origin is still refused.
    let a = send(
        &d,
        "GET",
        "/v1/models",
        &[("host", &host), ("origin", "https://app.example.evil")],
        "",
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simple_cross_site_post_is_refused_with_415() {
    let (mock, d) = stack(None).await;
    let host = own_host(&d);
    for ct in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for path in ["/v1/responses", "/v1/chat/completions", "/responses"] {
            let mut h = vec![("host", host.as_str())];
            if let Some(ct) = ct {
                h.push(("content-type", ct));
            }
            let body = if path.contains("chat") {
                chat_body()
            } else {
                responses_body()
            };
            let a = send(&d, "POST", path, &h, &body).await;
            assert_eq!(a.status, 415, "{ct:?} {path}: {}", a.body);
            assert_eq!(a.error_code(), "unsupported_media_type");
            assert!(a.message().contains("application/json"), "{}", a.message());
        }
    }
    assert_nothing_upstream(&mock, "text/plain POST");
    // JSON with parameters, in any case, is served.
    mock.push(Reply::text("ok"));
    let a = send(
        &d,
        "POST",
        "/v1/responses",
        &[
            ("host", &host),
            ("content-type", "Application/JSON; charset=utf-8"),
        ],
        &responses_body(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_keys_a_valid_key_is_served_under_any_host_but_origin_still_counts() {
    let mock = MockUpstream::start().await;
    let d = keyed_daemon(
        &mock,
        &format!("listen:\n  host: 0.0.0.0\n  client_keys_env: {KEYS_VAR}\n"),
    );
    let bearer = format!("Bearer {KEY}");
    let host = format!("shim.example:{}", port(&d));
    let auth = ("authorization", bearer.as_str());

    // No key, or a wrong one: refused, naming the key setting; nothing upstream.
    for extra in [
        vec![],
        vec![("authorization", "Bearer wrong-key-0123456789")],
    ] {
        let mut h = vec![("host", host.as_str())];
        h.extend(extra);
        for (path, a) in every_endpoint(&d, &h).await {
            assert!(
                matches!(a.status, 401 | 403),
                "{path}: {} {}",
                a.status,
                a.body
            );
            assert!(
                a.message().contains("listen.client_keys_env"),
                "{}",
                a.message()
            );
        }
    }
    // A valid key and Origin: refused.
    for (path, a) in every_endpoint(
        &d,
        &[("host", &host), auth, ("origin", "https://evil.example")],
    )
    .await
    {
        assert_eq!(a.status, 403, "{path}: {}", a.body);
        assert_eq!(a.error_code(), "origin_not_allowed");
    }
    // A valid key and a JSON-less POST: refused.
    let a = send(
        &d,
        "POST",
        "/v1/responses",
        &[("host", &host), auth, ("content-type", "text/plain")],
        &responses_body(),
    )
    .await;
    assert_eq!(a.status, 415, "{}", a.body);
    assert_nothing_upstream(&mock, "refused keyed requests");

    // A valid key under a name the daemon does not know: served.
    mock.push(Reply::text("ok"));
    mock.push(Reply::text("ok"));
    for (path, a) in every_endpoint(&d, &[("host", &host), auth]).await {
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    assert_eq!(
        mock.chat_requests().len(),
        2,
        "responses and chat passthrough"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_drops_the_client_keys_leaves_them_in_force() {
    let mock = MockUpstream::start().await;
    let d = keyed_daemon(
        &mock,
        &format!("listen:\n  host: 0.0.0.0\n  client_keys_env: {KEYS_VAR}\n"),
    );
    let host = own_host(&d);
    let before = send(&d, "GET", "/v1/models", &[("host", &host)], "").await;
    assert_eq!(before.status, 401, "{}", before.body);

    // The attack: the file now asks for a keyless loopback listener.
    d.rewrite_config("listen:\n  host: 127.0.0.1\n");
    let o = shimctl(&d, &["reload"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("Waiting for a restart"), "{out}");
    for key in [
        "listen.host",
        "listen.client_keys_env",
        "listen client keys",
    ] {
        assert!(
            out.lines().any(|l| l.contains(key)),
            "the reload reply names {key}: {out}"
        );
    }

    // Still refused without a key, on every endpoint but `/health` (which needs none); still
    // served with one.
    for (path, a) in every_endpoint(&d, &[("host", &host)]).await {
        let want = if path == "/health" { 200 } else { 401 };
        assert_eq!(a.status, want, "{path} after the reload: {}", a.body);
    }
    assert_nothing_upstream(&mock, "keyless requests after the reload");
    let bearer = format!("Bearer {KEY}");
    let a = send(
        &d,
        "GET",
        "/v1/models",
        &[("host", &host), ("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);

    // And `status` says what waits.
    let o = shimctl(&d, &["status", "--json"]);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let waiting: Vec<&str> = s["last_reload"]["needs_restart"]
        .as_array()
        .unwrap_or_else(|| panic!("{s}"))
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert!(waiting.contains(&"listen.host"), "{waiting:?}");
    assert!(waiting.contains(&"listen.client_keys_env"), "{waiting:?}");
    assert!(s["listen"].as_str().unwrap().starts_with("0.0.0.0:"), "{s}");
}
