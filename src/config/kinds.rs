//! Value kinds: how a key's value is read from a flag or variable (text) and from the YAML
//! file (a typed YAML value), and how it is shown in reports ([`Shown`]).
//!
//! A kind checks the YAML type first (a number where a number belongs: `timeout_ms: "abc"`
//! is a type error), then applies the same rule from [`super::rules`] that the flag or
//! variable goes through, so every source gets the same message. Problems are returned, never
//! thrown, so one bad value does not hide the next.

use std::path::PathBuf;
use std::time::Duration;

use serde_yaml_ng::Value;

use super::cli::env_bool;
use super::model::{LogFormat, Secret};
use super::paths::check_socket_path;
use super::rules;
use crate::translate::{ImagePolicy, ReasoningPolicy};

/// What is wrong with one value: one or more messages, each optionally about a sub-key of it
/// (a header name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad(pub Vec<(Option<String>, String)>);

impl From<String> for Bad {
    fn from(message: String) -> Bad {
        Bad(vec![(None, message)])
    }
}

/// The rule for a value given as text (a flag or environment variable).
pub type TextRule<T> = fn(&str) -> Result<T, String>;

/// How one key's value is written and checked.
pub struct Kind<T: 'static> {
    /// The type as the docs show it (`port`, `milliseconds`, `list of origins`).
    pub ty: &'static str,
    /// From a flag or environment variable; None for kinds only the file can set.
    pub text: Option<TextRule<T>>,
    /// From the YAML file (never called with null: null means "not set").
    pub yaml: fn(&Value) -> Result<T, Bad>,
}

/// A value as reports show it. Secrets compare by value but only ever print as `<set>` /
/// `<unset>`; headers print their names only.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Plain(String),
    Secret(Option<Secret>),
    Headers(Vec<(String, Secret)>),
}

impl Shown {
    /// The text users see.
    pub fn text(&self) -> String {
        match self {
            Shown::Plain(s) => s.clone(),
            Shown::Secret(Some(_)) => "<set>".to_owned(),
            Shown::Secret(None) => "<unset>".to_owned(),
            Shown::Headers(h) if h.is_empty() => "{}".to_owned(),
            Shown::Headers(h) => {
                let names: Vec<String> = h.iter().map(|(n, _)| format!("{n}: <set>")).collect();
                format!("{{{}}}", names.join(", "))
            }
        }
    }
}

/// Conversion of a runtime value into what reports show.
pub trait Show {
    fn shown(&self) -> Shown;
}

macro_rules! show_display {
    ($($t:ty),*) => {$(
        impl Show for $t {
            fn shown(&self) -> Shown {
                Shown::Plain(self.to_string())
            }
        }
    )*};
}
show_display!(String, u16, u64, usize, bool);

impl Show for Duration {
    fn shown(&self) -> Shown {
        Shown::Plain(self.as_millis().to_string())
    }
}

impl<T: Show> Show for Option<T> {
    fn shown(&self) -> Shown {
        match self {
            Some(v) => v.shown(),
            None => Shown::Plain("none".to_owned()),
        }
    }
}

impl Show for Vec<String> {
    fn shown(&self) -> Shown {
        Shown::Plain(format!("[{}]", self.join(", ")))
    }
}

impl Show for Vec<(String, Secret)> {
    fn shown(&self) -> Shown {
        Shown::Headers(self.clone())
    }
}

impl Show for Option<Secret> {
    fn shown(&self) -> Shown {
        Shown::Secret(self.clone())
    }
}

impl Show for PathBuf {
    fn shown(&self) -> Shown {
        Shown::Plain(self.display().to_string())
    }
}

impl Show for LogFormat {
    fn shown(&self) -> Shown {
        Shown::Plain(self.name().to_owned())
    }
}

impl Show for ReasoningPolicy {
    fn shown(&self) -> Shown {
        Shown::Plain(reasoning_name(*self).to_owned())
    }
}

impl Show for ImagePolicy {
    fn shown(&self) -> Shown {
        Shown::Plain(images_name(*self).to_owned())
    }
}

fn reasoning_name(p: ReasoningPolicy) -> &'static str {
    match p {
        ReasoningPolicy::Auto => "auto",
        ReasoningPolicy::Replay => "replay",
        ReasoningPolicy::Drop => "drop",
    }
}

fn images_name(p: ImagePolicy) -> &'static str {
    match p {
        ImagePolicy::Keep => "keep",
        ImagePolicy::Placeholder => "placeholder",
    }
}

