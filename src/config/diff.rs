//! The reload report: what a new configuration changes against the running one, derived from
//! the key tables (each key's view of a configuration), so a new key is reported without
//! touching this file.
//!
//! A reload never weakens the live listener: keys marked [`Reload::Restart`] (`listen.*`,
//! client keys included, the control socket, the log format, the connection limit) keep their
//! running values in the configuration that is swapped in, and are reported as waiting for a
//! restart only when the file really asks for something else than what runs (restoring the
//! bound port is not a change). Secrets appear as `<set>` / `<unset>`, header values never.

use std::fmt;

use super::keys::{self, AnyKey, Reload};
use super::kinds::Shown;
use super::model::{Change, Config, Pin, Secret, Upstream};

/// Suffix of a change that waits for a restart.
pub const RESTART: &str = " (needs a restart to take effect)";

/// What a reload changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Applied by this reload.
    pub changed: Vec<Change>,
    /// Asked for by the file, different from the running value, not applied until restart.
    pub restart: Vec<Change>,
    /// Keys pinned by a flag or variable whose file value differs (and was ignored).
    pub pinned: Vec<Pin>,
}

impl ReloadReport {
    /// Nothing changed, nothing waits, nothing was ignored.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.restart.is_empty() && self.pinned.is_empty()
    }

    /// One line per entry: changes, then what waits for a restart, then ignored file values.
    pub fn lines(&self) -> Vec<String> {
        let changed = self.changed.iter().map(ToString::to_string);
        let restart = self.restart.iter().map(|c| format!("{c}{RESTART}"));
        let pinned = self.pinned.iter().map(|p| {
            format!(
                "{}: pinned to {} by {}; the file's value {} is ignored",
                p.key,
                p.value,
                p.by,
                p.file_value.as_deref().unwrap_or("none")
            )
        });
        changed.chain(restart).chain(pinned).collect()
    }
}

impl fmt::Display for ReloadReport {
    /// `no changes`, or the lines joined with `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("no changes")
        } else {
            f.write_str(&self.lines().join("; "))
        }
    }
}

/// A reload ready to apply: the configuration to swap in and what it changes.
#[derive(Debug, Clone)]
pub struct ReloadPlan {
    pub config: Config,
    pub report: ReloadReport,
}

/// Turns the configuration the file asks for into the one to swap in: restart-only keys keep
/// their running values (recorded in [`Config::waiting_for_restart`] when the file differs).
pub fn plan(running: &Config, requested: Config) -> ReloadPlan {
    let mut config = requested;
    let waiting = restart_changes(running, &config);
    keep_running(&mut config, running);
    config.waiting_for_restart = waiting;
    let report = report(running, &config);
    ReloadPlan { config, report }
}

/// Copies every restart-only value of `running` into `new`. The table tests check that this
/// covers every key marked [`Reload::Restart`].
pub fn keep_running(new: &mut Config, running: &Config) {
    new.listen = running.listen.clone();
    new.control_socket = running.control_socket.clone();
    new.log.format = running.log.format;
    new.limits.max_connections = running.limits.max_connections;
    // The client keys may have changed with `listen`: compile the redactor afresh.
    new.redactor = std::sync::OnceLock::new();
}

/// The restart-only keys whose value in `requested` differs from `running`.
pub fn restart_changes(running: &Config, requested: &Config) -> Vec<Change> {
    let mut out = Vec::new();
    for key in keys::TOP
        .iter()
        .filter(|k| k.meta().reload == Reload::Restart)
    {
        push_changes(
            key.meta().path,
            &key.view(running),
            &key.view(requested),
            &mut out,
        );
    }
    client_keys(running, requested, &mut out);
    out
}

