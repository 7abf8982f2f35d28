//! Spawning the real `deepinfra-shim` binary for integration tests.
//!
//! Contract:
//! - The child never sees the developer's real configuration: inherited `DEEPINFRA_*`,
//!   `RUST_LOG`, `JOURNAL_STREAM`, `NOTIFY_SOCKET`, `WATCHDOG_*` and `LISTEN_*` variables are
//!   removed, and `HOME`, `XDG_CONFIG_HOME` and `XDG_RUNTIME_DIR` point into a fresh temp dir.
//! - Unless the test passes them itself (or opts out with [`DaemonBuilder::without_port_flag`]),
//!   the daemon gets `--port 0` and `--control-socket <tmp>/control.sock`.
//! - [`DaemonBuilder::start`] waits for the info line containing `Listening on http://ADDR` on
//!   stderr (or stdout) and returns the bound address; if the child exits or the line does not
//!   come in time, it panics with everything the daemon printed.
//! - Output lines are drained for the daemon's whole life (ANSI colour codes stripped) and are
//!   available through [`Daemon::logs`].
//! - Dropping a [`Daemon`] kills the child (SIGKILL) and reaps it; during a panic it also prints
//!   the daemon's logs to help debugging.
//! - [`stack`] / [`start_for`]: the Codex tests' usual setup, a daemon pointed at a mock upstream
//!   holding [`TEST_TOKEN`] (the token Codex sends by default), with an optional YAML config.
//!
//! Everything here is blocking (std::process + threads): the tokio `process` feature is not
//! enabled in this crate. Starting takes well under a second and does not need the mock
//! upstream, so calling [`DaemonBuilder::start`] from a `#[tokio::test]` is fine.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::codex::TEST_TOKEN;
use super::mock_upstream::MockUpstream;

/// Path of the daemon binary that Cargo built for this test crate.
pub fn daemon_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_deepinfra-shim"))
}

/// Environment variables that could leak the developer's setup into the daemon.
fn scrubbed_var(name: &str) -> bool {
    name.starts_with("DEEPINFRA_")
        || name.starts_with("WATCHDOG_")
        || name.starts_with("LISTEN_")
        || matches!(
            name,
            "RUST_LOG" | "JOURNAL_STREAM" | "NOTIFY_SOCKET" | "XDG_CONFIG_HOME" | "XDG_RUNTIME_DIR"
        )
}

/// Removes ANSI escape sequences (colours) so that log assertions see plain text.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters and intermediates, then one final byte in '@'..='~'.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Finds `ADDR` in a line containing `Listening on http://ADDR` (the daemon's own parser).
pub use deepinfra_shim::service::run::listening_addr as parse_listening;

/// Log lines shared between the reader threads and the test.
#[derive(Default)]
struct LogBuf {
    text: Mutex<String>,
    grew: Condvar,
}

impl LogBuf {
    fn push(&self, line: &str) {
        let mut text = self.text.lock().unwrap();
        text.push_str(line);
        text.push('\n');
        self.grew.notify_all();
    }
}

/// Configures and starts a daemon. Create it with [`Daemon::builder`].
pub struct DaemonBuilder {
    bin: PathBuf,
    dir: tempfile::TempDir,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    config_yaml: Option<String>,
    default_config_yaml: Option<String>,
    start_timeout: Duration,
    port_flag: bool,
    cwd: Option<PathBuf>,
}

impl DaemonBuilder {
    /// Passes no `--port 0`: the port comes from the config file (or the default), unpinned.
    pub fn without_port_flag(mut self) -> Self {
        self.port_flag = false;
        self
    }

    /// Runs the daemon in `dir` (for relative `--config` and `--control-socket` paths).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Appends one command-line argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// `--upstream URL` (e.g. [`super::mock_upstream::MockUpstream::url`]).
    pub fn upstream(self, url: impl AsRef<OsStr>) -> Self {
        self.arg("--upstream").arg(url)
    }

    /// Sets `DEEPINFRA_TOKEN` in the daemon's environment.
    pub fn token(self, token: impl AsRef<OsStr>) -> Self {
        self.env("DEEPINFRA_TOKEN", token)
    }

