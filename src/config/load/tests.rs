use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::cli::env as var;
use crate::config::model::{LogFormat, PinSource, Secret};
use crate::config::testutil::{Home, cli, one_problem, problems};
use crate::translate::{ImagePolicy, ReasoningPolicy};

#[test]
fn defaults_without_any_file() {
    let h = Home::new(None);
    let c = h.load(&[], &[]).unwrap();
    assert_eq!(c.config_path, None);
    assert_eq!(c.listen.host, "127.0.0.1");
    assert_eq!(c.listen.port, 8797);
    assert!(c.listen.client_keys.is_empty());
    let u = &c.default_upstream;
    assert_eq!(u.name, "default");
    assert_eq!(u.url, "https://api.deepinfra.com/v1/openai");
    assert_eq!(u.api_key_env, "DEEPINFRA_TOKEN");
    assert!(u.token.is_none());
    assert_eq!(u.timeout, Duration::from_millis(120_000));
    assert_eq!(u.heartbeat, Duration::from_millis(15_000));
    assert!(u.headers.is_empty());
    assert_eq!(u.compat, crate::config::Compat::default());
    assert!(c.upstreams.is_empty());
    assert!(c.routes.exact.is_empty() && c.routes.prefixes.is_empty());
    assert_eq!(c.max_body_bytes, 10_485_760);
    assert_eq!(c.limits.max_body_bytes, 10_485_760);
    assert_eq!(c.limits.max_connections, 1024);
    assert_eq!(c.limits.max_output_bytes, 16_777_216);
    assert!(c.listen.allowed_hosts.is_empty() && c.listen.allowed_origins.is_empty());
    assert!(!u.allow_insecure);
    assert_eq!(c.log.level, "info");
    assert!(!c.log.requests && !c.log.content);
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.drain_timeout, Duration::from_millis(30_000));
    assert_eq!(
        c.control_socket,
        h.dir.path().join("run/deepinfra-shim/control.sock")
    );
    assert!(c.pinned.is_empty() && c.pins.is_empty());
    assert!(c.waiting_for_restart.is_empty());
}

#[test]
fn empty_and_comment_only_files_are_defaults() {
    for text in ["", "# nothing\n", "\n\n"] {
        let h = Home::new(Some(text));
        let c = h.load(&[], &[]).unwrap();
        assert_eq!(c.config_path, Some(h.config_path()));
        assert_eq!(c.listen.port, 8797);
        assert_eq!(
            c.default_upstream.url,
            "https://api.deepinfra.com/v1/openai"
        );
    }
}

#[test]
fn xdg_config_home_wins_over_home() {
    let h = Home::new(Some("listen: { port: 1 }\n"));
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(xdg.path().join("deepinfra-shim")).unwrap();
    std::fs::write(
        xdg.path().join("deepinfra-shim/config.yaml"),
        "listen: { port: 2 }\n",
    )
    .unwrap();
    let x = xdg.path().to_str().unwrap();
    let c = h.load(&[], &[("XDG_CONFIG_HOME", x)]).unwrap();
    assert_eq!(c.listen.port, 2);
    // A missing file there is the default-file case: built-in defaults.
    let empty = tempfile::tempdir().unwrap();
    let c = h
        .load(&[], &[("XDG_CONFIG_HOME", empty.path().to_str().unwrap())])
        .unwrap();
    assert_eq!(c.listen.port, 8797);
    assert_eq!(c.config_path, None);
}

