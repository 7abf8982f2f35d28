//! Loading: which file, precedence, reload and the reload report.
//!
//! Data flow: [`Env`] (a snapshot of the environment taken once at startup; the environment is
//! never modified) + [`Cli`] + the config file ([`FileConfig`]) -> [`Effective`] (for each key the
//! winning layer: flag > env > file > built-in default, and the `pinned` list of keys set by a
//! flag or env var) -> [`validate`] -> [`Config`] or every problem at once ([`LoadError`]).
//!
//! The file is `--config` / `DEEPINFRA_CODEX_SHIM_CONFIG`, else
//! `$XDG_CONFIG_HOME/deepinfra-shim/config.yaml` (`$HOME/.config/...` when unset). A missing
//! default file means built-in defaults; a missing explicit file is an error; a file that
//! disappears after it was loaded is an error on reload (the running configuration stays).
//! Empty environment variables count as unset.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::cli::{Cli, env as var, env_bool};
use super::file::{self, FileConfig};
use super::validate::{
    EffCompat, EffUpstream, Effective, FileText, Problem, Source, Val, validate,
};
use super::{Config, LogFormat, Route, Upstream};

/// A snapshot of the process environment (plus the two process facts loading needs: the uid,
/// for the default socket path, and stderr's device/inode, to recognise the journal).
/// `Debug` shows no values: the environment holds tokens.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    uid: Option<u32>,
    stderr_id: Option<(u64, u64)>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("vars", &self.vars.len())
            .field("uid", &self.uid)
            .field("stderr_id", &self.stderr_id)
            .finish()
    }
}

impl Env {
    /// Reads the environment once (call at startup). Variables that are not UTF-8 are skipped.
    pub fn from_process() -> Env {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let mut env = Env {
            vars,
            uid: None,
            stderr_id: None,
        };
        env.uid = proc_status_uid()
            .or_else(|| env.get("UID").and_then(|u| u.trim().parse().ok()))
            .or_else(|| env.get("HOME").and_then(|h| owner_uid(Path::new(h))));
        if env.get("JOURNAL_STREAM").is_some() {
            env.stderr_id = ["/proc/self/fd/2", "/dev/stderr"]
                .iter()
                .find_map(|p| file_id(Path::new(p)));
        }
        env
    }

    /// An environment made of the given pairs (tests, `shimctl`).
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            uid: None,
            stderr_id: None,
        }
    }

    /// Sets the uid (otherwise taken from `UID`).
    pub fn with_uid(mut self, uid: u32) -> Env {
        self.uid = Some(uid);
        self
    }

    /// Sets stderr's (device, inode), compared with `JOURNAL_STREAM`.
    pub fn with_stderr_id(mut self, dev: u64, ino: u64) -> Env {
        self.stderr_id = Some((dev, ino));
        self
    }

    /// The same environment without any `DEEPINFRA_CODEX_SHIM_*` variable (to check a file on
    /// its own, as `shimctl check-config PATH` does).
    pub fn without_shim_vars(&self) -> Env {
        let mut e = self.clone();
        e.vars.retain(|k, _| !k.starts_with(var::PREFIX));
        e
    }

    /// A variable's value, empty included.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A variable's value when set and not blank.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    pub fn uid(&self) -> Option<u32> {
        self.uid
            .or_else(|| self.get("UID").and_then(|u| u.trim().parse().ok()))
    }

    /// True when `JOURNAL_STREAM` (`dev:ino`) names stderr: systemd connected it to the journal.
    pub fn stderr_is_journal(&self) -> bool {
        let Some((dev, ino)) = self.get("JOURNAL_STREAM").and_then(|s| s.split_once(':')) else {
            return false;
        };
        match (
            dev.trim().parse::<u64>(),
            ino.trim().parse::<u64>(),
            self.stderr_id,
        ) {
            (Ok(d), Ok(i), Some(id)) => id == (d, i),
            _ => false,
        }
    }
}

/// The real uid from `/proc/self/status` (Linux).
fn proc_status_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line["Uid:".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(unix)]
fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn owner_uid(_: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<(u64, u64)> {
    None
}

/// Why a configuration could not be loaded. Every variant is one or more one-line messages.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Values that parse but are wrong; all of them, one line each.
    #[error("{}", join_lines(.problems))]
    Invalid { problems: Vec<Problem> },
    #[error("cannot read config file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Bad YAML, an unknown key or a value of the wrong type.
    #[error("{}", parse_line(.path, *.line, .message))]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// The file named by `--config`/`DEEPINFRA_CODEX_SHIM_CONFIG` does not exist.
    #[error("{}config file {} does not exist", origin_prefix(*.origin), .path.display())]
    MissingFile {
        path: PathBuf,
        origin: Option<&'static str>,
    },
    /// On reload: the file in use was deleted.
    #[error("config file {} no longer exists; keeping the current configuration", .path.display())]
    Vanished { path: PathBuf },
}

impl LoadError {
    /// The daemon refuses to start with exit status 2 (`--check-config` uses 1 instead).
    pub fn exit_code(&self) -> u8 {
        2
    }

    /// The problems, one per line (a single entry for the non-`Invalid` variants).
    pub fn lines(&self) -> Vec<String> {
        match self {
            LoadError::Invalid { problems } => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}

fn join_lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_line(path: &Path, line: Option<usize>, message: &str) -> String {
    match line {
        Some(l) => format!("{}:{l}: {message}", path.display()),
        None => format!("{}: {message}", path.display()),
    }
}

fn origin_prefix(origin: Option<&'static str>) -> String {
    origin.map(|o| format!("{o}: ")).unwrap_or_default()
}

/// `$XDG_CONFIG_HOME/deepinfra-shim/config.yaml`, else `$HOME/.config/deepinfra-shim/config.yaml`.
pub fn default_config_path(env: &Env) -> Option<PathBuf> {
    let base = match env
        .non_empty("XDG_CONFIG_HOME")
        .filter(|d| d.starts_with('/'))
    {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env.non_empty("HOME")?).join(".config"),
    };
    Some(base.join("deepinfra-shim").join("config.yaml"))
}

/// The config file to read (or watch), and what named it explicitly (None: the default path,
/// which may be missing).
pub fn config_path(cli: &Cli, env: &Env) -> (Option<PathBuf>, Option<&'static str>) {
    if let Some(p) = &cli.config {
        return (Some(PathBuf::from(p)), Some("--config"));
    }
    if let Some(p) = env.non_empty(var::CONFIG) {
        return (Some(PathBuf::from(p)), Some(var::CONFIG));
    }
    (default_config_path(env), None)
}

/// `$XDG_RUNTIME_DIR/deepinfra-shim/control.sock`, else
/// `${TMPDIR:-/tmp}/deepinfra-shim-$UID/control.sock`.
pub fn default_control_socket(env: &Env) -> PathBuf {
    if let Some(d) = env.non_empty("XDG_RUNTIME_DIR") {
        return PathBuf::from(d).join("deepinfra-shim").join("control.sock");
    }
    let tmp = env.non_empty("TMPDIR").unwrap_or("/tmp");
    let dir = match env.uid() {
        Some(uid) => format!("deepinfra-shim-{uid}"),
        None => "deepinfra-shim".to_owned(),
    };
    PathBuf::from(tmp).join(dir).join("control.sock")
}

/// The control socket for a given `--control-socket`/`--socket` flag: flag >
/// `DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET` > default (what `shimctl` uses).
pub fn control_socket_path(flag: Option<&str>, env: &Env) -> PathBuf {
    flag.map(PathBuf::from)
        .or_else(|| env.non_empty(var::CONTROL_SOCKET).map(PathBuf::from))
        .unwrap_or_else(|| default_control_socket(env))
}

/// Reads and parses one config file (no env, no flags, no validation).
pub fn load_file(path: &Path) -> Result<FileConfig, LoadError> {
    let text = read(path, None)?;
    parse_text(path, &text)
}

fn read(path: &Path, origin: Option<&'static str>) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            LoadError::MissingFile {
                path: path.to_owned(),
                origin,
            }
        } else {
            LoadError::Read {
                path: path.to_owned(),
                source: e,
            }
        }
    })
}

