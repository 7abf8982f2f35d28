//! `shimctl doctor`: one line per check (`ok`, `warn` or `FAIL`), each problem with a fix.
//!
//! Checks, in order:
//! - the daemon answers on its socket, and runs the same version as this `shimctl` (a socket
//!   that fails the checks of [`super::trust`] ends doctor there: one FAIL, nothing else);
//! - the config file, and its directory, are not writable by group or other;
//! - Codex's config files ([`crate::codex_toml::checks`]: syntax in plain words, duplicate keys,
//!   keys under the wrong table, a selected provider pointing at the daemon's address, the
//!   model catalog: exists, parses as Codex reads it, holds the configured model);
//! - one line per upstream, from the daemon's `check-upstreams`: the daemon's own token, sent
//!   by the daemon with a request that needs authentication (see
//!   [`super::check_upstreams`]); valid, rejected (with the provider's status and message),
//!   unreachable, or no token (and then whether Codex's header would stand in).
//!
//! Without a daemon the token cannot be checked (the token in this shell says nothing about
//! the service's), so doctor says so, with how to start it, and checks the rest against the
//! config the daemon would load.
//!
//! [`run`] gathers the facts; [`daemon_report`] and [`offline_report`] turn them into lines
//! without any I/O but reading Codex's files.

use std::fmt::Write as _;

use super::client::Client;
use super::hints::{self, Os};
use super::protocol::{CheckResult, Reply, Request, StatusReport, TokenUsed, UpstreamCheck};
use super::render::{Style, client_addr};
use crate::codex_toml;
use crate::config::Config;
use crate::config::load::Env;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub level: Level,
    pub what: String,
    pub detail: String,
    pub hint: Option<String>,
}

impl Check {
    pub fn ok(what: &str, detail: impl Into<String>) -> Check {
        Check {
            level: Level::Ok,
            what: what.to_owned(),
            detail: detail.into(),
            hint: None,
        }
    }
    pub fn warn(what: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            level: Level::Warn,
            what: what.to_owned(),
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
    pub fn fail(what: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            level: Level::Fail,
            what: what.to_owned(),
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
}

/// What the daemon said about its upstreams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamAnswer {
    Checked(Vec<UpstreamCheck>),
    /// The daemon does not know `check-upstreams` (an older version); its message.
    Unsupported(String),
    /// The request failed (no answer in time, connection lost); why.
    Failed(String),
}

/// What Codex's files say, for the lines that depend on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodexSide {
    /// The variable Codex reads its token from (`env_key`), for the way it reaches us.
    pub env_key: Option<String>,
    /// The model Codex is set up with.
    pub model: Option<String>,
}

/// Runs every check: asks the daemon (status, then `check-upstreams`), reads Codex's files;
/// without a daemon, `local` gives the config it would load.
pub async fn run(
    client: &Client,
    env: &Env,
    local: impl FnOnce() -> Result<Config, Vec<String>>,
) -> Vec<Check> {
    let os = Os::current();
    let status = match client.status().await {
        Ok(status) => status,
        // Not "no daemon": whoever answered may be posing as one. No offline checks either:
        // the socket is the problem to fix first, and this line says how.
        Err(e) => {
            return vec![Check::fail(
                "daemon",
                e.to_string(),
                "nothing was sent to it and nothing else was checked; fix the socket as said, \
                 then run `shimctl doctor` again",
            )];
        }
    };
    match status {
        Ok(s) => {
            let (codex_lines, codex) = codex_checks(env, &base_url(&s.listen));
            let req = Request::CheckUpstreams {
                model: codex.model.clone(),
            };
            let answer = match client.request(req).await {
                Ok(Reply {
                    ok: true,
                    upstream_checks: Some(c),
                    ..
                }) => UpstreamAnswer::Checked(c),
                Ok(r) => UpstreamAnswer::Unsupported(
                    r.error
                        .unwrap_or_else(|| "no upstream checks in the reply".to_owned()),
                ),
                Err(e) => UpstreamAnswer::Failed(e.to_string()),
            };
            daemon_report(&s, codex_lines, &codex, &answer, env, os)
        }
        Err(why) => {
            let config = local();
            let codex = match &config {
                Ok(c) => Some(codex_checks(env, &base_url(&c.bind_addr())).0),
                Err(_) => None,
            };
            let mut checks = offline_report(&why, config.as_ref().err(), codex, os);
            let path = config.as_ref().ok().and_then(|c| c.config_path.as_deref());
            checks.extend(path.and_then(permission_check));
            checks
        }
    }
}

