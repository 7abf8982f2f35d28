//! The table of configuration keys: every setting declared once, with its YAML path, kind
//! (type and validation), default, flag and environment names, whether a reload may change
//! it, whether its value is a secret, and its one-line doc.
//!
//! Everything else is derived from these declarations: which file keys exist (unknown ones are
//! refused), the layering and pinning ([`super::layers`]), the reload report
//! ([`super::diff`]), `status`'s pinned list, the key table of docs/configuration.md and the
//! checks of the example config ([`super::docs`]). Adding a key is one entry here plus its use in
//! [`super::validate`], which builds the [`Config`] field from it.
//!
//! Three scopes: [`TOP`] (the top-level sections, `listen.port`), [`NAMED_UPSTREAM`] (the keys
//! of each entry under `upstreams:`) and [`ROUTE`] (the keys of each entry under `models:`).

use super::cli::{Cli, env};
use super::kinds::{self, Kind, Show, Shown};
use super::model::{Config, LogFormat, Route, Secret, Upstream};

/// Whether a reload applies a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// Applied by the next reload.
    Live,
    /// Bound or set up once at start: a reload keeps the running value and reports the new
    /// one as waiting for a restart (a reload never weakens the live listener).
    Restart,
}

/// A command-line flag and how to read it from the parsed [`Cli`].
#[derive(Clone, Copy)]
pub struct Flag {
    /// `--port`.
    pub name: &'static str,
    pub read: fn(&Cli) -> Option<String>,
}

/// Everything about a key except its Rust type.
#[derive(Clone, Copy)]
pub struct Meta {
    /// Dotted path inside its scope (`listen.port`; for a named upstream `compat.images`).
    pub path: &'static str,
    pub ty: &'static str,
    /// The built-in default as YAML text (`8797`, `null`, `[]`). None: no fixed default,
    /// [`Meta::default_doc`] says what happens.
    pub default: Option<&'static str>,
    /// What the docs show as the default when it is not a fixed value.
    pub default_doc: Option<&'static str>,
    pub flag: Option<Flag>,
    pub env: Option<&'static str>,
    pub reload: Reload,
    /// The value is a secret: reports show `<set>`/`<unset>` only.
    pub secret: bool,
    /// False for settings that only a flag or variable can set (the control socket).
    pub in_file: bool,
    pub doc: &'static str,
}

impl Meta {
    /// The path as segments.
    pub fn segments(&self) -> Vec<&'static str> {
        self.path.split('.').collect()
    }
}

/// One key of scope `S` (the runtime value its view reads: [`Config`], [`Upstream`] or
/// [`Route`]) whose checked value has type `T`.
pub struct Key<T: 'static, S: 'static> {
    pub meta: Meta,
    pub kind: Kind<T>,
    /// The running value of this key in a checked configuration, for the reload report.
    pub view: fn(&S) -> Shown,
}

impl<T: 'static, S: 'static> Key<T, S> {
    const fn new(
        path: &'static str,
        kind: Kind<T>,
        default: Option<&'static str>,
        doc: &'static str,
        view: fn(&S) -> Shown,
    ) -> Self {
        Key {
            meta: Meta {
                path,
                ty: kind.ty,
                default,
                default_doc: None,
                flag: None,
                env: None,
                reload: Reload::Live,
                secret: false,
                in_file: true,
                doc,
            },
            kind,
            view,
        }
    }

    /// Also set by a flag and an environment variable (which pin it).
    const fn flag(
        mut self,
        name: &'static str,
        var: &'static str,
        read: fn(&Cli) -> Option<String>,
    ) -> Self {
        self.meta.flag = Some(Flag { name, read });
        self.meta.env = Some(var);
        self
    }

    const fn restart(mut self) -> Self {
        self.meta.reload = Reload::Restart;
        self
    }

    const fn secret(mut self) -> Self {
        self.meta.secret = true;
        self
    }

    const fn flag_only(mut self) -> Self {
        self.meta.in_file = false;
        self
    }

    const fn default_doc(mut self, doc: &'static str) -> Self {
        self.meta.default_doc = Some(doc);
        self
    }
}

macro_rules! scope_constructor {
    ($scope:ty, $name:ident, $what:literal) => {
        impl<T: 'static> Key<T, $scope> {
            #[doc = $what]
            const fn $name(
                path: &'static str,
                kind: Kind<T>,
                default: Option<&'static str>,
                doc: &'static str,
                view: fn(&$scope) -> Shown,
            ) -> Self {
                Key::new(path, kind, default, doc, view)
            }
        }
    };
}
scope_constructor!(Config, top, "A top-level key (`listen.port`).");
scope_constructor!(Upstream, named, "A key of each entry under `upstreams:`.");
scope_constructor!(Route, route, "A key of each entry under `models:`.");

