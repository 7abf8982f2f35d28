//! Where a request goes: the upstream its model routes to, the model name sent there, the
//! translation options (the compat policy is [`TranslateOptions::for_route`]), and the
//! credential sent with it.
//!
//! Credential rules: the default upstream gets the daemon's own token when it has one,
//! otherwise the client's `Authorization` header (Codex sends its `env_key` token), as the
//! original shim did. A named upstream only ever gets its own variable's token: a client's
//! header is never sent to a provider it was not meant for. When client keys are configured,
//! the client's header is a key for *us* and is never forwarded (docs/configuration.md,
//! "HTTP endpoints and credentials").
//!
//! When the provider refuses the token, [`explain_refusal`] says which one it was and where
//! it comes from, since the two sources are fixed in different places.

use std::sync::Arc;

use super::auth::Caller;
use super::error::ApiError;
use crate::config::{Config, Upstream};
use crate::translate::refusal::{ProviderRefusal, RefusalKind};
use crate::translate::{RouteFacts, TranslateOptions};

/// Where the token sent upstream came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The daemon's own, from the upstream's `api_key_env` variable.
    Daemon,
    /// The client's `Authorization` header, forwarded (Codex's `env_key` token).
    Client,
    /// None was sent.
    None,
}

/// One `/v1/responses` request's destination, borrowed from the config snapshot (and the
/// caller) the request holds.
pub struct Destination<'a> {
    pub upstream: &'a Arc<Upstream>,
    /// The token to send, if any.
    pub bearer: Option<&'a str>,
    /// Where `bearer` came from.
    pub token_source: TokenSource,
    pub options: TranslateOptions,
}

/// Resolves `model` (as Codex sent it) to its destination, or the 401 that names the token
/// variable to set.
pub fn resolve<'a>(
    cfg: &'a Config,
    model: &str,
    caller: &'a Caller,
) -> Result<Destination<'a>, ApiError> {
    let resolved = cfg.resolve(model);
    let up = resolved.upstream;
    let bearer = bearer_for(up, caller)?;
    let route = resolved.route;
    let options = TranslateOptions::for_route(RouteFacts {
        upstream_model: resolved.upstream_model,
        upstream_name: &up.name,
        upstream_url: &up.url,
        drop_tool_call_content: up.compat.drop_tool_call_content,
        reasoning: up.compat.reasoning,
        images: up.compat.images,
        vision: route.and_then(|r| r.vision),
        max_output_tokens: route.and_then(|r| r.max_output_tokens),
    });
    Ok(Destination {
        upstream: up,
        bearer,
        token_source: token_source(up, bearer),
        options,
    })
}

/// Where the token [`bearer_for`] chose for `up` came from.
pub fn token_source(up: &Upstream, bearer: Option<&str>) -> TokenSource {
    match (&up.token, bearer) {
        (Some(_), _) => TokenSource::Daemon,
        (None, Some(_)) => TokenSource::Client,
        (None, None) => TokenSource::None,
    }
}

/// Adds to a refusal of the credentials which token was sent and where to fix it, for the
/// error Codex shows and the log line. Other refusals are left as they are.
pub fn explain_refusal(refusal: &mut ProviderRefusal, up: &Upstream, source: TokenSource) {
    if refusal.kind != RefusalKind::Auth {
        return;
    }
    let var = &up.api_key_env;
    let note = match source {
        TokenSource::Daemon => format!(
            "the token sent was the daemon's own {var}, from its environment (the installed \
             service reads it from ~/.config/deepinfra-shim/env); correct it there and restart \
             the daemon"
        ),
        TokenSource::Client => format!(
            "the token sent was the request's Authorization header (Codex sends the variable \
             named by env_key in its config), because the daemon has no {var} of its own; \
             correct that variable where Codex runs, or give the daemon {var}"
        ),
        TokenSource::None => format!(
            "no token was sent: {var} is not set in the daemon and the request carried none"
        ),
    };
    refusal.message = format!("{} ({note})", refusal.message);
}

/// The upstream for `model` and the token to send it (the passthrough: no translation).
pub fn upstream_for<'a>(
    cfg: &'a Config,
    model: &str,
    caller: &'a Caller,
) -> Result<(&'a Arc<Upstream>, Option<&'a str>), ApiError> {
    let up = cfg.resolve(model).upstream;
    Ok((up, bearer_for(up, caller)?))
}

/// The token to send to `up`, or the 401 that names the variable to set.
pub fn bearer_for<'a>(up: &'a Upstream, caller: &'a Caller) -> Result<Option<&'a str>, ApiError> {
    if let Some(t) = &up.token {
        return Ok(Some(t.expose()));
    }
    if up.is_default() && !caller.keys_required {
        if let Some(t) = caller.forwardable_token.as_deref() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cli::Cli;
    use crate::config::load::Env;

    fn upstream(pairs: &[(&str, &str)]) -> Arc<Upstream> {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let mut env = vec![("HOME", home), ("XDG_RUNTIME_DIR", home)];
        env.extend_from_slice(pairs);
        let c = crate::config::load(&Cli::default(), &Env::from_pairs(env)).unwrap();
        Arc::clone(&c.default_upstream)
    }

    fn not_authenticated() -> ProviderRefusal {
        crate::translate::refusal::classify(
            401,
            br#"{"error":{"message":"Not authenticated","type":"invalid_request_error","param":null,"code":null}}"#,
            None,
            None,
        )
    }

    #[test]
    fn a_refused_token_names_its_source() {
        let own = upstream(&[("DEEPINFRA_TOKEN", "sk-daemon-token-1234")]);
        assert_eq!(
            token_source(&own, Some("sk-daemon-token-1234")),
            TokenSource::Daemon
        );
        let mut r = not_authenticated();
        explain_refusal(&mut r, &own, TokenSource::Daemon);
        assert!(
            r.message.starts_with(
                "Not authenticated (the token sent was the daemon's own DEEPINFRA_TOKEN"
            ),
            "{}",
            r.message
        );
        assert!(
            r.message.contains("~/.config/deepinfra-shim/env"),
            "{}",
            r.message
        );
        let body = String::from_utf8(r.openai_body()).unwrap();
        assert!(body.contains("upstream returned HTTP 401: Not authenticated (the token sent was the daemon's own DEEPINFRA_TOKEN"), "{body}");

        let none = upstream(&[]);
        assert_eq!(
            token_source(&none, Some("sk-from-codex")),
            TokenSource::Client
        );
        let mut r = not_authenticated();
        explain_refusal(&mut r, &none, TokenSource::Client);
        assert!(
            r.message.contains("the request's Authorization header"),
            "{}",
            r.message
        );
        assert!(r.message.contains("env_key"), "{}", r.message);
        assert!(
            r.message.contains("no DEEPINFRA_TOKEN of its own"),
            "{}",
            r.message
        );
    }

    #[test]
    fn other_refusals_are_left_alone() {
        let up = upstream(&[]);
        let mut r = crate::translate::refusal::classify(
            429,
            br#"{"error":{"message":"Model busy, retry later"}}"#,
            None,
            None,
        );
        let before = r.clone();
        explain_refusal(&mut r, &up, TokenSource::Client);
        assert_eq!(r, before);
    }
}
