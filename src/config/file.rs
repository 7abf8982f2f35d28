//! The YAML config file as written ([`FileConfig`]): every key optional, unknown keys refused.
//!
//! This module only parses. Numbers, names, URLs and cross-references are checked later by
//! [`super::validate`], together with flags and env vars, so every problem is reported at once.
//! A parse error (bad YAML, unknown key, wrong type) stops at the first one; its message names
//! the full key path (`upstream.urll`) and [`ParseError::line`] carries the line.
//!
//! [`key_line`] finds the line of any key path in the text, so validation problems about file
//! values can point at the line too.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::Secret;
use crate::translate::{ImagePolicy, ReasoningPolicy};

/// The whole file. An empty file (or one with only comments) is `FileConfig::default()`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<FileListen>,
    pub upstream: Option<FileUpstream>,
    pub limits: Option<FileLimits>,
    pub log: Option<FileLog>,
    pub shutdown: Option<FileShutdown>,
    pub compat: Option<FileCompat>,
    /// Named upstreams besides the default one.
    pub upstreams: Option<BTreeMap<String, Option<FileNamedUpstream>>>,
    /// Routes: model name or pattern -> where it goes. A `null` route means "all defaults".
    pub models: Option<BTreeMap<String, Option<FileRoute>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileListen {
    pub host: Option<String>,
    /// Kept wide so an out-of-range value is a validation problem, not a parse error.
    pub port: Option<u64>,
    pub client_keys_env: Option<String>,
    pub allow_unauthenticated: Option<bool>,
}

/// The `upstream:` section (the default upstream).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstream {
    pub url: Option<String>,
    pub api_key_env: Option<String>,
    pub timeout_ms: Option<u64>,
    pub heartbeat_ms: Option<u64>,
    /// Extra headers; values may be secrets, hence [`Secret`].
    pub headers: Option<BTreeMap<String, Secret>>,
}

