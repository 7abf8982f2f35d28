//! Validation: the merged raw settings ([`Effective`], every value tagged with where it came
//! from) become a checked [`Config`], or the list of EVERY problem found.
//!
//! [`super::load`] decides precedence (flag > env > file > default) and builds [`Effective`];
//! this module owns the built-in defaults and the rules, and names the source of each problem:
//! the flag (`--port`), the variable (`DEEPINFRA_CODEX_SHIM_PORT`) or the file key with its line
//! (`/etc/x/config.yaml:7 listen.port`). The same step serves start, reload, `--check-config`
//! and `shimctl check-config`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::file::{FileRoute, key_line};
use super::load::Env;
use super::{
    Compat, Config, DEFAULT_UPSTREAM, Listen, LogFormat, LogSettings, Route, Routes, Secret,
    Upstream,
};
use crate::translate::{ImagePolicy, ReasoningPolicy};

/// Built-in defaults (the lowest layer).
pub mod defaults {
    pub const HOST: &str = "127.0.0.1";
    pub const PORT: u16 = 8797;
    pub const UPSTREAM_URL: &str = "https://api.deepinfra.com/v1/openai";
    pub const API_KEY_ENV: &str = "DEEPINFRA_TOKEN";
    pub const TIMEOUT_MS: u64 = 120_000;
    pub const HEARTBEAT_MS: u64 = 15_000;
    pub const MAX_BODY_BYTES: u64 = 10_485_760;
    pub const LOG_LEVEL: &str = "info";
    pub const DRAIN_TIMEOUT_MS: u64 = 30_000;
}

