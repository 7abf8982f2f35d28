//! Running the real Codex CLI (0.169.0) in tests, pointed at a daemon.
//!
//! Contract:
//! - The binary comes from `CODEX_BIN`. [`codex_bin_or_skip`] returns `None` (after printing
//!   `SKIPPED: …` to stderr) when it is unset, except under `CI=true`, where it panics.
//! - Every [`Codex`] has its own temp root holding `codex-home/` (`CODEX_HOME`, with the
//!   generated `config.toml`), `home/` (an empty `HOME`, so no user shell rc files or
//!   `~/.codex` leak in), `work/` (the `-C` workdir, kept across runs) and the `-o` file.
//! - The generated `config.toml` keeps top-level keys before every table, turns off the
//!   features that reach the network (plugins, analytics) and unbounded connection retries, and
//!   uses small retry counts so that failures surface in seconds (see
//!   docs/codex-wire-notes.md).
//! - `codex exec --strict-config --skip-git-repo-check --color never -C <work> -o <file>
//!   -s workspace-write <prompt>` runs with stdin = /dev/null in its own process group; the
//!   whole group is killed on timeout, on [`RunningCodex::kill`] and on drop.
//! - Set `CODEX_E2E_NO_SANDBOX=1` where bubblewrap cannot run: the harness then passes
//!   `--dangerously-bypass-approvals-and-sandbox` instead of `-s workspace-write`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The model slug the generated config uses by default.
pub const DEFAULT_MODEL: &str = "deepseek-ai/DeepSeek-V4-Flash";
/// The token Codex sends as `Authorization: Bearer …` by default.
pub const TEST_TOKEN: &str = "test-token-codex-e2e-0169";
/// Default wall-clock limit for one `codex exec`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(45);

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The Codex binary from `CODEX_BIN`. When unset: panics under `CI=true`, otherwise prints
/// `SKIPPED: <test>: …` to stderr and returns `None` (the test should then return).
pub fn codex_bin_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os("CODEX_BIN").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(path.exists(), "CODEX_BIN={} does not exist", path.display());
            Some(path)
        }
        None if is_ci() => panic!(
            "CODEX_BIN must be set in CI (path to the Codex CLI 0.169.0 binary); cannot run {test}"
        ),
        None => {
            eprintln!(
                "SKIPPED: {test}: CODEX_BIN is not set (e.g. CODEX_BIN=node_modules/.bin/codex after `npm install @openai/codex@0.171.0`)"
            );
            None
        }
    }
}

/// One Codex setup (config + dirs). Runs are independent processes but share the workdir
/// and `CODEX_HOME`.
pub struct Codex {
    bin: PathBuf,
    root: tempfile::TempDir,
    base_url: String,
    model: String,
    token: Option<String>,
    top_level: BTreeMap<String, String>,
    provider: BTreeMap<String, String>,
    features: BTreeMap<String, String>,
    extra_sections: Vec<String>,
    extra_args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    sandbox: bool,
    timeout: Duration,
    /// Write [`Codex::config_toml`] before each run (off: use the files already there).
    write_config: bool,
}

impl Codex {
    /// A setup whose provider `base_url` is `base_url` (e.g. [`super::daemon::Daemon::base_url`]).
    pub fn new(bin: impl Into<PathBuf>, base_url: impl Into<String>) -> Codex {
        let root = tempfile::Builder::new()
            .prefix("codex-e2e-")
            .tempdir()
            .expect("codex harness: temp dir");
        for sub in ["codex-home", "home", "work"] {
            std::fs::create_dir_all(root.path().join(sub)).expect("codex harness: creating dirs");
        }
        let strs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Codex {
            bin: bin.into(),
            root,
            base_url: base_url.into(),
            model: DEFAULT_MODEL.to_owned(),
            token: Some(TEST_TOKEN.to_owned()),
            top_level: strs(&[("approval_policy", "\"never\"")]),
            provider: strs(&[
                ("request_max_retries", "0"),
                ("stream_max_retries", "0"),
                ("stream_idle_timeout_ms", "20000"),
            ]),
            features: strs(&[
                ("plugins", "false"),
                ("remote_plugin", "false"),
                ("unbounded_connection_retries", "false"),
            ]),
            extra_sections: Vec::new(),
            extra_args: Vec::new(),
            envs: Vec::new(),
            sandbox: std::env::var("CODEX_E2E_NO_SANDBOX")
                .map_or(true, |v| v.is_empty() || v == "0"),
            timeout: DEFAULT_TIMEOUT,
            write_config: true,
        }
    }