fn parse_text(path: &Path, text: &str) -> Result<FileConfig, LoadError> {
    file::parse(text).map_err(|e| LoadError::Parse {
        path: path.to_owned(),
        line: e.line,
        message: e.message,
    })
}

/// The effective configuration at startup.
pub fn load(cli: &Cli, env: &Env) -> Result<Config, LoadError> {
    load_with(cli, env, None)
}

/// The configuration after a reload (file watch, SIGHUP, `shimctl reload`). Flags and env vars
/// are those of the start (the environment cannot change), so pinned values stay as they were.
/// A deleted file is an error ([`LoadError::Vanished`]), not a return to defaults; a default
/// file that appeared since the start is read.
pub fn reload(previous: &Config, cli: &Cli, env: &Env) -> Result<Config, LoadError> {
    load_with(cli, env, Some(previous))
}

/// Validates a file on its own (`shimctl check-config PATH`): flags and
/// `DEEPINFRA_CODEX_SHIM_*` variables are ignored, other variables (tokens, client keys) are used.
pub fn check_file(path: &Path, env: &Env) -> Result<Config, LoadError> {
    let cli = Cli {
        config: Some(path.to_string_lossy().into_owned()),
        ..Cli::default()
    };
    load(&cli, &env.without_shim_vars())
}

fn load_with(cli: &Cli, env: &Env, previous: Option<&Config>) -> Result<Config, LoadError> {
    let (path, origin) = config_path(cli, env);
    let file = match path {
        None => None,
        Some(path) => match read(&path, origin) {
            Ok(text) => {
                let parsed = parse_text(&path, &text)?;
                Some((FileText { path, text }, parsed))
            }
            Err(LoadError::MissingFile { path, origin }) => {
                if previous.is_some_and(|p| p.config_path.as_deref() == Some(path.as_path())) {
                    return Err(LoadError::Vanished { path });
                }
                if origin.is_some() {
                    return Err(LoadError::MissingFile { path, origin });
                }
                None
            }
            Err(e) => return Err(e),
        },
    };
    let eff = effective(cli, env, file);
    validate(eff, env).map_err(|problems| LoadError::Invalid { problems })
}

/// Picks the winning layer for each key and records the pinned ones.
struct Layers<'a> {
    env: &'a Env,
    pinned: Vec<String>,
}

impl Layers<'_> {
    fn string(
        &mut self,
        key: &[&str],
        flag: (&Option<String>, &'static str),
        env_var: &'static str,
        file: Option<String>,
    ) -> Option<Val<String>> {
        if let Some(v) = flag.0 {
            self.pinned.push(key.join("."));
            return Some(Val::new(v.clone(), Source::Flag(flag.1)));
        }
        if let Some(v) = self.env.non_empty(env_var) {
            self.pinned.push(key.join("."));
            return Some(Val::new(v.to_owned(), Source::Env(env_var)));
        }
        file.map(|v| Val::new(v, Source::file(key)))
    }

    fn boolean(
        &mut self,
        key: &[&str],
        flag: (Option<bool>, &'static str),
        env_var: &'static str,
        file: Option<bool>,
    ) -> Option<Val<bool>> {
        if let Some(v) = flag.0 {
            self.pinned.push(key.join("."));
            return Some(Val::new(v, Source::Flag(flag.1)));
        }
        if let Some(v) = self.env.non_empty(env_var) {
            self.pinned.push(key.join("."));
            return Some(Val::new(env_bool(v), Source::Env(env_var)));
        }
        file.map(|v| Val::new(v, Source::file(key)))
    }
}

fn num(n: Option<u64>) -> Option<String> {
    n.map(|n| n.to_string())
}

fn file_val<T>(v: Option<T>, key: &[&str]) -> Option<Val<T>> {
    v.map(|v| Val::new(v, Source::file(key)))
}

fn effective(cli: &Cli, env: &Env, file: Option<(FileText, FileConfig)>) -> Effective {
    let (file_text, f) = match file {
        Some((t, f)) => (Some(t), f),
        None => (None, FileConfig::default()),
    };
    let config_path = file_text.as_ref().map(|t| t.path.clone());
    let listen = f.listen.unwrap_or_default();
    let up = f.upstream.unwrap_or_default();
    let limits = f.limits.unwrap_or_default();
    let log = f.log.unwrap_or_default();
    let shutdown = f.shutdown.unwrap_or_default();
    let compat = f.compat.unwrap_or_default();

    let mut l = Layers {
        env,
        pinned: Vec::new(),
    };

    let headers = |map: Option<BTreeMap<String, super::Secret>>, prefix: &[&str]| {
        map.unwrap_or_default()
            .into_iter()
            .map(|(name, value)| {
                let mut key: Vec<&str> = prefix.to_vec();
                key.push(&name);
                let source = Source::file(&key);
                (name.clone(), value, source)
            })
            .collect::<Vec<_>>()
    };

    let upstream = EffUpstream {
        name: super::DEFAULT_UPSTREAM.to_owned(),
        url: l.string(
            &["upstream", "url"],
            (&cli.upstream, "--upstream"),
            var::UPSTREAM,
            up.url,
        ),
        api_key_env: l.string(
            &["upstream", "api_key_env"],
            (&cli.api_key_env, "--api-key-env"),
            var::API_KEY_ENV,
            up.api_key_env,
        ),
        timeout_ms: l.string(
            &["upstream", "timeout_ms"],
            (&cli.timeout_ms, "--timeout-ms"),
            var::TIMEOUT_MS,
            num(up.timeout_ms),
        ),
        heartbeat_ms: file_val(num(up.heartbeat_ms), &["upstream", "heartbeat_ms"]),
        headers: headers(up.headers, &["upstream", "headers"]),
        compat: EffCompat::default(),
    };

    let upstreams = f
        .upstreams
        .unwrap_or_default()
        .into_iter()
        .map(|(name, u)| {
            let u = u.unwrap_or_default();
            let c = u.compat.unwrap_or_default();
            let k = |field: &'static str| -> Vec<String> {
                vec!["upstreams".into(), name.clone(), field.into()]
            };
            let fv = |v: Option<String>, field: &'static str| {
                v.map(|v| Val::new(v, Source::File(k(field))))
            };
            EffUpstream {
                url: fv(u.url, "url"),
                api_key_env: fv(u.api_key_env, "api_key_env"),
                timeout_ms: fv(num(u.timeout_ms), "timeout_ms"),
                heartbeat_ms: fv(num(u.heartbeat_ms), "heartbeat_ms"),
                headers: headers(u.headers, &["upstreams", &name, "headers"]),
                compat: EffCompat {
                    drop_tool_call_content: c.drop_tool_call_content.map(|v| {
                        Val::new(
                            v,
                            Source::file(&["upstreams", &name, "compat", "drop_tool_call_content"]),
                        )
                    }),
                    reasoning: c.reasoning,
                    images: c.images,
                },
                name,
            }
        })
        .collect();

    Effective {
        host: l.string(
            &["listen", "host"],
            (&cli.host, "--host"),
            var::HOST,
            listen.host,
        ),
        port: l.string(
            &["listen", "port"],
            (&cli.port, "--port"),
            var::PORT,
            num(listen.port),
        ),
        client_keys_env: file_val(listen.client_keys_env, &["listen", "client_keys_env"]),
        allow_unauthenticated: file_val(
            listen.allow_unauthenticated,
            &["listen", "allow_unauthenticated"],
        ),
        upstream,
        upstreams,
        compat: EffCompat {
            drop_tool_call_content: l.boolean(
                &["compat", "drop_tool_call_content"],
                (
                    cli.compat_drop_tool_call_content,
                    "--compat-drop-tool-call-content",
                ),
                var::COMPAT_DROP_TOOL_CALL_CONTENT,
                compat.drop_tool_call_content,
            ),
            reasoning: compat.reasoning,
            images: compat.images,
        },
        routes: f.models.unwrap_or_default().into_iter().collect(),
        max_body_bytes: l.string(
            &["limits", "max_body_bytes"],
            (&cli.max_body_bytes, "--max-body-bytes"),
            var::MAX_BODY_BYTES,
            num(limits.max_body_bytes),
        ),
        log_level: l.string(
            &["log", "level"],
            (&cli.log_level, "--log-level"),
            var::LOG_LEVEL,
            log.level,
        ),
        log_requests: l.boolean(
            &["log", "requests"],
            (cli.log_requests, "--log-requests"),
            var::LOG_REQUESTS,
            log.requests,
        ),
        log_content: l.boolean(
            &["log", "content"],
            (cli.log_content, "--log-content"),
            var::LOG_CONTENT,
            log.content,
        ),
        log_format: l.string(
            &["log", "format"],
            (&cli.log_format, "--log-format"),
            var::LOG_FORMAT,
            log.format,
        ),
        stderr_is_journal: env.stderr_is_journal(),
        drain_timeout_ms: file_val(
            num(shutdown.drain_timeout_ms),
            &["shutdown", "drain_timeout_ms"],
        ),
        control_socket: l.string(
            &["control_socket"],
            (&cli.control_socket, "--control-socket"),
            var::CONTROL_SOCKET,
            None,
        ),
        default_control_socket: default_control_socket(env),
        config_path,
        file: file_text,
        pinned: l.pinned,
    }
}