/// The accepted `log.level` values, quietest first.
pub const LOG_LEVELS: &[&str] = &["silent", "error", "warn", "info", "debug", "trace"];

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--port`.
    Flag(&'static str),
    /// An environment variable, e.g. `DEEPINFRA_CODEX_SHIM_PORT`.
    Env(&'static str),
    /// A key of the config file, as path segments (`["models", "Qwen/Qwen3.5", "upstream"]`:
    /// model names may contain dots, so the path is not split on them).
    File(Vec<String>),
}

impl Source {
    pub fn file(path: &[&str]) -> Source {
        Source::File(path.iter().map(|s| (*s).to_owned()).collect())
    }
    pub fn is_pinning(&self) -> bool {
        !matches!(self, Source::File(_))
    }
}

/// A raw value and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Val<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Val<T> {
    pub fn new(value: T, source: Source) -> Self {
        Val { value, source }
    }
}

/// One thing wrong with the configuration. Display: `origin: message`, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `--port`, `DEEPINFRA_CODEX_SHIM_PORT`, `/path/config.yaml:7 listen.port`, or a key path.
    pub origin: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// The config file's path and text, kept to find the line of a key.
#[derive(Clone)]
pub struct FileText {
    pub path: PathBuf,
    pub text: String,
}

impl fmt::Debug for FileText {
    // The text may hold header secrets: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileText")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Every setting after precedence was applied, not yet checked. `None` = built-in default.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    pub file: Option<FileText>,
    pub host: Option<Val<String>>,
    pub port: Option<Val<String>>,
    pub client_keys_env: Option<Val<String>>,
    pub allow_unauthenticated: Option<Val<bool>>,
    /// The `upstream:` section (name `default`).
    pub upstream: EffUpstream,
    /// `upstreams:`, in file order of their names (sorted).
    pub upstreams: Vec<EffUpstream>,
    pub compat: EffCompat,
    /// `models:`: pattern -> route as written (None: `name:` with no value).
    pub routes: Vec<(String, Option<FileRoute>)>,
    pub max_body_bytes: Option<Val<String>>,
    pub log_level: Option<Val<String>>,
    pub log_requests: Option<Val<bool>>,
    pub log_content: Option<Val<bool>>,
    pub log_format: Option<Val<String>>,
    /// stderr is connected to the journal (`JOURNAL_STREAM` matches): default format journald.
    pub stderr_is_journal: bool,
    pub drain_timeout_ms: Option<Val<String>>,
    pub control_socket: Option<Val<String>>,
    /// Used when `control_socket` is None.
    pub default_control_socket: PathBuf,
    pub config_path: Option<PathBuf>,
    pub pinned: Vec<String>,
}

/// One upstream's raw settings. Unset timeouts of a named upstream take the default upstream's;
/// headers are never inherited (they may be another provider's secrets).
#[derive(Debug, Clone, Default)]
pub struct EffUpstream {
    pub name: String,
    pub url: Option<Val<String>>,
    pub api_key_env: Option<Val<String>>,
    pub timeout_ms: Option<Val<String>>,
    pub heartbeat_ms: Option<Val<String>>,
    /// (name, value, source of the header's key).
    pub headers: Vec<(String, Secret, Source)>,
    /// Per-upstream overrides (named upstreams only); unset keys take the top-level `compat:`.
    pub compat: EffCompat,
}

#[derive(Debug, Clone, Default)]
pub struct EffCompat {
    pub drop_tool_call_content: Option<Val<bool>>,
    pub reasoning: Option<ReasoningPolicy>,
    pub images: Option<ImagePolicy>,
}

/// Checks everything and builds the runtime [`Config`], or returns every problem found.
pub fn validate(eff: Effective, env: &Env) -> Result<Config, Vec<Problem>> {
    let mut c = Checker {
        file: eff.file.as_ref(),
        problems: Vec::new(),
    };

    // listen
    let host = match &eff.host {
        Some(v) => c
            .check(v, check_host)
            .unwrap_or_else(|| defaults::HOST.to_owned()),
        None => defaults::HOST.to_owned(),
    };
    let port = c.opt(&eff.port, parse_port).unwrap_or(defaults::PORT);
    let client_keys_env = c.opt(&eff.client_keys_env, check_env_name);
    let client_keys: Vec<Secret> = client_keys_env
        .as_deref()
        .and_then(|name| env.get(name))
        .map(split_keys)
        .unwrap_or_default();
    if let (Some(name), Some(src)) = (&client_keys_env, &eff.client_keys_env)
        && client_keys.is_empty()
    {
        c.push(
            &src.source,
            format!(
                "variable {name} is not set or holds no keys, so no client could \
                     authenticate; set it to comma-separated keys or remove client_keys_env"
            ),
        );
    }
    let allow_unauthenticated = eff.allow_unauthenticated.as_ref().is_some_and(|v| v.value);
    let listen = Listen {
        host,
        port,
        client_keys_env,
        client_keys,
        allow_unauthenticated,
    };
    if !listen.is_loopback()
        && listen.client_keys.is_empty()
        && !allow_unauthenticated
        && let Some(src) = &eff.host
    {
        c.push(
            &src.source,
            format!(
                "listen.host {} is not loopback: set listen.client_keys_env (clients then \
                     send one of the keys as Bearer) or listen.allow_unauthenticated: true; an \
                     open bind lends your provider token to anyone on the network",
                listen.host
            ),
        );
    }

    // upstreams
    let top_compat = Compat {
        drop_tool_call_content: eff
            .compat
            .drop_tool_call_content
            .as_ref()
            .is_some_and(|v| v.value),
        reasoning: eff.compat.reasoning.unwrap_or_default(),
        images: eff.compat.images.unwrap_or_default(),
    };
    let default_upstream = c.upstream(&eff.upstream, None, &top_compat, env);
    let mut upstreams = BTreeMap::new();
    for u in &eff.upstreams {
        let prefix = Source::file(&["upstreams", &u.name]);
        if u.name == DEFAULT_UPSTREAM {
            c.push(
                &prefix,
                "the name `default` is reserved for the `upstream:` section".to_owned(),
            );
            continue;
        }
        if !is_simple_name(&u.name) {
            c.push(
                &prefix,
                "an upstream name may only hold letters, digits, `_`, `-` and `.`".to_owned(),
            );
        }
        let built = c.upstream(u, Some(&default_upstream), &top_compat, env);
        upstreams.insert(u.name.clone(), Arc::new(built));
    }

    // routes
    let mut routes = Routes::default();
    for (pattern, route) in &eff.routes {
        let route = route.clone().unwrap_or_default();
        let key = |field: &str| Source::file(&["models", pattern, field]);
        let upstream = route
            .upstream
            .clone()
            .unwrap_or_else(|| DEFAULT_UPSTREAM.to_owned());
        if upstream != DEFAULT_UPSTREAM && !upstreams.contains_key(&upstream) {
            let known: Vec<&str> = std::iter::once(DEFAULT_UPSTREAM)
                .chain(upstreams.keys().map(String::as_str))
                .collect();
            c.push(
                &key("upstream"),
                format!(
                    "unknown upstream '{upstream}' (expected one of: {})",
                    known.join(", ")
                ),
            );
        }
        if route.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            c.push(&key("model"), "must not be empty".to_owned());
        }
        for (field, value) in [
            ("context_window", route.context_window),
            ("max_output_tokens", route.max_output_tokens),
        ] {
            if value == Some(0) {
                c.push(&key(field), "expected a number > 0, got '0'".to_owned());
            }
        }
        let built = Route {
            upstream,
            model: route.model.clone(),
            context_window: route.context_window,
            max_output_tokens: route.max_output_tokens,
            vision: route.vision,
            reasoning: route.reasoning,
            apply_patch: route.apply_patch,
        };
        match parse_pattern(pattern) {
            Ok(Pattern::Exact) => {
                routes.exact.insert(pattern.clone(), built);
            }
            Ok(Pattern::Prefix(p)) => routes.prefixes.push((p, built)),
            Err(msg) => c.push(&Source::file(&["models", pattern]), msg),
        }
    }
    routes
        .prefixes
        .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));

    // limits, log, shutdown, control socket
    let max_body_bytes = c
        .opt(&eff.max_body_bytes, |s| parse_positive(s, "bytes"))
        .unwrap_or(defaults::MAX_BODY_BYTES);
    let max_body_bytes = usize::try_from(max_body_bytes).unwrap_or(usize::MAX);
    let level = c
        .opt(&eff.log_level, parse_log_level)
        .unwrap_or_else(|| defaults::LOG_LEVEL.to_owned());
    let format = match &eff.log_format {
        Some(v) => c.check(v, parse_log_format).unwrap_or(LogFormat::Text),
        None if eff.stderr_is_journal => LogFormat::Journald,
        None => LogFormat::Text,
    };
    let log = LogSettings {
        level,
        requests: eff.log_requests.as_ref().is_some_and(|v| v.value),
        content: eff.log_content.as_ref().is_some_and(|v| v.value),
        format,
    };
    let drain_ms = c
        .opt(&eff.drain_timeout_ms, parse_ms_or_zero)
        .unwrap_or(defaults::DRAIN_TIMEOUT_MS);
    let control_socket = match &eff.control_socket {
        Some(v) => c
            .check(v, check_socket_path)
            .unwrap_or_else(|| eff.default_control_socket.clone()),
        None => {
            let p = eff.default_control_socket.clone();
            if let Err(msg) = check_socket_path(&p.to_string_lossy()) {
                c.problems.push(Problem {
                    origin: "control socket (default path)".to_owned(),
                    message: format!("{msg}; set --control-socket or XDG_RUNTIME_DIR"),
                });
            }
            p
        }
    };

    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    let mut pinned = eff.pinned;
    pinned.sort();
    pinned.dedup();
    Ok(Config {
        listen,
        default_upstream: Arc::new(default_upstream),
        upstreams,
        routes,
        max_body_bytes,
        log,
        drain_timeout: Duration::from_millis(drain_ms),
        control_socket,
        config_path: eff.config_path,
        pinned,
    })
}

struct Checker<'a> {
    file: Option<&'a FileText>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn origin(&self, source: &Source) -> String {
        match source {
            Source::Flag(f) => (*f).to_owned(),
            Source::Env(v) => (*v).to_owned(),
            Source::File(path) => {
                let key = path.join(".");
                match self.file {
                    Some(ft) => {
                        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
                        match key_line(&ft.text, &segs) {
                            Some(line) => format!("{}:{line} {key}", ft.path.display()),
                            None => format!("{} {key}", ft.path.display()),
                        }
                    }
                    None => key,
                }
            }
        }
    }

    fn push(&mut self, source: &Source, message: String) {
        let origin = self.origin(source);
        self.problems.push(Problem { origin, message });
    }

    fn check<T>(
        &mut self,
        v: &Val<String>,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match f(&v.value) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.push(&v.source, msg);
                None
            }
        }
    }

    fn opt<T>(
        &mut self,
        v: &Option<Val<String>>,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        v.as_ref().and_then(|v| self.check(v, f))
    }

    /// Builds one upstream; `base` is the default upstream when building a named one.
    fn upstream(
        &mut self,
        u: &EffUpstream,
        base: Option<&Upstream>,
        top_compat: &Compat,
        env: &Env,
    ) -> Upstream {
        let url = match (&u.url, base) {
            (Some(v), _) => self.check(v, check_url).unwrap_or_default(),
            (None, None) => defaults::UPSTREAM_URL.to_owned(),
            (None, Some(_)) => {
                self.push(
                    &Source::file(&["upstreams", &u.name]),
                    "missing `url` (a named upstream has no default URL)".to_owned(),
                );
                String::new()
            }
        };
        let api_key_env = match (&u.api_key_env, base) {
            (Some(v), _) => self.check(v, check_env_name).unwrap_or_default(),
            (None, None) => defaults::API_KEY_ENV.to_owned(),
            // A named upstream without a variable sends no credentials at all.
            (None, Some(_)) => String::new(),
        };
        let token = if api_key_env.is_empty() {
            None
        } else {
            env.get(&api_key_env)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Secret::new)
        };
        let timeout = self
            .opt(&u.timeout_ms, parse_ms)
            .map(Duration::from_millis)
            .or(base.map(|b| b.timeout))
            .unwrap_or(Duration::from_millis(defaults::TIMEOUT_MS));
        let heartbeat = self
            .opt(&u.heartbeat_ms, parse_ms)
            .map(Duration::from_millis)
            .or(base.map(|b| b.heartbeat))
            .unwrap_or(Duration::from_millis(defaults::HEARTBEAT_MS));
        let mut headers = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, value, source) in &u.headers {
            if let Err(msg) = check_header(name, value.expose()) {
                self.push(source, msg);
                continue;
            }
            if !seen.insert(name.to_ascii_lowercase()) {
                self.push(source, "header given twice (names ignore case)".to_owned());
                continue;
            }
            headers.push((name.clone(), value.clone()));
        }
        let compat = Compat {
            drop_tool_call_content: u
                .compat
                .drop_tool_call_content
                .as_ref()
                .map_or(top_compat.drop_tool_call_content, |v| v.value),
            reasoning: u.compat.reasoning.unwrap_or(top_compat.reasoning),
            images: u.compat.images.unwrap_or(top_compat.images),
        };
        Upstream {
            name: if base.is_none() {
                DEFAULT_UPSTREAM.to_owned()
            } else {
                u.name.clone()
            },
            // Validation above checked the URL; a base that still fails to parse with the
            // path appended cannot happen, but fall back to the default rather than panic.
            chat_url: reqwest::Url::parse(&format!("{url}/chat/completions")).unwrap_or_else(
                |_| {
                    reqwest::Url::parse(&format!("{}/chat/completions", defaults::UPSTREAM_URL))
                        .expect("default upstream URL parses")
                },
            ),
            url,
            api_key_env,
            token,
            timeout,
            heartbeat,
            headers,
            compat,
        }
    }
}

/// Client keys: comma-separated, trimmed, empties dropped.
pub fn split_keys(value: &str) -> Vec<Secret> {
    value
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(Secret::new)
        .collect()
}

pub fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("expected a number 0-65535, got '{s}'"))
}

/// Milliseconds, > 0.
pub fn parse_ms(s: &str) -> Result<u64, String> {
    parse_positive(s, "milliseconds")
}

fn parse_ms_or_zero(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("expected a whole number of milliseconds >= 0, got '{s}'"))
}

fn parse_positive(s: &str, unit: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number of {unit} > 0, got '{s}'")),
    }
}

pub fn parse_log_level(s: &str) -> Result<String, String> {
    let l = s.trim().to_ascii_lowercase();
    if LOG_LEVELS.contains(&l.as_str()) {
        Ok(l)
    } else {
        Err(format!(
            "expected one of {}, got '{s}'",
            LOG_LEVELS.join(", ")
        ))
    }
}

pub fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("expected text or json, got '{s}'")),
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn check_env_name(s: &str) -> Result<String, String> {
    if is_env_name(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "expected an environment variable name (letters, digits and _, not starting with a \
             digit), got '{s}'"
        ))
    }
}

fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A listen host: an IP address (IPv6 optionally in brackets) or a host name.
pub fn check_host(s: &str) -> Result<String, String> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if inner.parse::<IpAddr>().is_ok() || (inner == s && is_hostname(s)) {
        Ok(s.to_owned())
    } else {
        Err(format!("expected an IP address or host name, got '{s}'"))
    }
}

/// An upstream base URL: `http(s)://host[:port][/path]`, no credentials, query or fragment.
/// Returns it with trailing `/` stripped.
pub fn check_url(s: &str) -> Result<String, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &t[8..]
    } else if lower.starts_with("http://") {
        &t[7..]
    } else {
        return Err(format!("expected an http:// or https:// URL, got '{s}'"));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        // Do not echo the value: it holds a password.
        return Err(
            "a URL must not contain credentials (user:password@); put the token in the \
             api_key_env variable"
                .to_owned(),
        );
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("a URL must not contain spaces, got '{s}'"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!(
            "a base URL must not have a query or fragment (requests go to URL/chat/completions), \
             got '{s}'"
        ));
    }
    let bad = || format!("expected an http:// or https:// URL with a host, got '{s}'");
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (ip, after) = r.split_once(']').ok_or_else(bad)?;
        ip.parse::<Ipv6Addr>().map_err(|_| bad())?;
        match after {
            "" => (ip, None),
            p => (ip, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !is_hostname(host) && host.parse::<Ipv6Addr>().is_err() {
        return Err(bad());
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(format!(
            "the URL's port must be a number 0-65535, got '{s}'"
        ));
    }
    Ok(t.trim_end_matches('/').to_owned())
}

/// Headers the HTTP client sets itself (framing, routing): refused in `headers:`.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

/// An extra header: an RFC 9110 token name and a visible-ASCII value. The value is never
/// echoed (it may be a secret).
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(format!("'{name}' is not a valid HTTP header name"));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("header {name} is set by the HTTP client itself"));
    }
    if !value.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
        return Err(format!(
            "the value of header {name} is not a valid HTTP header value (visible ASCII only, \
             no line breaks)"
        ));
    }
    Ok(())
}

