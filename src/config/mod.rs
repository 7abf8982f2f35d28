//! Configuration: the YAML file as written ([`file::FileConfig`]), the command line and
//! environment ([`cli::Cli`]), and the checked runtime value ([`Config`]) that the rest of the
//! daemon reads. Effective configuration = built-in defaults < file < env < flags.
//!
//! A running daemon holds `Arc<Config>` snapshots: each request loads the current snapshot once
//! and keeps it until it ends, so a reload never changes a request in flight.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::translate::{ImagePolicy, ReasoningPolicy};

pub mod cli;
pub mod file;
pub mod load;
pub mod validate;

pub use load::{LoadError, load};

/// A secret (provider token, client key). Its `Debug`/`Display` never print the value.
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
    pub max_body_bytes: usize,
    pub log: LogSettings,
    pub drain_timeout: Duration,
    pub control_socket: PathBuf,
    /// The config file in use (None: built-in defaults only).
    pub config_path: Option<PathBuf>,
    /// Keys pinned by a flag or env var (not changed by a reload), e.g. `upstream.url`.
    pub pinned: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    pub host: String,
    pub port: u16,
    pub client_keys_env: Option<String>,
    /// The keys read from `client_keys_env` (comma-separated), if set.
    pub client_keys: Vec<Secret>,
    pub allow_unauthenticated: bool,
}

impl Listen {
    /// True when the host is a loopback address (or `localhost`).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }
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
}

/// Log settings that can change on reload.
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
}
