//! The control-socket protocol, shared by the daemon and `shimctl` so the two cannot drift.
//!
//! Framing: newline-delimited JSON. A client connects, writes **one** request line, reads
//! **one** reply line, and the daemon closes the connection. A request line is at most
//! [`MAX_LINE`] bytes and must arrive within [`REQUEST_TIMEOUT`] of connecting.
//!
//! ```text
//! -> {"v":1,"cmd":"set-log-level","level":"debug"}
//! <- {"v":1,"ok":true,"log_level":"debug"}
//! -> {"v":1,"cmd":"reload"}
//! <- {"v":1,"ok":false,"error":"reload refused: ...","reload":{"applied":false,"changes":[],"reasons":["..."],"generation":0}}
//! -> {"v":1,"cmd":"plan-reload"}
//! <- {"v":1,"ok":true,"reload":{"applied":false,"dry_run":true,"changes":["upstream.url: a -> b"],"changed":[{"key":"upstream.url","old":"a","new":"b"}],...}}
//! ```
//!
//! Compatibility rules (version [`PROTOCOL_VERSION`]): fields and commands are only ever
//! *added*, never renamed, retyped or removed. Every field added after v1 carries
//! `#[serde(default)]`, unknown fields are ignored on both sides, and the v1 payloads kept in
//! `tests/fixtures/control/` must keep parsing. A command this daemon does not know gets an
//! error reply naming it, never a dropped connection.

use serde::{Deserialize, Serialize};

pub use crate::metrics::{CaptureReport, CaptureRequest, StatsReport};

/// The protocol version this build speaks. Bumped only when something is added that a peer
/// may want to detect; a peer with a higher version is still answered.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest request or reply line accepted, newline included.
pub const MAX_LINE: usize = 64 * 1024;

/// Longest reply line a client accepts (a status with many upstreams can be long).
pub const MAX_REPLY: usize = 4 * 1024 * 1024;

/// How long the daemon waits for a complete request line.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

fn v1() -> u32 {
    1
}

/// One request line: the protocol version plus the command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLine {
    /// The sender's protocol version (1 when absent).
    #[serde(default = "v1")]
    pub v: u32,
    #[serde(flatten)]
    pub request: Request,
}

impl RequestLine {
    pub fn new(request: Request) -> Self {
        RequestLine {
            v: PROTOCOL_VERSION,
            request,
        }
    }

    /// The line to send, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("a request always serializes");
        s.push('\n');
        s
    }

    /// Parses a received line. The error is a message fit for an error reply: it says what
    /// was wrong without echoing the (possibly hostile) input.
    pub fn parse(line: &[u8]) -> Result<RequestLine, String> {
        let value: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| format!("request is not valid JSON ({})", e.classify_name()))?;
        let Some(obj) = value.as_object() else {
            return Err("request must be a JSON object".to_owned());
        };
        let cmd = match obj.get("cmd") {
            Some(serde_json::Value::String(c)) => c.clone(),
            Some(_) => return Err("request field \"cmd\" must be a string".to_owned()),
            None => return Err("request has no \"cmd\" field".to_owned()),
        };
        if !Request::NAMES.contains(&cmd.as_str()) {
            let shown: String = cmd.chars().take(64).collect();
            return Err(format!(
                "unknown command '{shown}' (this daemon speaks control protocol v{PROTOCOL_VERSION}: {})",
                Request::NAMES.join(", ")
            ));
        }
        serde_json::from_value(value)
            .map_err(|e| format!("bad '{cmd}' request: {}", shorten(&e.to_string())))
    }
}

/// serde's message quotes a value of the wrong type whole (`invalid type: string "…"`): cut
/// it, so that a refusal never sends back more than a few words of the (possibly hostile)
/// input, however long it was.
fn shorten(message: &str) -> String {
    crate::text::cut(message, 160)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "incomplete JSON",
        }
    }
}

