use super::*;
use crate::config::testutil::Home;

/// A configuration where every restart-only key differs from the defaults.
fn every_restart_key_changed(h: &Home) -> Config {
    h.write(
        "listen:\n  host: '::1'\n  port: 1\n  client_keys_env: KEYS\n  allow_unauthenticated: true\n  allowed_hosts: [a.lan]\n  allowed_origins: ['https://a.example']\nlimits: { max_connections: 5 }\nlog: { format: json }\n",
    );
    let other_socket = h.dir.path().join("other.sock");
    h.load(
        &["--control-socket", other_socket.to_str().unwrap()],
        &[("KEYS", "k-secret")],
    )
    .unwrap()
}

#[test]
fn every_restart_key_is_kept_and_reported() {
    let h = Home::new(None);
    let running = h.load(&[], &[]).unwrap();
    let requested = every_restart_key_changed(&h);
    let restart_keys: Vec<&str> = keys::TOP
        .iter()
        .filter(|k| k.meta().reload == Reload::Restart)
        .map(|k| k.meta().path)
        .collect();

    let waiting = restart_changes(&running, &requested);
    for key in &restart_keys {
        assert!(
            waiting.iter().any(|c| c.key == *key),
            "{key} is not reported as waiting (extend this test's config when adding a \
             restart key): {waiting:?}"
        );
    }
    assert!(waiting.iter().any(|c| c.key == "listen client keys"));

    let plan = plan(&running, requested);
    for key in keys::TOP
        .iter()
        .filter(|k| k.meta().reload == Reload::Restart)
    {
        assert_eq!(
            key.view(&plan.config),
            key.view(&running),
            "{} must keep its running value (keep_running)",
            key.meta().path
        );
    }
    assert_eq!(plan.config.listen, running.listen);
    assert!(plan.report.changed.is_empty(), "{:?}", plan.report.changed);
    assert_eq!(plan.report.restart, waiting);
    let text = plan.report.lines().join("\n");
    assert!(!text.contains("k-secret"), "{text}");
    assert!(
        text.contains("listen client keys: <unset> -> <set>"),
        "{text}"
    );
}

#[test]
fn nothing_waits_when_the_file_matches_what_runs() {
    let h = Home::new(Some("listen: { port: 1000 }\n"));
    let running = h.load(&[], &[]).unwrap();
    let again = h.load(&[], &[]).unwrap();
    let plan = plan(&running, again);
    assert!(plan.report.is_empty(), "{:?}", plan.report);
    assert_eq!(plan.report.to_string(), "no changes");
    assert!(plan.report.lines().is_empty());
    assert!(plan.config.waiting_for_restart.is_empty());
}

#[test]
fn secrets_are_shown_as_set_or_unset() {
    let h = Home::new(Some(
        "upstream:\n  headers: { X-A: hdr-old, X-B: hdr-b }\nupstreams:\n  l: { url: 'https://l', api_key_env: LK }\n",
    ));
    let a = h
        .load(&[], &[("DEEPINFRA_TOKEN", "tok-a"), ("LK", "lk-a")])
        .unwrap();
    h.write(
        "upstream:\n  headers: { X-A: hdr-new, X-B: hdr-b, X-C: hdr-c }\nupstreams:\n  l: { url: 'https://l', api_key_env: LK }\n",
    );
    let b = h
        .load(&[], &[("DEEPINFRA_TOKEN", "tok-b"), ("LK", "")])
        .unwrap();
    let r = report(&a, &b);
    let lines = r.lines();
    assert_eq!(
        lines,
        [
            "upstream.headers.X-A: <set> -> <set> (new value)",
            "upstream.headers.X-C: added",
            "upstream token: <set> -> <set> (new value)",
            "upstreams.l token: <set> -> <unset>",
        ]
    );
    let all = format!("{lines:?} {r:?}");
    for secret in ["hdr-old", "hdr-new", "hdr-c", "tok-a", "tok-b", "lk-a"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    let x_a = &r.changed[0];
    assert_eq!(
        (x_a.old.as_deref(), x_a.new.as_deref()),
        (Some("<set>"), Some("<set> (new value)"))
    );
}

#[test]
fn changes_print_as_old_to_new_added_or_removed() {
    let c = |old: Option<&str>, new: Option<&str>| Change {
        key: "k".into(),
        old: old.map(Into::into),
        new: new.map(Into::into),
    };
    assert_eq!(c(Some("a"), Some("b")).to_string(), "k: a -> b");
    assert_eq!(c(None, Some("b")).to_string(), "k: added");
    assert_eq!(c(Some("a"), None).to_string(), "k: removed");
    let r = ReloadReport {
        changed: vec![c(Some("a"), Some("b"))],
        restart: vec![c(Some("1"), Some("2"))],
        pinned: Vec::new(),
    };
    assert_eq!(
        r.to_string(),
        "k: a -> b; k: 1 -> 2 (needs a restart to take effect)"
    );
}
