//! Human output of `shimctl`: the status summary, log-level and reload results. Pure
//! functions from protocol types to text, so the layout is tested without a daemon.
//!
//! Colour is decided by the caller ([`Style`]): only on a terminal, never with `NO_COLOR`.

use std::fmt::Write as _;

use super::hints;
use super::protocol::{ReloadReport, StatusReport, UpstreamStatus};

/// Whether to use ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };

    /// Colour when `is_terminal` and `NO_COLOR` is unset or empty.
    pub fn detect(is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: is_terminal && !no_color,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// `2h 03m 04s`, `5m 01s`, `42s`, `3d 04h`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The address Codex should use for a listen address: wildcard binds become loopback.
pub fn client_addr(listen: &str) -> String {
    if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = listen.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        listen.to_owned()
    }
}

/// The `shimctl status` summary: labels right-aligned like `systemctl status`, then a
/// per-upstream table.
pub fn status(s: &StatusReport, st: Style) -> String {
    status_for(s, st, crate::VERSION)
}

/// [`status`] as a `shimctl` of version `client` shows it: a `Version` line when the daemon
/// runs another version (an upgrade installed, the daemon not restarted).
pub fn status_for(s: &StatusReport, st: Style, client: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} deepinfra-shim {} - {}",
        st.green("●"),
        s.version,
        st.bold("running")
    );
    let mut rows: Vec<(&str, String)> = Vec::new();
    if s.version != client {
        rows.push((
            "Version",
            st.yellow(&format!(
                "daemon {}, shimctl {client}: restart the daemon to run the installed version \
                 (`{}`)",
                s.version,
                hints::restart_command(hints::Os::current())
            )),
        ));
    }
    rows.push(("PID", s.pid.to_string()));
    rows.push((
        "Uptime",
        if s.started_at.is_empty() {
            duration(s.uptime_s)
        } else {
            format!("{} (since {})", duration(s.uptime_s), s.started_at)
        },
    ));
    rows.push(("Listen", format!("http://{}", s.listen)));
    let token = match s.upstreams.first() {
        Some(u) if s.token_present => format!("token from {}", u.api_key_env),
        Some(u) if s.client_keys_env.is_some() => st.red(&format!(
            "no token in {}; with client keys the client's header is never forwarded",
            u.api_key_env
        )),
        Some(u) => st.yellow(&format!(
            "no token in {}: the client's Authorization header is used",
            u.api_key_env
        )),
        None if s.token_present => "token present".to_owned(),
        None => st.yellow("no token"),
    };
    rows.push(("Upstream", format!("{} ({token})", s.upstream)));
    rows.push((
        "Config",
        match &s.config_path {
            Some(p) => p.clone(),
            None => "built-in defaults (no config file)".to_owned(),
        },
    ));
    rows.push((
        "Loaded",
        format!(
            "{} (generation {}, {} reload{} applied)",
            s.config_loaded_at,
            s.generation,
            s.reload_count,
            if s.reload_count == 1 { "" } else { "s" }
        ),
    ));
    if let Some(e) = &s.last_reload_error {
        rows.push(("Last reload", st.red(&format!("refused: {e}"))));
    } else if let Some(r) = &s.last_reload_result {
        rows.push(("Last reload", r.clone()));
    }
    rows.push(("Log level", s.log_level.clone()));
    rows.push((
        "Pinned",
        if s.pinned.is_empty() {
            st.dim("nothing (every key follows the config file)")
        } else {
            s.pinned.join(", ")
        },
    ));
    let failed = if s.requests.failed > 0 {
        st.red(&format!("{} failed", s.requests.failed))
    } else {
        "0 failed".to_owned()
    };
    rows.push((
        "Requests",
        format!(
            "{} total, {} active, {failed}",
            s.requests.total, s.requests.active
        ),
    ));
    if !s.control_socket.is_empty() {
        rows.push(("Socket", s.control_socket.clone()));
    }
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
    for (label, value) in rows {
        let mut lines = value.lines();
        let first = lines.next().unwrap_or("");
        let _ = writeln!(out, "{:>width$} {first}", format!("{label}:"));
        for more in lines {
            let _ = writeln!(out, "{:>width$} {more}", "");
        }
    }
    if !s.upstreams.is_empty() {
        out.push('\n');
        out.push_str(&upstream_table(&s.upstreams, st));
    }
    out
}