/// `http://ADDR/v1` as Codex should reach a daemon listening on `listen`.
fn base_url(listen: &str) -> String {
    format!("http://{}/v1", client_addr(listen))
}

/// The lines for a running daemon.
pub fn daemon_report(
    s: &StatusReport,
    codex_lines: Vec<Check>,
    codex: &CodexSide,
    answer: &UpstreamAnswer,
    env: &Env,
    os: Os,
) -> Vec<Check> {
    let mut checks = vec![daemon_line(s, os)];
    if let Some(e) = &s.last_reload_error {
        checks.push(Check::warn(
            "config",
            format!(
                "the last reload was refused: {}",
                e.lines().next().unwrap_or("")
            ),
            "fix the file (`shimctl check-config`), then `shimctl reload`",
        ));
    }
    checks.extend(s.config_warning.as_deref().map(config_warning_check));
    checks.extend(codex_lines);
    match answer {
        UpstreamAnswer::Checked(list) if list.is_empty() => checks.push(Check::fail(
            "upstream",
            "the daemon reported no upstream",
            "report a bug",
        )),
        UpstreamAnswer::Checked(list) => {
            checks.extend(list.iter().map(|c| upstream_line(c, codex, env, os)));
        }
        UpstreamAnswer::Unsupported(why) => checks.push(Check::warn(
            "upstream",
            format!(
                "not checked: the daemon (version {}) cannot check its token ({})",
                s.version,
                why.lines().next().unwrap_or("")
            ),
            format!(
                "restart it so it runs this version: `{}`",
                hints::restart_command(os)
            ),
        )),
        UpstreamAnswer::Failed(why) => checks.push(Check::fail(
            "upstream",
            format!(
                "not checked: the daemon did not answer the check ({})",
                why.lines().next().unwrap_or("")
            ),
            "try again; `shimctl logs` shows what the daemon was doing",
        )),
    }
    checks
}

/// The lines without a daemon: how to start it, that the token cannot be checked, and the
/// rest (the config it would load, Codex's files).
pub fn offline_report(
    why: &str,
    config_problems: Option<&Vec<String>>,
    codex_lines: Option<Vec<Check>>,
    os: Os,
) -> Vec<Check> {
    let mut checks = vec![Check::fail(
        "daemon",
        format!("not reachable: {}", why.lines().next().unwrap_or("")),
        hints::how_to_start(os),
    )];
    if let Some(lines) = config_problems {
        checks.push(Check::fail(
            "config",
            format!("the daemon would refuse it: {}", lines.join("; ")),
            "fix the file (`shimctl check-config` lists every problem)",
        ));
    }
    checks.extend(codex_lines.unwrap_or_default());
    checks.push(Check::warn(
        "token",
        "not checked: the daemon checks each upstream with its own token, and it is not \
         running (the token in this shell says nothing about the service's)",
        format!(
            "start it (`{}`, or `deepinfra-shim` in a terminal), then run `shimctl doctor` again",
            hints::start_command(os)
        ),
    ));
    checks
}

/// The config file (or its directory) is writable by others: a warning with its fix.
fn permission_check(path: &std::path::Path) -> Option<Check> {
    crate::config::paths::permission_warning(path).map(|w| config_warning_check(&w))
}

fn config_warning_check(warning: &str) -> Check {
    Check::warn(
        "config",
        warning,
        "take the write bit away from group and other, as said (the daemon re-reads the file \
         whenever it changes)",
    )
}

fn daemon_line(s: &StatusReport, os: Os) -> Check {
    let running = format!(
        "running (pid {}, version {}, http://{})",
        s.pid, s.version, s.listen
    );
    if s.version == crate::VERSION {
        return Check::ok("daemon", running);
    }
    Check::warn(
        "daemon",
        format!("{running}, but this shimctl is version {}", crate::VERSION),
        format!(
            "restart the daemon so both run the installed version: `{}`",
            hints::restart_command(os)
        ),
    )
}