/// A key of any type, as the generic parts (file checks, docs, reports) see it.
pub trait AnyKey<S>: Sync {
    fn meta(&self) -> &Meta;
    fn view(&self, scope: &S) -> Shown;
}

impl<T: 'static, S: 'static> AnyKey<S> for Key<T, S> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn view(&self, scope: &S) -> Shown {
        (self.view)(scope)
    }
}

/// Declares the keys of one scope as constants plus the list of all of them, in table order.
macro_rules! table {
    ($scope:ty, $all:ident { $($name:ident: $t:ty = $key:expr;)* }) => {
        $(pub const $name: Key<$t, $scope> = $key;)*
        /// Every key of this scope, in the order the docs list them.
        pub static $all: &[&dyn AnyKey<$scope>] = &[$(&$name),*];
    };
}

fn flag_bool(v: Option<bool>) -> Option<String> {
    v.map(|b| b.to_string())
}

table!(Config, TOP {
    LISTEN_HOST: String = Key::top("listen.host", kinds::HOST, Some("127.0.0.1"),
        "Address to listen on; a host that is not loopback needs client keys or allow_unauthenticated",
        |c| c.listen.host.shown())
        .flag("--host", env::HOST, |c| c.host.clone()).restart();
    LISTEN_PORT: u16 = Key::top("listen.port", kinds::PORT, Some("8797"),
        "Port to listen on; 0 picks a free one (the daemon logs the address it bound)",
        |c| c.listen.port.shown())
        .flag("--port", env::PORT, |c| c.port.clone()).restart();
    LISTEN_CLIENT_KEYS_ENV: Option<String> = Key::top("listen.client_keys_env", kinds::OPT_ENV_NAME, Some("null"),
        "Variable holding comma-separated client keys; clients must then send one as Bearer",
        |c| c.listen.client_keys_env.shown())
        .restart();
    LISTEN_ALLOW_UNAUTHENTICATED: bool = Key::top("listen.allow_unauthenticated", kinds::BOOL, Some("false"),
        "Allow a host that is not loopback without client keys (anyone who can reach it spends your token)",
        |c| c.listen.allow_unauthenticated.shown())
        .restart();
    LISTEN_ALLOWED_HOSTS: Vec<String> = Key::top("listen.allowed_hosts", kinds::HOST_LIST, Some("[]"),
        "Extra Host header values to serve (loopback names and IPs and the listen host always are)",
        |c| c.listen.allowed_hosts.shown())
        .restart();
    LISTEN_ALLOWED_ORIGINS: Vec<String> = Key::top("listen.allowed_origins", kinds::ORIGIN_LIST, Some("[]"),
        "Browser origins (scheme://host[:port]) allowed to call the daemon; none by default",
        |c| c.listen.allowed_origins.shown())
        .restart();
    UPSTREAM_URL: String = Key::top("upstream.url", kinds::URL, Some("https://api.deepinfra.com/v1/openai"),
        "Chat Completions base URL; requests go to {url}/chat/completions and {url}/models",
        |c| c.default_upstream.url.shown())
        .flag("--upstream", env::UPSTREAM, |c| c.upstream.clone());
    UPSTREAM_API_KEY_ENV: String = Key::top("upstream.api_key_env", kinds::ENV_NAME, Some("DEEPINFRA_TOKEN"),
        "Variable holding the provider token",
        |c| c.default_upstream.api_key_env.shown())
        .flag("--api-key-env", env::API_KEY_ENV, |c| c.api_key_env.clone());
    UPSTREAM_TIMEOUT_MS: std::time::Duration = Key::top("upstream.timeout_ms", kinds::MILLIS, Some("120000"),
        "Longest wait for the upstream's response headers, then between two chunks",
        |c| c.default_upstream.timeout.shown())
        .flag("--timeout-ms", env::TIMEOUT_MS, |c| c.timeout_ms.clone());
    UPSTREAM_HEARTBEAT_MS: std::time::Duration = Key::top("upstream.heartbeat_ms", kinds::MILLIS, Some("15000"),
        "Interval of response.in_progress events while the upstream is silent",
        |c| c.default_upstream.heartbeat.shown());
    UPSTREAM_HEADERS: Vec<(String, Secret)> = Key::top("upstream.headers", kinds::HEADERS, Some("{}"),
        "Extra headers sent upstream; their values are secrets, redacted everywhere",
        |c| c.default_upstream.headers.shown())
        .secret();
    UPSTREAM_ALLOW_INSECURE: bool = Key::top("upstream.allow_insecure", kinds::BOOL, Some("false"),
        "Allow http:// to a host that is not loopback (the token would travel in cleartext)",
        |c| c.default_upstream.allow_insecure.shown());
    LIMITS_MAX_BODY_BYTES: usize = Key::top("limits.max_body_bytes", kinds::BYTES, Some("10485760"),
        "Largest request body accepted from a client",
        |c| c.limits.max_body_bytes.shown())
        .flag("--max-body-bytes", env::MAX_BODY_BYTES, |c| c.max_body_bytes.clone());
    LIMITS_MAX_CONNECTIONS: usize = Key::top("limits.max_connections", kinds::CONNECTIONS, Some("1024"),
        "Most client connections open at once; streams in progress are never cut",
        |c| c.limits.max_connections.shown())
        .restart();
    LIMITS_MAX_OUTPUT_BYTES: usize = Key::top("limits.max_output_bytes", kinds::BYTES, Some("16777216"),
        "Most output one streamed reply may accumulate before it ends with response.failed",
        |c| c.limits.max_output_bytes.shown());
    LOG_LEVEL: String = Key::top("log.level", kinds::LOG_LEVEL, Some("info"),
        "Log level",
        |c| c.log.level.shown())
        .flag("--log-level", env::LOG_LEVEL, |c| c.log_level.clone());
    LOG_REQUESTS: bool = Key::top("log.requests", kinds::BOOL, Some("false"),
        "One log line per request with its shape (model, roles, tool count), no content",
        |c| c.log.requests.shown())
        .flag("--log-requests", env::LOG_REQUESTS, |c| flag_bool(c.log_requests));
    LOG_CONTENT: bool = Key::top("log.content", kinds::BOOL, Some("false"),
        "Include prompt and tool content in logs (secrets still redacted)",
        |c| c.log.content.shown())
        .flag("--log-content", env::LOG_CONTENT, |c| flag_bool(c.log_content));
    LOG_FORMAT: LogFormat = Key::top("log.format", kinds::LOG_FORMAT, Some("text"),
        "Log format; when unset and stderr is the journal, native journald",
        |c| c.log.format.shown())
        .flag("--log-format", env::LOG_FORMAT, |c| c.log_format.clone()).restart();
    SHUTDOWN_DRAIN_TIMEOUT_MS: std::time::Duration = Key::top("shutdown.drain_timeout_ms", kinds::MILLIS_OR_ZERO, Some("30000"),
        "On SIGTERM, how long streams in flight may finish (0: end them at once)",
        |c| c.drain_timeout.shown());
    COMPAT_DROP_TOOL_CALL_CONTENT: bool = Key::top("compat.drop_tool_call_content", kinds::BOOL, Some("false"),
        "Drop assistant text that accompanies tool calls",
        |c| c.default_upstream.compat.drop_tool_call_content.shown())
        .flag("--compat-drop-tool-call-content", env::COMPAT_DROP_TOOL_CALL_CONTENT,
              |c| flag_bool(c.compat_drop_tool_call_content));
    COMPAT_REASONING: crate::translate::ReasoningPolicy = Key::top("compat.reasoning", kinds::REASONING, Some("auto"),
        "Whether reasoning goes back upstream as reasoning_content (auto: within the current tool loop)",
        |c| c.default_upstream.compat.reasoning.shown());
    COMPAT_IMAGES: crate::translate::ImagePolicy = Key::top("compat.images", kinds::IMAGES, Some("keep"),
        "Images as image_url parts, or a text placeholder (text-only models)",
        |c| c.default_upstream.compat.images.shown());
    CONTROL_SOCKET: std::path::PathBuf = Key::top("control_socket", kinds::SOCKET_PATH, None,
        "The control socket shimctl talks to (not a file key)",
        |c| c.control_socket.shown())
        .flag("--control-socket", env::CONTROL_SOCKET, |c| c.control_socket.clone())
        .default_doc("$XDG_RUNTIME_DIR/deepinfra-shim/control.sock, else ${TMPDIR:-/tmp}/deepinfra-shim-$UID/control.sock")
        .flag_only().restart();
});