/// What a client asks the daemon. Tagged by `"cmd"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// The daemon's state: [`Reply::status`].
    Status,
    /// The current log level: [`Reply::log_level`].
    GetLogLevel,
    /// Sets the log level until the next reload that changes `log.level`, or a restart.
    SetLogLevel { level: String },
    /// Re-reads the config file now (the same path as SIGHUP and the file watcher):
    /// [`Reply::reload`].
    Reload,
    /// Where a model name goes in the current config: [`Reply::route`].
    Resolve { model: String },
    /// Checks every upstream from inside the daemon, with the daemon's own token, by a
    /// request that needs authentication: [`Reply::upstream_checks`]. `model`, when given,
    /// is the model Codex is set up with; the upstream it routes to is probed with it.
    CheckUpstreams {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// What `reload` would do now, read and validated the same way, nothing applied:
    /// [`Reply::reload`] with `dry_run` (`ok` false when the file would be refused). A separate
    /// command rather than a flag on `reload`, so a daemon that predates it refuses it instead
    /// of reloading.
    PlanReload {
        /// Plan as if the config file were this one (absolute) instead of the daemon's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// What each model did in the last `window_s` seconds (15 minutes when absent):
    /// [`Reply::stats`].
    Stats {
        #[serde(default)]
        window_s: Option<u64>,
    },
    /// Records the next requests into a directory (armed at once; the reply does not wait for
    /// the window): [`Reply::capture`].
    Capture(CaptureRequest),
}

impl Request {
    /// The `"cmd"` name of this request.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::GetLogLevel => "get-log-level",
            Request::SetLogLevel { .. } => "set-log-level",
            Request::Reload => "reload",
            Request::Resolve { .. } => "resolve",
            Request::CheckUpstreams { .. } => "check-upstreams",
            Request::PlanReload { .. } => "plan-reload",
            Request::Stats { .. } => "stats",
            Request::Capture(_) => "capture",
        }
    }

    /// Every command name of this protocol version, as sent in `"cmd"`.
    pub const NAMES: &'static [&'static str] = &[
        "status",
        "get-log-level",
        "set-log-level",
        "reload",
        "resolve",
        "check-upstreams",
        "plan-reload",
        "stats",
        "capture",
    ];
}

/// The one reply type. `ok` always; `error` when not ok; then the payload of the command
/// that was asked (absent fields are `None`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The daemon's protocol version.
    #[serde(default = "v1")]
    pub v: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ReloadReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteReport>,
    /// `check-upstreams`: one entry per upstream, the default one first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_checks: Option<Vec<UpstreamCheck>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureReport>,
}

impl Reply {
    /// A successful reply with no payload yet.
    pub fn ok() -> Self {
        Reply {
            v: PROTOCOL_VERSION,
            ok: true,
            ..Reply::default()
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Reply {
            v: PROTOCOL_VERSION,
            ok: false,
            error: Some(message.into()),
            ..Reply::default()
        }
    }

    /// The line to send, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("a reply always serializes");
        s.push('\n');
        s
    }

    pub fn parse(line: &[u8]) -> Result<Reply, serde_json::Error> {
        serde_json::from_slice(line)
    }
}

/// `shimctl status --json`. Field names are part of the interface contract.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub version: String,
    pub pid: u32,
    pub uptime_s: u64,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub started_at: String,
    /// The bound address, `host:port` (the configured one until the listener is bound).
    pub listen: String,
    /// The default upstream's base URL.
    pub upstream: String,
    /// The config file in use; null with built-in defaults.
    pub config_path: Option<String>,
    /// When the configuration in force was loaded, RFC 3339 UTC.
    pub config_loaded_at: String,
    /// 0 for the configuration loaded at start, +1 per applied reload.
    #[serde(default)]
    pub generation: u64,
    /// Applied reloads since start.
    pub reload_count: u64,
    /// Why the last reload was refused; null when the last reload was applied (or none ran).
    pub last_reload_error: Option<String>,
    /// `applied: CHANGES` (or `applied: no changes`), `refused`, or null when no reload ran.
    #[serde(default)]
    pub last_reload_result: Option<String>,
    /// The last reload, applied or refused, with what it changed; null when none ran.
    #[serde(default)]
    pub last_reload: Option<ReloadReport>,
    pub log_level: String,
    /// Keys pinned by a flag or environment variable (not changed by a reload).
    pub pinned: Vec<String>,
    /// The same keys with the flag or variable that pins each.
    #[serde(default)]
    pub pins: Vec<PinReport>,
    /// Whether the default upstream's token variable was set when the config was loaded.
    /// Never the token itself.
    pub token_present: bool,
    pub requests: RequestCounters,
    /// The default upstream first, then the named ones.
    #[serde(default)]
    pub upstreams: Vec<UpstreamStatus>,
    #[serde(default)]
    pub control_socket: String,
    /// The variable holding the client keys when clients must authenticate (`listen.client_keys_env`).
    #[serde(default)]
    pub client_keys_env: Option<String>,
    /// What the config file watcher watches.
    #[serde(default)]
    pub watch: Option<WatchStatus>,
    /// Set when the config file, or its directory, is writable by group or other (whoever can
    /// write it decides where the token goes): the warning, with its fix. Checked at each
    /// `status`, so fixing the mode clears it at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_warning: Option<String>,
}