const RESTART: &str = " (needs a restart to take effect)";

/// What changed between two configurations, one human line each (`upstream.url: a -> b`,
/// `models: added fast`). Lines for `listen.*` and the control socket end with
/// "(needs a restart to take effect)". Secrets (tokens, client keys, header values) never
/// appear: only their presence or the header names.
pub fn diff(old: &Config, new: &Config) -> Vec<String> {
    let mut d = Diff::default();
    let (a, b) = (&old.listen, &new.listen);
    d.restart("listen.host", &a.host, &b.host);
    d.restart("listen.port", &a.port, &b.port);
    d.restart(
        "listen.client_keys_env",
        &opt(&a.client_keys_env),
        &opt(&b.client_keys_env),
    );
    if a.client_keys_env == b.client_keys_env && a.client_keys != b.client_keys {
        d.out.push(format!("listen.client_keys: changed{RESTART}"));
    }
    d.restart(
        "listen.allow_unauthenticated",
        &a.allow_unauthenticated,
        &b.allow_unauthenticated,
    );
    d.upstream(
        "upstream",
        "compat",
        &old.default_upstream,
        &new.default_upstream,
    );
    for name in old.upstreams.keys() {
        if !new.upstreams.contains_key(name) {
            d.out.push(format!("upstreams: removed {name}"));
        }
    }
    for (name, u) in &new.upstreams {
        match old.upstreams.get(name) {
            None => d.out.push(format!("upstreams: added {name}")),
            Some(o) => {
                let prefix = format!("upstreams.{name}");
                d.upstream(&prefix, &format!("{prefix}.compat"), o, u);
            }
        }
    }
    let (ro, rn) = (route_map(old), route_map(new));
    for name in ro.keys() {
        if !rn.contains_key(name) {
            d.out.push(format!("models: removed {name}"));
        }
    }
    for (name, r) in &rn {
        match ro.get(name) {
            None => d.out.push(format!("models: added {name}")),
            Some(o) => d.route(name, o, r),
        }
    }
    d.change(
        "limits.max_body_bytes",
        &old.max_body_bytes,
        &new.max_body_bytes,
    );
    d.change("log.level", &old.log.level, &new.log.level);
    d.change("log.requests", &old.log.requests, &new.log.requests);
    d.change("log.content", &old.log.content, &new.log.content);
    d.change(
        "log.format",
        &format_name(old.log.format),
        &format_name(new.log.format),
    );
    d.change(
        "shutdown.drain_timeout_ms",
        &old.drain_timeout.as_millis(),
        &new.drain_timeout.as_millis(),
    );
    d.restart(
        "control_socket",
        &old.control_socket.display(),
        &new.control_socket.display(),
    );
    d.out
}

/// True when applying `new` over `old` leaves some change waiting for a restart.
pub fn needs_restart(old: &Config, new: &Config) -> bool {
    diff(old, new).iter().any(|l| l.ends_with(RESTART))
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "none".to_owned())
}

fn format_name(f: LogFormat) -> &'static str {
    match f {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
        LogFormat::Journald => "journald",
    }
}

/// Routes by the pattern as written (`fast`, `moonshotai/*`).
fn route_map(c: &Config) -> BTreeMap<String, &Route> {
    c.routes
        .exact
        .iter()
        .map(|(k, r)| (k.clone(), r))
        .chain(c.routes.prefixes.iter().map(|(p, r)| (format!("{p}*"), r)))
        .collect()
}

#[derive(Default)]
struct Diff {
    out: Vec<String>,
}

impl Diff {
    fn change<T: PartialEq + fmt::Display + ?Sized>(&mut self, key: &str, a: &T, b: &T) {
        if a != b {
            self.out.push(format!("{key}: {a} -> {b}"));
        }
    }

    fn restart<T: fmt::Display + ?Sized>(&mut self, key: &str, a: &T, b: &T) {
        let (a, b) = (a.to_string(), b.to_string());
        if a != b {
            self.out.push(format!("{key}: {a} -> {b}{RESTART}"));
        }
    }

