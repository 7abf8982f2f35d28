//! Where a request goes: the upstream its model routes to, the model name sent there, the
//! translation options (the compat policy is [`TranslateOptions::for_route`]), and the
//! credential sent with it.
//!
//! Credential rules: the default upstream gets the daemon's own token when it has one,
//! otherwise the client's `Authorization` header (Codex sends its `env_key` token), as the
//! original shim did. A named upstream only ever gets its own variable's token: a client's
//! header is never sent to a provider it was not meant for. When client keys are configured,
//! the client's header is a key for *us* and is never forwarded (README, "HTTP endpoints").

use std::sync::Arc;

use super::auth::Caller;
use super::error::ApiError;
use crate::config::{Config, Upstream};
use crate::translate::{RouteFacts, TranslateOptions};

/// One `/v1/responses` request's destination, borrowed from the config snapshot (and the
/// caller) the request holds.
pub struct Destination<'a> {
    pub upstream: &'a Arc<Upstream>,
    /// The token to send, if any.
    pub bearer: Option<&'a str>,
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
        options,
    })
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