/// The config file watcher in `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchStatus {
    /// The config file watched for (absolute; it may not exist yet).
    #[serde(default)]
    pub file: Option<String>,
    /// The directory watched: the file's own, or its nearest existing ancestor while that
    /// does not exist. Null when nothing is watched.
    #[serde(default)]
    pub watching: Option<String>,
    /// The directory whose appearance is awaited (null when the file's directory is watched).
    #[serde(default)]
    pub waiting_for: Option<String>,
    /// Why nothing is watched.
    #[serde(default)]
    pub reason: Option<String>,
    /// One line: `watching DIR`, `watching DIR until DIR appears`, `not watching: why`.
    #[serde(default)]
    pub summary: String,
}

/// A key pinned by a flag or environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinReport {
    /// `listen.port`.
    pub key: String,
    /// The flag or variable: `--port`, `DEEPINFRA_CODEX_SHIM_PORT`.
    pub by: String,
    /// The value in force (secrets never appear).
    #[serde(default)]
    pub value: String,
    /// The config file's value, when it has a different one (ignored).
    #[serde(default)]
    pub file_value: Option<String>,
}

/// One key whose value a reload changes. A null side means the entry does not exist there
/// (an upstream, route or header added or removed); secrets appear as `<set>` / `<unset>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key: String,
    #[serde(default)]
    pub old: Option<String>,
    #[serde(default)]
    pub new: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounters {
    pub total: u64,
    pub active: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamStatus {
    pub name: String,
    pub url: String,
    /// The variable the token is read from.
    #[serde(default)]
    pub api_key_env: String,
    /// Whether that variable was set (never the value).
    #[serde(default)]
    pub token_present: bool,
    /// Finished requests sent to this upstream.
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub errors: u64,
    /// Latency of the last finished request (whole stream), ms.
    #[serde(default)]
    pub last_latency_ms: Option<u64>,
    /// Median of the last [`UpstreamStatus::recent`] requests, ms.
    #[serde(default)]
    pub p50_latency_ms: Option<u64>,
    /// How many recent requests the median covers.
    #[serde(default)]
    pub recent: u32,
}

/// The result of `reload` (and `plan-reload`): `applied` with the changes, or the reasons it
/// was refused (every problem, one per entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    pub applied: bool,
    /// Every entry of the report as one line: the changes, then the keys waiting for a
    /// restart, then the pinned keys whose file value was ignored. Empty: no changes.
    #[serde(default)]
    pub changes: Vec<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The configuration generation in force after the reload.
    #[serde(default)]
    pub generation: u64,
    /// A dry run (`plan-reload`): nothing was applied.
    #[serde(default)]
    pub dry_run: bool,
    /// Keys whose new value is in force (for a dry run: would be).
    #[serde(default)]
    pub changed: Vec<KeyChange>,
    /// Keys the file changes that keep their running value until a restart.
    #[serde(default)]
    pub needs_restart: Vec<KeyChange>,
    /// Pinned keys whose file value differs and was ignored.
    #[serde(default)]
    pub pinned: Vec<PinReport>,
    /// `no changes`, or the entries joined with `; `; for a refused reload, `refused`.
    #[serde(default)]
    pub summary: String,
    /// What asked for it: `file change`, `SIGHUP`, `shimctl` (null for a dry run).
    #[serde(default)]
    pub source: Option<String>,
    /// When it ran, RFC 3339 UTC.
    #[serde(default)]
    pub at: Option<String>,
    /// The config file read (absolute); null: built-in defaults.
    #[serde(default)]
    pub config_path: Option<String>,
}

