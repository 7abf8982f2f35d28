use clap::{CommandFactory, Parser};

use super::*;
use crate::config::layers::default_of;

fn metas<S>(table: &[&'static dyn AnyKey<S>]) -> Vec<Meta> {
    table.iter().map(|k| *k.meta()).collect()
}

fn all_metas() -> Vec<(&'static str, Meta)> {
    let mut out: Vec<(&'static str, Meta)> = Vec::new();
    out.extend(metas(TOP).into_iter().map(|m| ("top", m)));
    out.extend(metas(NAMED_UPSTREAM).into_iter().map(|m| ("upstreams", m)));
    out.extend(metas(ROUTE).into_iter().map(|m| ("models", m)));
    out
}

#[test]
fn paths_are_unique_and_documented() {
    for table in [metas(TOP), metas(NAMED_UPSTREAM), metas(ROUTE)] {
        let mut paths: Vec<&str> = table.iter().map(|m| m.path).collect();
        let n = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), n, "duplicate path in {paths:?}");
    }
    for (scope, m) in all_metas() {
        assert!(!m.doc.is_empty(), "{scope} {} has no doc", m.path);
        assert!(
            !m.doc.ends_with('.'),
            "{scope} {}: docs are phrases",
            m.path
        );
        assert!(
            m.default.is_some() || m.default_doc.is_some() || scope == "models",
            "{scope} {}: say what happens without a value",
            m.path
        );
        assert!(
            m.path
                .split('.')
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
            "{}",
            m.path
        );
    }
    // Top-level file keys are `section.key`; the map sections are not sections of keys.
    for m in metas(TOP).iter().filter(|m| m.in_file) {
        let segs = m.segments();
        assert_eq!(segs.len(), 2, "{}", m.path);
        assert!(![UPSTREAMS_SECTION, MODELS_SECTION].contains(&segs[0]));
    }
}

/// A default is parsed by the key's own kind, so it cannot drift from what the docs say.
#[test]
fn every_default_is_valid_yaml_for_its_kind() {
    // Each typed key, through the same function the layering uses.
    let _ = default_of(&LISTEN_HOST);
    assert_eq!(default_of(&LISTEN_PORT), 8797);
    assert_eq!(default_of(&LISTEN_CLIENT_KEYS_ENV), None);
    assert!(!default_of(&LISTEN_ALLOW_UNAUTHENTICATED));
    assert!(default_of(&LISTEN_ALLOWED_HOSTS).is_empty());
    assert!(default_of(&LISTEN_ALLOWED_ORIGINS).is_empty());
    assert_eq!(
        default_of(&UPSTREAM_URL),
        "https://api.deepinfra.com/v1/openai"
    );
    assert_eq!(default_of(&UPSTREAM_API_KEY_ENV), "DEEPINFRA_TOKEN");
    assert_eq!(default_of(&UPSTREAM_TIMEOUT_MS).as_millis(), 120_000);
    assert_eq!(default_of(&UPSTREAM_HEARTBEAT_MS).as_millis(), 15_000);
    assert!(default_of(&UPSTREAM_HEADERS).is_empty());
    assert!(!default_of(&UPSTREAM_ALLOW_INSECURE));
    assert_eq!(default_of(&LIMITS_MAX_BODY_BYTES), 10_485_760);
    assert_eq!(default_of(&LIMITS_MAX_CONNECTIONS), 1024);
    assert_eq!(default_of(&LIMITS_MAX_OUTPUT_BYTES), 16_777_216);
    assert_eq!(default_of(&LOG_LEVEL), "info");
    assert!(!default_of(&LOG_REQUESTS) && !default_of(&LOG_CONTENT));
    assert_eq!(default_of(&LOG_FORMAT), LogFormat::Text);
    assert_eq!(default_of(&SHUTDOWN_DRAIN_TIMEOUT_MS).as_millis(), 30_000);
    assert!(!default_of(&COMPAT_DROP_TOOL_CALL_CONTENT));
    let _ = (default_of(&COMPAT_REASONING), default_of(&COMPAT_IMAGES));
    assert!(default_of(&NAMED_HEADERS).is_empty());
    assert!(!default_of(&NAMED_ALLOW_INSECURE));
    assert_eq!(default_of(&ROUTE_UPSTREAM), "default");
    // And generically: every declared default is YAML.
    let yaml_ok = |d: Option<&str>| {
        d.is_none_or(|d| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(d).is_ok())
    };
    for (_, m) in all_metas() {
        assert!(yaml_ok(m.default), "{}", m.path);
    }
}