    /// Runs with whatever is in [`Codex::codex_home`] (e.g. what `shimctl codex-config
    /// --write` wrote) instead of writing [`Codex::config_toml`].
    pub fn existing_config(mut self) -> Self {
        self.write_config = false;
        self
    }

    /// The model slug (`model = …`).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// The value of `DEEPINFRA_TOKEN` for Codex (`None`: leave it unset).
    pub fn token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }

    /// Sets a top-level config key; `toml_value` is a TOML literal (`"\"x\""`, `12`, `true`).
    pub fn top_level(mut self, key: &str, toml_value: &str) -> Self {
        self.top_level.insert(key.to_owned(), toml_value.to_owned());
        self
    }

    /// Sets a key in the `[model_providers.deepinfra]` block (TOML literal value), e.g.
    /// `provider_option("stream_max_retries", "2")`.
    pub fn provider_option(mut self, key: &str, toml_value: &str) -> Self {
        self.provider.insert(key.to_owned(), toml_value.to_owned());
        self
    }

    /// Sets a `[features]` flag.
    pub fn feature(mut self, name: &str, on: bool) -> Self {
        self.features.insert(name.to_owned(), on.to_string());
        self
    }

    /// Appends raw TOML (whole tables, e.g. `[mcp_servers.x]\n…`) at the end of the file.
    pub fn config_section(mut self, toml: impl Into<String>) -> Self {
        self.extra_sections.push(toml.into());
        self
    }

    /// Adds an argument to `codex exec` (before the prompt).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.extra_args.push(arg.as_ref().to_owned());
        self
    }

    /// Sets an environment variable for Codex.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// `false` runs tool commands without the sandbox
    /// (`--dangerously-bypass-approvals-and-sandbox`).
    pub fn sandbox(mut self, on: bool) -> Self {
        self.sandbox = on;
        self
    }

    /// Wall-clock limit per run (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `-C` working directory (kept across runs of this setup).
    pub fn workdir(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// `CODEX_HOME`.
    pub fn codex_home(&self) -> PathBuf {
        self.root.path().join("codex-home")
    }

    /// The `config.toml` this setup writes. Top-level keys come first: below a table header
    /// they would silently land inside that table.
    pub fn config_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("model = {}\n", toml_string(&self.model)));
        out.push_str("model_provider = \"deepinfra\"\n");
        for (k, v) in &self.top_level {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push_str("\n[analytics]\nenabled = false\n\n[features]\n");
        for (k, v) in &self.features {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push_str("\n[model_providers.deepinfra]\n");
        out.push_str("name = \"DeepInfra via local shim\"\n");
        out.push_str(&format!("base_url = {}\n", toml_string(&self.base_url)));
        out.push_str("env_key = \"DEEPINFRA_TOKEN\"\n");
        out.push_str("wire_api = \"responses\"\n");
        for (k, v) in &self.provider {
            out.push_str(&format!("{k} = {v}\n"));
        }
        for section in &self.extra_sections {
            out.push('\n');
            out.push_str(section);
            if !section.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    /// Runs `codex exec <prompt>` to completion (or until the timeout kills it).
    pub async fn run(&self, prompt: &str) -> CodexRun {
        let timeout = self.timeout;
        self.spawn(prompt).wait(timeout).await
    }

    /// Starts `codex exec <prompt>` and returns at once (e.g. to kill it mid-stream).
    pub fn spawn(&self, prompt: &str) -> RunningCodex {
        if self.write_config {
            std::fs::write(self.codex_home().join("config.toml"), self.config_toml())
                .expect("codex harness: writing config.toml");
        }
        let last_message = self.root.path().join("last-message.txt");
        let _ = std::fs::remove_file(&last_message);

        let mut cmd = Command::new(&self.bin);
        cmd.arg("exec")
            .arg("--strict-config")
            .arg("--skip-git-repo-check")
            .args(["--color", "never"])
            .arg("-C")
            .arg(self.workdir())
            .arg("-o")
            .arg(&last_message);
        if self.sandbox {
            cmd.args(["-s", "workspace-write"]);
        } else {
            cmd.arg("--dangerously-bypass-approvals-and-sandbox");
        }
        cmd.args(&self.extra_args);
        // `--` so that a prompt starting with '-' is not taken for a flag.
        cmd.arg("--").arg(prompt);

        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("DEEPINFRA_")
                || k.starts_with("OPENAI_")
                || k.starts_with("CODEX_")
                || k == "RUST_LOG"
            {
                cmd.env_remove(&key);
            }
        }
        cmd.env("CODEX_HOME", self.codex_home())
            .env("HOME", self.root.path().join("home"));
        if let Some(token) = &self.token {
            cmd.env("DEEPINFRA_TOKEN", token);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        // Own process group: the npm launcher is a Node process that spawns the native binary,
        // and tool commands spawn shells; killing the group gets them all.
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("codex harness: cannot spawn {}: {e}", self.bin.display()));
        let stdout = read_in_thread(child.stdout.take());
        let stderr = read_in_thread(child.stderr.take());
        RunningCodex {
            child: Some(child),
            stdout: Some(stdout),
            stderr: Some(stderr),
            last_message,
            started: Instant::now(),
        }
    }
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
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

fn kill_group(pid: u32) {
    // The child leads its own group (process_group(0)), so -pid addresses exactly that group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// A `codex exec` in progress. Dropping it kills its process group.
pub struct RunningCodex {
    child: Option<Child>,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
    last_message: PathBuf,
    started: Instant,
}

impl RunningCodex {
    /// Process id of the launched binary (the group leader).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("codex already reaped")
    }

    /// Kills the whole process group now (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            kill_group(child.id());
            let _ = child.kill();
        }
    }

    /// Waits (without blocking the async runtime) until Codex exits or `timeout` passes; on
    /// timeout the process group is killed and `timed_out` is set.
    pub async fn wait(mut self, timeout: Duration) -> CodexRun {
        let mut child = self.child.take().expect("codex already reaped");
        let stdout = self.stdout.take().expect("stdout reader");
        let stderr = self.stderr.take().expect("stderr reader");
        let last_message = self.last_message.clone();
        let started = self.started;
        tokio::task::spawn_blocking(move || {
            let deadline = started + timeout;
            let mut timed_out = false;
            let status = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break status;
                }
                if Instant::now() >= deadline {
                    timed_out = true;
                    kill_group(child.id());
                    let _ = child.kill();
                    break child.wait().expect("codex harness: wait");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            // Grandchildren (tool shells) may still hold the pipes; make sure they go too.
            kill_group(child.id());
            CodexRun {
                status,
                timed_out,
                duration: started.elapsed(),
                stdout: stdout.join().unwrap_or_default(),
                stderr: stderr.join().unwrap_or_default(),
                last_message: std::fs::read_to_string(&last_message).unwrap_or_default(),
            }
        })
        .await
        .expect("codex harness: waiter thread panicked")
    }
}