/// One entry of `upstreams:`: the keys of `upstream:` plus `compat`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNamedUpstream {
    pub url: Option<String>,
    pub api_key_env: Option<String>,
    pub timeout_ms: Option<u64>,
    pub heartbeat_ms: Option<u64>,
    pub headers: Option<BTreeMap<String, Secret>>,
    pub compat: Option<FileCompat>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_body_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    pub level: Option<String>,
    pub requests: Option<bool>,
    pub content: Option<bool>,
    /// `text` or `json`.
    pub format: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileShutdown {
    pub drain_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCompat {
    pub drop_tool_call_content: Option<bool>,
    pub reasoning: Option<ReasoningPolicy>,
    pub images: Option<ImagePolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRoute {
    pub upstream: Option<String>,
    pub model: Option<String>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub vision: Option<bool>,
    pub reasoning: Option<bool>,
    pub apply_patch: Option<bool>,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// A YAML or structure error: a one-line message (key path included) and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Parses the file's text. Empty or comment-only text gives the defaults.
pub fn parse(text: &str) -> Result<FileConfig, ParseError> {
    match serde_yaml_ng::from_str::<Option<FileConfig>>(text) {
        Ok(cfg) => Ok(cfg.unwrap_or_default()),
        Err(e) => Err(ParseError {
            line: e.location().map(|l| l.line()),
            message: humanize(&e.to_string()),
        }),
    }
}

/// Rewrites a serde_yaml_ng message into ours: no `at line … column …` (the line is reported
/// separately), and the key path completed with the offending key
/// (`upstream: unknown field `urll`, expected …` -> ``unknown key `upstream.urll` (expected …)``).
fn humanize(raw: &str) -> String {
    let msg = strip_marks(raw);
    // serde_yaml_ng prefixes the path of the map being read, then ": ".
    let (path, rest) = split_path(&msg);
    let join = |key: &str| match path {
        Some(p) => format!("{p}.{key}"),
        None => key.to_owned(),
    };
    if let Some(tail) = rest.strip_prefix("unknown field `")
        && let Some((key, expected)) = tail.split_once('`')
    {
        let expected = expected.trim_start_matches(',').trim();
        let expected = expected
            .strip_prefix("expected ")
            .map(|e| format!(" (expected {e})"))
            .unwrap_or_else(|| {
                if expected.contains("no fields") {
                    " (this section takes no keys)".to_owned()
                } else {
                    String::new()
                }
            });
        return format!("unknown key `{}`{expected}", join(key));
    }
    if let Some(tail) = rest.strip_prefix("duplicate field `")
        && let Some((key, _)) = tail.split_once('`')
    {
        return format!("duplicate key `{}`", join(key));
    }
    if let Some(tail) = rest.strip_prefix("missing field `")
        && let Some((key, _)) = tail.split_once('`')
    {
        return format!("missing key `{}`", join(key));
    }
    let rest = rest
        .replace("expected u64", "expected a whole number >= 0")
        .replace("expected a string", "expected text");
    let rest = replace_struct_names(&rest);
    match path {
        Some(p) => format!("`{p}`: {rest}"),
        None => rest,
    }
}

/// `expected struct FileListen` -> `expected a mapping` (our type names mean nothing to users).
fn replace_struct_names(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("expected struct ") {
        out.push_str(&rest[..i]);
        out.push_str("expected a mapping");
        let after = &rest[i + "expected struct ".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Removes every ` at line N column M` (and ` at position N`) from a message.
fn strip_marks(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let Some(i) = rest.find(" at ") else {
            out.push_str(rest);
            return out;
        };
        let after = &rest[i + 4..];
        let skip = mark_len(after);
        out.push_str(&rest[..i]);
        if skip == 0 {
            out.push_str(" at ");
        }
        rest = &after[skip..];
    }
}

/// Length of a `line N column M` or `position N` prefix of `s`, else 0.
fn mark_len(s: &str) -> usize {
    fn digits(s: &str) -> usize {
        s.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(r) = s.strip_prefix("line ") {
        let n = digits(r);
        if n > 0
            && let Some(r2) = r[n..].strip_prefix(" column ")
        {
            let m = digits(r2);
            if m > 0 {
                return "line ".len() + n + " column ".len() + m;
            }
        }
    } else if let Some(r) = s.strip_prefix("position ") {
        let n = digits(r);
        if n > 0 {
            return "position ".len() + n;
        }
    }
    0
}

/// Splits `a.b: message` into (Some("a.b"), "message"). Only splits when what follows the first
/// `": "` is one of serde's message openings, so messages containing `: ` stay whole.
fn split_path(msg: &str) -> (Option<&str>, &str) {
    const OPENINGS: &[&str] = &[
        "unknown field",
        "duplicate field",
        "missing field",
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown variant",
    ];
    let mut search = 0;
    while let Some(i) = msg[search..].find(": ") {
        let at = search + i;
        let rest = &msg[at + 2..];
        if OPENINGS.iter().any(|o| rest.starts_with(o)) {
            return (Some(&msg[..at]), rest);
        }
        search = at + 2;
    }
    (None, msg)
}

const FOUND: &str = "\u{0}deepinfra-shim:key-found";

/// The 1-based line of a key path (`["models", "fast", "upstream"]`) in the YAML text, using the
/// real parser (block and flow mappings alike). None when the key is not in the text.
pub fn key_line(text: &str, path: &[&str]) -> Option<usize> {
    if path.is_empty() {
        return None;
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match (Locate { path }).deserialize(de) {
        Ok(()) => None,
        Err(e) if e.to_string().contains(FOUND) => e.location().map(|l| l.line()),
        Err(_) => None,
    }
}

/// Walks the document along `path`; the last key's deserialization fails on purpose with
/// [`FOUND`], and serde_yaml_ng stamps that error with the key's position.
struct Locate<'a> {
    path: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.path.split_first() else {
            return Ok(());
        };
        while let Some(hit) = map.next_key_seed(KeyMatch {
            target: first,
            last: rest.is_empty(),
        })? {
            if hit {
                return map.next_value_seed(Locate { path: rest });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // Tagged values (`!tag x`): skip.
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(variant).map(|_| ())
    }
}

/// Reads one mapping key: Ok(true) when it is the target (and not the last segment), the
/// FOUND error when it is the target and the last segment, Ok(false) otherwise.
struct KeyMatch<'a> {
    target: &'a str,
    last: bool,
}

impl KeyMatch<'_> {
    fn check<E: de::Error>(&self, key: &str) -> Result<bool, E> {
        if key != self.target {
            Ok(false)
        } else if self.last {
            Err(E::custom(FOUND))
        } else {
            Ok(true)
        }
    }
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.check(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_comment_only_files_are_defaults() {
        assert_eq!(parse("").unwrap(), FileConfig::default());
        assert_eq!(
            parse("# nothing here\n\n  # at all\n").unwrap(),
            FileConfig::default()
        );
        assert_eq!(parse("---\n").unwrap(), FileConfig::default());
    }

    #[test]
    fn empty_sections_are_accepted() {
        let c = parse("listen:\nupstream:\nmodels:\n").unwrap();
        assert_eq!(c, FileConfig::default());
    }

    #[test]
    fn full_file_parses() {
        let text = r#"
listen:
  host: 127.0.0.1
  port: 8797
  client_keys_env: null
  allow_unauthenticated: false
upstream:
  url: https://api.deepinfra.com/v1/openai
  api_key_env: DEEPINFRA_TOKEN
  timeout_ms: 120000
  heartbeat_ms: 15000
  headers: { X-Title: codex }
limits:   { max_body_bytes: 10485760 }
log:      { level: info, requests: false, content: false, format: text }
shutdown: { drain_timeout_ms: 30000 }
compat:
  drop_tool_call_content: false
  reasoning: auto
  images: keep
upstreams:
  local: { url: http://127.0.0.1:8000/v1, api_key_env: LOCAL_KEY, compat: { images: placeholder } }
models:
  fast: { upstream: local, model: Qwen/Qwen3-Coder-30B-A3B-Instruct, context_window: 262144 }
  "moonshotai/*": { upstream: default }
  plain:
"#;
        let c = parse(text).unwrap();
        assert_eq!(c.listen.as_ref().unwrap().port, Some(8797));
        let up = c.upstream.as_ref().unwrap();
        assert_eq!(
            up.headers.as_ref().unwrap()["X-Title"],
            Secret::new("codex")
        );
        let local = c.upstreams.as_ref().unwrap()["local"].as_ref().unwrap();
        assert_eq!(
            local.compat.as_ref().unwrap().images,
            Some(ImagePolicy::Placeholder)
        );
        let models = c.models.as_ref().unwrap();
        assert_eq!(
            models["fast"].as_ref().unwrap().context_window,
            Some(262144)
        );
        assert!(models["plain"].is_none());
        assert_eq!(c.compat.unwrap().reasoning, Some(ReasoningPolicy::Auto));
    }

    #[test]
    fn unknown_nested_key_names_full_path_and_line() {
        let e = parse("upstream:\n  url: https://x\n  urll: y\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            e.message
                .starts_with("unknown key `upstream.urll` (expected one of `url`"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("column"), "{}", e.message);

        let e = parse("# c\nmodels:\n  fast:\n    upstream: default\n    contex_window: 5\n")
            .unwrap_err();
        assert_eq!(e.line, Some(5));
        assert!(
            e.message
                .starts_with("unknown key `models.fast.contex_window` (expected one of"),
            "{}",
            e.message
        );

        let e = parse("models:\n  fast: { upstream: a, contex_window: 5 }\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("`models.fast.contex_window`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unknown_top_level_key_has_its_line() {
        let e = parse("listen: {}\n\nlisen:\n  port: 1\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            e.message
                .starts_with("unknown key `lisen` (expected one of"),
            "{}",
            e.message
        );
        // `control_socket` is a flag/env setting only, not a file key.
        let e = parse("control_socket: /tmp/x\n").unwrap_err();
        assert!(
            e.message.contains("unknown key `control_socket`"),
            "{}",
            e.message
        );
        // `upstream:` has no `compat` (that is the top-level `compat:`).
        let e = parse("upstream:\n  compat: {}\n").unwrap_err();
        assert!(e.message.contains("`upstream.compat`"), "{}", e.message);
    }

    #[test]
    fn wrong_types_name_the_key() {
        let e = parse("upstream:\n  timeout_ms: abc\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.starts_with("`upstream.timeout_ms`: invalid type"),
            "{}",
            e.message
        );
        let e = parse("listen: [1]\n").unwrap_err();
        assert!(e.message.contains("expected a mapping"), "{}", e.message);
        let e = parse("compat: { reasoning: sometimes }\n").unwrap_err();
        assert!(e.message.contains("`compat.reasoning`"), "{}", e.message);
        assert!(e.message.contains("`replay`"), "{}", e.message);
        let e = parse("log:\n  requests: maybe\n").unwrap_err();
        assert!(e.message.contains("`log.requests`"), "{}", e.message);
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn duplicate_and_syntax_errors() {
        let e = parse("listen:\n  port: 1\n  port: 2\n").unwrap_err();
        assert!(
            e.message.contains("duplicate key `listen.port`"),
            "{}",
            e.message
        );
        let e = parse("listen: {\n").unwrap_err();
        assert!(e.line.is_some());
        assert!(!e.message.contains(" column "), "{}", e.message);
    }

    #[test]
    fn key_line_finds_block_flow_and_quoted_keys() {
        let text = "# top\nlisten:\n  host: 0.0.0.0\n  port: 80\nupstream:\n  url: x\n  headers:\n    X-A: b\nmodels:\n  fast: { upstream: local, model: m }\n  \"moonshotai/*\": { upstream: nope }\n  Qwen/Qwen2.5.1:\n    upstream: other\n";
        assert_eq!(key_line(text, &["listen"]), Some(2));
        assert_eq!(key_line(text, &["listen", "port"]), Some(4));
        assert_eq!(key_line(text, &["upstream", "url"]), Some(6));
        assert_eq!(key_line(text, &["upstream", "headers", "X-A"]), Some(8));
        assert_eq!(key_line(text, &["models", "fast", "upstream"]), Some(10));
        assert_eq!(
            key_line(text, &["models", "moonshotai/*", "upstream"]),
            Some(11)
        );
        assert_eq!(
            key_line(text, &["models", "Qwen/Qwen2.5.1", "upstream"]),
            Some(13)
        );
        assert_eq!(key_line(text, &["models", "slow"]), None);
        assert_eq!(key_line(text, &["log", "level"]), None);
        assert_eq!(key_line("", &["listen"]), None);
    }

    #[test]
    fn humanize_keeps_other_messages() {
        assert_eq!(
            strip_marks("bad at line 3 column 4, while x at line 1 column 2"),
            "bad, while x"
        );
        assert_eq!(strip_marks("look at this"), "look at this");
    }
}