/// A `models:` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Exact,
    /// `prefix/*` or `prefix*`: the prefix without the `*` (empty: every model).
    Prefix(String),
}

pub fn parse_pattern(p: &str) -> Result<Pattern, String> {
    if p.trim().is_empty() {
        return Err("a model name must not be empty".to_owned());
    }
    match p.matches('*').count() {
        0 => Ok(Pattern::Exact),
        1 if p.ends_with('*') => Ok(Pattern::Prefix(p[..p.len() - 1].to_owned())),
        _ => Err(format!(
            "'{p}': `*` may only end a pattern (`prefix/*` or `prefix*`); other wildcards are \
             not supported"
        )),
    }
}

/// Unix socket paths are limited (sun_path: 104 bytes on macOS, 108 on Linux, NUL included).
pub fn check_socket_path(s: &str) -> Result<PathBuf, String> {
    const MAX: usize = if cfg!(target_os = "linux") { 107 } else { 103 };
    if s.trim().is_empty() {
        return Err("expected a socket path, got ''".to_owned());
    }
    if s.len() > MAX {
        return Err(format!(
            "socket path is {} bytes long; Unix sockets allow at most {MAX}: '{s}'",
            s.len()
        ));
    }
    Ok(PathBuf::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(
            parse_port("65536").unwrap_err(),
            "expected a number 0-65535, got '65536'"
        );
        assert!(parse_port("abc").is_err());
        assert!(parse_port("-1").is_err());
        assert!(parse_port("").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            check_url("https://api.deepinfra.com/v1/openai/").unwrap(),
            "https://api.deepinfra.com/v1/openai"
        );
        assert_eq!(
            check_url("http://127.0.0.1:8000/v1").unwrap(),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(check_url("http://[::1]:8000").unwrap(), "http://[::1]:8000");
        assert_eq!(
            check_url("HTTP://Example.com//").unwrap(),
            "HTTP://Example.com"
        );
        for bad in [
            "ftp://x",
            "api.deepinfra.com/v1",
            "https://",
            "https:///v1",
            "http://x:port/",
            "http://x:99999/",
            "https://a b/",
            "https://x/v1?key=1",
            "http://[::1/",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let e = check_url("https://user:hunter2@x/v1").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("DEEPINFRA_TOKEN"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
        assert!(!is_env_name("$TOKEN"));
    }

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1",
            "::1",
            "[::1]",
            "0.0.0.0",
            "localhost",
            "my-host.lan",
        ] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "http://x", "[localhost]", "1.2.3.4:80"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns() {
        assert_eq!(parse_pattern("fast"), Ok(Pattern::Exact));
        assert_eq!(
            parse_pattern("moonshotai/*"),
            Ok(Pattern::Prefix("moonshotai/".into()))
        );
        assert_eq!(
            parse_pattern("deepseek*"),
            Ok(Pattern::Prefix("deepseek".into()))
        );
        assert_eq!(parse_pattern("*"), Ok(Pattern::Prefix(String::new())));
        assert!(parse_pattern("*/x").is_err());
        assert!(parse_pattern("a*b").is_err());
        assert!(parse_pattern("a/**").is_err());
        assert!(parse_pattern(" ").is_err());
    }

    #[test]
    fn headers() {
        assert!(check_header("X-Title", "codex cli").is_ok());
        assert!(check_header("Authorization", "Bearer x").is_ok());
        assert!(check_header("Bad Name", "x").is_err());
        assert!(check_header("", "x").is_err());
        assert!(check_header("Content-Length", "1").is_err());
        let e = check_header("X-Key", "sec\nret").unwrap_err();
        assert!(!e.contains("sec"), "{e}");
    }

    #[test]
    fn levels_and_formats() {
        assert_eq!(parse_log_level("DEBUG").unwrap(), "debug");
        assert_eq!(parse_log_level("silent").unwrap(), "silent");
        assert!(parse_log_level("verbose").is_err());
        assert_eq!(parse_log_format("JSON"), Ok(LogFormat::Json));
        assert!(parse_log_format("journald").is_err());
    }

    #[test]
    fn keys_split() {
        let k = split_keys(" a, ,b ,,");
        assert_eq!(k.iter().map(Secret::expose).collect::<Vec<_>>(), ["a", "b"]);
        assert!(split_keys(" , ").is_empty());
    }

    #[test]
    fn socket_paths() {
        assert!(check_socket_path("/run/user/1000/deepinfra-shim/control.sock").is_ok());
        assert!(check_socket_path("").is_err());
        assert!(check_socket_path(&format!("/{}", "x".repeat(200))).is_err());
    }
}
