use super::*;
use crate::config::lines::key_line;

fn ok(text: &str) -> (FileValues, Vec<Misplaced>) {
    read(text).unwrap()
}

/// The structure problems as `line: message`.
fn located(text: &str) -> Vec<String> {
    let (_, problems) = ok(text);
    problems
        .iter()
        .map(|p| {
            let segs: Vec<&str> = p.at.iter().map(String::as_str).collect();
            format!("{:?}: {}", key_line(text, &segs), p.message)
        })
        .collect()
}

#[test]
fn empty_comment_only_and_empty_sections_have_no_values() {
    for text in [
        "",
        "# nothing here\n\n  # at all\n",
        "---\n",
        "listen:\nupstream:\nmodels:\n",
    ] {
        let (v, p) = ok(text);
        assert!(
            v.top.is_empty() && v.upstreams.is_empty() && v.routes.is_empty(),
            "{text:?}"
        );
        assert!(p.is_empty(), "{text:?}: {p:?}");
    }
    // A null value is "not set".
    let (v, _) = ok("listen: { port: ~, host: 127.0.0.1 }\n");
    assert_eq!(v.top.keys().collect::<Vec<_>>(), [&"listen.host"]);
}

#[test]
fn a_full_file_is_read_key_by_key() {
    let text = r#"
listen:
  host: 127.0.0.1
  port: 8797
  client_keys_env: null
  allow_unauthenticated: false
  allowed_hosts: [myhost.lan]
upstream:
  url: https://api.deepinfra.com/v1/openai
  headers: { X-Title: codex }
  allow_insecure: false
limits:   { max_body_bytes: 10485760, max_connections: 1024, max_output_bytes: 16777216 }
log:      { level: info, requests: false, content: false, format: text }
shutdown: { drain_timeout_ms: 30000 }
compat: { reasoning: auto, images: keep }
upstreams:
  local: { url: http://127.0.0.1:8000/v1, compat: { images: placeholder } }
  "z.b":
models:
  fast: { upstream: local, context_window: 262144 }
  "moonshotai/*": { upstream: default }
  plain:
"#;
    let (v, p) = ok(text);
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(v.top["listen.port"], Value::from(8797));
    assert!(
        !v.top.contains_key("listen.client_keys_env"),
        "null is unset"
    );
    assert!(v.top.contains_key("upstream.headers"));
    assert!(v.top.contains_key("limits.max_output_bytes"));
    let names: Vec<&str> = v.upstreams.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["local", "z.b"]);
    assert_eq!(
        v.upstreams[0].values["compat.images"],
        Value::from("placeholder")
    );
    assert!(v.upstreams[1].values.is_empty());
    let names: Vec<&str> = v.routes.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["fast", "moonshotai/*", "plain"]);
    assert_eq!(v.routes[0].values["context_window"], Value::from(262144));
}

#[test]
fn every_unknown_key_is_reported_with_its_full_path_and_line() {
    let text = "upstream:\n  url: https://x\n  urll: y\nlisen:\n  port: 1\nmodels:\n  fast:\n    upstream: default\n    contex_window: 5\n  slow: { upstream: a, contex_window: 5 }\nupstreams:\n  l: { url: 'https://x', compat: { imgs: keep } }\n";
    let p = located(text);
    assert_eq!(p.len(), 5, "{p:#?}");
    assert!(
        p[0].starts_with(
            "Some(3): unknown key `upstream.urll` (expected one of `url`, `api_key_env`"
        ),
        "{}",
        p[0]
    );
    assert!(
        p[1].starts_with("Some(4): unknown key `lisen` (expected one of `listen`, `upstream`"),
        "{}",
        p[1]
    );
    assert!(p[1].contains("`upstreams`, `models`"), "{}", p[1]);
    assert!(
        p[2].starts_with(
            "Some(9): unknown key `models.fast.contex_window` (expected one of `upstream`"
        ),
        "{}",
        p[2]
    );
    assert!(
        p[3].starts_with("Some(10): unknown key `models.slow.contex_window`"),
        "{}",
        p[3]
    );
    assert!(
        p[4].starts_with("Some(12): unknown key `upstreams.l.compat.imgs` (expected one of `drop_tool_call_content`, `reasoning`, `images`)"),
        "{}",
        p[4]
    );
    for m in ok(text).1 {
        assert!(m.names_key);
        assert!(!m.message.contains("column"), "{}", m.message);
    }
}

#[test]
fn keys_that_are_not_file_keys_are_unknown() {
    // `control_socket` is a flag/env setting only.
    let p = located("control_socket: /tmp/x\n");
    assert!(p[0].contains("unknown key `control_socket`"), "{p:?}");
    // `upstream:` has no `compat` (that is the top-level `compat:`).
    let p = located("upstream:\n  compat: {}\n");
    assert!(p[0].contains("unknown key `upstream.compat`"), "{p:?}");
    // Dotted names are not paths.
    let p = located("listen.port: 1\nupstreams:\n  l: { compat.images: keep }\n");
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].contains("unknown key `listen.port`"), "{p:?}");
    assert!(
        p[1].contains("unknown key `upstreams.l.compat.images`"),
        "{p:?}"
    );
}

#[test]
fn sections_must_be_mappings() {
    let p = located("listen: [1]\nupstream: 5\nupstreams: [a]\nmodels:\n  fast: yes\n");
    assert_eq!(p.len(), 4, "{p:#?}");
    assert_eq!(p[0], "Some(1): expected a mapping of keys, got a list");
    assert_eq!(p[1], "Some(2): expected a mapping of keys, got 5");
    assert_eq!(p[2], "Some(3): expected a mapping of keys, got a list");
    assert_eq!(p[3], "Some(5): expected a mapping of keys, got text 'yes'");
    let (_, p) = ok("- a\n- b\n");
    assert!(
        p[0].message
            .starts_with("the file must be a mapping of sections"),
        "{p:?}"
    );
}

#[test]
fn tabs_are_explained_with_their_line() {
    let e = read("listen:\n\tport: 1\n").unwrap_err();
    assert_eq!(e.line, Some(2));
    assert_eq!(e.message, "YAML forbids tabs; indent with spaces");
    let e = read("# a\nlisten:\n  host: x\nlog:\n\tlevel: info\n\t\n").unwrap_err();
    assert_eq!(e.line, Some(5));
    assert!(e.message.starts_with("YAML forbids tabs"), "{}", e.message);
    // A tab inside a value is fine.
    assert!(read("log: { level: \"a\tb\" }\n").is_ok());
}

#[test]
fn duplicate_and_syntax_errors() {
    let e = read("listen:\n  port: 1\n  port: 2\n").unwrap_err();
    assert_eq!(e.message, "duplicate key `listen.port`");
    assert!(e.line.is_some());
    let e = read("listen: 1\nlisten: 2\n").unwrap_err();
    assert_eq!(e.message, "duplicate key `listen`");
    let e = read("listen: {\n").unwrap_err();
    assert!(e.line.is_some());
    assert!(!e.message.contains(" column "), "{}", e.message);
    let e = read("a: 1\n---\nb: 2\n").unwrap_err();
    assert!(
        e.message.contains("more than one YAML document"),
        "{}",
        e.message
    );
}

#[test]
fn humanize_keeps_other_messages() {
    assert_eq!(
        strip_marks("bad at line 3 column 4, while x at line 1 column 2"),
        "bad, while x"
    );
    assert_eq!(strip_marks("look at this"), "look at this");
}