table!(Upstream, NAMED_UPSTREAM {
    NAMED_URL: String = Key::named("url", kinds::URL, None,
        "Chat Completions base URL of this provider",
        |u| u.url.shown())
        .default_doc("required");
    NAMED_API_KEY_ENV: String = Key::named("api_key_env", kinds::ENV_NAME, None,
        "Variable holding this provider's token; it only ever gets that token",
        |u| u.api_key_env.shown())
        .default_doc("none: no credentials are sent");
    NAMED_TIMEOUT_MS: std::time::Duration = Key::named("timeout_ms", kinds::MILLIS, None,
        "As upstream.timeout_ms, for this provider",
        |u| u.timeout.shown())
        .default_doc("upstream.timeout_ms");
    NAMED_HEARTBEAT_MS: std::time::Duration = Key::named("heartbeat_ms", kinds::MILLIS, None,
        "As upstream.heartbeat_ms, for this provider",
        |u| u.heartbeat.shown())
        .default_doc("upstream.heartbeat_ms");
    NAMED_HEADERS: Vec<(String, Secret)> = Key::named("headers", kinds::HEADERS, Some("{}"),
        "Extra headers sent to this provider (never inherited from upstream.headers)",
        |u| u.headers.shown())
        .secret();
    NAMED_ALLOW_INSECURE: bool = Key::named("allow_insecure", kinds::BOOL, Some("false"),
        "Allow http:// to a host that is not loopback for this provider (not inherited)",
        |u| u.allow_insecure.shown());
    NAMED_COMPAT_DROP_TOOL_CALL_CONTENT: bool = Key::named("compat.drop_tool_call_content", kinds::BOOL, None,
        "As compat.drop_tool_call_content, for this provider",
        |u| u.compat.drop_tool_call_content.shown())
        .default_doc("compat.drop_tool_call_content");
    NAMED_COMPAT_REASONING: crate::translate::ReasoningPolicy = Key::named("compat.reasoning", kinds::REASONING, None,
        "As compat.reasoning, for this provider",
        |u| u.compat.reasoning.shown())
        .default_doc("compat.reasoning");
    NAMED_COMPAT_IMAGES: crate::translate::ImagePolicy = Key::named("compat.images", kinds::IMAGES, None,
        "As compat.images, for this provider",
        |u| u.compat.images.shown())
        .default_doc("compat.images");
});