    fn upstream(&mut self, prefix: &str, compat: &str, a: &Upstream, b: &Upstream) {
        self.change(&format!("{prefix}.url"), &a.url, &b.url);
        self.change(
            &format!("{prefix}.api_key_env"),
            &a.api_key_env,
            &b.api_key_env,
        );
        let presence = |u: &Upstream| if u.token.is_some() { "set" } else { "not set" };
        if a.token.is_some() != b.token.is_some() {
            self.out.push(format!(
                "{prefix} token: {} -> {}",
                presence(a),
                presence(b)
            ));
        }
        self.change(
            &format!("{prefix}.timeout_ms"),
            &a.timeout.as_millis(),
            &b.timeout.as_millis(),
        );
        self.change(
            &format!("{prefix}.heartbeat_ms"),
            &a.heartbeat.as_millis(),
            &b.heartbeat.as_millis(),
        );
        let (ha, hb): (BTreeMap<_, _>, BTreeMap<_, _>) = (
            a.headers.iter().map(|(k, v)| (k, v)).collect(),
            b.headers.iter().map(|(k, v)| (k, v)).collect(),
        );
        let mut parts = Vec::new();
        let added: Vec<&str> = hb
            .keys()
            .filter(|k| !ha.contains_key(*k))
            .map(|k| k.as_str())
            .collect();
        let removed: Vec<&str> = ha
            .keys()
            .filter(|k| !hb.contains_key(*k))
            .map(|k| k.as_str())
            .collect();
        let changed: Vec<&str> = hb
            .iter()
            .filter(|(k, v)| ha.get(*k).is_some_and(|o| o != *v))
            .map(|(k, _)| k.as_str())
            .collect();
        for (what, names) in [("added", added), ("removed", removed), ("changed", changed)] {
            if !names.is_empty() {
                parts.push(format!("{what} {}", names.join(", ")));
            }
        }
        if !parts.is_empty() {
            self.out
                .push(format!("{prefix}.headers: {}", parts.join("; ")));
        }
        self.change(
            &format!("{compat}.drop_tool_call_content"),
            &a.compat.drop_tool_call_content,
            &b.compat.drop_tool_call_content,
        );
        self.change(
            &format!("{compat}.reasoning"),
            &format!("{:?}", a.compat.reasoning).to_ascii_lowercase(),
            &format!("{:?}", b.compat.reasoning).to_ascii_lowercase(),
        );
        self.change(
            &format!("{compat}.images"),
            &format!("{:?}", a.compat.images).to_ascii_lowercase(),
            &format!("{:?}", b.compat.images).to_ascii_lowercase(),
        );
    }

    fn route(&mut self, name: &str, a: &Route, b: &Route) {
        let p = format!("models.{name}");
        let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        let n = |v: Option<u64>| v.map_or_else(|| "none".into(), |v| v.to_string());
        let f = |v: Option<bool>| v.map_or_else(|| "none".into(), |v| v.to_string());
        self.change(&format!("{p}.upstream"), &a.upstream, &b.upstream);
        self.change(&format!("{p}.model"), &o(&a.model), &o(&b.model));
        self.change(
            &format!("{p}.context_window"),
            &n(a.context_window),
            &n(b.context_window),
        );
        self.change(
            &format!("{p}.max_output_tokens"),
            &n(a.max_output_tokens),
            &n(b.max_output_tokens),
        );
        self.change(&format!("{p}.vision"), &f(a.vision), &f(b.vision));
        self.change(&format!("{p}.reasoning"), &f(a.reasoning), &f(b.reasoning));
        self.change(
            &format!("{p}.apply_patch"),
            &f(a.apply_patch),
            &f(b.apply_patch),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::translate::{ImagePolicy, ReasoningPolicy};
    use clap::Parser;
    use std::time::Duration;
    use tempfile::TempDir;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("deepinfra-shim").chain(args.iter().copied())).unwrap()
    }

    /// A home directory with the config file (if any) at its default place.
    struct Home {
        dir: TempDir,
    }

