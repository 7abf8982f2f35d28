//! The reload loop against the real binaries: a config directory made after the start is
//! watched (and watched again when removed and made anew), steady rewrites under streaming
//! clients lose no request and the last write wins within a second, a slow write never applies
//! an empty file, and what a reload (or a dry run) reports: changes, keys waiting for a
//! restart, pinned keys and what pins them, "no changes", absolute paths, the start-up summary.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::{Chunk, End, MockUpstream, Reply};
use deepinfra_shim::control::protocol::StatusReport;
use serde_json::{Value, json};

const TOKEN: &str = "sk-reload-test-token-QQQQ";

// -------------------------------------------------------------------------------------------
// Helpers
// -------------------------------------------------------------------------------------------

fn shimctl_at(socket: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", home)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("running shimctl")
}

fn shimctl(d: &Daemon, args: &[&str]) -> Output {
    shimctl_at(d.control_socket().expect("harness socket"), d.dir(), args)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("shimctl exited by a signal")
}

fn status_at(socket: &Path, home: &Path) -> StatusReport {
    let o = shimctl_at(socket, home, &["status", "--json"]);
    assert_eq!(code(&o), 0, "status --json: {}", err(&o));
    serde_json::from_slice(&o.stdout).expect("status --json is a StatusReport")
}

fn status(d: &Daemon) -> StatusReport {
    status_at(d.control_socket().unwrap(), d.dir())
}