#[test]
fn flags_and_variables_follow_the_original_names() {
    for m in metas(TOP) {
        match (m.flag, m.env) {
            (Some(f), Some(e)) => {
                let want = format!(
                    "{}{}",
                    env::PREFIX,
                    f.name
                        .trim_start_matches("--")
                        .to_ascii_uppercase()
                        .replace('-', "_")
                );
                assert_eq!(e, want, "{}", m.path);
            }
            (None, None) => {}
            _ => panic!("{}: a flag and its variable come together", m.path),
        }
    }
    for m in metas(NAMED_UPSTREAM).into_iter().chain(metas(ROUTE)) {
        assert!(m.flag.is_none() && m.env.is_none(), "{}", m.path);
    }
}

/// Each key's flag is a real flag of the daemon, read from the right field, and its help
/// names the variable (and the default, where the help gives one).
#[test]
fn flags_match_the_command_line() {
    let cmd = Cli::command();
    let mut covered = vec!["config", "check-config", "help", "version"];
    for m in metas(TOP) {
        let Some(f) = m.flag else { continue };
        let long = f.name.trim_start_matches("--");
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .unwrap_or_else(|| panic!("{}: no flag {}", m.path, f.name));
        covered.push(long);
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let env = m.env.unwrap();
        assert!(
            help.contains(&format!("[env: {env}]")),
            "{}: {help}",
            f.name
        );
        if let (Some(d), Some(i)) = (m.default, help.find("[default: ")) {
            let shown = &help[i + "[default: ".len()..];
            assert!(
                shown.starts_with(d),
                "{}: help says {shown}, table {d}",
                f.name
            );
        }
        let cli = Cli::try_parse_from(["deepinfra-shim", &format!("{}=1", f.name)]).unwrap();
        assert!(
            (f.read)(&cli).is_some(),
            "{} is read from its own field",
            f.name
        );
        assert!((f.read)(&Cli::default()).is_none(), "{}", f.name);
        assert!(m.flag.is_some() && (m.in_file || m.path == "control_socket"));
    }
    for arg in cmd.get_arguments() {
        let long = arg.get_long().unwrap_or_default();
        assert!(
            covered.contains(&long),
            "flag --{long} is not in the key table"
        );
    }
}

#[test]
fn secrets_and_restart_keys() {
    let secret: Vec<&str> = metas(TOP)
        .iter()
        .filter(|m| m.secret)
        .map(|m| m.path)
        .collect();
    assert_eq!(secret, ["upstream.headers"]);
    let restart: Vec<&str> = metas(TOP)
        .iter()
        .filter(|m| m.reload == Reload::Restart)
        .map(|m| m.path)
        .collect();
    // Every listen key and the control socket (the contract), plus what is set up only at
    // start: the log format (the logger) and the connection limit (the accept loop).
    for m in metas(TOP).iter().filter(|m| m.path.starts_with("listen.")) {
        assert!(restart.contains(&m.path), "{}", m.path);
    }
    for p in ["control_socket", "log.format", "limits.max_connections"] {
        assert!(restart.contains(&p), "{p}");
    }
    assert_eq!(restart.len(), 9, "{restart:?}");
}

#[test]
fn find_by_path() {
    assert_eq!(
        find(TOP, "listen.port").unwrap().meta().ty,
        "port (0-65535)"
    );
    assert!(find(TOP, "listen.nope").is_none());
    assert!(find(NAMED_UPSTREAM, "compat.images").is_some());
}
