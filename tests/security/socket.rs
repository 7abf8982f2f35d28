//! Another local user against the control socket (docs/security.md, "Other local users").
//!
//! - A spoofed daemon: uid B creates `$TMPDIR/deepinfra-shim-<A>/` before A's daemon does and
//!   serves a fake `status` that names an environment variable holding A's secret and a URL of
//!   a mock; `shimctl doctor`, `models` and `smoke` run as A must refuse (naming the path and
//!   the fix) and the mock must receive nothing. The same fake daemon's socket placed inside
//!   A's own private directory is refused by the peer check, before anything is sent.
//! - A directory open to others (0755) or owned by another uid, and a symlink planted in place
//!   of the directory: refused by the daemon and by shimctl.
//! - The daemon answers no client of another uid, even one the file modes let in.
//!
//! Two scratch uids without a passwd entry, reached with `setpriv` (root only). The fake
//! daemon and the raw client run as those uids by re-running this test binary in a role
//! ([`child_role`]), speaking the real framing (one JSON line each way).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deepinfra_shim::control::protocol::{
    Reply, Request, RequestLine, StatusReport, UpstreamStatus,
};

use crate::common::daemon::Daemon;

/// The user whose daemon and shimctl are attacked, and the attacker.
const A: u32 = 61001;
const B: u32 = 61002;
/// What A keeps in the environment variable the fake reply names.
const SECRET: &str = "ghp_socketTestSecretValue0123456789abcd";
const SECRET_VAR: &str = "GITHUB_TOKEN";
const ROLE: &str = "SOCKET_TEST_ROLE";

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Prints past the harness's capture, so a skip is visible in `cargo test` output.
fn skipped(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

fn real_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(u32::MAX)
}

/// True when the test can switch uids; else a visible skip (a failure under `CI=true`).
fn can_switch_users(test: &str) -> bool {
    let why = if real_uid() != 0 {
        "not running as root"
    } else if Command::new("setpriv").arg("--version").output().is_err() {
        "setpriv (util-linux) is not installed"
    } else {
        return true;
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}, and CI=true forbids skipping (the suite runs as root in CI)");
    }
    skipped(&format!("{test}: {why}; it needs two scratch uids"));
    false
}