/// Polls `status` until `pred` holds (None on timeout, with the last status for the message).
async fn wait_status(
    d: &Daemon,
    timeout: Duration,
    pred: impl Fn(&StatusReport) -> bool,
) -> Result<StatusReport, StatusReport> {
    let deadline = Instant::now() + timeout;
    loop {
        let s = status(d);
        if pred(&s) {
            return Ok(s);
        }
        if Instant::now() > deadline {
            return Err(s);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Polls `/health` until it reports `want` as the upstream; how long that took.
async fn wait_upstream(d: &Daemon, want: &str, timeout: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if d.health_upstream().await == want {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn chunk(content: &str) -> String {
    json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
           "choices":[{"index":0,"delta":{"role":"assistant","content":content},"finish_reason":null}]})
    .to_string()
}

/// A stream of `n` pieces `gap` apart, then a clean finish.
fn slow_stream(n: usize, gap: Duration) -> Reply {
    let mut chunks: Vec<Chunk> = (0..n)
        .map(|i| Chunk::after(gap, format!("data: {}\n\n", chunk(&format!("p{i} ")))))
        .collect();
    chunks.push(Chunk::event(
        json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
               "choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})
        .to_string(),
    ));
    chunks.push(Chunk::event("[DONE]"));
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks,
        end: End::Finish,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// One streamed Responses request; true when it completed with the expected text.
async fn ask_ok(http: &reqwest::Client, url: &str, model: &str, want: &str) -> bool {
    let body = json!({"model": model, "stream": true, "store": false, "tools": [], "input": [
        {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}
    ]});
    let Ok(r) = http
        .post(format!("{url}/v1/responses"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
    else {
        return false;
    };
    if r.status() != 200 {
        return false;
    }
    let Ok(sse) = r.text().await else {
        return false;
    };
    let text: String = sse
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["type"] == "response.output_text.delta")
        .map(|v| v["delta"].as_str().unwrap_or("").to_owned())
        .collect();
    sse.contains("\"type\":\"response.completed\"") && text == want
}

/// `clients` tasks sending requests until `stop`; each returns (ok, failed).
fn load(
    url: &str,
    model: &'static str,
    want: &'static str,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(usize, usize)>> {
    (0..clients)
        .map(|_| {
            let url = url.to_owned();
            let stop = Arc::clone(stop);
            tokio::spawn(async move {
                let http = client();
                let (mut ok, mut failed) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    if ask_ok(&http, &url, model, want).await {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed)
            })
        })
        .collect()
}

async fn totals(tasks: Vec<tokio::task::JoinHandle<(usize, usize)>>) -> (usize, usize) {
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        let (o, f) = t.await.unwrap();
        ok += o;
        failed += f;
    }
    (ok, failed)
}

/// A `--config` that is a symlink in a directory of its own, to a file in another: the watcher
/// (on the link's directory) sees no edit of the target, so only `shimctl reload` reloads.
struct Unwatched {
    _dir: tempfile::TempDir,
    link: PathBuf,
    real: PathBuf,
}

impl Unwatched {
    fn new(yaml: &str) -> Unwatched {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("link")).unwrap();
        std::fs::create_dir_all(dir.path().join("real")).unwrap();
        let real = dir.path().join("real/config.yaml");
        let link = dir.path().join("link/config.yaml");
        std::fs::write(&real, yaml).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        Unwatched {
            _dir: dir,
            link,
            real,
        }
    }

    fn write(&self, yaml: &str) {
        std::fs::write(&self.real, yaml).unwrap();
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The indented entry lines of shimctl's reload output (`  key: a -> b`).
fn entry_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.trim().to_owned())
        .collect()
}

// -------------------------------------------------------------------------------------------
// The watcher always watches
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_directory_made_after_the_start_is_watched_then_its_file_then_every_edit() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    a.set_handler(|_| Reply::text("from A"));
    b.set_handler(|_| Reply::text("from B"));
    let builder = Daemon::builder().token(TOKEN);
    // XDG_CONFIG_HOME two levels below a directory that exists: nothing of the path is there.
    let xdg = builder.dir().join("xdg");
    let conf_dir = xdg.join("nested/deepinfra-shim");
    let file = conf_dir.join("config.yaml");
    let d = builder.env("XDG_CONFIG_HOME", xdg.join("nested")).start();
    let root = d.dir().to_path_buf();

    // Start-up: built-in defaults, and the file to create; the watch on the nearest ancestor.
    assert!(
        d.wait_for_log("Started", Duration::from_secs(3)),
        "{}",
        d.logs()
    );
    let started = d
        .logs()
        .lines()
        .find(|l| l.contains("INFO Started"))
        .unwrap()
        .to_owned();
    assert!(
        started.contains(&format!(
            "config=\"none, built-in defaults (create {} to configure)\"",
            file.display()
        )),
        "{started}"
    );
    assert!(
        started.contains(&format!("socket={}", d.control_socket().unwrap().display())),
        "{started}"
    );
    assert!(
        started.contains("tokens=\"default: DEEPINFRA_TOKEN (set)\""),
        "{started}"
    );
    assert!(
        started.contains("pinned=\"control_socket by --control-socket, listen.port by --port\""),
        "{started}"
    );
    assert!(
        started.contains(&format!(
            "watch=\"watching {} until {} appears\"",
            root.display(),
            conf_dir.display()
        )),
        "{started}"
    );
    assert!(!d.logs().contains(TOKEN), "the token is never logged");
    let s = status(&d);
    let w = s.watch.clone().expect("status has the watch");
    assert_eq!(w.watching.as_deref(), Some(root.to_str().unwrap()));
    assert_eq!(w.waiting_for.as_deref(), Some(conf_dir.to_str().unwrap()));
    assert_eq!(w.file.as_deref(), Some(file.to_str().unwrap()));
    assert_eq!(s.config_path, None);
    let text = out(&shimctl(&d, &["status"]));
    assert!(
        text.contains(&format!(
            "Config: none, built-in defaults (create {} to configure)",
            file.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Watching: {} (until {} appears)",
            root.display(),
            conf_dir.display()
        )),
        "{text}"
    );

    // One directory appears: the watch moves down to it.
    std::fs::create_dir(&xdg).unwrap();
    let s = wait_status(&d, Duration::from_secs(3), |s| {
        s.watch.as_ref().unwrap().watching.as_deref() == Some(xdg.to_str().unwrap())
    })
    .await
    .unwrap_or_else(|s| panic!("watch did not move to {}: {:?}", xdg.display(), s.watch));
    assert_eq!(
        s.watch.unwrap().waiting_for.as_deref(),
        Some(conf_dir.to_str().unwrap())
    );
    // The rest of the path: now the config directory itself is watched.
    std::fs::create_dir_all(&conf_dir).unwrap();
    let s = wait_status(&d, Duration::from_secs(3), |s| {
        s.watch.as_ref().unwrap().watching.as_deref() == Some(conf_dir.to_str().unwrap())
    })
    .await
    .unwrap_or_else(|s| panic!("not watching the config dir: {:?}", s.watch));
    assert_eq!(s.watch.as_ref().unwrap().waiting_for, None);
    let text = out(&shimctl(&d, &["status"]));
    assert!(
        text.contains(&format!("Watching: {}\n", conf_dir.display())),
        "{text}"
    );
    assert_eq!(s.generation, 0, "no reload without a file");

    // The file: applied.
    std::fs::write(&file, format!("upstream:\n  url: {}\n", a.url())).unwrap();
    assert!(
        wait_upstream(&d, &a.url(), Duration::from_secs(2))
            .await
            .is_some(),
        "the new file applied: {}",
        d.logs()
    );
    assert!(ask_ok(&client(), &d.url(), "m", "from A").await);
    let s = status(&d);
    assert_eq!(s.config_path.as_deref(), Some(file.to_str().unwrap()));

    // A manual reload, then an edit: still seen.
    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("no changes"), "{}", out(&o));
    let tmp = conf_dir.join("config.yaml.tmp");
    std::fs::write(&tmp, format!("upstream:\n  url: {}\n", b.url())).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    assert!(
        wait_upstream(&d, &b.url(), Duration::from_secs(2))
            .await
            .is_some(),
        "the edit after `shimctl reload` applied: {}",
        d.logs()
    );
    assert!(ask_ok(&client(), &d.url(), "m", "from B").await);

    // The directory removed (the file with it: refused, B stays) and made again.
    std::fs::remove_dir_all(&conf_dir).unwrap();
    assert!(
        d.wait_for_log("no longer exists", Duration::from_secs(3)),
        "{}",
        d.logs()
    );
    assert_eq!(d.health_upstream().await, b.url());
    let s = wait_status(&d, Duration::from_secs(3), |s| {
        s.watch.as_ref().unwrap().waiting_for.as_deref() == Some(conf_dir.to_str().unwrap())
    })
    .await
    .unwrap_or_else(|s| panic!("the watch did not move up: {:?}", s.watch));
    assert_eq!(
        s.watch.unwrap().watching.as_deref(),
        Some(xdg.join("nested").to_str().unwrap())
    );
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(&file, format!("upstream:\n  url: {}\n", a.url())).unwrap();
    assert!(
        wait_upstream(&d, &a.url(), Duration::from_secs(2))
            .await
            .is_some(),
        "the file in the new directory applied: {}",
        d.logs()
    );
    // `status` lists what the last reload changed, with the absolute path it read.
    let s = status(&d);
    let last = s.last_reload.expect("last reload");
    assert!(last.applied);
    assert_eq!(last.source.as_deref(), Some("file change"));
    assert_eq!(last.config_path.as_deref(), Some(file.to_str().unwrap()));
    assert_eq!(last.changed.len(), 1, "{last:?}");
    assert_eq!(last.changed[0].key, "upstream.url");
    assert_eq!(last.changed[0].old.as_deref(), Some(b.url().as_str()));
    assert_eq!(last.changed[0].new.as_deref(), Some(a.url().as_str()));
    let text = out(&shimctl(&d, &["status"]));
    assert!(
        text.contains(&format!("upstream.url: {} -> {}", b.url(), a.url())),
        "{text}"
    );
    assert!(!text.contains("changes)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_rewrites_under_32_streaming_clients_lose_nothing_and_the_last_write_wins() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    for m in [&a, &b] {
        m.set_handler(|_| slow_stream(4, Duration::from_millis(20)));
    }
    let d = Daemon::builder()
        .token(TOKEN)
        .config_yaml(format!("upstream:\n  url: {}\n", a.url()))
        .start();
    let path = d.config_path().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&d.url(), "m", "p0 p1 p2 p3 ", 32, &stop);
    tokio::time::sleep(Duration::from_millis(300)).await;

    const WRITES: usize = 50;
    let target = |i: usize| {
        if i.is_multiple_of(2) {
            b.url()
        } else {
            a.url()
        }
    };
    let served_during = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut last_write = started;
    for i in 0..WRITES {
        let yaml = format!("# write {i}\nupstream:\n  url: {}\n", target(i));
        if i.is_multiple_of(2) {
            // As editors save: a new file renamed over the old one.
            d.rewrite_config(&yaml);
        } else {
            // As `>` does: the same file truncated and written.
            std::fs::write(&path, yaml).unwrap();
        }
        last_write = Instant::now();
        if i + 1 < WRITES {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let generation_during = status(&d).generation;
    served_during.store(b.chat_requests().len(), Ordering::Relaxed);
    let last = target(WRITES - 1);
    // From the moment the last write finished.
    let took = wait_upstream(&d, &last, Duration::from_secs(3))
        .await
        .map(|_| last_write.elapsed());
    let last_mock = if last == a.url() { &a } else { &b };
    let before = last_mock.chat_requests().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = totals(tasks).await;
    eprintln!(
        "rewrites: {WRITES} writes in {:.1?}, {ok} streams completed, {failed} failed, \
         {generation_during} reloads applied during the writes, last write applied after \
         {took:?}, A served {}, B served {}",
        last_write - started,
        a.chat_requests().len(),
        b.chat_requests().len()
    );
    assert_eq!(failed, 0, "{}", d.logs());
    assert!(ok > 100, "the clients really streamed: {ok}");
    let took = took.unwrap_or_else(|| panic!("the last write never applied:\n{}", d.logs()));
    assert!(
        took < Duration::from_secs(1),
        "the last write applied {took:?} after it"
    );
    // Reloads happened while the writes went on, not only after them.
    assert!(
        generation_during >= (WRITES / 2) as u64,
        "{generation_during} reloads during {WRITES} writes"
    );
    assert!(
        served_during.load(Ordering::Relaxed) > 0,
        "B served during the writes"
    );
    assert!(!a.chat_requests().is_empty() && !b.chat_requests().is_empty());
    assert!(
        last_mock.chat_requests().len() > before,
        "requests after the last write go to its upstream"
    );
    let s = status(&d);
    assert_eq!(s.upstream, last);
    assert_eq!(s.last_reload_error, None, "no reload was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_write_never_applies_the_empty_file() {
    // The default upstream is pinned by the flag to a mock that must never be asked: an empty
    // file (built-in defaults, no routes) would send model `m` there.
    let wrong = MockUpstream::start().await;
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    wrong.set_handler(|_| Reply::text("WRONG"));
    a.set_handler(|_| Reply::text("routed"));
    b.set_handler(|_| Reply::text("routed"));
    let yaml = |to: &str| {
        format!(
            "upstreams:\n  a: {{ url: {}, api_key_env: ROUTE_KEY }}\n  b: {{ url: {}, api_key_env: \
             ROUTE_KEY }}\nmodels:\n  m: {{ upstream: {to} }}\n",
            a.url(),
            b.url()
        )
    };
    let d = Daemon::builder()
        .upstream(wrong.url())
        .token(TOKEN)
        .env("ROUTE_KEY", "sk-route-key-RRRR")
        .config_yaml(yaml("a"))
        .start();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&d.url(), "m", "routed", 4, &stop);
    a.wait_chat_requests(4, Duration::from_secs(5)).await;

    // Truncate, pause half a second, then write the whole file.
    let path = d.config_path().unwrap().to_owned();
    let mut f = std::fs::File::create(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    f.write_all(yaml("b").as_bytes()).unwrap();
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(3);
    while b.chat_requests().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = totals(tasks).await;
    eprintln!(
        "slow write: {ok} requests completed, {failed} failed; a {}, b {}, wrong {}",
        a.chat_requests().len(),
        b.chat_requests().len(),
        wrong.chat_requests().len()
    );
    assert!(
        wrong.chat_requests().is_empty(),
        "a request went by the empty file's config: {}",
        d.logs()
    );
    assert_eq!(failed, 0);
    assert!(
        !b.chat_requests().is_empty(),
        "the whole file applied: {}",
        d.logs()
    );
    assert!(
        d.logs()
            .contains("is empty; keeping the current configuration"),
        "{}",
        d.logs()
    );
    // One generation: the complete file. None for the empty one.
    let s = status(&d);
    assert_eq!((s.generation, s.reload_count), (1, 1), "{}", d.logs());
    let last = s.last_reload.unwrap();
    assert_eq!(last.changed.len(), 1, "{last:?}");
    assert_eq!(last.changed[0].key, "models.m.upstream");
}

// -------------------------------------------------------------------------------------------
// Honest reports
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_name_restarts_pins_and_no_changes_by_their_substance() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let port = free_port();
    let other_port = free_port();
    let yaml = |port: u16, url: &str, extra: &str| {
        format!("listen:\n  port: {port}\nupstream:\n  url: {url}\n{extra}")
    };
    let cfg = Unwatched::new(&yaml(port, &a.url(), ""));
    let d = Daemon::builder()
        .without_port_flag()
        .token(TOKEN)
        .arg("--timeout-ms")
        .arg("5000")
        .arg("--config")
        .arg(&cfg.link)
        .start();
    assert_eq!(d.addr.port(), port, "the file's port");

    // Nothing edited: "no changes", and no empty `changes=` in the log.
    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(
        out(&o),
        "Configuration reloaded (generation 1): no changes.\n"
    );
    assert!(
        d.wait_for_log("Configuration reloaded: no changes", Duration::from_secs(2)),
        "{}",
        d.logs()
    );
    let line = d
        .logs()
        .lines()
        .find(|l| l.contains("Configuration reloaded: no changes"))
        .unwrap()
        .to_owned();
    assert!(!line.contains("changes="), "{line}");
    assert!(!line.contains("pinned="), "{line}");

    // Another port: waits for a restart; the running port stays.
    cfg.write(&yaml(other_port, &a.url(), ""));
    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("nothing applied now"), "{text}");
    assert!(
        text.contains(&format!(
            "Waiting for a restart (the running value stays in force until then):\n  \
             listen.port: {port} -> {other_port}\n"
        )),
        "{text}"
    );
    let s = status(&d);
    let last = s.last_reload.unwrap();
    assert_eq!(last.needs_restart.len(), 1, "{last:?}");
    assert_eq!(last.needs_restart[0].key, "listen.port");
    assert!(last.changed.is_empty(), "{last:?}");
    assert_eq!(s.listen, format!("127.0.0.1:{port}"));

    // The running port put back: no change, nothing waits for a restart.
    cfg.write(&yaml(port, &a.url(), ""));
    let o = shimctl(&d, &["reload"]);
    assert_eq!(
        out(&o),
        "Configuration reloaded (generation 3): no changes.\n"
    );
    let last = status(&d).last_reload.unwrap();
    assert!(last.needs_restart.is_empty(), "{last:?}");
    assert!(
        d.wait_for_log("generation=3", Duration::from_secs(2)),
        "{}",
        d.logs()
    );
    let line = d
        .logs()
        .lines()
        .find(|l| l.contains("generation=3"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("Configuration reloaded: no changes"),
        "{line}"
    );
    assert!(!line.contains("restart"), "{line}");

    // A pinned key edited in the file: the report names the pin and the ignored value.
    cfg.write(&yaml(port, &a.url(), "  timeout_ms: 1\n"));
    let o = shimctl(&d, &["reload"]);
    let text = out(&o);
    let pin = "upstream.timeout_ms: pinned to 5000 by the flag --timeout-ms; the file's value 1 \
               is ignored";
    assert!(
        text.starts_with("Configuration reloaded (generation 4): no changes.\n"),
        "{text}"
    );
    assert!(text.contains(pin), "{text}");
    assert!(
        d.wait_for_log(pin, Duration::from_secs(2)),
        "the log names the pin: {}",
        d.logs()
    );
    let s = status(&d);
    let p = &s.last_reload.as_ref().unwrap().pinned;
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        (
            p[0].key.as_str(),
            p[0].by.as_str(),
            p[0].file_value.as_deref()
        ),
        ("upstream.timeout_ms", "--timeout-ms", Some("1"))
    );
    assert!(
        s.pins
            .iter()
            .any(|p| p.key == "upstream.timeout_ms" && p.by == "--timeout-ms"),
        "{:?}",
        s.pins
    );

    // A real change: named with both values, in the reply, the log and `status`.
    cfg.write(&yaml(port, &b.url(), ""));
    let o = shimctl(&d, &["reload"]);
    let change = format!("upstream.url: {} -> {}", a.url(), b.url());
    assert_eq!(
        out(&o),
        format!("Configuration reloaded (generation 5), 1 change:\n  {change}\n")
    );
    assert!(
        d.wait_for_log(&format!("changes=\"{change}\""), Duration::from_secs(2)),
        "{}",
        d.logs()
    );
    let text = out(&shimctl(&d, &["status"]));
    assert!(text.contains("(shimctl): applied\n"), "{text}");
    assert!(text.contains(&format!("             {change}\n")), "{text}");
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("Pinned:")
            && l.contains("upstream.timeout_ms by --timeout-ms")),
        "{text}"
    );
    let s = status(&d);
    assert_eq!(
        s.last_reload_result.as_deref(),
        Some(format!("applied: {change}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_absolute_paths_for_relative_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), "log: { level: info }\n").unwrap();
    let d = Daemon::builder()
        .current_dir(dir.path())
        .arg("--config")
        .arg("config.yaml")
        .arg("--control-socket")
        .arg("ctl/control.sock")
        .start();
    let socket = dir.path().join("ctl/control.sock");
    let s = status_at(&socket, d.dir());
    assert_eq!(
        s.config_path.as_deref(),
        Some(dir.path().join("config.yaml").to_str().unwrap())
    );
    assert_eq!(s.control_socket, socket.to_str().unwrap());
    assert_eq!(
        s.watch.unwrap().watching.as_deref(),
        Some(dir.path().to_str().unwrap())
    );
    let want = format!(
        "config={} socket={}",
        dir.path().join("config.yaml").display(),
        socket.display()
    );
    assert!(
        d.wait_for_log(&want, Duration::from_secs(2)),
        "{want} in {}",
        d.logs()
    );
}

// -------------------------------------------------------------------------------------------
// Dry runs
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_changes_nothing_and_reports_what_the_reload_then_applies() {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let cfg = Unwatched::new(&format!("upstream:\n  url: {}\n", a.url()));
    let d = Daemon::builder()
        .token(TOKEN)
        .arg("--config")
        .arg(&cfg.link)
        .start();
    cfg.write(&format!(
        "upstream:\n  url: {}\nlog: {{ level: debug }}\nlisten: {{ port: 1 }}\n",
        b.url()
    ));

    let dry = shimctl(&d, &["reload", "--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", err(&dry));
    let planned = out(&dry);
    assert!(
        planned.starts_with(&format!(
            "{}: configuration OK; a reload now would apply 2 changes (nothing applied, \
             generation 0 stays in force):\n",
            cfg.link.display()
        )),
        "{planned}"
    );
    assert!(
        planned.contains("listen.port: pinned to 0 by the flag --port"),
        "{planned}"
    );
    let s = status(&d);
    assert_eq!((s.generation, s.reload_count), (0, 0), "nothing applied");
    assert!(s.last_reload.is_none() && s.last_reload_result.is_none());
    assert_eq!(s.log_level, "info");
    assert_eq!(d.health_upstream().await, a.url());
    assert!(!d.logs().contains("Configuration reloaded"), "{}", d.logs());

    // check-config --diff without a path: the daemon's own file, the same plan.
    let diff = shimctl(&d, &["check-config", "--diff"]);
    assert_eq!(code(&diff), 0, "{}", err(&diff));
    assert_eq!(out(&diff), planned);

    // Another file, planned by the daemon against its running config.
    let other = cfg.real.with_file_name("other.yaml");
    std::fs::write(&other, "log: { level: warn }\n").unwrap();
    let o = shimctl(&d, &["check-config", other.to_str().unwrap(), "--diff"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = out(&o);
    assert!(
        text.starts_with(&format!("{}: configuration OK", other.display())),
        "{text}"
    );
    assert!(
        entry_lines(&text).contains(&"log.level: info -> warn".to_owned()),
        "{text}"
    );
    assert!(
        entry_lines(&text).contains(&format!(
            "upstream.url: {} -> https://api.deepinfra.com/v1/openai",
            a.url()
        )),
        "{text}"
    );
    assert_eq!(status(&d).generation, 0);

    // The real reload applies exactly what the dry run announced.
    let o = shimctl(&d, &["reload"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(entry_lines(&out(&o)), entry_lines(&planned));
    assert_eq!(
        entry_lines(&planned)[..2],
        [
            format!("upstream.url: {} -> {}", a.url(), b.url()),
            "log.level: info -> debug".to_owned()
        ]
    );
    assert_eq!(status(&d).generation, 1);
    assert_eq!(d.health_upstream().await, b.url());

    // A bad file: refused by the dry run with every problem (exit 1), nothing recorded.
    cfg.write("upstream:\n  url: not-a-url\nlog: { level: loud }\n");
    let o = shimctl(&d, &["reload", "--dry-run"]);
    assert_eq!(code(&o), 1, "{}", out(&o));
    let e = err(&o);
    assert!(e.contains("a reload now would be refused"), "{e}");
    assert!(e.contains("not-a-url") && e.contains("loud"), "{e}");
    let o = shimctl(&d, &["check-config", "--diff"]);
    assert_eq!(code(&o), 1, "{}", out(&o));
    let s = status(&d);
    assert_eq!(s.generation, 1);
    assert_eq!(s.last_reload_error, None, "a dry run records nothing");
    assert_eq!(d.health_upstream().await, b.url());
    // An empty file is refused as a reload would refuse it.
    cfg.write("");
    let o = shimctl(&d, &["reload", "--dry-run"]);
    assert_eq!(code(&o), 1);
    assert!(
        err(&o).contains("is empty; keeping the current configuration"),
        "{}",
        err(&o)
    );
}

#[test]
fn without_a_daemon_there_is_nothing_to_diff_against() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "log: { level: warn }\n").unwrap();
    let o = shimctl_at(
        &socket,
        dir.path(),
        &["check-config", "--diff", good.to_str().unwrap()],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("nothing to diff against"), "{}", err(&o));
    assert!(out(&o).contains("configuration OK"), "{}", out(&o));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "log: { level: loud }\n").unwrap();
    let o = shimctl_at(
        &socket,
        dir.path(),
        &["check-config", "--diff", bad.to_str().unwrap()],
    );
    assert_eq!(code(&o), 1, "{}", out(&o));
    assert!(err(&o).contains("loud"), "{}", err(&o));
    let o = shimctl_at(&socket, dir.path(), &["reload", "--dry-run"]);
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(err(&o).contains("not running"), "{}", err(&o));
}