/// `shimctl status --json`: the daemon's report as it sent it, plus `shimctl_version` (this
/// binary's version, so a script can compare it with `version`).
pub fn status_json(s: &StatusReport, client: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(s).expect("a status always serializes");
    if let Some(obj) = v.as_object_mut() {
        obj.insert("shimctl_version".to_owned(), client.into());
    }
    v
}

fn ms(v: Option<u64>) -> String {
    v.map(|v| format!("{v} ms"))
        .unwrap_or_else(|| "-".to_owned())
}

fn upstream_table(ups: &[UpstreamStatus], st: Style) -> String {
    let header = [
        "UPSTREAM", "URL", "TOKEN", "REQUESTS", "ERRORS", "LAST", "P50",
    ];
    let rows: Vec<[String; 7]> = ups
        .iter()
        .map(|u| {
            [
                u.name.clone(),
                u.url.clone(),
                if u.token_present { "yes" } else { "no" }.to_owned(),
                u.requests.to_string(),
                u.errors.to_string(),
                ms(u.last_latency_ms),
                ms(u.p50_latency_ms),
            ]
        })
        .collect();
    let mut w = header.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    // Text columns left-aligned, numbers right-aligned.
    let line = |cells: [&str; 7]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i].saturating_sub(c.chars().count());
            if i >= 3 {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                if i < 6 {
                    l.push_str(&" ".repeat(pad));
                }
            }
            if i < 6 {
                l.push_str("  ");
            }
        }
        l.trim_end().to_owned()
    };
    let mut out = st.bold(&line(header)) + "\n";
    for r in &rows {
        let cells: [&str; 7] = std::array::from_fn(|i| r[i].as_str());
        out.push_str(&line(cells));
        out.push('\n');
    }
    out
}

/// `shimctl reload` output for an applied reload.
pub fn reload_applied(r: &ReloadReport) -> String {
    if r.changes.is_empty() {
        return format!(
            "Configuration reloaded (generation {}): no changes.\n",
            r.generation
        );
    }
    let mut out = format!(
        "Configuration reloaded (generation {}), {} change{}:\n",
        r.generation,
        r.changes.len(),
        if r.changes.len() == 1 { "" } else { "s" }
    );
    for c in &r.changes {
        let _ = writeln!(out, "  {c}");
    }
    out
}