    impl Home {
        fn new(config: Option<&str>) -> Home {
            let dir = tempfile::tempdir().unwrap();
            if let Some(text) = config {
                let p = dir.path().join(".config/deepinfra-shim");
                std::fs::create_dir_all(&p).unwrap();
                std::fs::write(p.join("config.yaml"), text).unwrap();
            }
            Home { dir }
        }
        fn config_path(&self) -> PathBuf {
            self.dir.path().join(".config/deepinfra-shim/config.yaml")
        }
        fn env(&self, pairs: &[(&str, &str)]) -> Env {
            let home = self.dir.path().to_str().unwrap().to_owned();
            let mut v: Vec<(String, String)> = vec![
                ("HOME".into(), home.clone()),
                ("XDG_RUNTIME_DIR".into(), format!("{home}/run")),
            ];
            v.extend(pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())));
            Env::from_pairs(v)
        }
        fn load(&self, args: &[&str], pairs: &[(&str, &str)]) -> Result<Config, LoadError> {
            load(&cli(args), &self.env(pairs))
        }
    }

    fn problems(r: Result<Config, LoadError>) -> Vec<String> {
        match r {
            Err(LoadError::Invalid { problems }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(e) => panic!("expected problems, got {e}"),
            Ok(_) => panic!("expected problems, got a valid config"),
        }
    }

    /// Exactly one problem, on one line, starting with `origin: `.
    fn one_problem(r: Result<Config, LoadError>, origin: &str) -> String {
        let p = problems(r);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(!p[0].contains('\n'), "{}", p[0]);
        assert!(
            p[0].starts_with(&format!("{origin}: ")) || p[0].contains(&format!("{origin}: ")),
            "expected origin {origin}: {}",
            p[0]
        );
        p[0].clone()
    }

    #[test]
    fn defaults_without_any_file() {
        let h = Home::new(None);
        let c = h.load(&[], &[]).unwrap();
        assert_eq!(c.config_path, None);
        assert_eq!(c.listen.host, "127.0.0.1");
        assert_eq!(c.listen.port, 8797);
        assert!(c.listen.client_keys.is_empty());
        let u = &c.default_upstream;
        assert_eq!(u.name, "default");
        assert_eq!(u.url, "https://api.deepinfra.com/v1/openai");
        assert_eq!(u.api_key_env, "DEEPINFRA_TOKEN");
        assert!(u.token.is_none());
        assert_eq!(u.timeout, Duration::from_millis(120_000));
        assert_eq!(u.heartbeat, Duration::from_millis(15_000));
        assert!(u.headers.is_empty());
        assert_eq!(u.compat, crate::config::Compat::default());
        assert!(c.upstreams.is_empty());
        assert!(c.routes.exact.is_empty() && c.routes.prefixes.is_empty());
        assert_eq!(c.max_body_bytes, 10_485_760);
        assert_eq!(c.log.level, "info");
        assert!(!c.log.requests && !c.log.content);
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.drain_timeout, Duration::from_millis(30_000));
        assert_eq!(
            c.control_socket,
            h.dir.path().join("run/deepinfra-shim/control.sock")
        );
        assert!(c.pinned.is_empty());
    }

    #[test]
    fn empty_and_comment_only_files_are_defaults() {
        for text in ["", "# nothing\n", "\n\n"] {
            let h = Home::new(Some(text));
            let c = h.load(&[], &[]).unwrap();
            assert_eq!(c.config_path, Some(h.config_path()));
            assert_eq!(c.listen.port, 8797);
            assert_eq!(
                c.default_upstream.url,
                "https://api.deepinfra.com/v1/openai"
            );
        }
    }

    #[test]
    fn xdg_config_home_wins_over_home() {
        let h = Home::new(Some("listen: { port: 1 }\n"));
        let xdg = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(xdg.path().join("deepinfra-shim")).unwrap();
        std::fs::write(
            xdg.path().join("deepinfra-shim/config.yaml"),
            "listen: { port: 2 }\n",
        )
        .unwrap();
        let x = xdg.path().to_str().unwrap();
        let c = h.load(&[], &[("XDG_CONFIG_HOME", x)]).unwrap();
        assert_eq!(c.listen.port, 2);
        // A missing file there is the default-file case: built-in defaults.
        let empty = tempfile::tempdir().unwrap();
        let c = h
            .load(&[], &[("XDG_CONFIG_HOME", empty.path().to_str().unwrap())])
            .unwrap();
        assert_eq!(c.listen.port, 8797);
        assert_eq!(c.config_path, None);
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let h = Home::new(None);
        let missing = h.dir.path().join("nope.yaml");
        let m = missing.to_str().unwrap();
        let e = h.load(&["--config", m], &[]).unwrap_err();
        assert!(matches!(e, LoadError::MissingFile { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("--config: config file {m} does not exist")
        );
        assert_eq!(e.exit_code(), 2);
        let e = h.load(&[], &[(var::CONFIG, m)]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("DEEPINFRA_CODEX_SHIM_CONFIG: config file"),
            "{e}"
        );
    }

    #[test]
    fn explicit_file_from_flag_beats_env() {
        let h = Home::new(None);
        let a = h.dir.path().join("a.yaml");
        let b = h.dir.path().join("b.yaml");
        std::fs::write(&a, "listen: { port: 1111 }\n").unwrap();
        std::fs::write(&b, "listen: { port: 2222 }\n").unwrap();
        let c = h
            .load(
                &["--config", a.to_str().unwrap()],
                &[(var::CONFIG, b.to_str().unwrap())],
            )
            .unwrap();
        assert_eq!(c.listen.port, 1111);
        assert_eq!(c.config_path.as_deref(), Some(a.as_path()));
        let c = h.load(&[], &[(var::CONFIG, b.to_str().unwrap())]).unwrap();
        assert_eq!(c.listen.port, 2222);
    }

    /// For each key: file < env < flag, and the key is pinned by env or flag only.
    #[test]
    fn precedence_per_key() {
        struct Case {
            key: &'static str,
            file: &'static str,
            env: (&'static str, &'static str),
            flag: &'static [&'static str],
            get: fn(&Config) -> String,
            want: [&'static str; 4], // default, file, env, flag
        }
        let cases = [
            Case {
                key: "listen.host",
                file: "listen: { host: 127.0.0.2 }",
                env: (var::HOST, "127.0.0.3"),
                flag: &["--host", "127.0.0.4"],
                get: |c| c.listen.host.clone(),
                want: ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"],
            },
            Case {
                key: "listen.port",
                file: "listen: { port: 1 }",
                env: (var::PORT, "2"),
                flag: &["--port", "3"],
                get: |c| c.listen.port.to_string(),
                want: ["8797", "1", "2", "3"],
            },
            Case {
                key: "upstream.url",
                file: "upstream: { url: 'http://f/v1/' }",
                env: (var::UPSTREAM, "http://e/v1"),
                flag: &["--upstream", "http://g/v1"],
                get: |c| c.default_upstream.url.clone(),
                want: [
                    "https://api.deepinfra.com/v1/openai",
                    "http://f/v1",
                    "http://e/v1",
                    "http://g/v1",
                ],
            },
            Case {
                key: "upstream.api_key_env",
                file: "upstream: { api_key_env: F_KEY }",
                env: (var::API_KEY_ENV, "E_KEY"),
                flag: &["--api-key-env", "G_KEY"],
                get: |c| c.default_upstream.api_key_env.clone(),
                want: ["DEEPINFRA_TOKEN", "F_KEY", "E_KEY", "G_KEY"],
            },
            Case {
                key: "upstream.timeout_ms",
                file: "upstream: { timeout_ms: 1 }",
                env: (var::TIMEOUT_MS, "2"),
                flag: &["--timeout-ms", "3"],
                get: |c| c.default_upstream.timeout.as_millis().to_string(),
                want: ["120000", "1", "2", "3"],
            },
            Case {
                key: "limits.max_body_bytes",
                file: "limits: { max_body_bytes: 1 }",
                env: (var::MAX_BODY_BYTES, "2"),
                flag: &["--max-body-bytes", "3"],
                get: |c| c.max_body_bytes.to_string(),
                want: ["10485760", "1", "2", "3"],
            },
            Case {
                key: "log.level",
                file: "log: { level: warn }",
                env: (var::LOG_LEVEL, "DEBUG"),
                flag: &["--log-level", "trace"],
                get: |c| c.log.level.clone(),
                want: ["info", "warn", "debug", "trace"],
            },
            Case {
                key: "log.requests",
                file: "log: { requests: true }",
                env: (var::LOG_REQUESTS, "off"),
                flag: &["--log-requests"],
                get: |c| c.log.requests.to_string(),
                want: ["false", "true", "false", "true"],
            },
            Case {
                key: "log.content",
                file: "log: { content: true }",
                env: (var::LOG_CONTENT, "0"),
                flag: &["--log-content=true"],
                get: |c| c.log.content.to_string(),
                want: ["false", "true", "false", "true"],
            },
            Case {
                key: "compat.drop_tool_call_content",
                file: "compat: { drop_tool_call_content: true }",
                env: (var::COMPAT_DROP_TOOL_CALL_CONTENT, "no"),
                flag: &["--compat-drop-tool-call-content"],
                get: |c| c.default_upstream.compat.drop_tool_call_content.to_string(),
                want: ["false", "true", "false", "true"],
            },
            Case {
                key: "log.format",
                file: "log: { format: json }",
                env: (var::LOG_FORMAT, "text"),
                flag: &["--log-format", "json"],
                get: |c| format_name(c.log.format).to_owned(),
                want: ["text", "json", "text", "json"],
            },
        ];
        for case in &cases {
            let bare = Home::new(None);
            let c = bare.load(&[], &[]).unwrap();
            assert_eq!((case.get)(&c), case.want[0], "{} default", case.key);

            let h = Home::new(Some(case.file));
            let c = h.load(&[], &[]).unwrap();
            assert_eq!((case.get)(&c), case.want[1], "{} file", case.key);
            assert!(c.pinned.is_empty(), "{} file pins nothing", case.key);

            let c = h.load(&[], &[case.env]).unwrap();
            assert_eq!((case.get)(&c), case.want[2], "{} env", case.key);
            assert_eq!(c.pinned, vec![case.key.to_owned()], "{} env pins", case.key);

            let c = h.load(case.flag, &[case.env]).unwrap();
            assert_eq!((case.get)(&c), case.want[3], "{} flag", case.key);
            assert_eq!(
                c.pinned,
                vec![case.key.to_owned()],
                "{} flag pins",
                case.key
            );

            // An empty env value counts as unset.
            let c = h.load(&[], &[(case.env.0, "")]).unwrap();
            assert_eq!((case.get)(&c), case.want[1], "{} empty env", case.key);
        }
    }

    #[test]
    fn control_socket_precedence_and_defaults() {
        let h = Home::new(None);
        let c = h
            .load(
                &["--control-socket", "/tmp/f.sock"],
                &[(var::CONTROL_SOCKET, "/tmp/e.sock")],
            )
            .unwrap();
        assert_eq!(c.control_socket, PathBuf::from("/tmp/f.sock"));
        assert_eq!(c.pinned, ["control_socket"]);
        let c = h
            .load(&[], &[(var::CONTROL_SOCKET, "/tmp/e.sock")])
            .unwrap();
        assert_eq!(c.control_socket, PathBuf::from("/tmp/e.sock"));

        let env = Env::from_pairs([("XDG_RUNTIME_DIR", "/run/user/7")]);
        assert_eq!(
            default_control_socket(&env),
            PathBuf::from("/run/user/7/deepinfra-shim/control.sock")
        );
        let env = Env::from_pairs([("TMPDIR", "/var/folders/x/T/")]).with_uid(501);
        assert_eq!(
            default_control_socket(&env),
            PathBuf::from("/var/folders/x/T/deepinfra-shim-501/control.sock")
        );
        let env = Env::from_pairs([("UID", "1000")]);
        assert_eq!(
            default_control_socket(&env),
            PathBuf::from("/tmp/deepinfra-shim-1000/control.sock")
        );
        assert_eq!(
            control_socket_path(Some("/x.sock"), &env),
            PathBuf::from("/x.sock")
        );
        let env = Env::from_pairs([(var::CONTROL_SOCKET, "/e.sock")]);
        assert_eq!(control_socket_path(None, &env), PathBuf::from("/e.sock"));
    }

    #[test]
    fn process_env_snapshot_has_a_uid() {
        let env = Env::from_process();
        assert!(env.uid().is_some());
        // Debug never shows values.
        let d = format!("{env:?}");
        assert!(!d.contains("PATH"), "{d}");
    }

    #[test]
    fn journald_when_journal_stream_matches_stderr() {
        let h = Home::new(None);
        let env = h
            .env(&[("JOURNAL_STREAM", "8:12345")])
            .with_stderr_id(8, 12345);
        let c = load(&cli(&[]), &env).unwrap();
        assert_eq!(c.log.format, LogFormat::Journald);
        // An explicit format wins.
        let c = load(&cli(&["--log-format", "text"]), &env).unwrap();
        assert_eq!(c.log.format, LogFormat::Text);
        // Not our stderr (e.g. inherited by a child of the service): text.
        let env = h
            .env(&[("JOURNAL_STREAM", "8:12345")])
            .with_stderr_id(8, 999);
        assert_eq!(load(&cli(&[]), &env).unwrap().log.format, LogFormat::Text);
        let env = h
            .env(&[("JOURNAL_STREAM", "garbage")])
            .with_stderr_id(8, 12345);
        assert_eq!(load(&cli(&[]), &env).unwrap().log.format, LogFormat::Text);
    }

    #[test]
    fn boolean_env_values() {
        let h = Home::new(None);
        for (v, want) in [
            ("0", false),
            ("false", false),
            ("No", false),
            ("OFF", false),
            ("yes", true),
            ("1", true),
            ("on", true),
            ("whatever", true),
        ] {
            let c = h.load(&[], &[(var::LOG_REQUESTS, v)]).unwrap();
            assert_eq!(c.log.requests, want, "{v}");
        }
        let c = h
            .load(&["--log-requests=false"], &[(var::LOG_REQUESTS, "yes")])
            .unwrap();
        assert!(!c.log.requests);
    }

    #[test]
    fn bad_flag_and_env_values_name_their_source() {
        let h = Home::new(None);
        let p = one_problem(h.load(&["--port", "abc"], &[]), "--port");
        assert_eq!(p, "--port: expected a number 0-65535, got 'abc'");
        one_problem(h.load(&[], &[(var::PORT, "70000")]), var::PORT);
        one_problem(h.load(&["--host", "a b"], &[]), "--host");
        one_problem(h.load(&["--upstream", "ftp://x"], &[]), "--upstream");
        one_problem(h.load(&[], &[(var::UPSTREAM, "not a url")]), var::UPSTREAM);
        one_problem(h.load(&["--api-key-env", "1X"], &[]), "--api-key-env");
        one_problem(h.load(&[], &[(var::API_KEY_ENV, "A-B")]), var::API_KEY_ENV);
        let p = one_problem(h.load(&["--log-level", "loud"], &[]), "--log-level");
        assert!(p.contains("silent, error, warn, info, debug, trace"), "{p}");
        one_problem(h.load(&[], &[(var::LOG_LEVEL, "verbose")]), var::LOG_LEVEL);
        one_problem(h.load(&["--timeout-ms", "0"], &[]), "--timeout-ms");
        one_problem(h.load(&[], &[(var::TIMEOUT_MS, "1s")]), var::TIMEOUT_MS);
        one_problem(h.load(&["--max-body-bytes", "-1"], &[]), "--max-body-bytes");
        one_problem(
            h.load(&[], &[(var::MAX_BODY_BYTES, "0")]),
            var::MAX_BODY_BYTES,
        );
        one_problem(h.load(&["--log-format", "xml"], &[]), "--log-format");
        one_problem(h.load(&[], &[(var::LOG_FORMAT, "yaml")]), var::LOG_FORMAT);
        let long = format!("/tmp/{}", "s".repeat(150));
        one_problem(
            h.load(&["--control-socket", &long], &[]),
            "--control-socket",
        );
        // The single-problem Display is that one line.
        let e = h.load(&["--port", "99999"], &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--port: expected a number 0-65535, got '99999'"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn bad_file_values_name_key_and_line() {
        let h = Home::new(Some(
            "# comment\nlisten:\n  host: 127.0.0.1\n  port: 70000\n",
        ));
        let p = one_problem(h.load(&[], &[]), "listen.port");
        let path = h.config_path();
        assert_eq!(
            p,
            format!(
                "{}:4 listen.port: expected a number 0-65535, got '70000'",
                path.display()
            )
        );
        let cases: &[(&str, &str)] = &[
            ("upstream:\n  url: ftp://x\n", ":2 upstream.url"),
            (
                "upstream:\n  api_key_env: 'my token'\n",
                ":2 upstream.api_key_env",
            ),
            ("upstream: { timeout_ms: 0 }\n", ":1 upstream.timeout_ms"),
            ("upstream:\n  heartbeat_ms: 0\n", ":2 upstream.heartbeat_ms"),
            (
                "upstream:\n  headers:\n    'Bad Name': x\n",
                ":3 upstream.headers.Bad Name",
            ),
            (
                "limits: { max_body_bytes: 0 }\n",
                ":1 limits.max_body_bytes",
            ),
            ("log:\n  level: loud\n", ":2 log.level"),
            ("log:\n  format: xml\n", ":2 log.format"),
            (
                "listen:\n  client_keys_env: 'a b'\n",
                ":2 listen.client_keys_env",
            ),
            ("models:\n  'a*b': {}\n", ":2 models.a*b"),
            (
                "models:\n  x: { context_window: 0 }\n",
                ":2 models.x.context_window",
            ),
            (
                "upstreams:\n  local: { api_key_env: K }\n",
                ":2 upstreams.local",
            ),
            (
                "upstreams:\n  default: { url: 'http://x' }\n",
                ":2 upstreams.default",
            ),
            (
                "upstreams:\n  local:\n    url: http://x\n    timeout_ms: 0\n",
                ":4 upstreams.local.timeout_ms",
            ),
        ];
        for (text, origin) in cases {
            let h = Home::new(Some(text));
            let p = one_problem(h.load(&[], &[]), origin);
            assert!(p.starts_with(&h.config_path().display().to_string()), "{p}");
        }
    }

    #[test]
    fn header_values_are_never_echoed() {
        let h = Home::new(Some(
            "upstream:\n  headers:\n    X-Key: \"hunter2\\nsecret\"\n",
        ));
        let p = one_problem(h.load(&[], &[]), "upstream.headers.X-Key");
        assert!(!p.contains("hunter2"), "{p}");
    }

    #[test]
    fn unknown_keys_are_parse_errors_with_path_and_line() {
        let h = Home::new(Some("upstream:\n  url: https://x\n  urll: https://y\n"));
        let e = h.load(&[], &[]).unwrap_err();
        let LoadError::Parse { line, message, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*line, Some(3));
        assert!(
            message.starts_with("unknown key `upstream.urll`"),
            "{message}"
        );
        assert!(
            e.to_string().starts_with(&format!(
                "{}:3: unknown key `upstream.urll` (expected one of",
                h.config_path().display()
            )),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);

        let h = Home::new(Some(
            "models:\n  fast:\n    upstream: default\n    contex_window: 1\n",
        ));
        let e = h.load(&[], &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains(":4: unknown key `models.fast.contex_window`"),
            "{e}"
        );
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let h = Home::new(Some(
            "listen:\n  port: 99999\nupstream:\n  url: nope\nlog:\n  level: loud\nmodels:\n  fast: { upstream: nowhere }\n",
        ));
        let p = problems(h.load(&["--timeout-ms", "x"], &[(var::MAX_BODY_BYTES, "y")]));
        assert_eq!(p.len(), 6, "{p:#?}");
        let all = p.join("\n");
        for needle in [
            ":2 listen.port:",
            ":4 upstream.url:",
            ":6 log.level:",
            ":8 models.fast.upstream:",
            "--timeout-ms:",
            "DEEPINFRA_CODEX_SHIM_MAX_BODY_BYTES:",
        ] {
            assert!(all.contains(needle), "{needle} in {all}");
        }
        let e = h.load(&[], &[]).unwrap_err();
        assert_eq!(e.to_string().lines().count(), 4);
        assert_eq!(e.lines().len(), 4);
    }

    #[test]
    fn routes_and_named_upstreams() {
        let h = Home::new(Some(
            r#"
upstream:
  timeout_ms: 5000
  headers: { X-Default: d }
compat:
  reasoning: drop
  drop_tool_call_content: true
upstreams:
  local:
    url: http://127.0.0.1:8000/v1/
    api_key_env: LOCAL_KEY
    compat: { images: placeholder, drop_tool_call_content: false }
  open:
    url: http://10.0.0.2/v1
    heartbeat_ms: 1000
models:
  fast: { upstream: local, model: Qwen/Qwen3-Coder-30B-A3B-Instruct, context_window: 262144 }
  "moonshotai/*": { upstream: default }
  "moonshotai/Kimi*": { upstream: open, vision: false }
  "*": { upstream: open }
  plain:
"#,
        ));
        let c = h
            .load(&[], &[("LOCAL_KEY", "lk"), ("DEEPINFRA_TOKEN", "dt")])
            .unwrap();
        let local = &c.upstreams["local"];
        assert_eq!(local.name, "local");
        assert_eq!(local.url, "http://127.0.0.1:8000/v1");
        assert_eq!(local.token.as_ref().map(Secret::expose), Some("lk"));
        assert_eq!(local.timeout, Duration::from_millis(5000), "inherited");
        assert!(local.headers.is_empty(), "headers are not inherited");
        assert_eq!(local.compat.images, ImagePolicy::Placeholder);
        assert_eq!(local.compat.reasoning, ReasoningPolicy::Drop, "inherited");
        assert!(!local.compat.drop_tool_call_content, "own value");
        let open = &c.upstreams["open"];
        assert_eq!(open.api_key_env, "");
        assert!(open.token.is_none(), "no variable, no token");
        assert_eq!(open.heartbeat, Duration::from_millis(1000));
        assert!(open.compat.drop_tool_call_content);
        assert_eq!(
            c.default_upstream.token.as_ref().map(Secret::expose),
            Some("dt")
        );
        assert_eq!(c.default_upstream.headers.len(), 1);

        assert_eq!(c.routes.exact.keys().collect::<Vec<_>>(), ["fast", "plain"]);
        assert_eq!(
            c.routes
                .prefixes
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>(),
            ["moonshotai/Kimi", "moonshotai/", ""]
        );
        assert_eq!(c.routes.exact["plain"].upstream, "default");
        let r = c.resolve("fast");
        assert_eq!(r.upstream.name, "local");
        assert_eq!(r.upstream_model, "Qwen/Qwen3-Coder-30B-A3B-Instruct");
        assert_eq!(c.resolve("moonshotai/Kimi-K2").upstream.name, "open");
        assert_eq!(c.resolve("moonshotai/other").upstream.name, "default");
        assert_eq!(c.resolve("zai/glm").upstream.name, "open");
        assert_eq!(c.resolve("plain").upstream.name, "default");
    }

    #[test]
    fn routes_to_unknown_upstreams_are_refused() {
        let h = Home::new(Some(
            "upstreams:\n  local: { url: 'http://x' }\nmodels:\n  a: { upstream: locl }\n  'b/*':\n    upstream: remote\n  c: { upstream: local }\n",
        ));
        let p = problems(h.load(&[], &[]));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains(
                ":4 models.a.upstream: unknown upstream 'locl' (expected one of: default, local)"
            ),
            "{}",
            p[0]
        );
        assert!(
            p[1].contains(":6 models.b/*.upstream: unknown upstream 'remote'"),
            "{}",
            p[1]
        );
    }

    #[test]
    fn non_loopback_needs_client_keys_or_explicit_consent() {
        let h = Home::new(None);
        let p = one_problem(h.load(&["--host", "0.0.0.0"], &[]), "--host");
        assert!(
            p.contains("listen.host 0.0.0.0 is not loopback: set listen.client_keys_env"),
            "{p}"
        );
        assert!(p.contains("listen.allow_unauthenticated: true"), "{p}");
        one_problem(h.load(&[], &[(var::HOST, "192.168.1.5")]), var::HOST);
        for host in ["127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"] {
            assert!(h.load(&["--host", host], &[]).is_ok(), "{host} is loopback");
        }

        let h = Home::new(Some(
            "listen:\n  host: 0.0.0.0\n  client_keys_env: SHIM_KEYS\n",
        ));
        let c = h.load(&[], &[("SHIM_KEYS", " k1, k2 ,")]).unwrap();
        assert_eq!(
            c.listen
                .client_keys
                .iter()
                .map(Secret::expose)
                .collect::<Vec<_>>(),
            ["k1", "k2"]
        );
        assert_eq!(c.listen.client_keys_env.as_deref(), Some("SHIM_KEYS"));
        // Keys named but absent: refused (no client could authenticate), loopback or not.
        let p = problems(h.load(&[], &[("SHIM_KEYS", " , ")]));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains(":3 listen.client_keys_env: variable SHIM_KEYS"),
            "{}",
            p[0]
        );
        assert!(
            p[1].contains(":2 listen.host: listen.host 0.0.0.0 is not loopback"),
            "{}",
            p[1]
        );

        let h = Home::new(Some(
            "listen:\n  host: 0.0.0.0\n  allow_unauthenticated: true\n",
        ));
        let c = h.load(&[], &[]).unwrap();
        assert!(c.listen.allow_unauthenticated);
        assert_eq!(c.bind_addr(), "0.0.0.0:8797");
    }

    #[test]
    fn tokens_are_read_and_never_printed() {
        let h = Home::new(Some(
            "listen: { client_keys_env: CK }\nupstream:\n  headers: { X-Api-Key: hdr-secret-1 }\nupstreams:\n  l: { url: 'http://x', api_key_env: LK }\n",
        ));
        let c = h
            .load(
                &["--api-key-env", "MY_TOKEN"],
                &[
                    ("MY_TOKEN", " tok-secret-1\n"),
                    ("LK", "tok-secret-2"),
                    ("CK", "ck-secret-1"),
                ],
            )
            .unwrap();
        assert_eq!(
            c.default_upstream.token.as_ref().map(Secret::expose),
            Some("tok-secret-1")
        );
        let dbg = format!("{c:?} {c:#?}");
        for secret in [
            "tok-secret-1",
            "tok-secret-2",
            "ck-secret-1",
            "hdr-secret-1",
        ] {
            assert!(!dbg.contains(secret), "{secret} leaked in Debug");
        }
        // An empty token variable is absent.
        let c = h
            .load(&[], &[("DEEPINFRA_TOKEN", ""), ("CK", "k")])
            .unwrap();
        assert!(c.default_upstream.token.is_none());
    }

    #[test]
    fn reload_keeps_pinned_values_and_refuses_a_deleted_file() {
        let h = Home::new(Some("listen: { port: 1000 }\nlog: { level: warn }\n"));
        let env = h.env(&[(var::LOG_LEVEL, "debug")]);
        let cli = cli(&[]);
        let first = load(&cli, &env).unwrap();
        assert_eq!(first.log.level, "debug");
        assert_eq!(first.pinned, ["log.level"]);

        std::fs::write(
            h.config_path(),
            "listen: { port: 1000 }\nlog: { level: error, requests: true }\n",
        )
        .unwrap();
        let second = reload(&first, &cli, &env).unwrap();
        assert_eq!(second.log.level, "debug", "pinned by env");
        assert!(second.log.requests);
        assert_eq!(diff(&first, &second), ["log.requests: false -> true"]);

        // A broken file is refused; the caller keeps `second`.
        std::fs::write(h.config_path(), "listen: { prot: 1 }\n").unwrap();
        assert!(matches!(
            reload(&second, &cli, &env),
            Err(LoadError::Parse { .. })
        ));

        std::fs::remove_file(h.config_path()).unwrap();
        let e = reload(&second, &cli, &env).unwrap_err();
        assert!(matches!(e, LoadError::Vanished { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "config file {} no longer exists; keeping the current configuration",
                h.config_path().display()
            )
        );
        // Started without a default file: it may appear later, and vanish again.
        let bare = load(&cli, &env).unwrap();
        assert_eq!(bare.config_path, None);
        std::fs::write(h.config_path(), "listen: { port: 1001 }\n").unwrap();
        let c = reload(&bare, &cli, &env).unwrap();
        assert_eq!(c.listen.port, 1001);
        assert_eq!(
            diff(&bare, &c),
            ["listen.port: 8797 -> 1001 (needs a restart to take effect)"]
        );
        assert!(needs_restart(&bare, &c));
    }

    #[test]
    fn diff_lines() {
        let h = Home::new(Some(
            "upstream:\n  url: https://a/v1\n  headers: { X-A: one, X-B: two }\nupstreams:\n  l1: { url: 'http://l1' }\n  l2: { url: 'http://l2' }\nmodels:\n  fast: { upstream: l1, context_window: 1000 }\n  gone: {}\n",
        ));
        let env = h.env(&[]);
        let old = load(&cli(&[]), &env).unwrap();
        std::fs::write(
            h.config_path(),
            "listen: { host: '::1' }\nupstream:\n  url: https://b/v1\n  timeout_ms: 1000\n  headers: { X-A: secret-new, X-C: three }\ncompat: { reasoning: replay }\nupstreams:\n  l1: { url: 'http://l1b' }\n  l3: { url: 'http://l3' }\nmodels:\n  fast: { upstream: l3, context_window: 2000 }\n  'new/*': {}\nlog: { format: json }\nshutdown: { drain_timeout_ms: 0 }\n",
        )
        .unwrap();
        let new = reload(&old, &cli(&[]), &env).unwrap();
        let d = diff(&old, &new);
        let want = [
            "listen.host: 127.0.0.1 -> ::1 (needs a restart to take effect)",
            "upstream.url: https://a/v1 -> https://b/v1",
            "upstream.timeout_ms: 120000 -> 1000",
            "upstream.headers: added X-C; removed X-B; changed X-A",
            "compat.reasoning: auto -> replay",
            "upstreams: removed l2",
            "upstreams.l1.url: http://l1 -> http://l1b",
            "upstreams.l1.timeout_ms: 120000 -> 1000",
            "upstreams.l1.compat.reasoning: auto -> replay",
            "upstreams: added l3",
            "models: removed gone",
            "models.fast.upstream: l1 -> l3",
            "models.fast.context_window: 1000 -> 2000",
            "models: added new/*",
            "log.format: text -> json",
            "shutdown.drain_timeout_ms: 30000 -> 0",
        ];
        assert_eq!(d, want);
        assert!(!d.join("\n").contains("secret-new"));
        assert!(needs_restart(&old, &new));
        assert!(diff(&new, &new).is_empty());
        assert!(!needs_restart(&new, &new));
    }

    #[test]
    fn diff_reports_token_presence_only() {
        let h = Home::new(None);
        let a = h.load(&[], &[("DEEPINFRA_TOKEN", "t-secret")]).unwrap();
        let b = h
            .load(
                &["--api-key-env", "OTHER"],
                &[("DEEPINFRA_TOKEN", "t-secret")],
            )
            .unwrap();
        let d = diff(&a, &b);
        assert_eq!(
            d,
            [
                "upstream.api_key_env: DEEPINFRA_TOKEN -> OTHER",
                "upstream token: set -> not set"
            ]
        );
    }

    #[test]
    fn check_file_ignores_shim_variables() {
        let h = Home::new(None);
        let p = h.dir.path().join("c.yaml");
        std::fs::write(&p, "listen: { port: 1234 }\n").unwrap();
        let env = h.env(&[(var::PORT, "abc"), ("DEEPINFRA_TOKEN", "t")]);
        let c = check_file(&p, &env).unwrap();
        assert_eq!(c.listen.port, 1234);
        assert!(c.default_upstream.token.is_some());
        assert!(c.pinned.is_empty());
        assert!(matches!(
            check_file(&h.dir.path().join("none.yaml"), &env),
            Err(LoadError::MissingFile { .. })
        ));
        let f = load_file(&p).unwrap();
        assert_eq!(f.listen.unwrap().port, Some(1234));
    }

    fn example_text() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/config.example.yaml");
        std::fs::read_to_string(path).unwrap()
    }

    /// The example with every `# key: value` line uncommented (`##` lines are prose).
    fn uncommented(text: &str) -> String {
        text.lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if !l.starts_with("##") => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn example_config_loads_as_is_and_uncommented() {
        let text = example_text();
        let h = Home::new(Some(&text));
        let c = h.load(&[], &[]).unwrap();
        assert_eq!(c.config_path, Some(h.config_path()));

        let full = uncommented(&text);
        assert!(full.contains("\nlisten:\n"), "uncommenting works");
        let parsed = file::parse(&full).unwrap();
        assert!(parsed.listen.is_some() && parsed.upstream.is_some());
        assert!(parsed.limits.is_some() && parsed.log.is_some() && parsed.shutdown.is_some());
        assert!(parsed.compat.is_some() && parsed.upstreams.is_some() && parsed.models.is_some());
        std::fs::write(h.config_path(), &full).unwrap();
        let c2 = h.load(&[], &[]).unwrap();
        // Every documented value is the built-in default.
        let d = diff(&c, &c2);
        assert_eq!(
            d,
            [
                "upstreams: added local",
                "models: added fast",
                "models: added moonshotai/*"
            ]
        );
    }
}