/// A YAML value in a message. Text is quoted; containers are named, not printed.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("text '{s}'"),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// A YAML number as text, for the same rule a flag goes through.
fn number(v: &Value, what: &str) -> Result<String, Bad> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) if s.trim().parse::<f64>().is_ok() => {
            Err(format!("expected {what}, got text '{s}' (write the number without quotes)").into())
        }
        other => Err(format!("expected {what}, got {}", describe(other)).into()),
    }
}

fn text<'v>(v: &'v Value, what: &str) -> Result<&'v str, Bad> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(format!("expected {what}, got {}", describe(other)).into()),
    }
}

fn boolean(v: &Value) -> Result<bool, Bad> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("expected true or false, got {}", describe(other)).into()),
    }
}

fn list(
    v: &Value,
    what: &str,
    rule: fn(&str) -> Result<String, String>,
) -> Result<Vec<String>, Bad> {
    let Value::Sequence(items) = v else {
        return Err(format!("expected a list of {what}, got {}", describe(v)).into());
    };
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for item in items {
        match text(item, what)
            .map_err(|b| b.0)
            .and_then(|s| rule(s).map_err(|m| vec![(None, m)]))
        {
            Ok(s) if !out.contains(&s) => out.push(s),
            Ok(_) => {}
            Err(mut b) => bad.append(&mut b),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(Bad(bad))
    }
}

fn choice<T: Copy>(s: &str, options: &[(&str, T)]) -> Result<T, String> {
    let l = s.trim().to_ascii_lowercase();
    options
        .iter()
        .find(|(name, _)| *name == l)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            format!("expected one of {}, got '{s}'", names.join(", "))
        })
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn positive_bytes(s: &str) -> Result<usize, String> {
    rules::parse_positive(s, "bytes").map(to_usize)
}

fn positive_connections(s: &str) -> Result<usize, String> {
    rules::parse_positive(s, "connections").map(to_usize)
}

fn positive_count(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a number > 0, got '{s}'")),
    }
}

fn millis(s: &str) -> Result<Duration, String> {
    rules::parse_ms(s).map(Duration::from_millis)
}

fn millis_or_zero(s: &str) -> Result<Duration, String> {
    rules::parse_ms_or_zero(s).map(Duration::from_millis)
}

fn log_format(s: &str) -> Result<LogFormat, String> {
    rules::parse_log_format(s)
}

fn reasoning(s: &str) -> Result<ReasoningPolicy, String> {
    use ReasoningPolicy::*;
    choice(s, &[("auto", Auto), ("replay", Replay), ("drop", Drop)])
}

fn images(s: &str) -> Result<ImagePolicy, String> {
    choice(
        s,
        &[
            ("keep", ImagePolicy::Keep),
            ("placeholder", ImagePolicy::Placeholder),
        ],
    )
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(s.to_owned())
    }
}

/// `name: value` pairs; values are secrets, so no message repeats one.
fn headers(v: &Value) -> Result<Vec<(String, Secret)>, Bad> {
    let Value::Mapping(map) = v else {
        return Err(format!(
            "expected a mapping of header names to values, got {}",
            describe(v)
        )
        .into());
    };
    let mut out: Vec<(String, Secret)> = Vec::new();
    let mut bad = Vec::new();
    for (k, value) in map {
        let Some(name) = k.as_str() else {
            bad.push((
                None,
                format!("a header name must be text, got {}", describe(k)),
            ));
            continue;
        };
        let at = Some(name.to_owned());
        let Some(value) = value.as_str() else {
            bad.push((
                at,
                format!("the value of header {name} must be text (quote it)"),
            ));
            continue;
        };
        if let Err(m) = rules::check_header(name, value) {
            bad.push((at, m));
        } else if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            bad.push((at, "header given twice (names ignore case)".to_owned()));
        } else {
            out.push((name.to_owned(), Secret::new(value)));
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(Bad(bad))
    }
}

pub const HOST: Kind<String> = Kind {
    ty: "host",
    text: Some(rules::check_host),
    yaml: |v| Ok(rules::check_host(text(v, "an IP address or host name")?)?),
};

pub const PORT: Kind<u16> = Kind {
    ty: "port (0-65535)",
    text: Some(rules::parse_port),
    yaml: |v| Ok(rules::parse_port(&number(v, "a number 0-65535")?)?),
};

pub const ENV_NAME: Kind<String> = Kind {
    ty: "variable name",
    text: Some(rules::check_env_name),
    yaml: |v| {
        Ok(rules::check_env_name(text(
            v,
            "an environment variable name",
        )?)?)
    },
};