/// Codex's config files, checked by [`crate::codex_toml::checks`]: one line per finding, an
/// `ok` line for the way Codex reaches this daemon; and that way's `env_key` and model.
fn codex_checks(env: &Env, base_url: &str) -> (Vec<Check>, CodexSide) {
    let Some(dir) = codex_toml::codex_home(env.get("CODEX_HOME"), env.get("HOME")) else {
        let c = Check::fail(
            "codex",
            "cannot locate Codex's config (neither CODEX_HOME nor HOME is set)",
            "set HOME, or CODEX_HOME to Codex's directory",
        );
        return (vec![c], CodexSide::default());
    };
    let report = match codex_toml::check_dir(&dir, base_url) {
        Ok(r) => r,
        Err(e) => {
            let c = Check::fail("codex", e.to_string(), "check the files' permissions");
            return (vec![c], CodexSide::default());
        }
    };
    let mut lines = Vec::new();
    let side = report
        .uses
        .first()
        .map(|u| CodexSide {
            env_key: u.env_key.clone(),
            model: u.model.clone(),
        })
        .unwrap_or_default();
    if let Some(u) = report.uses.first() {
        let file = match &u.profile {
            Some(p) => codex_toml::profile_path(&dir, p),
            None => codex_toml::config_path(&dir),
        };
        lines.push(Check::ok(
            "codex",
            format!(
                "{}: provider '{}' ({}) -> {base_url}",
                file.display(),
                u.provider,
                u.selected_by()
            ),
        ));
    }
    for f in report.findings {
        let detail = format!("{}: {}", f.file, f.message);
        lines.push(match f.severity {
            codex_toml::Severity::Fail => Check::fail("codex", detail, f.fix),
            codex_toml::Severity::Warn => Check::warn("codex", detail, f.fix),
        });
    }
    (lines, side)
}

/// `upstream.url` or `upstreams.NAME.url`.
fn url_key(name: &str) -> String {
    if name == crate::config::DEFAULT_UPSTREAM {
        "upstream.url".to_owned()
    } else {
        format!("upstreams.{name}.url")
    }
}

/// How to give the daemon the token in `var`.
fn set_token_hint(var: &str, os: Os) -> String {
    format!(
        "put `{var}=...` in {} (mode 0600; the installed service reads it), then `{}`; a \
         daemon started by hand takes it from its own environment",
        hints::ENV_FILE,
        hints::restart_command(os)
    )
}

/// `: 401 Not authenticated`, or `: 401` without a message.
fn answered(c: &UpstreamCheck) -> String {
    let status = c.status.map(|s| s.to_string()).unwrap_or_default();
    match c
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        Some(m) => format!("{status} {m}"),
        None => status,
    }
}

/// ` (POST URL, model M, max_tokens 1 -> 200, 412 ms)`.
fn what_was_sent(c: &UpstreamCheck) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &c.request {
        parts.push(r.clone());
    }
    if let Some(m) = &c.model {
        parts.push(format!("model {m}, max_tokens 1"));
    }
    let mut out = parts.join(", ");
    if let Some(s) = c.status {
        let _ = write!(out, " -> {s}");
    }
    let _ = write!(out, ", {} ms", c.elapsed_ms);
    format!(" ({out})")
}

/// One upstream's line, from the daemon's check and what Codex would send in its place.
fn upstream_line(c: &UpstreamCheck, codex: &CodexSide, env: &Env, os: Os) -> Check {
    let what = "upstream";
    let name = &c.name;
    let var = &c.api_key_env;
    match c.result {
        CheckResult::Valid => Check::ok(
            what,
            format!(
                "'{name}' valid: the daemon's {var} was accepted{}",
                what_was_sent(c)
            ),
        ),
        CheckResult::Rejected => Check::fail(
            what,
            format!(
                "'{name}' rejected the daemon's {var}: {}{}",
                answered(c),
                what_was_sent(c)
            ),
            format!(
                "the token is wrong, revoked or old: {}",
                set_token_hint(var, os)
            ),
        ),
        CheckResult::Unreachable => {
            let token = match c.token {
                TokenUsed::Daemon => format!("the daemon's {var} was not checked"),
                _ => no_token_words(c, codex, env),
            };
            Check::fail(
                what,
                format!(
                    "'{name}' unreachable: {}: {} ({token})",
                    c.request.as_deref().unwrap_or(&c.url),
                    c.message.as_deref().unwrap_or("no answer"),
                ),
                format!("check the URL ({}) and the network", url_key(name)),
            )
        }
        CheckResult::NoToken => no_token_line(c, codex, env, os),
        CheckResult::Error => error_line(c),
        CheckResult::Unknown => Check::warn(
            what,
            format!("'{name}': the daemon's answer is not known to this shimctl"),
            format!(
                "run the same version of both (`{}`)",
                hints::restart_command(os)
            ),
        ),
    }
}

