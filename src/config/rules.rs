//! The rules for single values: ports, durations, names, hosts, URLs, headers, origins,
//! route patterns. Pure functions from text to a checked value or a one-line reason; the
//! reason never repeats a value that may be a secret (header values, URL credentials).
//!
//! [`super::kinds`] applies them to flag, variable and YAML values alike, so a port is checked
//! the same way whether it came from `--port`, `DEEPINFRA_CODEX_SHIM_PORT` or `listen.port`.

use std::net::{IpAddr, Ipv6Addr};

use super::model::{LogFormat, Secret, is_loopback_host};

/// The accepted `log.level` values, quietest first.
pub const LOG_LEVELS: &[&str] = &["silent", "error", "warn", "info", "debug", "trace"];

/// Client keys: comma-separated, trimmed, empties dropped.
pub fn split_keys(value: &str) -> Vec<Secret> {
    value
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(Secret::new)
        .collect()
}

pub fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("expected a number 0-65535, got '{s}'"))
}

/// Milliseconds, > 0.
pub fn parse_ms(s: &str) -> Result<u64, String> {
    parse_positive(s, "milliseconds")
}

pub fn parse_ms_or_zero(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("expected a whole number of milliseconds >= 0, got '{s}'"))
}

pub fn parse_positive(s: &str, unit: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number of {unit} > 0, got '{s}'")),
    }
}

pub fn parse_log_level(s: &str) -> Result<String, String> {
    let l = s.trim().to_ascii_lowercase();
    if LOG_LEVELS.contains(&l.as_str()) {
        Ok(l)
    } else {
        Err(format!(
            "expected one of {}, got '{s}'",
            LOG_LEVELS.join(", ")
        ))
    }
}

pub fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("expected text or json, got '{s}'")),
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn check_env_name(s: &str) -> Result<String, String> {
    if is_env_name(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "expected an environment variable name (letters, digits and _, not starting with a \
             digit), got '{s}'"
        ))
    }
}

pub fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A listen host: an IP address (IPv6 optionally in brackets) or a host name.
pub fn check_host(s: &str) -> Result<String, String> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if inner.parse::<IpAddr>().is_ok() || (inner == s && is_hostname(s)) {
        Ok(s.to_owned())
    } else {
        Err(format!("expected an IP address or host name, got '{s}'"))
    }
}

/// An upstream base URL: `http(s)://host[:port][/path]`, no credentials, query or fragment.
/// Returns it with trailing `/` stripped.
pub fn check_url(s: &str) -> Result<String, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &t[8..]
    } else if lower.starts_with("http://") {
        &t[7..]
    } else {
        return Err(format!("expected an http:// or https:// URL, got '{s}'"));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        // Do not echo the value: it holds a password.
        return Err(
            "a URL must not contain credentials (user:password@); put the token in the \
             api_key_env variable"
                .to_owned(),
        );
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("a URL must not contain spaces, got '{s}'"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!(
            "a base URL must not have a query or fragment (requests go to URL/chat/completions), \
             got '{s}'"
        ));
    }
    let bad = || format!("expected an http:// or https:// URL with a host, got '{s}'");
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (ip, after) = r.split_once(']').ok_or_else(bad)?;
        ip.parse::<Ipv6Addr>().map_err(|_| bad())?;
        match after {
            "" => (ip, None),
            p => (ip, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !is_hostname(host) && host.parse::<Ipv6Addr>().is_err() {
        return Err(bad());
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(format!(
            "the URL's port must be a number 0-65535, got '{s}'"
        ));
    }
    Ok(t.trim_end_matches('/').to_owned())
}

/// Headers the HTTP client sets itself (framing, routing): refused in `headers:`.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

/// An extra header: an RFC 9110 token name and a visible-ASCII value. The value is never
/// echoed (it may be a secret).
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(format!("'{name}' is not a valid HTTP header name"));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("header {name} is set by the HTTP client itself"));
    }
    if !value.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
        return Err(format!(
            "the value of header {name} is not a valid HTTP header value (visible ASCII only, \
             no line breaks)"
        ));
    }
    Ok(())
}

/// A `models:` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Exact,
    /// `prefix/*` or `prefix*`: the prefix without the `*` (empty: every model).
    Prefix(String),
}

pub fn parse_pattern(p: &str) -> Result<Pattern, String> {
    if p.trim().is_empty() {
        return Err("a model name must not be empty".to_owned());
    }
    match p.matches('*').count() {
        0 => Ok(Pattern::Exact),
        1 if p.ends_with('*') => Ok(Pattern::Prefix(p[..p.len() - 1].to_owned())),
        _ => Err(format!(
            "'{p}': `*` may only end a pattern (`prefix/*` or `prefix*`); other wildcards are \
             not supported"
        )),
    }
}

/// The host of an `http://` URL when it is not loopback: sending a token there puts it on
/// the network in cleartext. None for `https://` and for loopback hosts.
pub fn cleartext_remote_host(url: &str) -> Option<&str> {
    let scheme_len = "http://".len();
    if url.len() < scheme_len || !url[..scheme_len].eq_ignore_ascii_case("http://") {
        return None;
    }
    let rest = &url[scheme_len..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = match authority.strip_prefix('[') {
        Some(r) => r.split(']').next().unwrap_or(r),
        None => authority.split(':').next().unwrap_or(authority),
    };
    (!is_loopback_host(host)).then_some(host)
}

/// One `listen.allowed_hosts` entry: a `Host` header value, `name` or `name:port` (IPv6 in
/// brackets). Kept as written, lowercased (host names ignore case).
pub fn check_allowed_host(s: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "expected a host name or IP, optionally with :port (a Host header value), got '{s}'"
        )
    };
    let (host_ok, port) = match s.strip_prefix('[') {
        Some(r) => {
            let (ip, after) = r.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                a => Some(a.strip_prefix(':').ok_or_else(bad)?),
            };
            (ip.parse::<Ipv6Addr>().is_ok(), port)
        }
        None => match s.split_once(':') {
            Some((h, p)) => (is_hostname(h), Some(p)),
            None => (is_hostname(s), None),
        },
    };
    if !host_ok || port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(bad());
    }
    Ok(s.to_ascii_lowercase())
}

/// One `listen.allowed_origins` entry: `scheme://host[:port]` exactly as a browser sends it
/// in `Origin` (no path, no trailing `/`), lowercased. `*` and `null` are refused: each
/// would let any page in.
pub fn check_origin(s: &str) -> Result<String, String> {
    if s == "*" || s.eq_ignore_ascii_case("null") {
        return Err(format!(
            "'{s}' would let any web page use the daemon; list each origin as scheme://host[:port]"
        ));
    }
    let bad = || format!("expected an origin scheme://host[:port] (no path), got '{s}'");
    let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(bad());
    }
    check_allowed_host(rest).map_err(|_| bad())?;
    Ok(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