table!(Route, ROUTE {
    ROUTE_UPSTREAM: String = Key::route("upstream", kinds::NAME, Some("default"),
        "Where the model goes: default or a name under upstreams:",
        |r| r.upstream.shown());
    ROUTE_MODEL: Option<String> = Key::route("model", kinds::OPT_NAME, None,
        "The model name sent upstream (Codex keeps seeing the name it asked for)",
        |r| r.model.shown())
        .default_doc("the name Codex sent");
    ROUTE_CONTEXT_WINDOW: Option<u64> = Key::route("context_window", kinds::TOKENS, None,
        "Context window, for the Codex model catalog",
        |r| r.context_window.shown());
    ROUTE_MAX_OUTPUT_TOKENS: Option<u64> = Key::route("max_output_tokens", kinds::TOKENS, None,
        "Output cap: sent upstream as max_tokens, and in the catalog",
        |r| r.max_output_tokens.shown());
    ROUTE_VISION: Option<bool> = Key::route("vision", kinds::OPT_BOOL, None,
        "Whether the model takes images (false: images become placeholders)",
        |r| r.vision.shown());
    ROUTE_REASONING: Option<bool> = Key::route("reasoning", kinds::OPT_BOOL, None,
        "Whether the model reasons, for the catalog",
        |r| r.reasoning.shown());
    ROUTE_APPLY_PATCH: Option<bool> = Key::route("apply_patch", kinds::OPT_BOOL, None,
        "Whether Codex should offer the apply_patch tool, for the catalog",
        |r| r.apply_patch.shown());
});

/// The two top-level sections that are maps of named entries rather than fixed keys.
pub const UPSTREAMS_SECTION: &str = "upstreams";
pub const MODELS_SECTION: &str = "models";

/// Looks a key up by its path (`listen.port`) in a scope's table.
pub fn find<S>(table: &[&'static dyn AnyKey<S>], path: &str) -> Option<&'static dyn AnyKey<S>> {
    table.iter().copied().find(|k| k.meta().path == path)
}

#[cfg(test)]
mod tests;