/// `program` run as `uid` (no supplementary groups), with exactly `env`.
fn as_user(uid: u32, program: impl AsRef<std::ffi::OsStr>, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(program);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// This test binary, run as `uid` in `role` (see [`child_role`]).
fn role_as(uid: u32, role: &str, env: &[(&str, &str)]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = as_user(uid, exe, env);
    cmd.env(ROLE, role).args([
        "--exact",
        "socket::child_role",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

/// Not a test of its own: what this binary does when re-run as another uid.
/// - `serve`: a fake daemon on `SOCK` (mode 0777 so A can connect), answering every
///   connection with the line in `REPLY_FILE`; it notes each connection in `CONNS` and every
///   byte received in `RECEIVED`. Runs until killed.
/// - `connect`: connects to `SOCK`, sends `LINE`, prints `RECEIVED <n>: <text>` (what came
///   back before the close) or `ERROR: <why>`.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap();
    match role.as_str() {
        "serve" => {
            let sock = PathBuf::from(var("SOCK"));
            if let Ok(mode) = std::env::var("MKDIR_MODE") {
                let dir = sock.parent().unwrap();
                std::fs::create_dir_all(dir).unwrap();
                chmod(dir, u32::from_str_radix(&mode, 8).unwrap());
            }
            let reply = std::fs::read(var("REPLY_FILE")).unwrap();
            let listener = UnixListener::bind(&sock).unwrap();
            chmod(&sock, 0o777);
            println!("SERVING {}", sock.display());
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                append(&var("CONNS"), b"connection\n");
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = [0u8; 4096];
                if let Ok(n) = conn.read(&mut buf)
                    && n > 0
                {
                    append(&var("RECEIVED"), &buf[..n]);
                }
                let _ = conn.write_all(&reply);
            }
        }
        "connect" => {
            let mut s = match UnixStream::connect(var("SOCK")) {
                Ok(s) => s,
                Err(e) => return println!("ERROR: connect: {e}"),
            };
            let _ = s.write_all(var("LINE").as_bytes());
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = Vec::new();
            match s.read_to_end(&mut got) {
                Ok(n) => println!("RECEIVED {n}: {}", String::from_utf8_lossy(&got)),
                Err(e) => println!("ERROR: read: {e}"),
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn append(path: &str, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// A TCP listener that records every connection and the bytes sent on it: the attacker's
/// URL. Nothing may ever reach it.
struct Mock {
    addr: String,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    fn start() -> Mock {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.set_nonblocking(false);
                        let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
                        let mut buf = vec![0u8; 8192];
                        let n = c.read(&mut buf).unwrap_or(0);
                        s.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Mock {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A child killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The scratch world: `base` (0755) holding `tmp` (1777, A's TMPDIR, as /tmp is), A's home
/// (0700, A's), and B's directory (0755, B's).
struct World {
    _base: tempfile::TempDir,
    tmp: PathBuf,
    home_a: PathBuf,
    dir_b: PathBuf,
}

impl World {
    fn new() -> World {
        let base = tempfile::tempdir().unwrap();
        chmod(base.path(), 0o755);
        let tmp = base.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        chmod(&tmp, 0o1777);
        let home_a = base.path().join("home-a");
        std::fs::create_dir(&home_a).unwrap();
        chown(&home_a, Some(A), Some(A)).unwrap();
        chmod(&home_a, 0o700);
        let dir_b = base.path().join("b");
        std::fs::create_dir(&dir_b).unwrap();
        chown(&dir_b, Some(B), Some(B)).unwrap();
        chmod(&dir_b, 0o755);
        World {
            _base: base,
            tmp,
            home_a,
            dir_b,
        }
    }

    /// Where A's shimctl looks without XDG_RUNTIME_DIR: `$TMPDIR/deepinfra-shim-<A>/`.
    fn a_socket_dir(&self) -> PathBuf {
        self.tmp.join(format!("deepinfra-shim-{A}"))
    }

    /// The attacker's `status` reply: the mock as listen address and upstream, the secret's
    /// variable as token and client-key variable, and a config file of B's naming both.
    fn fake_reply(&self, mock: &str) -> PathBuf {
        let config = self.dir_b.join("config.yaml");
        std::fs::write(
            &config,
            format!("upstream:\n  url: http://{mock}/v1\n  api_key_env: {SECRET_VAR}\n"),
        )
        .unwrap();
        chmod(&config, 0o644);
        let mut reply = Reply::ok();
        reply.status = Some(StatusReport {
            version: deepinfra_shim::VERSION.into(),
            pid: 4242,
            listen: mock.into(),
            upstream: format!("http://{mock}/v1"),
            config_path: Some(config.display().to_string()),
            token_present: true,
            upstreams: vec![UpstreamStatus {
                name: "default".into(),
                url: format!("http://{mock}/v1"),
                api_key_env: SECRET_VAR.into(),
                token_present: true,
                ..Default::default()
            }],
            client_keys_env: Some(SECRET_VAR.into()),
            ..Default::default()
        });
        let file = self.dir_b.join("reply.json");
        std::fs::write(&file, reply.to_line()).unwrap();
        chmod(&file, 0o644);
        file
    }

    /// B's fake daemon on `sock` (creating its directory with `mkdir_mode` first, if given).
    fn serve_as_b(&self, sock: &Path, reply: &Path, mkdir_mode: Option<&str>) -> Reaped {
        let conns = self.dir_b.join("conns");
        let received = self.dir_b.join("received");
        let mut env = vec![
            ("SOCK", sock.to_str().unwrap()),
            ("REPLY_FILE", reply.to_str().unwrap()),
            ("CONNS", conns.to_str().unwrap()),
            ("RECEIVED", received.to_str().unwrap()),
        ];
        if let Some(m) = mkdir_mode {
            env.push(("MKDIR_MODE", m));
        }
        let child = role_as(B, "serve", &env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = Reaped(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "the fake daemon did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    /// What B's fake daemon saw: connections, and bytes received.
    fn b_saw(&self) -> (usize, String) {
        let read = |f: &str| std::fs::read_to_string(self.dir_b.join(f)).unwrap_or_default();
        (read("conns").lines().count(), read("received"))
    }

    /// shimctl as A, at its default socket (no XDG_RUNTIME_DIR, TMPDIR = the shared tmp), the
    /// secret in its environment.
    fn shimctl_as_a(&self, args: &[&str]) -> Output {
        as_user(
            A,
            env!("CARGO_BIN_EXE_shimctl"),
            &[
                ("HOME", self.home_a.to_str().unwrap()),
                ("TMPDIR", self.tmp.to_str().unwrap()),
                (SECRET_VAR, SECRET),
            ],
        )
        .args(args)
        .output()
        .unwrap()
    }
}

/// The commands that turn a status reply into requests to the network.
const TRUSTING: [&[&str]; 3] = [&["doctor"], &["models"], &["smoke"]];

#[test]
fn a_spoofed_socket_directory_of_another_user_is_refused_and_nothing_is_sent() {
    if !can_switch_users("a_spoofed_socket_directory_of_another_user_is_refused") {
        return;
    }
    let w = World::new();
    let mock = Mock::start();
    let reply = w.fake_reply(&mock.addr);
    // B got there first: /tmp/deepinfra-shim-<A>/ is B's, open to A, with B's daemon in it.
    let dir = w.a_socket_dir();
    let _fake = w.serve_as_b(&dir.join("control.sock"), &reply, Some("755"));
    for args in TRUSTING {
        let o = w.shimctl_as_a(args);
        let out = text(&o);
        assert_ne!(o.status.code(), Some(0), "{args:?} must fail: {out}");
        assert!(out.contains(&dir.display().to_string()), "{args:?}: {out}");
        assert!(
            out.contains(&format!("belongs to uid {B}, not to you (uid {A})")),
            "{args:?}: {out}"
        );
        assert!(out.contains("rm -r"), "{args:?} names the fix: {out}");
        assert!(out.contains("XDG_RUNTIME_DIR"), "{args:?}: {out}");
        assert!(!out.contains(SECRET), "{args:?}: {out}");
    }
    assert_eq!(
        mock.seen(),
        Vec::<String>::new(),
        "the attacker's URL got requests"
    );
    assert_eq!(w.b_saw().1, "", "shimctl sent B's fake daemon a request");
}

#[test]
fn a_socket_served_by_another_user_is_refused_before_anything_is_sent() {
    if !can_switch_users("a_socket_served_by_another_user_is_refused") {
        return;
    }
    let w = World::new();
    let mock = Mock::start();
    let reply = w.fake_reply(&mock.addr);
    // A's directory is right (A's, 0700), but the socket in it is B's: bound by B elsewhere
    // and moved in (a socket file keeps its server whatever its name).
    let b_sock = w.dir_b.join("fake.sock");
    let _fake = w.serve_as_b(&b_sock, &reply, None);
    let dir = w.a_socket_dir();
    std::fs::create_dir(&dir).unwrap();
    chown(&dir, Some(A), Some(A)).unwrap();
    chmod(&dir, 0o700);
    let sock = dir.join("control.sock");
    std::fs::rename(&b_sock, &sock).unwrap();
    let mut commands = TRUSTING.to_vec();
    commands.push(&["status"]);
    for args in &commands {
        let o = w.shimctl_as_a(args);
        let out = text(&o);
        assert_ne!(o.status.code(), Some(0), "{args:?} must fail: {out}");
        assert!(out.contains(&sock.display().to_string()), "{args:?}: {out}");
        assert!(
            out.contains(&format!("served by uid {B}, not by you (uid {A})")),
            "{args:?}: {out}"
        );
        assert!(out.contains("nothing was sent"), "{args:?}: {out}");
        assert!(
            !out.contains("4242"),
            "{args:?} believed the fake status: {out}"
        );
    }
    assert_eq!(
        mock.seen(),
        Vec::<String>::new(),
        "the attacker's URL got requests"
    );
    let (conns, received) = w.b_saw();
    assert!(
        conns > 0,
        "shimctl never reached the fake daemon: the test proves nothing"
    );
    assert_eq!(received, "", "shimctl sent the fake daemon a request");
}

/// Runs the daemon with its socket at `sock` and expects it to refuse to start.
fn daemon_refuses(sock: &Path) -> String {
    let done = Daemon::builder()
        .arg("--control-socket")
        .arg(sock)
        .run(Duration::from_secs(20));
    assert_eq!(done.code(), Some(2), "{}", done.stderr);
    assert!(!sock.exists(), "the daemon bound {} anyway", sock.display());
    done.stderr
}

/// Runs shimctl (as ourselves) with `--socket sock`, where someone listens, and expects a
/// refusal (exit 1). With nobody listening there is nothing to refuse: "not running".
fn shimctl_refuses(sock: &Path) -> String {
    let _listening = (!sock.exists()).then(|| UnixListener::bind(sock).unwrap());
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", home.path())
        .arg("--socket")
        .arg(sock)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    text(&o)
}

#[test]
fn a_socket_directory_open_to_others_is_refused_by_both() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("open");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o755);
    let sock = dir.join("control.sock");
    for out in [daemon_refuses(&sock), shimctl_refuses(&sock)] {
        assert!(out.contains(&dir.display().to_string()), "{out}");
        assert!(out.contains("mode 0755"), "{out}");
        assert!(
            out.contains(&format!("chmod 700 {}", dir.display())),
            "{out}"
        );
    }
    // Not repaired behind the user's back either.
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

#[test]
fn a_socket_directory_of_another_uid_is_refused_by_both() {
    if !can_switch_users("a_socket_directory_of_another_uid_is_refused_by_both") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("theirs");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    chown(&dir, Some(B), Some(B)).unwrap();
    let sock = dir.join("control.sock");
    for out in [daemon_refuses(&sock), shimctl_refuses(&sock)] {
        assert!(out.contains(&dir.display().to_string()), "{out}");
        assert!(
            out.contains(&format!("belongs to uid {B}, not to you (uid 0)")),
            "{out}"
        );
    }
}

#[test]
fn a_planted_symlink_is_refused_not_just_warned_about() {
    let t = tempfile::tempdir().unwrap();
    let real = t.path().join("real");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    let link = t.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let via_link = link.join("control.sock");
    let out = daemon_refuses(&via_link);
    assert!(out.contains(&link.display().to_string()), "{out}");
    assert!(out.contains("is a symlink"), "{out}");
    assert!(out.contains(&format!("rm {}", link.display())), "{out}");
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);

    // Even with a real daemon of ours behind it, shimctl does not go through the link.
    let d = Daemon::builder()
        .arg("--control-socket")
        .arg(real.join("control.sock"))
        .start();
    let home = tempfile::tempdir().unwrap();
    let direct = Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", home.path())
        .arg("--socket")
        .arg(real.join("control.sock"))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(direct.status.code(), Some(0), "{}", text(&direct));
    let out = shimctl_refuses(&via_link);
    assert!(out.contains("is a symlink"), "{out}");
    assert!(out.contains(&link.display().to_string()), "{out}");
    drop(d);
}

#[test]
fn the_daemon_answers_no_client_of_another_uid() {
    if !can_switch_users("the_daemon_answers_no_client_of_another_uid") {
        return;
    }
    let d = Daemon::builder().start();
    let sock = d.control_socket().unwrap().to_owned();
    let line = RequestLine::new(Request::Status).to_line();
    // Our own request gets its answer...
    let mut own = UnixStream::connect(&sock).unwrap();
    own.write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    own.read_to_string(&mut answer).unwrap();
    assert!(
        Reply::parse(answer.trim().as_bytes()).unwrap().ok,
        "{answer}"
    );
    // ...B's gets nothing, though the modes are opened for the test so B can connect.
    chmod(sock.parent().unwrap(), 0o711);
    chmod(&sock, 0o666);
    let o = role_as(
        B,
        "connect",
        &[("SOCK", sock.to_str().unwrap()), ("LINE", &line)],
    )
    .output()
    .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // Closed unanswered: an empty read, or a reset (B's request was never read).
    assert!(
        out.contains("RECEIVED 0: \n") || out.contains("ERROR: read: Connection reset"),
        "B got an answer: {out}"
    );
    assert!(!out.contains("\"ok\""), "B got an answer: {out}");
    assert!(
        d.wait_for_log("refused a client of another user", Duration::from_secs(10)),
        "{}",
        d.logs()
    );
    assert!(d.logs().contains(&format!("peer_uid={B}")), "{}", d.logs());
    chmod(sock.parent().unwrap(), 0o700);
}

/// Sends one request line on `sock` and returns the reply line.
fn exchange(sock: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn control_replies_pass_the_redactor() {
    // Not another user's attack, but the same socket's other promise: a reply never carries a
    // secret of the config back out, whatever field it lands in. `resolve` echoes the model
    // name it is given, so a "model" that is the token, or an encoding of it, must come back
    // as `***` (the redactor is applied to the serialized line, at the one exit).
    const TOKEN: &str = "sk-socket-reply-token-7f3a9c";
    let d = Daemon::builder()
        .token(TOKEN)
        .upstream("http://127.0.0.1:9/v1")
        .start();
    let sock = d.control_socket().unwrap().to_owned();
    let encoded: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
    for model in [
        TOKEN.to_owned(),
        format!("Bearer {TOKEN}"),
        format!("x{encoded}y"),
    ] {
        let line = RequestLine::new(Request::Resolve {
            model: model.clone(),
        })
        .to_line();
        let answer = exchange(&sock, &line);
        let reply = Reply::parse(answer.trim_end().as_bytes())
            .unwrap_or_else(|e| panic!("redaction broke the JSON ({e}): {answer}"));
        assert!(reply.ok, "{answer}");
        assert!(!answer.contains(TOKEN), "{model}: {answer}");
        assert!(!answer.contains(&encoded), "{model}: {answer}");
        assert!(answer.contains("***"), "{model}: {answer}");
    }
}

/// shimctl as ourselves against the socket `sock`, in a clean environment.
fn shimctl_at(sock: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .env_clear()
        .env("HOME", home)
        .env("CODEX_HOME", home.join("codex"))
        .arg("--socket")
        .arg(sock)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_config_writable_by_others_is_reported_in_the_log_status_and_doctor() {
    // docs/security.md, "Careless configs": whoever can write the file decides where the
    // token goes, and the daemon re-reads it on every change.
    let b = Daemon::builder();
    let config = b.dir().join("shared/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    chmod(config.parent().unwrap(), 0o755);
    std::fs::write(&config, "log: { level: info }\n").unwrap();
    chmod(&config, 0o666);
    let d = b
        .arg("--config")
        .arg(&config)
        .upstream("http://127.0.0.1:9/v1")
        .start();
    let warning = format!(
        "the config file {} is writable by other users (mode 0666)",
        config.display()
    );
    let fix = format!("chmod go-w {}", config.display());
    assert!(
        d.wait_for_log(&warning, Duration::from_secs(10)),
        "{}",
        d.logs()
    );
    let sock = d.control_socket().unwrap().to_owned();
    let home = d.dir().join("home");

    let o = shimctl_at(&sock, &home, &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let field = s["config_warning"].as_str().unwrap_or_default();
    assert!(field.contains(&warning) && field.contains(&fix), "{s}");
    let o = shimctl_at(&sock, &home, &["status"]);
    let out = text(&o);
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("Warning:") && l.contains(&warning)),
        "{out}"
    );
    let o = shimctl_at(&sock, &home, &["doctor"]);
    let out = text(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("warn  config") && l.contains(&fix)),
        "{out}"
    );

    // Every reload says it again, applied or not.
    let before = d.logs().matches(&warning).count();
    let o = shimctl_at(&sock, &home, &["reload"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.logs().matches(&warning).count() <= before {
        assert!(Instant::now() < deadline, "{}", d.logs());
        std::thread::sleep(Duration::from_millis(20));
    }

    // Fixed: gone from status at once, with no reload needed.
    chmod(&config, 0o600);
    let o = shimctl_at(&sock, &home, &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(s.get("config_warning").is_none(), "{s}");
    // The directory counts too.
    chmod(config.parent().unwrap(), 0o777);
    let o = shimctl_at(&sock, &home, &["status", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        s["config_warning"]
            .as_str()
            .unwrap_or_default()
            .contains("the directory of the config file"),
        "{s}"
    );
}
