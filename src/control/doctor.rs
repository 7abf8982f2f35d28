//! `shimctl doctor`: one line per check (`ok`, `warn` or `FAIL`), each failure with a fix.
//!
//! Checks: the daemon answers on its socket; Codex's config files (see
//! [`crate::codex_toml::checks`]: syntax, misplaced keys, a selected provider pointing at the
//! daemon's address, the model catalog); a provider token is present in the daemon, or expected from the
//! variable Codex sends (`env_key`); every upstream answers `GET {url}/models` (from here,
//! with a short timeout, using this shell's token variable when set; the token is never
//! printed). When the daemon is not running, the facts come from the config it would load.

use std::fmt::Write as _;

use super::client::HOW_TO_START;
use super::codex_config::CodexUse;
use super::protocol::{StatusReport, UpstreamStatus};
use super::render::{Style, client_addr};
use crate::codex_toml;
use crate::config::Config;
use crate::config::load::Env;
use crate::upstream::limits::PROBE_TIMEOUT;
use crate::upstream::{UpstreamClient, models_url};

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
    fn ok(what: &str, detail: impl Into<String>) -> Check {
        Check {
            level: Level::Ok,
            what: what.to_owned(),
            detail: detail.into(),
            hint: None,
        }
    }
    fn warn(what: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            level: Level::Warn,
            what: what.to_owned(),
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
    fn fail(what: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            level: Level::Fail,
            what: what.to_owned(),
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
}

/// What the checks are run against: the running daemon, or else the config it would load.
pub enum Target {
    Daemon(Box<StatusReport>),
    /// The daemon is unreachable (the message says why); the local config, if it loads.
    Offline {
        why: String,
        config: Result<Box<Config>, Vec<String>>,
    },
}

/// The facts the later checks need, whichever way they were found.
struct Facts {
    listen: String,
    upstreams: Vec<UpstreamStatus>,
    client_keys_env: Option<String>,
    from_daemon: bool,
}

fn facts_from_config(c: &Config) -> Facts {
    let upstreams = std::iter::once(&c.default_upstream)
        .chain(c.upstreams.values())
        .map(|u| UpstreamStatus {
            name: u.name.clone(),
            url: u.url.clone(),
            api_key_env: u.api_key_env.clone(),
            token_present: u.token.is_some(),
            ..Default::default()
        })
        .collect();
    Facts {
        listen: c.bind_addr(),
        upstreams,
        client_keys_env: c.listen.client_keys_env.clone(),
        from_daemon: false,
    }
}

/// Runs every check.
pub async fn run(target: Target, env: &Env) -> Vec<Check> {
    let mut checks = Vec::new();
    let facts = match target {
        Target::Daemon(s) => {
            checks.push(Check::ok(
                "daemon",
                format!(
                    "running (pid {}, version {}, http://{})",
                    s.pid, s.version, s.listen
                ),
            ));
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
            Facts {
                listen: s.listen.clone(),
                upstreams: s.upstreams.clone(),
                client_keys_env: s.client_keys_env.clone(),
                from_daemon: true,
            }
        }
        Target::Offline { why, config } => {
            checks.push(Check::fail(
                "daemon",
                format!("not reachable: {}", why.lines().next().unwrap_or("")),
                HOW_TO_START,
            ));
            match config {
                Ok(c) => facts_from_config(&c),
                Err(lines) => {
                    checks.push(Check::fail(
                        "config",
                        format!("the daemon would refuse it: {}", lines.join("; ")),
                        "fix the file (`shimctl check-config` lists every problem)",
                    ));
                    return checks;
                }
            }
        }
    };

    let base_url = format!("http://{}/v1", client_addr(&facts.listen));
    let (codex_lines, codex_use) = codex_checks(env, &base_url);
    checks.extend(codex_lines);

    checks.push(token_check(&facts, codex_use.as_ref(), env));
    for u in facts.upstreams.iter().skip(1) {
        if !u.token_present {
            checks.push(Check::warn(
                "token",
                format!(
                    "upstream '{}' has no token ({} is not set{}); its requests go without \
                     Authorization",
                    u.name,
                    u.api_key_env,
                    daemon_side(&facts)
                ),
                format!(
                    "set {} in the daemon's environment if that provider needs a key",
                    u.api_key_env
                ),
            ));
        }
    }

    let http = UpstreamClient::new();
    let probes = facts
        .upstreams
        .iter()
        .map(|u| probe_upstream(&http, u, env));
    checks.extend(futures_util::future::join_all(probes).await);
    checks
}

fn daemon_side(f: &Facts) -> &'static str {
    if f.from_daemon {
        " in the daemon"
    } else {
        " in this shell"
    }
}

/// Codex's config files, checked by [`crate::codex_toml::checks`]: one line per finding, an
/// `ok` line for the way Codex reaches this daemon, and that way's provider.
fn codex_checks(env: &Env, base_url: &str) -> (Vec<Check>, Option<CodexUse>) {
    let Some(dir) = codex_toml::codex_home(env.get("CODEX_HOME"), env.get("HOME")) else {
        let c = Check::fail(
            "codex",
            "cannot locate Codex's config (neither CODEX_HOME nor HOME is set)",
            "set HOME, or CODEX_HOME to Codex's directory",
        );
        return (vec![c], None);
    };
    let report = match codex_toml::check_dir(&dir, base_url) {
        Ok(r) => r,
        Err(e) => {
            let c = Check::fail("codex", e.to_string(), "check the files' permissions");
            return (vec![c], None);
        }
    };
    let mut lines = Vec::new();
    let first = report.uses.first().map(|u| CodexUse {
        provider: u.provider.clone(),
        selected_by: u.selected_by(),
        env_key: u.env_key.clone(),
    });
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
    (lines, first)
}