    /// Sets an environment variable for the daemon (applied after the scrubbing).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable from the daemon's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.as_ref().to_owned(), None));
        self
    }

    /// Writes `<tmp>/config.yaml` and passes `--config <that path>`.
    pub fn config_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.config_yaml = Some(yaml.into());
        self
    }

    /// Writes the YAML to the *default* location, `$XDG_CONFIG_HOME/deepinfra-shim/config.yaml`,
    /// and passes no `--config` (to test default-path discovery).
    pub fn config_yaml_at_default_path(mut self, yaml: impl Into<String>) -> Self {
        self.default_config_yaml = Some(yaml.into());
        self
    }

    /// How long [`DaemonBuilder::start`] waits for the `Listening on` line (default 20 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// The temp dir that will hold config, runtime dir and control socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.args.iter().any(|a| {
            let a = a.to_string_lossy();
            a == flag || a.starts_with(&format!("{flag}="))
        })
    }

    fn command(&self) -> Command {
        let dir = self.dir.path();
        for sub in ["config", "runtime", "home"] {
            std::fs::create_dir_all(dir.join(sub)).expect("daemon harness: creating temp dirs");
        }
        set_mode_0700(&dir.join("runtime"));
        if let Some(yaml) = &self.default_config_yaml {
            let p = dir.join("config/deepinfra-shim/config.yaml");
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, yaml).expect("daemon harness: writing config");
        }

        let mut cmd = Command::new(&self.bin);
        for (key, _) in std::env::vars_os() {
            if scrubbed_var(&key.to_string_lossy()) {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", dir.join("home"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_RUNTIME_DIR", dir.join("runtime"));
        for (key, value) in &self.envs {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        if self.port_flag && !self.has_flag("--port") {
            cmd.args(["--port", "0"]);
        }
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        if !self.has_flag("--control-socket") {
            cmd.arg("--control-socket").arg(dir.join("control.sock"));
        }
        if let Some(yaml) = &self.config_yaml {
            let p = dir.join("config.yaml");
            std::fs::write(&p, yaml).expect("daemon harness: writing config");
            cmd.arg("--config").arg(p);
        }
        cmd.args(&self.args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the daemon and waits until it logs `Listening on http://ADDR`.
    pub fn start(self) -> Daemon {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("daemon harness: cannot spawn {}: {e}", self.bin.display()));
        let logs = Arc::new(LogBuf::default());
        let (addr_tx, addr_rx) = mpsc::channel::<Option<SocketAddr>>();
        let mut readers = Vec::new();
        for (name, pipe) in [
            (
                "stdout",
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            (
                "stderr",
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ] {
            let Some(pipe) = pipe else { continue };
            let logs = logs.clone();
            let addr_tx = addr_tx.clone();
            readers.push(
                std::thread::Builder::new()
                    .name(format!("daemon-{name}"))
                    .spawn(move || {
                        let mut reader = BufReader::new(pipe);
                        let mut raw = Vec::new();
                        loop {
                            raw.clear();
                            match reader.read_until(b'\n', &mut raw) {
                                Ok(0) | Err(_) => break,
                                Ok(_) => {}
                            }
                            let line = strip_ansi(
                                String::from_utf8_lossy(&raw).trim_end_matches(['\r', '\n']),
                            );
                            if let Some(addr) = parse_listening(&line) {
                                let _ = addr_tx.send(Some(addr));
                            }
                            logs.push(&line);
                        }
                        // EOF on this pipe: tell a waiting `start` the child is going away.
                        let _ = addr_tx.send(None);
                    })
                    .expect("daemon harness: spawning a reader thread"),
            );
        }
        drop(addr_tx);

        let deadline = Instant::now() + self.start_timeout;
        let mut eofs = 0;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match addr_rx.recv_timeout(left) {
                Ok(Some(addr)) => break Some(addr),
                Ok(None) => {
                    eofs += 1;
                    if eofs == readers.len() {
                        break None;
                    }
                }
                Err(_) => break None,
            }
        };
        let Some(addr) = addr else {
            let _ = child.kill();
            let status = child.wait().ok();
            for r in readers {
                let _ = r.join();
            }
            panic!(
                "daemon harness: no `Listening on http://…` line within {:?} (exit status: {status:?}); output:\n{}",
                self.start_timeout,
                logs.text.lock().unwrap()
            );
        };
        Daemon {
            child: Some(child),
            addr,
            control_socket: if self.has_flag("--control-socket") {
                None
            } else {
                Some(self.dir.path().join("control.sock"))
            },
            config_path: self
                .config_yaml
                .as_ref()
                .map(|_| self.dir.path().join("config.yaml")),
            dir: self.dir,
            logs,
            readers,
        }
    }

    /// Runs the binary to completion (for `--check-config`, `--version`, bad flags, …) and
    /// returns its exit status and output. Kills it and panics if it outlives `timeout`.
    pub fn run(self, timeout: Duration) -> Finished {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("daemon harness: cannot spawn {}: {e}", self.bin.display()));
        let out = read_in_thread(child.stdout.take());
        let err = read_in_thread(child.stderr.take());
        let status = wait_with_deadline(&mut child, timeout);
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "daemon harness: the daemon did not exit within {timeout:?}; stderr:\n{}",
                err.join().unwrap_or_default()
            );
        };
        Finished {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }
}

/// The result of [`DaemonBuilder::run`].
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

fn read_in_thread<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Polls `try_wait` until the child exits or `timeout` passes (`None`).
pub fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn set_mode_0700(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
}

