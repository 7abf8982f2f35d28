//! Human output of `shimctl`: the status summary, log-level and reload results. Pure
//! functions from protocol types to text, so the layout is tested without a daemon.
//!
//! Colour is decided by the caller ([`Style`]): only on a terminal, never with `NO_COLOR`.

use std::fmt::Write as _;

use super::protocol::{KeyChange, PinReport, ReloadReport, StatusReport, UpstreamStatus};

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
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} deepinfra-shim {} - {}",
        st.green("●"),
        s.version,
        st.bold("running")
    );
    let mut rows: Vec<(&str, String)> = Vec::new();
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
    let watched_file = s.watch.as_ref().and_then(|w| w.file.as_deref());
    rows.push((
        "Config",
        match (&s.config_path, watched_file) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => format!("none, built-in defaults (create {f} to configure)"),
            (None, None) => "built-in defaults (no config file)".to_owned(),
        },
    ));
    if let Some(w) = &s.watch {
        rows.push((
            "Watching",
            match (&w.watching, &w.waiting_for, &w.reason) {
                (Some(d), None, _) => d.clone(),
                (Some(a), Some(d), _) => format!("{a} (until {d} appears)"),
                (None, _, Some(why)) => st.yellow(&format!("nothing: {why}")),
                (None, _, None) => st.yellow("nothing"),
            },
        ));
    }
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
    } else if let Some(r) = &s.last_reload {
        rows.push(("Last reload", last_reload(r)));
    } else if let Some(r) = &s.last_reload_result {
        rows.push(("Last reload", r.clone()));
    }
    rows.push(("Log level", s.log_level.clone()));
    rows.push((
        "Pinned",
        if s.pinned.is_empty() {
            st.dim("nothing (every key follows the config file)")
        } else if s.pins.is_empty() {
            s.pinned.join(", ")
        } else {
            let pins: Vec<String> = s
                .pins
                .iter()
                .map(|p| format!("{} by {}", p.key, p.by))
                .collect();
            pins.join(", ")
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

/// The `Last reload` value of `status`: when, what asked for it, then each entry on its own
/// line.
fn last_reload(r: &ReloadReport) -> String {
    let when = match (&r.at, &r.source) {
        (Some(at), Some(src)) => format!("{at} ({src}): "),
        (Some(at), None) => format!("{at}: "),
        _ => String::new(),
    };
    let mut out = format!("{when}applied");
    let lines = entries(r);
    if lines.is_empty() {
        out.push_str(", no changes");
    }
    for l in lines {
        out.push('\n');
        out.push_str(&l);
    }
    out
}

/// A report's entries, one line each: changes, then keys waiting for a restart, then pinned
/// keys whose file value was ignored. From a daemon that only sends `changes`, those lines.
fn entries(r: &ReloadReport) -> Vec<String> {
    if r.changed.is_empty() && r.needs_restart.is_empty() && r.pinned.is_empty() {
        return r.changes.clone();
    }
    let mut out: Vec<String> = r.changed.iter().map(change).collect();
    out.extend(
        r.needs_restart
            .iter()
            .map(|c| format!("{} (needs a restart to take effect)", change(c))),
    );
    out.extend(r.pinned.iter().map(pin));
    out
}

fn change(c: &KeyChange) -> String {
    match (&c.old, &c.new) {
        (Some(a), Some(b)) => format!("{}: {a} -> {b}", c.key),
        (None, Some(_)) => format!("{}: added", c.key),
        (Some(_), None) => format!("{}: removed", c.key),
        (None, None) => format!("{}: unchanged", c.key),
    }
}

fn pin(p: &PinReport) -> String {
    let by = if p.by.starts_with("--") {
        format!("the flag {}", p.by)
    } else {
        format!("the variable {}", p.by)
    };
    format!(
        "{}: pinned to {} by {by}; the file's value {} is ignored",
        p.key,
        p.value,
        p.file_value.as_deref().unwrap_or("none")
    )
}

/// The sections of a report after its first line: what changes, what waits for a restart,
/// what a pin kept.
fn sections(r: &ReloadReport, out: &mut String) {
    let legacy = r.changed.is_empty() && r.needs_restart.is_empty() && r.pinned.is_empty();
    if legacy {
        for c in &r.changes {
            let _ = writeln!(out, "  {c}");
        }
        return;
    }
    for c in &r.changed {
        let _ = writeln!(out, "  {}", change(c));
    }
    if !r.needs_restart.is_empty() {
        out.push_str("Waiting for a restart (the running value stays in force until then):\n");
        for c in &r.needs_restart {
            let _ = writeln!(out, "  {}", change(c));
        }
    }
    if !r.pinned.is_empty() {
        out.push_str("Pinned by a flag or variable (the file's value is ignored):\n");
        for p in &r.pinned {
            let _ = writeln!(out, "  {}", pin(p));
        }
    }
}

/// How many entries the first line announces: changes applied, or (from an older daemon) every
/// line it sent.
fn counted(r: &ReloadReport) -> usize {
    if r.changed.is_empty() && r.needs_restart.is_empty() && r.pinned.is_empty() {
        r.changes.len()
    } else {
        r.changed.len()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `shimctl reload` output for an applied reload.
pub fn reload_applied(r: &ReloadReport) -> String {
    let n = counted(r);
    let mut out = if n == 0 && r.needs_restart.is_empty() {
        format!(
            "Configuration reloaded (generation {}): no changes.\n",
            r.generation
        )
    } else if n == 0 {
        format!(
            "Configuration reloaded (generation {}): nothing applied now.\n",
            r.generation
        )
    } else {
        format!(
            "Configuration reloaded (generation {}), {}:\n",
            r.generation,
            plural(n, "change", "changes")
        )
    };
    sections(r, &mut out);
    out
}

/// `shimctl reload --dry-run` (and `check-config --diff`) output for a file a reload would
/// apply: what it would change; nothing was applied.
pub fn reload_planned(r: &ReloadReport) -> String {
    let file = r.config_path.as_deref().unwrap_or("built-in defaults");
    let n = counted(r);
    let mut out = if n == 0 && r.needs_restart.is_empty() {
        format!(
            "{file}: configuration OK; a reload now would change nothing (no changes). Nothing \
             applied.\n"
        )
    } else if n == 0 {
        format!(
            "{file}: configuration OK; a reload now would apply nothing before a restart \
             (nothing applied):\n"
        )
    } else {
        format!(
            "{file}: configuration OK; a reload now would apply {} (nothing applied, generation \
             {} stays in force):\n",
            plural(n, "change", "changes"),
            r.generation
        )
    };
    sections(r, &mut out);
    out
}

/// `shimctl reload` output for a refused reload (or a dry run that would be): every reason.
pub fn reload_refused(r: &ReloadReport) -> String {
    let mut out = if r.dry_run {
        let file = r.config_path.as_deref().unwrap_or("the config file");
        format!(
            "{file}: a reload now would be refused; the configuration in force would stay. \
             Problems:\n"
        )
    } else {
        "Reload refused; the configuration in force is unchanged. Problems:\n".to_owned()
    };
    for reason in &r.reasons {
        let _ = writeln!(out, "  {reason}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{RequestCounters, WatchStatus};

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
            last_reload: None,
            pins: vec![],
            watch: None,
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
        // As a daemon that sends only the lines writes it.
        let r = ReloadReport {
            applied: true,
            changes: vec!["upstream.url: a -> b".into()],
            reasons: vec![],
            generation: 3,
            ..Default::default()
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

    fn kc(key: &str, old: &str, new: &str) -> KeyChange {
        KeyChange {
            key: key.into(),
            old: Some(old.into()),
            new: Some(new.into()),
        }
    }

    fn full_report() -> ReloadReport {
        ReloadReport {
            applied: true,
            generation: 4,
            changes: vec!["(lines an old shimctl would print)".into()],
            changed: vec![kc("upstream.url", "http://a", "http://b")],
            needs_restart: vec![kc("listen.port", "8797", "9000")],
            pinned: vec![PinReport {
                key: "upstream.timeout_ms".into(),
                by: "--timeout-ms".into(),
                value: "5000".into(),
                file_value: Some("1".into()),
            }],
            config_path: Some("/c/config.yaml".into()),
            ..Default::default()
        }
    }

    #[test]
    fn reload_sections_name_changes_restarts_and_pins() {
        assert_eq!(
            reload_applied(&full_report()),
            "Configuration reloaded (generation 4), 1 change:\n  upstream.url: http://a -> \
             http://b\nWaiting for a restart (the running value stays in force until then):\n  \
             listen.port: 8797 -> 9000\nPinned by a flag or variable (the file's value is \
             ignored):\n  upstream.timeout_ms: pinned to 5000 by the flag --timeout-ms; the \
             file's value 1 is ignored\n"
        );
        let only_pin = ReloadReport {
            changed: vec![],
            needs_restart: vec![],
            ..full_report()
        };
        let text = reload_applied(&only_pin);
        assert!(
            text.starts_with("Configuration reloaded (generation 4): no changes.\nPinned"),
            "{text}"
        );
        let only_restart = ReloadReport {
            changed: vec![],
            pinned: vec![],
            ..full_report()
        };
        let text = reload_applied(&only_restart);
        assert!(text.contains("nothing applied now"), "{text}");
        assert!(!text.contains("no changes"), "{text}");
        let none = ReloadReport {
            applied: true,
            generation: 5,
            ..Default::default()
        };
        assert_eq!(
            reload_applied(&none),
            "Configuration reloaded (generation 5): no changes.\n"
        );
    }

    #[test]
    fn dry_runs_say_nothing_was_applied() {
        let r = ReloadReport {
            applied: false,
            dry_run: true,
            ..full_report()
        };
        let text = reload_planned(&r);
        assert!(
            text.starts_with(
                "/c/config.yaml: configuration OK; a reload now would apply 1 change (nothing \
                 applied, generation 4 stays in force):\n  upstream.url: http://a -> http://b\n"
            ),
            "{text}"
        );
        let nothing = ReloadReport {
            dry_run: true,
            config_path: Some("/c/config.yaml".into()),
            ..Default::default()
        };
        assert!(reload_planned(&nothing).contains("no changes"));
        let restart_only = ReloadReport {
            dry_run: true,
            changed: vec![],
            pinned: vec![],
            ..full_report()
        };
        let text = reload_planned(&restart_only);
        assert!(
            text.starts_with(
                "/c/config.yaml: configuration OK; a reload now would apply nothing before a \
                 restart (nothing applied):\nWaiting for a restart"
            ),
            "{text}"
        );
        let refused = ReloadReport {
            dry_run: true,
            reasons: vec!["/c/config.yaml:2 upstream.url: bad".into()],
            config_path: Some("/c/config.yaml".into()),
            ..Default::default()
        };
        assert_eq!(
            reload_refused(&refused),
            "/c/config.yaml: a reload now would be refused; the configuration in force would \
             stay. Problems:\n  /c/config.yaml:2 upstream.url: bad\n"
        );
    }

    #[test]
    fn status_names_the_watch_the_pins_and_the_last_reload() {
        let mut s = sample();
        s.last_reload_error = None;
        s.config_path = None;
        s.pins = vec![PinReport {
            key: "listen.port".into(),
            by: "--port".into(),
            ..Default::default()
        }];
        s.watch = Some(WatchStatus {
            file: Some("/h/.config/deepinfra-shim/config.yaml".into()),
            watching: Some("/h/.config".into()),
            waiting_for: Some("/h/.config/deepinfra-shim".into()),
            ..Default::default()
        });
        s.last_reload = Some(ReloadReport {
            at: Some("2025-01-02T03:04:05Z".into()),
            source: Some("file change".into()),
            ..full_report()
        });
        let text = status(&s, Style::PLAIN);
        assert!(
            text.contains(
                "     Config: none, built-in defaults (create \
                 /h/.config/deepinfra-shim/config.yaml to configure)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("   Watching: /h/.config (until /h/.config/deepinfra-shim appears)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "Last reload: 2025-01-02T03:04:05Z (file change): applied\n             \
                 upstream.url: http://a -> http://b\n             listen.port: 8797 -> 9000 \
                 (needs a restart to take effect)\n             upstream.timeout_ms: pinned to \
                 5000"
            ),
            "{text}"
        );
        assert!(
            text.contains("     Pinned: listen.port by --port\n"),
            "{text}"
        );
        s.watch = Some(WatchStatus {
            reason: Some("cannot watch".into()),
            ..Default::default()
        });
        s.last_reload = Some(ReloadReport {
            applied: true,
            ..Default::default()
        });
        let text = status(&s, Style::PLAIN);
        assert!(
            text.contains("   Watching: nothing: cannot watch\n"),
            "{text}"
        );
        assert!(
            text.contains("Last reload: applied, no changes\n"),
            "{text}"
        );
    }
}