fn token_check(f: &Facts, codex: Option<&CodexUse>, env: &Env) -> Check {
    let Some(default) = f.upstreams.first() else {
        return Check::fail("token", "no upstream configured", "report a bug");
    };
    let var = &default.api_key_env;
    let where_ = daemon_side(f);
    let daemon_hint = format!(
        "put `{var}=...` in ~/.config/deepinfra-shim/env (mode 0600; the installed service \
         reads it), then `systemctl --user restart deepinfra-shim` (macOS: `launchctl kickstart -k \
         gui/$(id -u)/com.deepinfra.shim`); or export {var} where you start the daemon by hand"
    );
    if default.token_present {
        return Check::ok("token", format!("{var} is set{where_}"));
    }
    if let Some(keys) = &f.client_keys_env {
        return Check::fail(
            "token",
            format!(
                "{var} is not set{where_}, and with client keys ({keys}) Codex's token is never \
                 forwarded upstream"
            ),
            daemon_hint,
        );
    }
    match codex.and_then(|c| c.env_key.as_deref()) {
        Some(key) if env.non_empty(key).is_some() => Check::ok(
            "token",
            format!(
                "{var} is not set{where_}; Codex sends its {key} (set in this shell), which the \
                 daemon forwards"
            ),
        ),
        Some(key) => Check::fail(
            "token",
            format!(
                "no token: {var} is not set{where_}, and {key} (Codex's env_key) is not set in \
                 this shell"
            ),
            format!("{daemon_hint}; or export {key} where Codex runs"),
        ),
        None => Check::fail(
            "token",
            format!("no token: {var} is not set{where_}, and Codex has no env_key for this daemon"),
            daemon_hint,
        ),
    }
}

async fn probe_upstream(http: &UpstreamClient, u: &UpstreamStatus, env: &Env) -> Check {
    let what = "upstream";
    let url = models_url(&u.url, None);
    let token = env.non_empty(&u.api_key_env);
    let name = &u.name;
    match http.probe_models(&u.url, token, PROBE_TIMEOUT).await {
        Err(e) => Check::fail(
            what,
            format!("'{name}' unreachable: GET {url}: {}", e.cause()),
            format!(
                "check the URL ({}) and the network",
                if u.name == crate::config::DEFAULT_UPSTREAM {
                    "upstream.url".to_owned()
                } else {
                    format!("upstreams.{name}.url")
                }
            ),
        ),
        Ok(code) => {
            if code.is_success() {
                Check::ok(what, format!("'{name}' reachable: GET {url} -> {code}"))
            } else if code.as_u16() == 401 || code.as_u16() == 403 {
                if token.is_some() {
                    Check::fail(
                        what,
                        format!("'{name}' rejected the token in {} ({code})", u.api_key_env),
                        format!("check the value of {}", u.api_key_env),
                    )
                } else {
                    Check::ok(
                        what,
                        format!(
                            "'{name}' reachable: GET {url} -> {code} (no {} in this shell, so the \
                             token was not checked)",
                            u.api_key_env
                        ),
                    )
                }
            } else if code.as_u16() == 404 || code.as_u16() == 405 {
                Check::warn(
                    what,
                    format!("'{name}' reachable, but GET {url} -> {code}"),
                    "the provider may not list models; check that the URL ends where \
                     /chat/completions starts",
                )
            } else {
                Check::fail(
                    what,
                    format!("'{name}' answered GET {url} with {code}"),
                    "the provider has a problem right now; try again later",
                )
            }
        }
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
mod tests {
    use super::*;
    use crate::control::codex_config;

    fn status(token: bool) -> StatusReport {
        StatusReport {
            version: "0.1.0".into(),
            pid: 7,
            listen: "127.0.0.1:1".into(),
            token_present: token,
            upstreams: vec![UpstreamStatus {
                name: "default".into(),
                // Nothing listens on port 1 of loopback.
                url: "http://127.0.0.1:1/v1".into(),
                api_key_env: "DEEPINFRA_TOKEN".into(),
                token_present: token,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn reports_missing_token_unreachable_upstream_and_missing_codex_config() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("CODEX_HOME", dir.path().to_str().unwrap())]);
        let checks = run(Target::Daemon(Box::new(status(false))), &env).await;
        let text = render(&checks, Style::PLAIN);
        assert!(!all_good(&checks));
        assert!(text.starts_with("ok    daemon   running (pid 7"), "{text}");
        assert!(text.contains("FAIL  codex    "), "{text}");
        assert!(text.contains("does not exist"), "{text}");
        assert!(
            text.contains("FAIL  token    no token: DEEPINFRA_TOKEN is not set in the daemon"),
            "{text}"
        );
        assert!(
            text.contains("FAIL  upstream 'default' unreachable"),
            "{text}"
        );
        assert!(text.contains("fix: "), "{text}");
    }

    #[tokio::test]
    async fn token_expected_from_codex_env_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            codex_config::render_block(&codex_config::CodexBlock {
                model: "m".into(),
                addr: "127.0.0.1:1".into(),
                env_key: "MY_KEY".into(),
                env_key_is_client_key: false,
                context_window: None,
                note: None,
            }),
        )
        .unwrap();
        let env = Env::from_pairs([
            ("CODEX_HOME", dir.path().to_str().unwrap()),
            ("MY_KEY", "secret-value"),
        ]);
        let checks = run(Target::Daemon(Box::new(status(false))), &env).await;
        let text = render(&checks, Style::PLAIN);
        assert!(text.contains("ok    codex    "), "{text}");
        assert!(
            text.contains(
                "ok    token    DEEPINFRA_TOKEN is not set in the daemon; Codex sends its MY_KEY"
            ),
            "{text}"
        );
        assert!(!text.contains("secret-value"));
    }
}
