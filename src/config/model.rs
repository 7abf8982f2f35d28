//! The checked runtime configuration ([`Config`]) that the rest of the daemon reads, and the
//! plain records loading attaches to it (what pins a key, what waits for a restart).
//!
//! Nothing here parses or validates: [`super::validate`] builds these values from the layered
//! settings, so a `Config` is always one that passed every check.
//!
//! A running daemon holds `Arc<Config>` snapshots: each request loads the current snapshot once
//! and keeps it until it ends, so a reload never changes a request in flight.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::redact::Redactor;
use crate::translate::{ImagePolicy, ReasoningPolicy};

/// A secret (provider token, client key, header value). Its `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The name of the default upstream (the `upstream:` section).
pub const DEFAULT_UPSTREAM: &str = "default";

/// The checked runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Listen,
    /// The `upstream:` section, always present.
    pub default_upstream: Arc<Upstream>,
    /// Named upstreams from `upstreams:` (not including the default).
    pub upstreams: BTreeMap<String, Arc<Upstream>>,
    pub routes: Routes,
    pub limits: Limits,
    /// The same value as `limits.max_body_bytes`, kept for the callers that read it here.
    pub max_body_bytes: usize,
    pub log: LogSettings,
    pub drain_timeout: Duration,
    pub control_socket: PathBuf,
    /// The config file in use, absolute (None: built-in defaults only).
    pub config_path: Option<PathBuf>,
    /// Keys pinned by a flag or env var (not changed by a reload), e.g. `upstream.url`, sorted.
    pub pinned: Vec<String>,
    /// The same keys with what pins each one, and the file's value when it was overridden.
    pub pins: Vec<Pin>,
    /// After a reload: keys whose file value differs from the running one but only take effect
    /// after a restart (the running value stays in force). Empty at start.
    pub waiting_for_restart: Vec<Change>,
    /// Every secret above, compiled for redaction on first use (see [`Config::redactor`]).
    pub(crate) redactor: OnceLock<Redactor>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    pub host: String,
    pub port: u16,
    pub client_keys_env: Option<String>,
    /// The keys read from `client_keys_env` (comma-separated), if set.
    pub client_keys: Vec<Secret>,
    pub allow_unauthenticated: bool,
    /// Extra `Host` header values to serve besides loopback names and the listen host.
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the daemon (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
}

impl Listen {
    /// True when the host is a loopback address (or `localhost`).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// True for `localhost` and loopback IP addresses (IPv6 with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Resource limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted from a client.
    pub max_body_bytes: usize,
    /// Most client connections open at once.
    pub max_connections: usize,
    /// Most output one stream may accumulate before it is ended with `response.failed`.
    pub max_output_bytes: usize,
}

/// One chat-completions provider.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `default` or the key under `upstreams:`.
    pub name: String,
    /// Base URL without trailing `/`; requests go to `{url}/chat/completions`, `{url}/models`.
    pub url: String,
    /// `{url}/chat/completions`, parsed once per config load rather than on every request.
    pub chat_url: reqwest::Url,
    pub api_key_env: String,
    /// The token read from `api_key_env` when the config was loaded.
    pub token: Option<Secret>,
    /// Longest wait for response headers and, after that, between two chunks.
    pub timeout: Duration,
    /// `response.in_progress` interval while the upstream is silent.
    pub heartbeat: Duration,
    /// Extra headers sent upstream (values may be secrets: never logged).
    pub headers: Vec<(String, Secret)>,
    /// `http://` to a host that is not loopback was explicitly allowed.
    pub allow_insecure: bool,
    pub compat: Compat,
}

impl Upstream {
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_UPSTREAM
    }
}

/// Per-upstream translation switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compat {
    pub drop_tool_call_content: bool,
    pub reasoning: ReasoningPolicy,
    pub images: ImagePolicy,
}

impl Default for Compat {
    fn default() -> Self {
        Compat {
            drop_tool_call_content: false,
            reasoning: ReasoningPolicy::Auto,
            images: ImagePolicy::Keep,
        }
    }
}

/// `models:` routes: the model name Codex sends -> where it goes.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Exact names.
    pub exact: BTreeMap<String, Route>,
    /// `prefix/*` patterns, longest prefix first.
    pub prefixes: Vec<(String, Route)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Route {
    /// Upstream name (`default` or a key of `upstreams:`).
    pub upstream: String,
    /// The model name sent upstream (alias -> real name); None keeps Codex's name.
    pub model: Option<String>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub vision: Option<bool>,
    pub reasoning: Option<bool>,
    pub apply_patch: Option<bool>,
}