/// Where a model name goes in the daemon's current config (`resolve`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteReport {
    /// The name asked about.
    pub model: String,
    /// The route pattern that matched (`name` or `prefix/*`); null: no route, default upstream.
    #[serde(default)]
    pub matched: Option<String>,
    pub upstream: String,
    /// The model name sent upstream.
    pub upstream_model: String,
    #[serde(default)]
    pub context_window: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub vision: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<bool>,
    #[serde(default)]
    pub apply_patch: Option<bool>,
}

/// What one upstream answered to the daemon's token check (`check-upstreams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamCheck {
    /// `default` or the key under `upstreams:`.
    pub name: String,
    /// The upstream's base URL.
    pub url: String,
    pub result: CheckResult,
    /// Which token the check sent.
    pub token: TokenUsed,
    /// The variable the daemon reads this upstream's token from.
    pub api_key_env: String,
    /// The model the check asked for (null when none could be found).
    #[serde(default)]
    pub model: Option<String>,
    /// What was sent, e.g. `POST https://api.deepinfra.com/v1/openai/chat/completions`.
    #[serde(default)]
    pub request: Option<String>,
    /// The upstream's HTTP status (null when it could not be reached).
    #[serde(default)]
    pub status: Option<u16>,
    /// The provider's message on a refusal (secrets removed, at most about 1 KB), or why the
    /// upstream could not be reached.
    #[serde(default)]
    pub message: Option<String>,
    /// How long the check took.
    #[serde(default)]
    pub elapsed_ms: u64,
}

/// The outcome of one upstream's token check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// The daemon's token was accepted (2xx).
    Valid,
    /// The daemon's token was refused (401 or 403).
    Rejected,
    /// No answer: connection, TLS or time limit.
    Unreachable,
    /// The daemon has no token for this upstream; `status` says what the provider answered
    /// to the same request without one.
    NoToken,
    /// Another answer (a 3xx, a 404 for the model, a 429, a 5xx): the token was not refused,
    /// but not confirmed either.
    Error,
    /// A result a newer daemon knows and this build does not.
    #[serde(other)]
    Unknown,
}

/// Which token a check sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenUsed {
    /// The daemon's own, from the upstream's `api_key_env` variable.
    Daemon,
    /// None: the daemon has no token for the default upstream, so Codex's `Authorization`
    /// header (its `env_key`) would be forwarded instead.
    NoneCodexHeader,
    /// None, and nothing would be sent instead: a named upstream (it never gets a client's
    /// header), or client keys are configured (the client's header is a key for the daemon).
    None,
    #[serde(other)]
    Unknown,
}