/// Everything `new` changes against `old`, including what `new` records as waiting for a
/// restart and the pins that hid a file value.
pub fn report(old: &Config, new: &Config) -> ReloadReport {
    let mut r = ReloadReport::default();
    for key in keys::TOP {
        let to = match key.meta().reload {
            Reload::Live => &mut r.changed,
            Reload::Restart => &mut r.restart,
        };
        push_changes(key.meta().path, &key.view(old), &key.view(new), to);
    }
    client_keys(old, new, &mut r.restart);
    token(
        "upstream token",
        &old.default_upstream,
        &new.default_upstream,
        &mut r.changed,
    );
    for (name, u) in &old.upstreams {
        if !new.upstreams.contains_key(name) {
            r.changed.push(Change {
                key: format!("{}.{name}", keys::UPSTREAMS_SECTION),
                old: Some(u.url.clone()),
                new: None,
            });
        }
    }
    for (name, u) in &new.upstreams {
        let prefix = format!("{}.{name}", keys::UPSTREAMS_SECTION);
        match old.upstreams.get(name) {
            None => r.changed.push(Change {
                key: prefix,
                old: None,
                new: Some(u.url.clone()),
            }),
            Some(o) => {
                fields(&prefix, keys::NAMED_UPSTREAM, o, u, &mut r.changed);
                token(&format!("{prefix} token"), o, u, &mut r.changed);
            }
        }
    }
    let (ro, rn) = (old.routes.by_pattern(), new.routes.by_pattern());
    for pattern in ro.keys().filter(|p| !rn.contains_key(*p)) {
        r.changed.push(Change {
            key: format!("{}.{pattern}", keys::MODELS_SECTION),
            old: Some(ro[pattern].upstream.clone()),
            new: None,
        });
    }
    for (pattern, route) in &rn {
        let prefix = format!("{}.{pattern}", keys::MODELS_SECTION);
        match ro.get(pattern) {
            None => r.changed.push(Change {
                key: prefix,
                old: None,
                new: Some(route.upstream.clone()),
            }),
            Some(o) => fields(&prefix, keys::ROUTE, *o, *route, &mut r.changed),
        }
    }
    for c in &new.waiting_for_restart {
        if !r.restart.iter().any(|x| x.key == c.key) {
            r.restart.push(c.clone());
        }
    }
    r.pinned = new
        .pins
        .iter()
        .filter(|p| p.file_value.is_some())
        .cloned()
        .collect();
    r
}

/// The report's lines for two configurations (empty: no changes).
pub fn diff(old: &Config, new: &Config) -> Vec<String> {
    report(old, new).lines()
}

fn fields<S>(
    prefix: &str,
    table: &[&'static dyn AnyKey<S>],
    old: &S,
    new: &S,
    out: &mut Vec<Change>,
) {
    for key in table {
        let path = format!("{prefix}.{}", key.meta().path);
        push_changes(&path, &key.view(old), &key.view(new), out);
    }
}

/// The changes between two shown values of one key (a header map yields one per header).
fn push_changes(key: &str, a: &Shown, b: &Shown, out: &mut Vec<Change>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Shown::Headers(ha), Shown::Headers(hb)) => {
            let find = |h: &[(String, Secret)], n: &str| {
                h.iter().find(|(m, _)| m == n).map(|(_, v)| v.clone())
            };
            for (name, _) in ha.iter().filter(|(n, _)| find(hb, n).is_none()) {
                out.push(secret_change(format!("{key}.{name}"), true, false, false));
            }
            for (name, v) in hb {
                match find(ha, name) {
                    None => out.push(secret_change(format!("{key}.{name}"), false, true, false)),
                    Some(old) if old != *v => {
                        out.push(secret_change(format!("{key}.{name}"), true, true, true))
                    }
                    Some(_) => {}
                }
            }
        }
        (Shown::Secret(x), Shown::Secret(y)) => {
            out.push(secret_change(
                key.to_owned(),
                x.is_some(),
                y.is_some(),
                true,
            ));
        }
        _ => out.push(Change {
            key: key.to_owned(),
            old: Some(a.text()),
            new: Some(b.text()),
        }),
    }
}

/// A secret's change as `<set>` / `<unset>`; a header that appears or disappears is added or
/// removed. `same_entry` keeps both sides even when one is unset (a token, client keys).
fn secret_change(key: String, was: bool, is: bool, same_entry: bool) -> Change {
    let show = |set: bool| if set { "<set>" } else { "<unset>" }.to_owned();
    let (old, new) = match (was, is) {
        (true, true) => (Some(show(true)), Some("<set> (new value)".to_owned())),
        (w, i) if same_entry => (Some(show(w)), Some(show(i))),
        (w, i) => (w.then(|| show(true)), i.then(|| show(true))),
    };
    Change { key, old, new }
}

fn token(key: &str, a: &Upstream, b: &Upstream, out: &mut Vec<Change>) {
    if a.token != b.token {
        out.push(secret_change(
            key.to_owned(),
            a.token.is_some(),
            b.token.is_some(),
            true,
        ));
    }
}

fn client_keys(a: &Config, b: &Config, out: &mut Vec<Change>) {
    let (ka, kb) = (&a.listen.client_keys, &b.listen.client_keys);
    if ka != kb {
        let c = secret_change(
            "listen client keys".to_owned(),
            !ka.is_empty(),
            !kb.is_empty(),
            true,
        );
        out.push(c);
    }
}

#[cfg(test)]
mod tests;