#[test]
fn missing_explicit_file_is_an_error() {
    let h = Home::new(None);
    let missing = h.dir.path().join("nope.yaml");
    let m = missing.to_str().unwrap();
    let e = h.load(&["--config", m], &[]).unwrap_err();
    assert!(matches!(e, LoadError::MissingFile { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("--config: config file {m} does not exist")
    );
    assert_eq!(e.exit_code(), 2);
    let e = h.load(&[], &[(var::CONFIG, m)]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("DEEPINFRA_CODEX_SHIM_CONFIG: config file"),
        "{e}"
    );
}

#[test]
fn explicit_file_from_flag_beats_env() {
    let h = Home::new(None);
    let a = h.dir.path().join("a.yaml");
    let b = h.dir.path().join("b.yaml");
    std::fs::write(&a, "listen: { port: 1111 }\n").unwrap();
    std::fs::write(&b, "listen: { port: 2222 }\n").unwrap();
    let c = h
        .load(
            &["--config", a.to_str().unwrap()],
            &[(var::CONFIG, b.to_str().unwrap())],
        )
        .unwrap();
    assert_eq!(c.listen.port, 1111);
    assert_eq!(c.config_path.as_deref(), Some(a.as_path()));
    let c = h.load(&[], &[(var::CONFIG, b.to_str().unwrap())]).unwrap();
    assert_eq!(c.listen.port, 2222);
}

/// For each key: file < env < flag, and the key is pinned by env or flag only.
#[test]
fn precedence_per_key() {
    struct Case {
        key: &'static str,
        file: &'static str,
        env: (&'static str, &'static str),
        flag: &'static [&'static str],
        get: fn(&Config) -> String,
        want: [&'static str; 4], // default, file, env, flag
    }
    let cases = [
        Case {
            key: "listen.host",
            file: "listen: { host: 127.0.0.2 }",
            env: (var::HOST, "127.0.0.3"),
            flag: &["--host", "127.0.0.4"],
            get: |c| c.listen.host.clone(),
            want: ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"],
        },
        Case {
            key: "listen.port",
            file: "listen: { port: 1 }",
            env: (var::PORT, "2"),
            flag: &["--port", "3"],
            get: |c| c.listen.port.to_string(),
            want: ["8797", "1", "2", "3"],
        },
        Case {
            key: "upstream.url",
            file: "upstream: { url: 'https://f/v1/' }",
            env: (var::UPSTREAM, "https://e/v1"),
            flag: &["--upstream", "https://g/v1"],
            get: |c| c.default_upstream.url.clone(),
            want: [
                "https://api.deepinfra.com/v1/openai",
                "https://f/v1",
                "https://e/v1",
                "https://g/v1",
            ],
        },
        Case {
            key: "upstream.api_key_env",
            file: "upstream: { api_key_env: F_KEY }",
            env: (var::API_KEY_ENV, "E_KEY"),
            flag: &["--api-key-env", "G_KEY"],
            get: |c| c.default_upstream.api_key_env.clone(),
            want: ["DEEPINFRA_TOKEN", "F_KEY", "E_KEY", "G_KEY"],
        },
        Case {
            key: "upstream.timeout_ms",
            file: "upstream: { timeout_ms: 1 }",
            env: (var::TIMEOUT_MS, "2"),
            flag: &["--timeout-ms", "3"],
            get: |c| c.default_upstream.timeout.as_millis().to_string(),
            want: ["120000", "1", "2", "3"],
        },
        Case {
            key: "limits.max_body_bytes",
            file: "limits: { max_body_bytes: 1 }",
            env: (var::MAX_BODY_BYTES, "2"),
            flag: &["--max-body-bytes", "3"],
            get: |c| c.max_body_bytes.to_string(),
            want: ["10485760", "1", "2", "3"],
        },
        Case {
            key: "log.level",
            file: "log: { level: warn }",
            env: (var::LOG_LEVEL, "DEBUG"),
            flag: &["--log-level", "trace"],
            get: |c| c.log.level.clone(),
            want: ["info", "warn", "debug", "trace"],
        },
        Case {
            key: "log.requests",
            file: "log: { requests: true }",
            env: (var::LOG_REQUESTS, "off"),
            flag: &["--log-requests"],
            get: |c| c.log.requests.to_string(),
            want: ["false", "true", "false", "true"],
        },
        Case {
            key: "log.content",
            file: "log: { content: true }",
            env: (var::LOG_CONTENT, "0"),
            flag: &["--log-content=true"],
            get: |c| c.log.content.to_string(),
            want: ["false", "true", "false", "true"],
        },
        Case {
            key: "compat.drop_tool_call_content",
            file: "compat: { drop_tool_call_content: true }",
            env: (var::COMPAT_DROP_TOOL_CALL_CONTENT, "no"),
            flag: &["--compat-drop-tool-call-content"],
            get: |c| c.default_upstream.compat.drop_tool_call_content.to_string(),
            want: ["false", "true", "false", "true"],
        },
        Case {
            key: "log.format",
            file: "log: { format: json }",
            env: (var::LOG_FORMAT, "text"),
            flag: &["--log-format", "json"],
            get: |c| c.log.format.name().to_owned(),
            want: ["text", "json", "text", "json"],
        },
    ];
    for case in &cases {
        let bare = Home::new(None);
        let c = bare.load(&[], &[]).unwrap();
        assert_eq!((case.get)(&c), case.want[0], "{} default", case.key);

        let h = Home::new(Some(case.file));
        let c = h.load(&[], &[]).unwrap();
        assert_eq!((case.get)(&c), case.want[1], "{} file", case.key);
        assert!(c.pinned.is_empty(), "{} file pins nothing", case.key);

        let c = h.load(&[], &[case.env]).unwrap();
        assert_eq!((case.get)(&c), case.want[2], "{} env", case.key);
        assert_eq!(c.pinned, vec![case.key.to_owned()], "{} env pins", case.key);
        assert_eq!(c.pins.len(), 1);
        assert_eq!(c.pins[0].by, PinSource::Env(case.env.0), "{}", case.key);
        assert_eq!(c.pins[0].value, case.want[2], "{}", case.key);

        let c = h.load(case.flag, &[case.env]).unwrap();
        assert_eq!((case.get)(&c), case.want[3], "{} flag", case.key);
        assert_eq!(
            c.pinned,
            vec![case.key.to_owned()],
            "{} flag pins",
            case.key
        );
        let flag = case.flag[0].split('=').next().unwrap();
        assert_eq!(c.pins[0].by, PinSource::Flag(flag), "{}", case.key);

        // An empty env value counts as unset.
        let c = h.load(&[], &[(case.env.0, "")]).unwrap();
        assert_eq!((case.get)(&c), case.want[1], "{} empty env", case.key);
    }
}

#[test]
fn control_socket_precedence_and_defaults() {
    let h = Home::new(None);
    let c = h
        .load(
            &["--control-socket", "/tmp/f.sock"],
            &[(var::CONTROL_SOCKET, "/tmp/e.sock")],
        )
        .unwrap();
    assert_eq!(c.control_socket, PathBuf::from("/tmp/f.sock"));
    assert_eq!(c.pinned, ["control_socket"]);
    let c = h
        .load(&[], &[(var::CONTROL_SOCKET, "/tmp/e.sock")])
        .unwrap();
    assert_eq!(c.control_socket, PathBuf::from("/tmp/e.sock"));

    assert_eq!(c.pins[0].by, PinSource::Env(var::CONTROL_SOCKET));
}

#[test]
fn process_env_snapshot_has_a_uid() {
    let env = Env::from_process();
    assert!(env.uid().is_some());
    // Debug never shows values.
    let d = format!("{env:?}");
    assert!(!d.contains("PATH"), "{d}");
}

#[test]
fn journald_when_journal_stream_matches_stderr() {
    let h = Home::new(None);
    let env = h
        .env(&[("JOURNAL_STREAM", "8:12345")])
        .with_stderr_id(8, 12345);
    let c = load(&cli(&[]), &env).unwrap();
    assert_eq!(c.log.format, LogFormat::Journald);
    // An explicit format wins.
    let c = load(&cli(&["--log-format", "text"]), &env).unwrap();
    assert_eq!(c.log.format, LogFormat::Text);
    // Not our stderr (e.g. inherited by a child of the service): text.
    let env = h
        .env(&[("JOURNAL_STREAM", "8:12345")])
        .with_stderr_id(8, 999);
    assert_eq!(load(&cli(&[]), &env).unwrap().log.format, LogFormat::Text);
    let env = h
        .env(&[("JOURNAL_STREAM", "garbage")])
        .with_stderr_id(8, 12345);
    assert_eq!(load(&cli(&[]), &env).unwrap().log.format, LogFormat::Text);
}

#[test]
fn boolean_env_values() {
    let h = Home::new(None);
    for (v, want) in [
        ("0", false),
        ("false", false),
        ("No", false),
        ("OFF", false),
        ("yes", true),
        ("1", true),
        ("on", true),
        ("whatever", true),
    ] {
        let c = h.load(&[], &[(var::LOG_REQUESTS, v)]).unwrap();
        assert_eq!(c.log.requests, want, "{v}");
    }
    let c = h
        .load(&["--log-requests=false"], &[(var::LOG_REQUESTS, "yes")])
        .unwrap();
    assert!(!c.log.requests);
}

#[test]
fn bad_flag_and_env_values_name_their_source() {
    let h = Home::new(None);
    let p = one_problem(h.load(&["--port", "abc"], &[]), "--port");
    assert_eq!(p, "--port: expected a number 0-65535, got 'abc'");
    one_problem(h.load(&[], &[(var::PORT, "70000")]), var::PORT);
    one_problem(h.load(&["--host", "a b"], &[]), "--host");
    one_problem(h.load(&["--upstream", "ftp://x"], &[]), "--upstream");
    one_problem(h.load(&[], &[(var::UPSTREAM, "not a url")]), var::UPSTREAM);
    one_problem(h.load(&["--api-key-env", "1X"], &[]), "--api-key-env");
    one_problem(h.load(&[], &[(var::API_KEY_ENV, "A-B")]), var::API_KEY_ENV);
    let p = one_problem(h.load(&["--log-level", "loud"], &[]), "--log-level");
    assert!(p.contains("silent, error, warn, info, debug, trace"), "{p}");
    one_problem(h.load(&[], &[(var::LOG_LEVEL, "verbose")]), var::LOG_LEVEL);
    one_problem(h.load(&["--timeout-ms", "0"], &[]), "--timeout-ms");
    one_problem(h.load(&[], &[(var::TIMEOUT_MS, "1s")]), var::TIMEOUT_MS);
    one_problem(h.load(&["--max-body-bytes", "-1"], &[]), "--max-body-bytes");
    one_problem(
        h.load(&[], &[(var::MAX_BODY_BYTES, "0")]),
        var::MAX_BODY_BYTES,
    );
    one_problem(h.load(&["--log-format", "xml"], &[]), "--log-format");
    one_problem(h.load(&[], &[(var::LOG_FORMAT, "yaml")]), var::LOG_FORMAT);
    let long = format!("/tmp/{}", "s".repeat(150));
    one_problem(
        h.load(&["--control-socket", &long], &[]),
        "--control-socket",
    );
    // The single-problem Display is that one line.
    let e = h.load(&["--port", "99999"], &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--port: expected a number 0-65535, got '99999'"
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn bad_file_values_name_key_and_line() {
    let h = Home::new(Some(
        "# comment\nlisten:\n  host: 127.0.0.1\n  port: 70000\n",
    ));
    let p = one_problem(h.load(&[], &[]), "listen.port");
    let path = h.config_path();
    assert_eq!(
        p,
        format!(
            "{}:4 listen.port: expected a number 0-65535, got '70000'",
            path.display()
        )
    );
    let cases: &[(&str, &str)] = &[
        ("upstream:\n  url: ftp://x\n", ":2 upstream.url"),
        (
            "upstream:\n  api_key_env: 'my token'\n",
            ":2 upstream.api_key_env",
        ),
        ("upstream: { timeout_ms: 0 }\n", ":1 upstream.timeout_ms"),
        ("upstream:\n  heartbeat_ms: 0\n", ":2 upstream.heartbeat_ms"),
        (
            "upstream:\n  headers:\n    'Bad Name': x\n",
            ":3 upstream.headers.Bad Name",
        ),
        (
            "limits: { max_body_bytes: 0 }\n",
            ":1 limits.max_body_bytes",
        ),
        ("log:\n  level: loud\n", ":2 log.level"),
        ("log:\n  format: xml\n", ":2 log.format"),
        (
            "listen:\n  client_keys_env: 'a b'\n",
            ":2 listen.client_keys_env",
        ),
        ("models:\n  'a*b': {}\n", ":2 models.a*b"),
        (
            "models:\n  x: { context_window: 0 }\n",
            ":2 models.x.context_window",
        ),
        (
            "upstreams:\n  local: { api_key_env: K }\n",
            ":2 upstreams.local",
        ),
        (
            "upstreams:\n  default: { url: 'http://x' }\n",
            ":2 upstreams.default",
        ),
        (
            "upstreams:\n  local:\n    url: https://x\n    timeout_ms: 0\n",
            ":4 upstreams.local.timeout_ms",
        ),
    ];
    for (text, origin) in cases {
        let h = Home::new(Some(text));
        let p = one_problem(h.load(&[], &[]), origin);
        assert!(p.starts_with(&h.config_path().display().to_string()), "{p}");
    }
}

#[test]
fn header_values_are_never_echoed() {
    let h = Home::new(Some(
        "upstream:\n  headers:\n    X-Key: \"hunter2\\nsecret\"\n",
    ));
    let p = one_problem(h.load(&[], &[]), "upstream.headers.X-Key");
    assert!(!p.contains("hunter2"), "{p}");
}

#[test]
fn unknown_keys_are_reported_with_path_and_line() {
    let h = Home::new(Some("upstream:\n  url: https://x\n  urll: https://y\n"));
    let e = h.load(&[], &[]).unwrap_err();
    let LoadError::Invalid { problems } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0].origin,
        format!("{}:3", h.config_path().display())
    );
    assert!(
        problems[0]
            .message
            .starts_with("unknown key `upstream.urll`"),
        "{}",
        problems[0].message
    );
    assert!(
        e.to_string().starts_with(&format!(
            "{}:3: unknown key `upstream.urll` (expected one of",
            h.config_path().display()
        )),
        "{e}"
    );
    assert_eq!(e.exit_code(), 2);

    let h = Home::new(Some(
        "models:\n  fast:\n    upstream: default\n    contex_window: 1\n",
    ));
    let e = h.load(&[], &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains(":4: unknown key `models.fast.contex_window`"),
        "{e}"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let h = Home::new(Some(
        "listen:\n  port: 99999\nupstream:\n  url: nope\nlog:\n  level: loud\nmodels:\n  fast: { upstream: nowhere }\n",
    ));
    let p = problems(h.load(&["--timeout-ms", "x"], &[(var::MAX_BODY_BYTES, "y")]));
    assert_eq!(p.len(), 6, "{p:#?}");
    let all = p.join("\n");
    for needle in [
        ":2 listen.port:",
        ":4 upstream.url:",
        ":6 log.level:",
        ":8 models.fast.upstream:",
        "--timeout-ms:",
        "DEEPINFRA_CODEX_SHIM_MAX_BODY_BYTES:",
    ] {
        assert!(all.contains(needle), "{needle} in {all}");
    }
    let e = h.load(&[], &[]).unwrap_err();
    assert_eq!(e.to_string().lines().count(), 4);
    assert_eq!(e.lines().len(), 4);
}

#[test]
fn routes_and_named_upstreams() {
    let h = Home::new(Some(
        r#"
upstream:
  timeout_ms: 5000
  headers: { X-Default: d }
compat:
  reasoning: drop
  drop_tool_call_content: true
upstreams:
  local:
    url: http://127.0.0.1:8000/v1/
    api_key_env: LOCAL_KEY
    compat: { images: placeholder, drop_tool_call_content: false }
  open:
    url: http://10.0.0.2/v1
    allow_insecure: true
    heartbeat_ms: 1000
models:
  fast: { upstream: local, model: Qwen/Qwen3-Coder-30B-A3B-Instruct, context_window: 262144 }
  "moonshotai/*": { upstream: default }
  "moonshotai/Kimi*": { upstream: open, vision: false }
  "*": { upstream: open }
  plain:
"#,
    ));
    let c = h
        .load(&[], &[("LOCAL_KEY", "lk"), ("DEEPINFRA_TOKEN", "dt")])
        .unwrap();
    let local = &c.upstreams["local"];
    assert_eq!(local.name, "local");
    assert_eq!(local.url, "http://127.0.0.1:8000/v1");
    assert_eq!(local.token.as_ref().map(Secret::expose), Some("lk"));
    assert_eq!(local.timeout, Duration::from_millis(5000), "inherited");
    assert!(local.headers.is_empty(), "headers are not inherited");
    assert_eq!(local.compat.images, ImagePolicy::Placeholder);
    assert_eq!(local.compat.reasoning, ReasoningPolicy::Drop, "inherited");
    assert!(!local.compat.drop_tool_call_content, "own value");
    let open = &c.upstreams["open"];
    assert!(open.allow_insecure);
    assert!(!local.allow_insecure, "loopback needs no consent");
    assert_eq!(open.api_key_env, "");
    assert!(open.token.is_none(), "no variable, no token");
    assert_eq!(open.heartbeat, Duration::from_millis(1000));
    assert!(open.compat.drop_tool_call_content);
    assert_eq!(
        c.default_upstream.token.as_ref().map(Secret::expose),
        Some("dt")
    );
    assert_eq!(c.default_upstream.headers.len(), 1);

    assert_eq!(c.routes.exact.keys().collect::<Vec<_>>(), ["fast", "plain"]);
    assert_eq!(
        c.routes
            .prefixes
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
        ["moonshotai/Kimi", "moonshotai/", ""]
    );
    assert_eq!(c.routes.exact["plain"].upstream, "default");
    let r = c.resolve("fast");
    assert_eq!(r.upstream.name, "local");
    assert_eq!(r.upstream_model, "Qwen/Qwen3-Coder-30B-A3B-Instruct");
    assert_eq!(c.resolve("moonshotai/Kimi-K2").upstream.name, "open");
    assert_eq!(c.resolve("moonshotai/other").upstream.name, "default");
    assert_eq!(c.resolve("zai/glm").upstream.name, "open");
    assert_eq!(c.resolve("plain").upstream.name, "default");
}

#[test]
fn routes_to_unknown_upstreams_are_refused() {
    let h = Home::new(Some(
        "upstreams:\n  local: { url: 'https://x' }\nmodels:\n  a: { upstream: locl }\n  'b/*':\n    upstream: remote\n  c: { upstream: local }\n",
    ));
    let p = problems(h.load(&[], &[]));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains(
            ":4 models.a.upstream: unknown upstream 'locl' (expected one of: default, local)"
        ),
        "{}",
        p[0]
    );
    assert!(
        p[1].contains(":6 models.b/*.upstream: unknown upstream 'remote'"),
        "{}",
        p[1]
    );
}

#[test]
fn non_loopback_needs_client_keys_or_explicit_consent() {
    let h = Home::new(None);
    let p = one_problem(h.load(&["--host", "0.0.0.0"], &[]), "--host");
    assert!(
        p.contains("listen.host 0.0.0.0 is not loopback: set listen.client_keys_env"),
        "{p}"
    );
    assert!(p.contains("listen.allow_unauthenticated: true"), "{p}");
    one_problem(h.load(&[], &[(var::HOST, "192.168.1.5")]), var::HOST);
    for host in ["127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"] {
        assert!(h.load(&["--host", host], &[]).is_ok(), "{host} is loopback");
    }

    let h = Home::new(Some(
        "listen:\n  host: 0.0.0.0\n  client_keys_env: SHIM_KEYS\n",
    ));
    let c = h.load(&[], &[("SHIM_KEYS", " k1, k2 ,")]).unwrap();
    assert_eq!(
        c.listen
            .client_keys
            .iter()
            .map(Secret::expose)
            .collect::<Vec<_>>(),
        ["k1", "k2"]
    );
    assert_eq!(c.listen.client_keys_env.as_deref(), Some("SHIM_KEYS"));
    // Keys named but absent: refused (no client could authenticate), loopback or not.
    let p = problems(h.load(&[], &[("SHIM_KEYS", " , ")]));
    assert_eq!(p.len(), 2, "{p:?}");
    // In file order.
    assert!(
        p[0].contains(":2 listen.host: listen.host 0.0.0.0 is not loopback"),
        "{}",
        p[0]
    );
    assert!(
        p[1].contains(":3 listen.client_keys_env: variable SHIM_KEYS"),
        "{}",
        p[1]
    );

    let h = Home::new(Some(
        "listen:\n  host: 0.0.0.0\n  allow_unauthenticated: true\n",
    ));
    let c = h.load(&[], &[]).unwrap();
    assert!(c.listen.allow_unauthenticated);
    assert_eq!(c.bind_addr(), "0.0.0.0:8797");
}

#[test]
fn tokens_are_read_and_never_printed() {
    let h = Home::new(Some(
        "listen: { client_keys_env: CK }\nupstream:\n  headers: { X-Api-Key: hdr-secret-1 }\nupstreams:\n  l: { url: 'https://x', api_key_env: LK }\n",
    ));
    let c = h
        .load(
            &["--api-key-env", "MY_TOKEN"],
            &[
                ("MY_TOKEN", " tok-secret-1\n"),
                ("LK", "tok-secret-2"),
                ("CK", "ck-secret-1"),
            ],
        )
        .unwrap();
    assert_eq!(
        c.default_upstream.token.as_ref().map(Secret::expose),
        Some("tok-secret-1")
    );
    let dbg = format!("{c:?} {c:#?}");
    for secret in [
        "tok-secret-1",
        "tok-secret-2",
        "ck-secret-1",
        "hdr-secret-1",
    ] {
        assert!(!dbg.contains(secret), "{secret} leaked in Debug");
    }
    // An empty token variable is absent.
    let c = h
        .load(&[], &[("DEEPINFRA_TOKEN", ""), ("CK", "k")])
        .unwrap();
    assert!(c.default_upstream.token.is_none());
}

#[test]
fn reload_keeps_pinned_values_and_refuses_a_deleted_file() {
    let h = Home::new(Some("listen: { port: 1000 }\nlog: { level: warn }\n"));
    let env = h.env(&[(var::LOG_LEVEL, "debug")]);
    let cli = cli(&[]);
    let first = load(&cli, &env).unwrap();
    assert_eq!(first.log.level, "debug");
    assert_eq!(first.pinned, ["log.level"]);

    h.write("listen: { port: 1000 }\nlog: { level: error, requests: true }\n");
    let second = reload(&first, &cli, &env).unwrap();
    assert_eq!(second.log.level, "debug", "pinned by env");
    assert!(second.log.requests);
    assert_eq!(
        diff(&first, &second),
        [
            "log.requests: false -> true",
            "log.level: pinned to debug by the variable DEEPINFRA_CODEX_SHIM_LOG_LEVEL; the \
             file's value error is ignored"
        ]
    );

    // A broken file is refused; the caller keeps `second`.
    h.write("listen: { prot: 1 }\n");
    let e = reload(&second, &cli, &env).unwrap_err();
    assert!(e.to_string().contains("unknown key `listen.prot`"), "{e}");

    std::fs::remove_file(h.config_path()).unwrap();
    let e = reload(&second, &cli, &env).unwrap_err();
    assert!(matches!(e, LoadError::Vanished { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "config file {} no longer exists; keeping the current configuration",
            h.config_path().display()
        )
    );
    // Started without a default file: it may appear later. Its port waits for a restart.
    let bare = load(&cli, &env).unwrap();
    assert_eq!(bare.config_path, None);
    h.write("listen: { port: 1001 }\nlog: { requests: true }\n");
    let plan = plan_reload(&bare, &cli, &env).unwrap();
    assert_eq!(plan.config.config_path, Some(h.config_path()));
    assert_eq!(plan.config.listen.port, 8797, "the bound port stays");
    assert!(plan.config.log.requests);
    assert_eq!(
        plan.report.lines(),
        [
            "log.requests: false -> true",
            "listen.port: 8797 -> 1001 (needs a restart to take effect)"
        ]
    );
    assert_eq!(diff(&bare, &plan.config), plan.report.lines());
}

#[test]
fn an_empty_file_is_refused_on_reload_but_means_defaults_at_start() {
    let h = Home::new(Some("log: { level: warn }\n"));
    let (cli, env) = (cli(&[]), h.env(&[]));
    let running = load(&cli, &env).unwrap();
    for empty in ["", "\n", "  \n\t\n"] {
        h.write(empty);
        let e = plan_reload(&running, &cli, &env).unwrap_err();
        assert!(matches!(e, LoadError::Empty { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "config file {} is empty; keeping the current configuration",
                h.config_path().display()
            )
        );
        // The same text read by the caller (read_stable) is refused the same way.
        let e = plan_reload_from(&running, &cli, &env, Ok(empty.to_owned())).unwrap_err();
        assert!(matches!(e, LoadError::Empty { .. }), "{e:?}");
        // At start it is the built-in defaults.
        let c = load(&cli, &env).unwrap();
        assert_eq!(c.log.level, "info");
        assert_eq!(c.config_path, Some(h.config_path()));
    }
    // A comment-only file is deliberate: defaults, on reload too.
    h.write("# everything at its default\n");
    let plan = plan_reload(&running, &cli, &env).unwrap();
    assert_eq!(plan.config.log.level, "info");
    assert_eq!(plan.report.lines(), ["log.level: warn -> info"]);
}

#[test]
fn a_reload_never_weakens_the_live_listener() {
    let h = Home::new(Some(
        "listen:\n  host: 0.0.0.0\n  client_keys_env: SHIM_KEYS\n  allowed_origins: ['https://a.example']\n",
    ));
    let (cli, env) = (cli(&[]), h.env(&[("SHIM_KEYS", "k1,k2")]));
    let running = load(&cli, &env).unwrap();
    assert_eq!(running.listen.client_keys.len(), 2);
    // The file now drops the keys and the origin, and binds loopback: valid on its own.
    h.write("listen:\n  host: 127.0.0.1\nlog: { level: debug }\n");
    let plan = plan_reload(&running, &cli, &env).unwrap();
    assert_eq!(
        plan.config.listen, running.listen,
        "the running listener stays in force"
    );
    assert_eq!(plan.config.listen.client_keys.len(), 2);
    assert_eq!(plan.config.log.level, "debug", "the rest is applied");
    let r = &plan.report;
    assert_eq!(
        r.changed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["log.level: info -> debug"]
    );
    let waiting: Vec<String> = r.restart.iter().map(ToString::to_string).collect();
    assert_eq!(
        waiting,
        [
            "listen.host: 0.0.0.0 -> 127.0.0.1",
            "listen.client_keys_env: SHIM_KEYS -> none",
            "listen.allowed_origins: [https://a.example] -> []",
            "listen client keys: <set> -> <unset>",
        ]
    );
    assert!(!r.lines().join("\n").contains("k1"), "no key is shown");
    assert_eq!(plan.config.waiting_for_restart, r.restart);
}

#[test]
fn restoring_the_running_value_is_not_a_change() {
    let h = Home::new(Some("listen: { port: 1000 }\n"));
    let (cli, env) = (cli(&[]), h.env(&[]));
    let running = load(&cli, &env).unwrap();
    h.write("listen: { port: 2000 }\n");
    let first = plan_reload(&running, &cli, &env).unwrap();
    assert_eq!(
        first.report.lines(),
        ["listen.port: 1000 -> 2000 (needs a restart to take effect)"]
    );
    // Back to the port that is bound: nothing waits any more.
    h.write("listen: { port: 1000 }\n");
    let second = plan_reload(&first.config, &cli, &env).unwrap();
    assert!(second.report.is_empty(), "{:?}", second.report);
    assert_eq!(second.report.to_string(), "no changes");
    assert!(second.config.waiting_for_restart.is_empty());
    // Reloading the same file again changes nothing either.
    let third = plan_reload(&second.config, &cli, &env).unwrap();
    assert!(third.report.is_empty());
}

#[test]
fn a_pinned_key_whose_file_value_differs_says_what_pins_it() {
    let h = Home::new(Some(
        "listen: { port: 1000 }\nupstream: { timeout_ms: 5 }\n",
    ));
    let (cli, env) = (cli(&["--port", "0"]), h.env(&[(var::TIMEOUT_MS, "7000")]));
    let running = load(&cli, &env).unwrap();
    assert_eq!(running.pinned, ["listen.port", "upstream.timeout_ms"]);
    let by: Vec<(&str, PinSource, Option<&str>)> = running
        .pins
        .iter()
        .map(|p| (p.key, p.by, p.file_value.as_deref()))
        .collect();
    assert_eq!(
        by,
        [
            ("listen.port", PinSource::Flag("--port"), Some("1000")),
            (
                "upstream.timeout_ms",
                PinSource::Env(var::TIMEOUT_MS),
                Some("5")
            ),
        ]
    );
    h.write("listen: { port: 1001 }\nupstream: { timeout_ms: 7000 }\n");
    let plan = plan_reload(&running, &cli, &env).unwrap();
    assert_eq!(plan.config.listen.port, 0);
    assert_eq!(
        plan.config.default_upstream.timeout,
        Duration::from_millis(7000)
    );
    assert_eq!(
        plan.report.lines(),
        ["listen.port: pinned to 0 by the flag --port; the file's value 1001 is ignored"],
        "the same value as the pin is not reported"
    );
}

#[test]
fn a_type_error_does_not_hide_other_problems() {
    let h = Home::new(Some(
        "listen:\n  port: 99999\nupstream:\n  timeout_ms: \"abc\"\n  heartbeat_ms: [1]\nlog:\n  requests: maybe\n  lvel: x\n",
    ));
    let p = problems(h.load(&[], &[]));
    let path = h.config_path().display().to_string();
    assert_eq!(
        p,
        [
            format!("{path}:2 listen.port: expected a number 0-65535, got '99999'"),
            format!(
                "{path}:4 upstream.timeout_ms: expected a whole number of milliseconds > 0, got text 'abc'"
            ),
            format!(
                "{path}:5 upstream.heartbeat_ms: expected a whole number of milliseconds > 0, got a list"
            ),
            format!("{path}:7 log.requests: expected true or false, got text 'maybe'"),
            format!(
                "{path}:8: unknown key `log.lvel` (expected one of `level`, `requests`, `content`, `format`)"
            ),
        ],
        "every problem, in file order"
    );
}

#[test]
fn a_pinned_keys_file_value_is_still_checked() {
    let h = Home::new(Some("listen:\n  port: 99999\n"));
    let p = one_problem(h.load(&["--port", "0"], &[]), "listen.port");
    assert!(
        p.contains(":2 listen.port: expected a number 0-65535"),
        "{p}"
    );
}

#[test]
fn cleartext_to_a_remote_host_is_refused_unless_allowed() {
    let h = Home::new(None);
    let p = one_problem(
        h.load(&["--upstream", "http://api.example.com/v1"], &[]),
        "--upstream",
    );
    assert!(
        p.contains(
            "http:// to api.example.com, which is not loopback, would send the token in \
             cleartext; use https:// or set upstream.allow_insecure: true"
        ),
        "{p}"
    );
    assert!(
        h.load(&["--upstream", "http://127.0.0.1:9/v1"], &[])
            .is_ok()
    );
    assert!(
        h.load(&["--upstream", "https://api.example.com/v1"], &[])
            .is_ok()
    );

    let h = Home::new(Some(
        "upstream:\n  url: http://10.1.2.3/v1\n  allow_insecure: true\nupstreams:\n  lan:\n    url: http://10.1.2.4/v1\n  ok:\n    url: http://10.1.2.5/v1\n    allow_insecure: true\n",
    ));
    let p = one_problem(h.load(&[], &[]), "upstreams.lan.url");
    assert!(
        p.contains(":6 upstreams.lan.url: http:// to 10.1.2.4"),
        "{p}"
    );
    assert!(
        p.ends_with("set upstreams.lan.allow_insecure: true"),
        "each upstream opts in for itself: {p}"
    );
    let h = Home::new(Some(
        "upstream:\n  url: http://10.1.2.3/v1\n  allow_insecure: true\n",
    ));
    let c = h.load(&[], &[]).unwrap();
    assert!(c.default_upstream.allow_insecure);
    assert_eq!(c.default_upstream.url, "http://10.1.2.3/v1");
}

#[test]
fn new_keys_reach_the_config() {
    let h = Home::new(Some(
        "listen:\n  allowed_hosts: [shim.lan, 'shim.lan:8797']\n  allowed_origins: ['http://localhost:3000']\nlimits: { max_connections: 64, max_output_bytes: 1000 }\n",
    ));
    let c = h.load(&[], &[]).unwrap();
    assert_eq!(c.listen.allowed_hosts, ["shim.lan", "shim.lan:8797"]);
    assert_eq!(c.listen.allowed_origins, ["http://localhost:3000"]);
    assert_eq!(
        (c.limits.max_connections, c.limits.max_output_bytes),
        (64, 1000)
    );
    let h = Home::new(Some(
        "listen:\n  allowed_hosts: 'shim.lan'\n  allowed_origins: ['*']\nlimits:\n  max_connections: 0\n",
    ));
    let p = problems(h.load(&[], &[]));
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(
        p[0].contains(":2 listen.allowed_hosts: expected a list of host names"),
        "{}",
        p[0]
    );
    assert!(
        p[1].contains(":3 listen.allowed_origins: '*' would let any web page"),
        "{}",
        p[1]
    );
    assert!(
        p[2].contains(":5 limits.max_connections: expected a whole number of connections > 0"),
        "{}",
        p[2]
    );
}

#[test]
fn config_paths_are_absolute() {
    let h = Home::new(None);
    let rel = h.dir.path().join("c.yaml");
    std::fs::write(&rel, "log: { level: warn }\n").unwrap();
    // A path relative to the working directory, made absolute once.
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(&rel, &cwd);
    let c = h
        .load(&["--config", relative.to_str().unwrap()], &[])
        .unwrap();
    let p = c.config_path.unwrap();
    assert!(p.is_absolute(), "{}", p.display());
    assert_eq!(
        std::fs::canonicalize(&p).unwrap(),
        std::fs::canonicalize(&rel).unwrap()
    );
}

/// `path` relative to `base` with `..` segments (both absolute).
fn pathdiff(path: &Path, base: &Path) -> std::path::PathBuf {
    let (p, b): (Vec<_>, Vec<_>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}

#[test]
fn diff_lines() {
    let h = Home::new(Some(
        "upstream:\n  url: https://a/v1\n  headers: { X-A: one, X-B: two }\nupstreams:\n  l1: { url: 'https://l1' }\n  l2: { url: 'https://l2' }\nmodels:\n  fast: { upstream: l1, context_window: 1000 }\n  gone: {}\n",
    ));
    let env = h.env(&[]);
    let old = load(&cli(&[]), &env).unwrap();
    h.write(
        "listen: { host: '::1' }\nupstream:\n  url: https://b/v1\n  timeout_ms: 1000\n  headers: { X-A: secret-new, X-C: three }\ncompat: { reasoning: replay }\nupstreams:\n  l1: { url: 'https://l1b' }\n  l3: { url: 'https://l3' }\nmodels:\n  fast: { upstream: l3, context_window: 2000 }\n  'new/*': {}\nlog: { format: json }\nshutdown: { drain_timeout_ms: 0 }\n",
    );
    let new = reload(&old, &cli(&[]), &env).unwrap();
    let d = diff(&old, &new);
    let want = [
        "upstream.url: https://a/v1 -> https://b/v1",
        "upstream.timeout_ms: 120000 -> 1000",
        "upstream.headers.X-B: removed",
        "upstream.headers.X-A: <set> -> <set> (new value)",
        "upstream.headers.X-C: added",
        "shutdown.drain_timeout_ms: 30000 -> 0",
        "compat.reasoning: auto -> replay",
        "upstreams.l2: removed",
        "upstreams.l1.url: https://l1 -> https://l1b",
        "upstreams.l1.timeout_ms: 120000 -> 1000",
        "upstreams.l1.compat.reasoning: auto -> replay",
        "upstreams.l3: added",
        "models.gone: removed",
        "models.fast.upstream: l1 -> l3",
        "models.fast.context_window: 1000 -> 2000",
        "models.new/*: added",
        "listen.host: 127.0.0.1 -> ::1 (needs a restart to take effect)",
        "log.format: text -> json (needs a restart to take effect)",
    ];
    assert_eq!(d, want);
    assert!(!d.join("\n").contains("secret-new"));
    for value in ["one", "two", "three"] {
        assert!(
            !d.iter().any(|l| l.contains(&format!(" {value}"))),
            "no header value: {d:?}"
        );
    }
    assert_eq!(new.listen.host, "127.0.0.1");
    assert_eq!(new.log.format, LogFormat::Text);
    assert!(diff(&old, &old).is_empty());
    // What waits for a restart stays reported until the file or a restart settles it.
    assert_eq!(diff(&new, &new), &want[16..]);
}

#[test]
fn diff_reports_token_presence_only() {
    let h = Home::new(None);
    let a = h.load(&[], &[("DEEPINFRA_TOKEN", "t-secret")]).unwrap();
    let b = h
        .load(
            &["--api-key-env", "OTHER"],
            &[("DEEPINFRA_TOKEN", "t-secret")],
        )
        .unwrap();
    let d = diff(&a, &b);
    assert_eq!(
        d,
        [
            "upstream.api_key_env: DEEPINFRA_TOKEN -> OTHER",
            "upstream token: <set> -> <unset>"
        ]
    );
}

#[test]
fn check_file_ignores_shim_variables() {
    let h = Home::new(None);
    let p = h.dir.path().join("c.yaml");
    std::fs::write(&p, "listen: { port: 1234 }\n").unwrap();
    let env = h.env(&[(var::PORT, "abc"), ("DEEPINFRA_TOKEN", "t")]);
    let c = check_file(&p, &env).unwrap();
    assert_eq!(c.listen.port, 1234);
    assert!(c.default_upstream.token.is_some());
    assert!(c.pinned.is_empty());
    assert_eq!(c.config_path.as_deref(), Some(p.as_path()));
    // A missing file is named as such, not blamed on a flag.
    let missing = h.dir.path().join("none.yaml");
    let e = check_file(&missing, &env).unwrap_err();
    assert!(
        matches!(e, LoadError::MissingFile { origin: None, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!("config file {} does not exist", missing.display())
    );
}