/// Formats a time as RFC 3339 UTC with second precision, e.g. `2025-01-02T03:04:05Z`.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 -> (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn request_lines_round_trip() {
        for r in [
            Request::Status,
            Request::GetLogLevel,
            Request::SetLogLevel {
                level: "debug".into(),
            },
            Request::Reload,
            Request::Resolve { model: "m".into() },
            Request::CheckUpstreams { model: None },
            Request::CheckUpstreams {
                model: Some("m".into()),
            },
            Request::PlanReload { file: None },
            Request::PlanReload {
                file: Some("/c/other.yaml".into()),
            },
            Request::Stats {
                window_s: Some(900),
            },
            Request::Stats { window_s: None },
            Request::Capture(CaptureRequest {
                dir: "/tmp/c".into(),
                for_s: Some(60),
                max: None,
                model: Some("m".into()),
            }),
        ] {
            let line = RequestLine::new(r.clone()).to_line();
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            assert!(
                line.contains(&format!("\"cmd\":\"{}\"", r.name())),
                "{line}"
            );
            let back = RequestLine::parse(line.trim_end().as_bytes()).unwrap();
            assert_eq!(back.request, r);
            assert_eq!(back.v, PROTOCOL_VERSION);
        }
        assert_eq!(
            RequestLine::new(Request::SetLogLevel {
                level: "debug".into()
            })
            .to_line(),
            "{\"v\":1,\"cmd\":\"set-log-level\",\"level\":\"debug\"}\n"
        );
        assert_eq!(
            RequestLine::new(Request::CheckUpstreams { model: None }).to_line(),
            "{\"v\":1,\"cmd\":\"check-upstreams\"}\n"
        );
        assert_eq!(
            RequestLine::new(Request::PlanReload { file: None }).to_line(),
            "{\"v\":1,\"cmd\":\"plan-reload\"}\n"
        );
        assert_eq!(Request::NAMES.len(), 9);
    }

    #[test]
    fn requests_tolerate_missing_version_and_unknown_fields() {
        let r = RequestLine::parse(br#"{"cmd":"status","from_the_future":[1,2]}"#).unwrap();
        assert_eq!(r.v, 1);
        assert_eq!(r.request, Request::Status);
        let r = RequestLine::parse(br#"{"v":7,"cmd":"reload","x":{}}"#).unwrap();
        assert_eq!((r.v, r.request), (7, Request::Reload));
    }

    #[test]
    fn bad_requests_say_why_without_echoing() {
        let e = RequestLine::parse(b"GET / HTTP/1.1").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        assert!(!e.contains("GET"), "{e}");
        let e = RequestLine::parse(b"[1]").unwrap_err();
        assert!(e.contains("object"), "{e}");
        let e = RequestLine::parse(br#"{"v":1}"#).unwrap_err();
        assert!(e.contains("no \"cmd\""), "{e}");
        let e = RequestLine::parse(br#"{"cmd":"explode"}"#).unwrap_err();
        assert!(e.contains("unknown command 'explode'"), "{e}");
        let e = RequestLine::parse(br#"{"cmd":"set-log-level"}"#).unwrap_err();
        assert!(e.contains("level"), "{e}");
        // A long value of the wrong type is not sent back whole (the control fuzz target's
        // bound on refusals).
        let long = format!(r#"{{"cmd":"stats","window_s":"{}"}}"#, "x".repeat(5000));
        let e = RequestLine::parse(long.as_bytes()).unwrap_err();
        assert!(
            e.starts_with("bad 'stats' request: invalid type") && e.len() < 300,
            "{e}"
        );
        let e = RequestLine::parse(b"{\"cmd\":\"status\"").unwrap_err();
        assert!(e.contains("incomplete"), "{e}");
    }

    #[test]
    fn replies_round_trip_and_skip_empty_payloads() {
        let mut r = Reply::ok();
        r.log_level = Some("info".into());
        assert_eq!(
            r.to_line(),
            "{\"v\":1,\"ok\":true,\"log_level\":\"info\"}\n"
        );
        assert_eq!(Reply::parse(r.to_line().as_bytes()).unwrap(), r);
        let e = Reply::error("nope");
        assert_eq!(e.to_line(), "{\"v\":1,\"ok\":false,\"error\":\"nope\"}\n");
        let mut s = Reply::ok();
        s.status = Some(StatusReport {
            version: "0.1.0".into(),
            upstreams: vec![UpstreamStatus {
                name: "default".into(),
                p50_latency_ms: Some(3),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(Reply::parse(s.to_line().as_bytes()).unwrap(), s);
    }

    #[test]
    fn replies_tolerate_unknown_fields() {
        let r = Reply::parse(br#"{"ok":true,"log_level":"warn","new_thing":{"a":1}}"#).unwrap();
        assert!(r.ok);
        assert_eq!(r.v, 1);
        assert_eq!(r.log_level.as_deref(), Some("warn"));
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_735_787_045)),
            "2025-01-02T03:04:05Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(4_102_444_799)),
            "2099-12-31T23:59:59Z"
        );
    }
}
