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
        config_warning: None,
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
fn a_config_writable_by_others_is_a_warning_row_only_when_set() {
    let mut s = sample();
    assert!(!status(&s, Style::PLAIN).contains("Warning:"));
    s.config_warning =
        Some("the config file /h/c.yaml is writable by other users (mode 0666)".into());
    let text = status(&s, Style::PLAIN);
    assert!(
        text.contains("    Warning: the config file /h/c.yaml is writable by other users"),
        "{text}"
    );
    // Older daemons send no such field; a status without it still parses, and one without
    // a warning does not grow the field.
    let json = serde_json::to_value(sample()).unwrap();
    assert!(json.get("config_warning").is_none(), "{json}");
}