impl Routes {
    /// The route for a requested model: exact name first, then the longest matching prefix.
    pub fn find(&self, model: &str) -> Option<&Route> {
        self.exact.get(model).or_else(|| {
            self.prefixes
                .iter()
                .find(|(p, _)| model.starts_with(p.as_str()))
                .map(|(_, r)| r)
        })
    }

    /// Every route by its pattern as written (`fast`, `moonshotai/*`).
    pub fn by_pattern(&self) -> BTreeMap<String, &Route> {
        self.exact
            .iter()
            .map(|(k, r)| (k.clone(), r))
            .chain(self.prefixes.iter().map(|(p, r)| (format!("{p}*"), r)))
            .collect()
    }
}

/// Log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `silent error warn info debug trace`.
    pub level: String,
    pub requests: bool,
    pub content: bool,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
    /// Native journald (chosen automatically when `JOURNAL_STREAM` matches stderr).
    Journald,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
            LogFormat::Journald => "journald",
        }
    }
}

/// What set a pinned key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinSource {
    /// A command-line flag, e.g. `--port`.
    Flag(&'static str),
    /// An environment variable, e.g. `DEEPINFRA_CODEX_SHIM_PORT`.
    Env(&'static str),
}

impl PinSource {
    /// The flag or variable name.
    pub fn name(self) -> &'static str {
        match self {
            PinSource::Flag(n) | PinSource::Env(n) => n,
        }
    }
}

impl fmt::Display for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinSource::Flag(n) => write!(f, "the flag {n}"),
            PinSource::Env(n) => write!(f, "the variable {n}"),
        }
    }
}

/// A key set by a flag or environment variable: a reload does not change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The key, e.g. `listen.port`.
    pub key: &'static str,
    pub by: PinSource,
    /// The value in force, as shown to users (secrets never appear).
    pub value: String,
    /// The config file's value for the key, when it has a different one (ignored).
    pub file_value: Option<String>,
}

/// One difference between two configurations, as shown to users: secrets appear only as
/// `<set>` / `<unset>`. `None` on a side means the entry does not exist there (an upstream,
/// route or header added or removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `upstream.url`, `upstreams.local.timeout_ms`, `models.fast`, `upstream.headers.X-Key`.
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.old, &self.new) {
            (Some(a), Some(b)) => write!(f, "{}: {a} -> {b}", self.key),
            (None, Some(_)) => write!(f, "{}: added", self.key),
            (Some(_), None) => write!(f, "{}: removed", self.key),
            (None, None) => write!(f, "{}: unchanged", self.key),
        }
    }
}

/// Where a model request goes, resolved from one config snapshot.
#[derive(Debug, Clone)]
pub struct Resolved<'a> {
    pub upstream: &'a Arc<Upstream>,
    pub route: Option<&'a Route>,
    /// The model name to send upstream.
    pub upstream_model: String,
}

impl Config {
    /// Resolves the requested model to an upstream (route, else the default upstream).
    pub fn resolve<'a>(&'a self, model: &str) -> Resolved<'a> {
        let route = self.routes.find(model);
        let upstream = route
            .and_then(|r| self.upstreams.get(&r.upstream))
            .unwrap_or(&self.default_upstream);
        let upstream_model = route
            .and_then(|r| r.model.clone())
            .unwrap_or_else(|| model.to_owned());
        Resolved {
            upstream,
            route,
            upstream_model,
        }
    }

    /// The address string to bind (`host:port`, IPv6 hosts bracketed).
    pub fn bind_addr(&self) -> String {
        if self.listen.host.contains(':') && !self.listen.host.starts_with('[') {
            format!("[{}]:{}", self.listen.host, self.listen.port)
        } else {
            format!("{}:{}", self.listen.host, self.listen.port)
        }
    }

    /// Every upstream, the default one first.
    pub fn all_upstreams(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        std::iter::once(&self.default_upstream).chain(self.upstreams.values())
    }

    /// Every secret this config holds: each upstream's token and `headers` values, and the
    /// client keys.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        let upstreams = self.all_upstreams().flat_map(|up| {
            up.token
                .iter()
                .chain(up.headers.iter().map(|(_, v)| v))
                .map(Secret::expose)
        });
        upstreams.chain(self.listen.client_keys.iter().map(Secret::expose))
    }

    /// The redactor for this snapshot's [`Config::secrets`]: the one every exit uses (add the
    /// client's own bearer with [`Redactor::with_extra`]). Compiled once per snapshot, on first
    /// use, so it always matches the config a request holds, across reloads.
    pub fn redactor(&self) -> &Redactor {
        self.redactor.get_or_init(|| Redactor::new(self.secrets()))
    }
}
