//! The daemon under test, as a child process.
//!
//! It gets a private temp dir (HOME, XDG_CONFIG_HOME, XDG_RUNTIME_DIR, control socket), so a
//! developer's own config never leaks in, `--port 0`, `--upstream <mock>` and a dummy token.
//! It starts at log level `info` only to print `Listening on http://ADDR`; the level is then
//! set to `warn` over the control socket so per-request logging costs nothing in the
//! measurement. Dropping a [`Daemon`] kills and reaps the child.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    /// The last lines the daemon printed (for error reports).
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub fn start(bin: &PathBuf, upstream: &str) -> io::Result<Daemon> {
        let dir = tempfile::Builder::new().prefix("shim-bench").tempdir()?;
        // It holds the control socket: the daemon refuses a directory others can enter.
        std::fs::set_permissions(
            dir.path(),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
        )?;
        for sub in ["config", "runtime", "home"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        let socket = dir.path().join("control.sock");
        let mut cmd = Command::new(bin);
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("DEEPINFRA_")
                || matches!(&*k, "RUST_LOG" | "JOURNAL_STREAM" | "NOTIFY_SOCKET")
            {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", dir.path().join("home"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_RUNTIME_DIR", dir.path().join("runtime"))
            .env("DEEPINFRA_TOKEN", "bench-token-not-a-secret")
            .args(["--host", "127.0.0.1", "--port", "0", "--log-level", "info"])
            .arg("--upstream")
            .arg(upstream)
            .arg("--control-socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start {}: {e}", bin.display()))
        })?;
        let pid = child.id();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = Arc::clone(&log);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(a) = deepinfra_shim::service::run::listening_addr(&line) {
                        let _ = tx.send(a);
                    }
                    let mut l = log.lock().unwrap();
                    if l.len() >= 200 {
                        l.remove(0);
                    }
                    l.push(line);
                }
            });
        }
        let mut d = Daemon {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            pid,
            log,
            _dir: dir,
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => d.addr = a,
            Err(_) => {
                return Err(io::Error::other(format!(
                    "the daemon did not print `Listening on http://…` within 20 s; output:\n{}",
                    d.logs()
                )));
            }
        }
        control(&socket, r#"{"v":1,"cmd":"set-log-level","level":"warn"}"#).map_err(|e| {
            io::Error::other(format!("cannot set the daemon's log level to warn: {e}"))
        })?;
        Ok(d)
    }

    pub fn logs(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Whether the child is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request line to the control socket; the reply must say `"ok":true`.
fn control(socket: &PathBuf, line: &str) -> io::Result<()> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(line.as_bytes())?;
    s.write_all(b"\n")?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    if reply.contains("\"ok\":true") {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "control socket replied {}",
            reply.trim()
        )))
    }
}
