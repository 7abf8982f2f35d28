//! Who may use the daemon (client keys) and which credential goes upstream.
//!
//! Rules (interface.md): the default upstream gets the daemon's own token when it has one,
//! otherwise the client's `Authorization` header (Codex sends its `env_key` token), as the
//! original shim did. A named upstream only ever gets its own variable's token: a client's
//! header is never sent to a provider it was not meant for. When client keys are configured,
//! the client's header is a key for *us* and is never forwarded.

use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;

use super::error::ApiError;
use crate::config::{Config, Upstream};

/// The bearer value of an `Authorization: Bearer …` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// Checks the client key when `listen.client_keys_env` is set. `None` = allowed.
pub fn check_client_key(cfg: &Config, headers: &HeaderMap) -> Option<ApiError> {
    let var = cfg.listen.client_keys_env.as_deref()?;
    let presented = bearer(headers);
    let ok = presented.is_some_and(|p| {
        // Check every key, always, so timing does not tell which (or whether any) matched.
        cfg.listen.client_keys.iter().fold(false, |acc, k| {
            acc | constant_time_eq(p.as_bytes(), k.expose().as_bytes())
        })
    });
    if ok {
        None
    } else if cfg.listen.client_keys.is_empty() {
        Some(ApiError::new(
            hyper::StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            format!("client keys are required but ${var} is empty in the daemon's environment"),
        ))
    } else {
        Some(ApiError::new(
            hyper::StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            "a valid client key is required: send one of the keys in listen.client_keys_env as Authorization: Bearer <key>",
        ))
    }
}

/// The token to send to `up`, or the 401 that names the variable to set.
pub fn upstream_bearer<'a>(
    cfg: &Config,
    up: &'a Upstream,
    client_headers: &'a HeaderMap,
) -> Result<Option<&'a str>, ApiError> {
    if let Some(t) = &up.token {
        return Ok(Some(t.expose()));
    }
    let may_use_client_header = up.is_default() && cfg.listen.client_keys_env.is_none();
    if may_use_client_header {
        if let Some(t) = bearer(client_headers) {
            return Ok(Some(t));
        }
        return Err(ApiError::unauthorized(format!(
            "no provider token: set {} in the daemon's environment (or in Codex's env_key, which Codex sends as Authorization)",
            up.api_key_env
        )));
    }
    Err(ApiError::unauthorized(format!(
        "no provider token for upstream '{}': set {} in the daemon's environment",
        up.name, up.api_key_env
    )))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff: usize = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_matches_only_equal_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_parses_case_insensitive_scheme() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, "bearer  tok ".parse().unwrap());
        assert_eq!(bearer(&h), Some("tok"));
        h.insert(AUTHORIZATION, "Basic x".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