/// `shimctl reload` output for a refused reload: every reason.
pub fn reload_refused(r: &ReloadReport) -> String {
    let mut out = "Reload refused; the configuration in force is unchanged. Problems:\n".to_owned();
    for reason in &r.reasons {
        let _ = writeln!(out, "  {reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::RequestCounters;

    fn sample() -> StatusReport {
        StatusReport {
            version: "0.1.0".into(),
            pid: 42,
            uptime_s: 3723,
            started_at: "2025-01-02T03:04:05Z".into(),
            listen: "127.0.0.1:8797".into(),
            upstream: "https://api.deepinfra.com/v1/openai".into(),
            config_path: Some("/home/u/.config/deepinfra-shim/config.yaml".into()),
            config_loaded_at: "2025-01-02T03:04:05Z".into(),
            generation: 2,
            reload_count: 2,
            last_reload_error: Some("config.yaml:3: unknown key `prot`\nsecond".into()),
            last_reload_result: Some("refused".into()),
            log_level: "info".into(),
            pinned: vec!["listen.port".into()],
            token_present: false,
            requests: RequestCounters {
                total: 12,
                active: 1,
                failed: 2,
            },
            upstreams: vec![
                UpstreamStatus {
                    name: "default".into(),
                    url: "https://api.deepinfra.com/v1/openai".into(),
                    api_key_env: "DEEPINFRA_TOKEN".into(),
                    token_present: false,
                    requests: 11,
                    errors: 2,
                    last_latency_ms: Some(340),
                    p50_latency_ms: Some(290),
                    recent: 11,
                },
                UpstreamStatus {
                    name: "local".into(),
                    url: "http://127.0.0.1:8000/v1".into(),
                    api_key_env: "LOCAL_KEY".into(),
                    token_present: true,
                    ..Default::default()
                },
            ],
            control_socket: "/run/user/1000/deepinfra-shim/control.sock".into(),
            client_keys_env: None,
        }
    }

    #[test]
    fn status_is_aligned_and_plain_without_colour() {
        let text = status(&sample(), Style::PLAIN);
        assert!(!text.contains('\x1b'));
        assert!(
            text.starts_with("● deepinfra-shim 0.1.0 - running\n"),
            "{text}"
        );
        assert!(text.contains("\n        PID: 42\n"), "{text}");
        assert!(text.contains("     Uptime: 1h 02m 03s (since 2025-01-02T03:04:05Z)\n"));
        assert!(text.contains("     Listen: http://127.0.0.1:8797\n"));
        assert!(text.contains("no token in DEEPINFRA_TOKEN"));
        assert!(
            text.contains(
                "Last reload: refused: config.yaml:3: unknown key `prot`\n             second\n"
            ),
            "{text}"
        );
        assert!(text.contains("   Requests: 12 total, 1 active, 2 failed\n"));
        assert!(text.contains("UPSTREAM  URL"), "{text}");
        let rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("UPSTREAM"))
            .collect();
        assert_eq!(rows.len(), 3, "{text}");
        // The numeric columns end at the same place in every row.
        let end_of = |l: &str, col: &str| l.find(col).map(|i| i + col.len());
        assert_eq!(end_of(rows[0], "REQUESTS"), end_of(rows[1], " 11"));
        assert!(
            rows[2].starts_with("local     http://127.0.0.1:8000/v1"),
            "{text}"
        );
    }

    #[test]
    fn a_version_mismatch_is_shown() {
        let mut s = sample();
        s.version = "0.1.0".into();
        let same = status_for(&s, Style::PLAIN, "0.1.0");
        assert!(!same.contains("Version:"), "{same}");
        let text = status_for(&s, Style::PLAIN, "0.2.0");
        assert!(
            text.contains("    Version: daemon 0.1.0, shimctl 0.2.0: restart the daemon"),
            "{text}"
        );
        let json = status_json(&s, "0.2.0");
        assert_eq!(json["shimctl_version"], "0.2.0");
        assert_eq!(json["version"], "0.1.0");
        // Everything the daemon sent is still there.
        let back: StatusReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn colour_only_when_asked() {
        let text = status(&sample(), Style { color: true });
        assert!(text.contains("\x1b[32m●\x1b[0m"));
        assert!(text.contains("\x1b[31m2 failed\x1b[0m"));
    }

    #[test]
    fn durations_and_addresses() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(301), "5m 01s");
        assert_eq!(duration(3723), "1h 02m 03s");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5), "3d 04h");
        assert_eq!(client_addr("0.0.0.0:80"), "127.0.0.1:80");
        assert_eq!(client_addr("[::]:80"), "[::1]:80");
        assert_eq!(client_addr("127.0.0.1:8797"), "127.0.0.1:8797");
    }

    #[test]
    fn reload_texts() {
        let r = ReloadReport {
            applied: true,
            changes: vec!["upstream.url: a -> b".into()],
            reasons: vec![],
            generation: 3,
        };
        assert_eq!(
            reload_applied(&r),
            "Configuration reloaded (generation 3), 1 change:\n  upstream.url: a -> b\n"
        );
        let r = ReloadReport {
            applied: false,
            reasons: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert!(reload_refused(&r).ends_with("  a\n  b\n"));
    }
}