/// Says there is no token in the daemon and what would be sent instead.
fn no_token_words(c: &UpstreamCheck, codex: &CodexSide, env: &Env) -> String {
    let var = &c.api_key_env;
    match c.token {
        TokenUsed::NoneCodexHeader => match codex.env_key.as_deref() {
            Some(key) if env.non_empty(key).is_some() => format!(
                "no token in the daemon ({var} is not set), so Codex's header would be used: \
                 Codex sends its {key} (set in this shell)"
            ),
            Some(key) => format!(
                "no token in the daemon ({var} is not set), and {key} (Codex's env_key) is not \
                 set in this shell either"
            ),
            None => format!(
                "no token in the daemon ({var} is not set), and Codex has no env_key for this \
                 daemon, so it sends none either"
            ),
        },
        _ if c.name == crate::config::DEFAULT_UPSTREAM => format!(
            "no token in the daemon ({var} is not set), and with client keys Codex's header is \
             never forwarded"
        ),
        _ => format!("no token in the daemon ({var} is not set)"),
    }
}

fn no_token_line(c: &UpstreamCheck, codex: &CodexSide, env: &Env, os: Os) -> Check {
    let what = "upstream";
    let name = &c.name;
    let var = &c.api_key_env;
    let words = no_token_words(c, codex, env);
    let status = c.status.unwrap_or(0);
    if (200..300).contains(&status) {
        return Check::ok(
            what,
            format!(
                "'{name}' answers without a token: {words}{}",
                what_was_sent(c)
            ),
        );
    }
    let codex_stands_in = c.token == TokenUsed::NoneCodexHeader
        && codex
            .env_key
            .as_deref()
            .is_some_and(|k| env.non_empty(k).is_some());
    let without = format!("without one it answered {}", answered(c));
    if codex_stands_in {
        return Check::ok(what, format!("'{name}' {words}; {without}"));
    }
    let hint = match (c.token, codex.env_key.as_deref()) {
        (TokenUsed::NoneCodexHeader, Some(key)) => {
            format!(
                "{}; or export {key} where Codex runs",
                set_token_hint(var, os)
            )
        }
        _ => set_token_hint(var, os),
    };
    Check::fail(what, format!("'{name}' {words}; {without}"), hint)
}

/// An answer that neither accepts nor rejects the token.
fn error_line(c: &UpstreamCheck) -> Check {
    let what = "upstream";
    let name = &c.name;
    let Some(status) = c.status else {
        return Check::warn(
            what,
            format!(
                "'{name}' not checked: {}",
                c.message.as_deref().unwrap_or("no model to ask")
            ),
            format!(
                "add an exact route to it under models: (e.g. `fast: {{ upstream: {name}, \
                 model: NAME }}`) so the check knows a model it serves"
            ),
        );
    };
    let detail = format!(
        "'{name}' answered the token check with {}{}",
        answered(c),
        what_was_sent(c)
    );
    let model = c.model.as_deref().unwrap_or("?");
    match status {
        300..=399 => Check::fail(
            what,
            detail,
            format!(
                "the URL redirects, and the daemon never follows redirects (they would carry \
                 the token elsewhere): set {} to the address it points to",
                url_key(name)
            ),
        ),
        402 => Check::fail(
            what,
            detail,
            "the provider refuses requests until the account is funded",
        ),
        429 | 500..=599 => Check::warn(
            what,
            detail,
            "the provider is busy or failing right now; try again later",
        ),
        _ => Check::warn(
            what,
            detail,
            format!(
                "the token was not refused, but the request for {model} was: check {} and \
                 that this provider serves {model} (a route under models: names the model the \
                 check asks for)",
                url_key(name)
            ),
        ),
    }
}

/// One line per check; a fix line under each `warn` and `FAIL`.
pub fn render(checks: &[Check], st: Style) -> String {
    let mut out = String::new();
    for c in checks {
        let tag = match c.level {
            Level::Ok => st.green("ok  "),
            Level::Warn => st.yellow("warn"),
            Level::Fail => st.red("FAIL"),
        };
        let _ = writeln!(out, "{tag}  {:<8} {}", c.what, c.detail);
        if let Some(h) = &c.hint
            && c.level != Level::Ok
        {
            let _ = writeln!(out, "      {:<8} fix: {h}", "");
        }
    }
    out
}

/// True when nothing failed (warnings allowed).
pub fn all_good(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.level != Level::Fail)
}

#[cfg(test)]
mod tests;