impl Drop for RunningCodex {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                kill_group(child.id());
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// The outcome of one `codex exec`.
#[derive(Debug)]
pub struct CodexRun {
    pub status: ExitStatus,
    /// The harness killed Codex because the run exceeded its timeout.
    pub timed_out: bool,
    pub duration: Duration,
    /// Codex prints only the final agent message here.
    pub stdout: String,
    /// Banner, warnings, tool executions and `ERROR:` lines.
    pub stderr: String,
    /// Contents of the `-o` file (empty when Codex failed before a final message).
    pub last_message: String,
}

impl CodexRun {
    /// Exit status 0 and no timeout?
    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out
    }

    /// Panics with the whole run (status, stdout, stderr) unless it succeeded.
    pub fn assert_success(&self) -> &Self {
        assert!(self.success(), "codex exec failed:\n{}", self.describe());
        self
    }

    /// Panics unless a `model_catalog_json` described the model: Codex warns "Defaulting to
    /// fallback metadata" for a slug its catalog does not know.
    pub fn assert_model_described(&self) -> &Self {
        assert!(
            !self.stderr.contains("Defaulting to fallback metadata"),
            "the catalog must describe the model:\n{}",
            self.describe()
        );
        self
    }

    /// Status, timing and both output streams, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "status: {:?} (timed out: {}) after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- last message ---\n{}",
            self.status, self.timed_out, self.duration, self.stdout, self.stderr, self.last_message
        )
    }

    /// The distinct `ERROR: …` lines Codex printed (it prints each one twice).
    pub fn errors(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in self.stderr.lines().filter(|l| l.starts_with("ERROR: ")) {
            if !out.iter().any(|l| l == line) {
                out.push(line.to_owned());
            }
        }
        out
    }
}

/// Does `path` exist inside the workdir of `codex`, and what does it contain?
pub fn read_work_file(codex: &Codex, rel: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(codex.workdir().join(rel)).ok()
}