/// A running daemon. Killed on drop.
pub struct Daemon {
    child: Option<Child>,
    /// The address the daemon bound (from its `Listening on` line).
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    logs: Arc<LogBuf>,
    readers: Vec<std::thread::JoinHandle<()>>,
    control_socket: Option<PathBuf>,
    config_path: Option<PathBuf>,
}

impl Daemon {
    /// A builder for the daemon binary Cargo built ([`daemon_bin`]).
    pub fn builder() -> DaemonBuilder {
        Daemon::builder_for(daemon_bin())
    }

    /// A builder for another binary path.
    pub fn builder_for(bin: impl Into<PathBuf>) -> DaemonBuilder {
        let dir = tempfile::Builder::new()
            .prefix("dshim-test-")
            .tempdir()
            .expect("daemon harness: temp dir");
        // It holds the control socket, and the daemon refuses a socket directory that other
        // users can enter (tempfile creates it 0777 minus the umask).
        set_mode_0700(dir.path());
        DaemonBuilder {
            bin: bin.into(),
            dir,
            args: Vec::new(),
            envs: Vec::new(),
            config_yaml: None,
            default_config_yaml: None,
            start_timeout: Duration::from_secs(20),
            port_flag: true,
            cwd: None,
        }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upstream URL the daemon reports on `/health` (what its current config uses).
    pub async fn health_upstream(&self) -> String {
        let t = reqwest::get(format!("{}/health", self.url()))
            .await
            .expect("GET /health")
            .text()
            .await
            .expect("/health body");
        serde_json::from_str::<serde_json::Value>(&t).expect("/health is JSON")["upstream"]
            .as_str()
            .expect("/health has upstream")
            .to_owned()
    }

    /// `http://ADDR/v1`: what Codex's `base_url` should be.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Process id of the daemon.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("daemon already reaped")
    }

    /// The temp dir holding `config.yaml`, `control.sock`, `config/`, `runtime/`, `home/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The control socket the harness chose (`None` if the test passed its own flag).
    pub fn control_socket(&self) -> Option<&Path> {
        self.control_socket.as_deref()
    }

    /// The `--config` file written from [`DaemonBuilder::config_yaml`].
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// Rewrites the config file (e.g. to test reload). Writes a sibling file and renames it
    /// over the old one, as editors do.
    pub fn rewrite_config(&self, yaml: &str) {
        let path = self
            .config_path
            .as_ref()
            .expect("daemon was not started with config_yaml");
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, yaml).expect("daemon harness: writing config");
        std::fs::rename(&tmp, path).expect("daemon harness: renaming config");
    }

    /// Everything the daemon printed so far (stdout and stderr lines, ANSI stripped).
    pub fn logs(&self) -> String {
        self.logs.text.lock().unwrap().clone()
    }

    /// Waits until the logs contain `needle`. `false` on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut text = self.logs.text.lock().unwrap();
        loop {
            if text.contains(needle) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            text = self.logs.grew.wait_timeout(text, left).unwrap().0;
        }
    }

    /// Sends a signal by name (`"HUP"`, `"TERM"`, `"INT"`, …) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("daemon harness: running kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Has the daemon exited? (non-blocking)
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit; panics (after SIGKILL) if the
    /// daemon does not exit in time. The output readers are joined, so [`Daemon::logs`] is
    /// complete afterwards.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.try_wait() {
            self.join_readers();
            return status;
        }
        self.signal("TERM");
        self.wait(timeout).unwrap_or_else(|| {
            panic!(
                "daemon did not exit within {timeout:?} after SIGTERM; logs:\n{}",
                self.logs()
            )
        })
    }

    /// Waits up to `timeout` for the daemon to exit on its own. `None` on timeout (after which
    /// the daemon has been killed).
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("daemon already reaped");
        let status = wait_with_deadline(child, timeout);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.join_readers();
        status
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        self.join_readers();
        if std::thread::panicking() {
            eprintln!(
                "----- deepinfra-shim logs -----\n{}-------------------------------",
                self.logs()
            );
        }
    }
}

/// A daemon pointed at `mock` with the provider token [`TEST_TOKEN`], and `yaml` as its
/// `--config` when given.
pub fn start_for(mock: &MockUpstream, yaml: Option<&str>) -> Daemon {
    let mut builder = Daemon::builder().upstream(mock.url()).token(TEST_TOKEN);
    if let Some(yaml) = yaml {
        builder = builder.config_yaml(yaml);
    }
    builder.start()
}

/// A fresh mock upstream and a daemon pointed at it ([`start_for`]).
pub async fn stack(yaml: Option<&str>) -> (MockUpstream, Daemon) {
    let mock = MockUpstream::start().await;
    let daemon = start_for(&mock, yaml);
    (mock, daemon)
}
