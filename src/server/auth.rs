//! Who may use the daemon: the client-key check every request passes before its handler
//! runs, and the [`Caller`] it leaves behind (the client's own token, when it may be
//! forwarded). Which credential then goes upstream is decided with the route, in
//! [`super::destination`].
//!
//! Only `cfg.listen` is read: the keys the listener started with. A reload copies the running
//! `listen` into the configuration it swaps in (`keep_running` in src/config/diff.rs), so a
//! file that drops the keys cannot switch the check off before a restart.

use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;

use super::error::ApiError;
use crate::config::Config;

/// What the admission check learnt about the client.
#[derive(Debug, Default)]
pub struct Caller {
    /// The client's `Authorization: Bearer` token when no client keys are configured: then
    /// it is a provider token (Codex sends its `env_key`), which the default upstream may
    /// receive. With client keys it is a key for us and is never kept here.
    pub forwardable_token: Option<String>,
    /// `listen.client_keys_env` is set.
    pub keys_required: bool,
}

/// The bearer value of an `Authorization: Bearer …` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// Checks the client key when `listen.client_keys_env` is set, and says who is calling.
pub fn admit(cfg: &Config, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(var) = cfg.listen.client_keys_env.as_deref() else {
        return Ok(Caller {
            forwardable_token: bearer(headers).map(str::to_owned),
            keys_required: false,
        });
    };
    let presented = bearer(headers);
    let ok = presented.is_some_and(|p| {
        // Check every key, always, so timing does not tell which (or whether any) matched.
        cfg.listen.client_keys.iter().fold(false, |acc, k| {
            acc | constant_time_eq(p.as_bytes(), k.expose().as_bytes())
        })
    });
    if ok {
        Ok(Caller {
            forwardable_token: None,
            keys_required: true,
        })
    } else if cfg.listen.client_keys.is_empty() {
        Err(ApiError::new(
            hyper::StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            format!("client keys are required but ${var} is empty in the daemon's environment"),
        ))
    } else {
        Err(ApiError::new(
            hyper::StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
            "a valid client key is required: send one of the keys in listen.client_keys_env as Authorization: Bearer <key>",
        ))
    }
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
