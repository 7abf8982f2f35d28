//! Human output of `shimctl`: the status summary, log-level and reload results. Pure
//! functions from protocol types to text, so the layout is tested without a daemon.
//!
//! Colour is decided by the caller ([`Style`]): only on a terminal, never with `NO_COLOR`.

use std::fmt::Write as _;

use super::hints;
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
    if let Some(w) = &s.config_warning {
        rows.push(("Warning", st.red(w)));
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
mod tests;