pub const OPT_ENV_NAME: Kind<Option<String>> = Kind {
    ty: "variable name",
    text: Some(|s| rules::check_env_name(s).map(Some)),
    yaml: |v| match v {
        Value::Null => Ok(None),
        v => Ok(Some(rules::check_env_name(text(
            v,
            "an environment variable name",
        )?)?)),
    },
};

pub const BOOL: Kind<bool> = Kind {
    ty: "bool",
    text: Some(|s| Ok(env_bool(s))),
    yaml: boolean,
};

pub const OPT_BOOL: Kind<Option<bool>> = Kind {
    ty: "bool",
    text: Some(|s| Ok(Some(env_bool(s)))),
    yaml: |v| boolean(v).map(Some),
};

pub const HOST_LIST: Kind<Vec<String>> = Kind {
    ty: "list of host[:port]",
    text: None,
    yaml: |v| list(v, "host names", rules::check_allowed_host),
};

pub const ORIGIN_LIST: Kind<Vec<String>> = Kind {
    ty: "list of origins",
    text: None,
    yaml: |v| list(v, "origins", rules::check_origin),
};

pub const URL: Kind<String> = Kind {
    ty: "URL",
    text: Some(rules::check_url),
    yaml: |v| Ok(rules::check_url(text(v, "an http:// or https:// URL")?)?),
};

pub const MILLIS: Kind<Duration> = Kind {
    ty: "milliseconds",
    text: Some(millis),
    yaml: |v| Ok(millis(&number(v, "a whole number of milliseconds > 0")?)?),
};

pub const MILLIS_OR_ZERO: Kind<Duration> = Kind {
    ty: "milliseconds",
    text: Some(millis_or_zero),
    yaml: |v| {
        Ok(millis_or_zero(&number(
            v,
            "a whole number of milliseconds >= 0",
        )?)?)
    },
};

pub const HEADERS: Kind<Vec<(String, Secret)>> = Kind {
    ty: "map of header: value",
    text: None,
    yaml: headers,
};

pub const BYTES: Kind<usize> = Kind {
    ty: "bytes",
    text: Some(positive_bytes),
    yaml: |v| Ok(positive_bytes(&number(v, "a whole number of bytes > 0")?)?),
};

pub const CONNECTIONS: Kind<usize> = Kind {
    ty: "count",
    text: Some(positive_connections),
    yaml: |v| {
        Ok(positive_connections(&number(
            v,
            "a whole number of connections > 0",
        )?)?)
    },
};

pub const TOKENS: Kind<Option<u64>> = Kind {
    ty: "tokens",
    text: Some(|s| positive_count(s).map(Some)),
    yaml: |v| Ok(Some(positive_count(&number(v, "a number > 0")?)?)),
};

pub const LOG_LEVEL: Kind<String> = Kind {
    ty: "silent | error | warn | info | debug | trace",
    text: Some(rules::parse_log_level),
    yaml: |v| Ok(rules::parse_log_level(text(v, "a log level")?)?),
};

pub const LOG_FORMAT: Kind<LogFormat> = Kind {
    ty: "text | json",
    text: Some(log_format),
    yaml: |v| Ok(log_format(text(v, "text or json")?)?),
};

pub const REASONING: Kind<ReasoningPolicy> = Kind {
    ty: "auto | replay | drop",
    text: Some(reasoning),
    yaml: |v| Ok(reasoning(text(v, "auto, replay or drop")?)?),
};

pub const IMAGES: Kind<ImagePolicy> = Kind {
    ty: "keep | placeholder",
    text: Some(images),
    yaml: |v| Ok(images(text(v, "keep or placeholder")?)?),
};

pub const SOCKET_PATH: Kind<PathBuf> = Kind {
    ty: "path",
    text: Some(check_socket_path),
    yaml: |v| Ok(check_socket_path(text(v, "a socket path")?)?),
};

/// Text that must not be blank (a route's upstream name, a model name).
pub const NAME: Kind<String> = Kind {
    ty: "name",
    text: Some(non_empty),
    yaml: |v| Ok(non_empty(text(v, "text")?)?),
};

pub const OPT_NAME: Kind<Option<String>> = Kind {
    ty: "name",
    text: Some(|s| non_empty(s).map(Some)),
    yaml: |v| Ok(Some(non_empty(text(v, "text")?)?)),
};

#[cfg(test)]
mod tests;
