//! The per-request translation settings, and the compat policy that derives them from where
//! the request goes ([`TranslateOptions::for_route`]). They are built from the config
//! snapshot the request started with, so the translation never reads global state.

use serde::{Deserialize, Serialize};

/// Whether reasoning text produced by the model goes back upstream on later requests
/// (as `reasoning_content` on the assistant message of the same response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningPolicy {
    /// Replay for the current tool loop (after the last user message), where providers such as
    /// DeepSeek V3.2+/V4 and Kimi K2.x require it; never an empty placeholder.
    #[default]
    Auto,
    /// Replay on every assistant message that has reasoning.
    Replay,
    /// Never send reasoning back (providers that reject the field).
    Drop,
}

impl ReasoningPolicy {
    /// The policy to apply for an upstream at `url`: `auto` becomes `drop` for providers known
    /// to reject `reasoning_content` on input messages with a 400 (Cerebras, Groq, Fireworks,
    /// Together; docs/protocol.md#reasoning-replay); explicit `replay`/`drop` are kept as
    /// configured.
    pub fn for_upstream(self, url: &str) -> ReasoningPolicy {
        if self != ReasoningPolicy::Auto {
            return self;
        }
        let host = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split(['/', ':', '?'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        const REJECTING: [&str; 5] = [
            "cerebras.ai",
            "groq.com",
            "fireworks.ai",
            "together.xyz",
            "together.ai",
        ];
        if REJECTING
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        {
            ReasoningPolicy::Drop
        } else {
            ReasoningPolicy::Auto
        }
    }
}

/// What to do with images for this upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImagePolicy {
    /// Send images as `image_url` parts.
    #[default]
    Keep,
    /// Replace each image with a short text placeholder (text-only models).
    Placeholder,
}

/// Everything the pure translation needs to know about the request's destination.
#[derive(Debug, Clone)]
pub struct TranslateOptions {
    /// The model name sent upstream (after route aliasing).
    pub upstream_model: String,
    /// Drop assistant text that accompanies tool calls (`--compat-drop-tool-call-content`).
    pub drop_tool_call_content: bool,
    pub reasoning: ReasoningPolicy,
    pub images: ImagePolicy,
    /// `max_tokens` to send (Codex never sets an output cap; a route may).
    pub max_output_tokens: Option<u64>,
    /// Send `parallel_tool_calls` upstream (DeepInfra's schema does not have it).
    pub send_parallel_tool_calls: bool,
    /// Mirror reasoning text into the reasoning item's summary so Codex's default UI shows it.
    pub reasoning_summary: bool,
    /// A label for the provider, stored in the reasoning envelope.
    pub provider: String,
}

/// What the config says about one request's destination, as plain values: the upstream's
/// compat settings and the matched route's model facts.
#[derive(Debug, Clone)]
pub struct RouteFacts<'a> {
    /// The model name to send upstream (after route aliasing).
    pub upstream_model: String,
    /// The upstream's name (`default` or a key of `upstreams:`).
    pub upstream_name: &'a str,
    /// The upstream's base URL.
    pub upstream_url: &'a str,
    pub drop_tool_call_content: bool,
    pub reasoning: ReasoningPolicy,
    pub images: ImagePolicy,
    /// The route's `vision` (None: the route does not say, or no route matched).
    pub vision: Option<bool>,
    /// The route's `max_output_tokens`.
    pub max_output_tokens: Option<u64>,
}

impl TranslateOptions {
    /// The options for one request (the compat policy):
    /// - reasoning replay per [`ReasoningPolicy::for_upstream`];
    /// - a route that says the model has no vision gets image placeholders even if the
    ///   upstream keeps images by default;
    /// - the route's output cap is sent as `max_tokens`;
    /// - `parallel_tool_calls` is never sent (DeepInfra's schema does not have it);
    /// - reasoning text is mirrored into the summary so Codex's default UI shows it.
    pub fn for_route(route: RouteFacts<'_>) -> Self {
        TranslateOptions {
            reasoning: route.reasoning.for_upstream(route.upstream_url),
            images: match route.vision {
                Some(false) => ImagePolicy::Placeholder,
                _ => route.images,
            },
            max_output_tokens: route.max_output_tokens,
            drop_tool_call_content: route.drop_tool_call_content,
            send_parallel_tool_calls: false,
            reasoning_summary: true,
            provider: route.upstream_name.to_owned(),
            upstream_model: route.upstream_model,
        }
    }

    /// Options for a model name with every compat setting at its default.
    pub fn for_model(model: impl Into<String>) -> Self {
        TranslateOptions {
            upstream_model: model.into(),
            drop_tool_call_content: false,
            reasoning: ReasoningPolicy::Auto,
            images: ImagePolicy::Keep,
            max_output_tokens: None,
            send_parallel_tool_calls: false,
            reasoning_summary: true,
            provider: "default".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(vision: Option<bool>, images: ImagePolicy) -> RouteFacts<'static> {
        RouteFacts {
            upstream_model: "m".into(),
            upstream_name: "groq",
            upstream_url: "https://api.groq.com/openai/v1",
            drop_tool_call_content: true,
            reasoning: ReasoningPolicy::Auto,
            images,
            vision,
            max_output_tokens: Some(4096),
        }
    }

    #[test]
    fn route_facts_become_options() {
        let o = TranslateOptions::for_route(facts(None, ImagePolicy::Keep));
        assert_eq!(o.upstream_model, "m");
        assert_eq!(o.provider, "groq");
        assert_eq!(o.reasoning, ReasoningPolicy::Drop);
        assert_eq!(o.images, ImagePolicy::Keep);
        assert_eq!(o.max_output_tokens, Some(4096));
        assert!(o.drop_tool_call_content && o.reasoning_summary && !o.send_parallel_tool_calls);
        // A route without vision gets placeholders whatever the upstream's default.
        let o = TranslateOptions::for_route(facts(Some(false), ImagePolicy::Keep));
        assert_eq!(o.images, ImagePolicy::Placeholder);
        let o = TranslateOptions::for_route(facts(Some(true), ImagePolicy::Placeholder));
        assert_eq!(o.images, ImagePolicy::Placeholder);
    }

    #[test]
    fn auto_reasoning_drops_for_providers_that_reject_the_field() {
        let auto = ReasoningPolicy::Auto;
        assert_eq!(
            auto.for_upstream("https://api.groq.com/openai/v1"),
            ReasoningPolicy::Drop
        );
        assert_eq!(
            auto.for_upstream("https://api.cerebras.ai/v1"),
            ReasoningPolicy::Drop
        );
        assert_eq!(
            auto.for_upstream("https://api.together.xyz/v1"),
            ReasoningPolicy::Drop
        );
        assert_eq!(
            auto.for_upstream("https://api.fireworks.ai/inference/v1"),
            ReasoningPolicy::Drop
        );
        assert_eq!(
            auto.for_upstream("https://api.deepinfra.com/v1/openai"),
            ReasoningPolicy::Auto
        );
        assert_eq!(
            auto.for_upstream("http://127.0.0.1:8000/v1"),
            ReasoningPolicy::Auto
        );
        // A look-alike host is not matched by suffix alone.
        assert_eq!(
            auto.for_upstream("https://notgroq.com/v1"),
            ReasoningPolicy::Auto
        );
        // Explicit settings win.
        assert_eq!(
            ReasoningPolicy::Replay.for_upstream("https://api.groq.com/openai/v1"),
            ReasoningPolicy::Replay
        );
    }
}
