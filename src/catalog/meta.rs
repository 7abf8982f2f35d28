//! What an upstream's `GET /models` says about its models, reduced to the facts the catalog
//! needs. Pure: bytes or JSON in, [`ModelMeta`] out.
//!
//! Shapes understood (docs/protocol.md#model-list): the OpenAI list `{"object":"list","data":[…]}` (or a
//! bare array) whose items carry DeepInfra's `metadata: {context_length, max_tokens, tags, pricing}`
//! (`metadata` may be `null`); a top-level `context_length` (OpenRouter style) or
//! `max_model_len` (vLLM) is used when there is no `metadata.context_length`. Numbers may come
//! as integers, floats or numeric strings; anything else is ignored, never an error, so one
//! odd entry does not cost the whole list.

use serde_json::Value;

/// One model of an upstream's list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelMeta {
    /// The model id, as sent upstream.
    pub id: String,
    /// `metadata` was present and an object.
    pub has_metadata: bool,
    /// Context window in tokens (prompt + output).
    pub context_length: Option<u64>,
    /// Longest output in tokens.
    pub max_tokens: Option<u64>,
    /// `metadata.tags`, lowercased (`chat`, `vision`, `reasoning_effort`, `embed`, …).
    pub tags: Vec<String>,
    pub description: Option<String>,
    /// `metadata.pricing`, when the provider publishes prices (`shimctl stats` estimates cost).
    pub pricing: Option<Pricing>,
}

/// List prices per million tokens, in micro-dollars (so the value stays exact): DeepInfra's
/// `metadata.pricing` `{input_tokens, output_tokens, cache_read_tokens}` in USD per 1M tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pricing {
    pub input: Option<u64>,
    pub output: Option<u64>,
    /// Cached prompt tokens; absent means they cost what `input` costs.
    pub cache_read: Option<u64>,
}

impl Pricing {
    /// The price of a reply's tokens in US dollars (`input` includes `cached`); `None` when a
    /// kind of token that was used has no price.
    pub fn cost_usd(&self, input: u64, cached: u64, output: u64) -> Option<f64> {
        let cached = cached.min(input);
        let per = |tokens: u64, price: Option<u64>| match (tokens, price) {
            (0, _) => Some(0.0),
            (n, Some(p)) => Some(n as f64 * p as f64),
            (_, None) => None,
        };
        let micro_per_m = per(input - cached, self.input)?
            + per(cached, self.cache_read.or(self.input))?
            + per(output, self.output)?;
        Some(micro_per_m / 1e12)
    }
}

impl ModelMeta {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// A chat model we can describe: tagged `chat`, or not tagged as something else
    /// (embeddings, rerankers, speech, image generation) and with a known context length.
    /// Whether DeepInfra tags every LLM `chat` is not documented, so the absence of the tag
    /// alone does not exclude a model.
    pub fn is_chat(&self) -> bool {
        if self.has_tag("chat") {
            return true;
        }
        let other = self.tags.iter().any(|t| {
            NOT_CHAT.iter().any(|n| {
                t == n || t.starts_with(&format!("{n}-")) || t.starts_with(&format!("{n}_"))
            })
        });
        !other && self.context_length.is_some()
    }

    /// `vision` tag, when the upstream tags its models at all.
    pub fn vision(&self) -> Option<bool> {
        (!self.tags.is_empty()).then(|| self.has_tag("vision"))
    }

    /// Accepts `reasoning_effort` (DeepInfra tags such models `reasoning_effort`), when the
    /// upstream tags its models at all.
    pub fn reasoning(&self) -> Option<bool> {
        (!self.tags.is_empty()).then(|| self.has_tag("reasoning_effort"))
    }
}

/// Tags (and tag prefixes) of models that do not take chat requests.
const NOT_CHAT: &[&str] = &[
    "embed",
    "embedding",
    "embeddings",
    "rerank",
    "reranker",
    "tts",
    "asr",
    "stt",
    "speech",
    "text-to-image",
    "text-to-speech",
    "image-generation",
    "text-to-video",
];

/// Parses a `GET /models` body.
pub fn parse_models(body: &[u8]) -> Result<Vec<ModelMeta>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the model list is not JSON ({e})"))?;
    models_from_value(&value)
}

/// Reads the list from an already parsed body.
pub fn models_from_value(value: &Value) -> Result<Vec<ModelMeta>, String> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(o) => match o.get("data").or_else(|| o.get("models")) {
            Some(Value::Array(items)) => items,
            _ => return Err("the model list has no `data` array".to_owned()),
        },
        _ => return Err("the model list is neither an object nor an array".to_owned()),
    };
    Ok(items.iter().filter_map(model_from_value).collect())
}

fn model_from_value(item: &Value) -> Option<ModelMeta> {
    let id = item.get("id").and_then(Value::as_str)?.trim();
    if id.is_empty() {
        return None;
    }
    let meta = item.get("metadata").and_then(Value::as_object);
    let from_meta = |k: &str| meta.and_then(|m| m.get(k)).and_then(as_count);
    let context_length = from_meta("context_length")
        .or_else(|| item.get("context_length").and_then(as_count))
        .or_else(|| item.get("max_model_len").and_then(as_count));
    let tags = meta
        .and_then(|m| m.get("tags"))
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Some(ModelMeta {
        id: id.to_owned(),
        has_metadata: meta.is_some(),
        context_length,
        max_tokens: from_meta("max_tokens"),
        tags,
        description: meta
            .and_then(|m| m.get("description"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        pricing: meta.and_then(|m| m.get("pricing")).and_then(pricing),
    })
}

/// `metadata.pricing`, when it gives an input or an output price.
fn pricing(v: &Value) -> Option<Pricing> {
    let price = |k: &str| v.get(k).and_then(as_micro_dollars);
    let p = Pricing {
        input: price("input_tokens"),
        output: price("output_tokens"),
        cache_read: price("cache_read_tokens"),
    };
    (p.input.is_some() || p.output.is_some()).then_some(p)
}

/// A non-negative USD amount (number or numeric string) in micro-dollars.
fn as_micro_dollars(v: &Value) -> Option<u64> {
    let usd = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    (0.0..1e9)
        .contains(&usd)
        .then(|| (usd * 1e6).round() as u64)
}

/// A positive token count from an integer, a float or a numeric string.
fn as_count(v: &Value) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 1.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.filter(|n| *n > 0)
}

/// Finds `id` in a list: exact first, then ignoring ASCII case (a route written with other
/// casing still gets the facts; the name sent upstream is unchanged).
pub fn find<'a>(list: &'a [ModelMeta], id: &str) -> Option<&'a ModelMeta> {
    list.iter()
        .find(|m| m.id == id)
        .or_else(|| list.iter().find(|m| m.id.eq_ignore_ascii_case(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deepinfra_list() {
        let body = json!({"object":"list","data":[
            {"id":"deepseek-ai/DeepSeek-V3.2","object":"model","created":0,"owned_by":"deepinfra",
             "root":"deepseek-ai/DeepSeek-V3.2","parent":null,
             "metadata":{"description":"d","context_length":163840,"max_tokens":16384,
                         "pricing":{"input_tokens":0.27},"tags":["chat","reasoning_effort","prompt_cache"]}},
            {"id":"meta-llama/Llama-Guard-4-12B","object":"model","created":0,"metadata":null},
            {"id":"BAAI/bge-m3","metadata":{"context_length":8192,"tags":["embed"]}},
            {"id":"Qwen/Qwen3-VL","metadata":{"context_length":"262144","max_tokens":32768.0,"tags":["Chat","VISION"]}},
            {"id":"","metadata":null},
            {"object":"model"}
        ]});
        let list = models_from_value(&body).unwrap();
        assert_eq!(list.len(), 4);
        let ds = find(&list, "deepseek-ai/DeepSeek-V3.2").unwrap();
        assert_eq!(ds.context_length, Some(163_840));
        assert_eq!(ds.max_tokens, Some(16_384));
        assert!(ds.is_chat());
        assert_eq!(ds.reasoning(), Some(true));
        assert_eq!(ds.vision(), Some(false));
        let guard = find(&list, "meta-llama/llama-guard-4-12b").unwrap();
        assert!(!guard.has_metadata && !guard.is_chat());
        assert_eq!(guard.vision(), None);
        assert!(!find(&list, "BAAI/bge-m3").unwrap().is_chat());
        let untagged_llm = ModelMeta {
            id: "x".into(),
            has_metadata: true,
            context_length: Some(1000),
            tags: vec!["prompt_cache".into(), "vision".into()],
            ..ModelMeta::default()
        };
        assert!(
            untagged_llm.is_chat(),
            "no `chat` tag, but nothing says otherwise"
        );
        let embed = ModelMeta {
            tags: vec!["embeddings".into()],
            ..untagged_llm.clone()
        };
        assert!(!embed.is_chat());
        let vl = find(&list, "Qwen/Qwen3-VL").unwrap();
        assert_eq!(vl.context_length, Some(262_144));
        assert_eq!(vl.max_tokens, Some(32_768));
        assert_eq!(vl.vision(), Some(true));
        assert!(vl.is_chat());
        assert_eq!(
            ds.pricing,
            Some(Pricing {
                input: Some(270_000),
                output: None,
                cache_read: None
            })
        );
        assert_eq!(vl.pricing, None);
    }

    #[test]
    fn prices_and_cost() {
        let body = json!({"data":[
            {"id":"a","metadata":{"pricing":{"input_tokens":0.27,"output_tokens":"1.1","cache_read_tokens":0.07}}},
            {"id":"b","metadata":{"pricing":{"input_tokens":-1,"output_tokens":"x"}}},
            {"id":"c","metadata":{"pricing":{}}}
        ]});
        let list = models_from_value(&body).unwrap();
        let a = list[0].pricing.unwrap();
        assert_eq!(
            (a.input, a.output, a.cache_read),
            (Some(270_000), Some(1_100_000), Some(70_000))
        );
        assert_eq!(list[1].pricing, None);
        assert_eq!(list[2].pricing, None);
        // 1M prompt tokens of which 400k cached, 100k output.
        let cost = a.cost_usd(1_000_000, 400_000, 100_000).unwrap();
        assert!(
            (cost - (0.6 * 0.27 + 0.4 * 0.07 + 0.1 * 1.1)).abs() < 1e-9,
            "{cost}"
        );
        let input_only = Pricing {
            input: Some(100_000),
            ..Pricing::default()
        };
        assert_eq!(input_only.cost_usd(10, 0, 0), Some(1e-6));
        assert_eq!(input_only.cost_usd(10, 0, 5), None, "output has no price");
    }

    #[test]
    fn other_shapes() {
        let vllm = br#"{"object":"list","data":[{"id":"local-model","max_model_len":32768}]}"#;
        let list = parse_models(vllm).unwrap();
        assert_eq!(list[0].context_length, Some(32_768));
        assert!(list[0].is_chat());
        let bare = br#"[{"id":"x","context_length":1000}]"#;
        assert_eq!(parse_models(bare).unwrap()[0].context_length, Some(1000));
        assert!(parse_models(b"<html>").is_err());
        assert!(parse_models(br#"{"error":"x"}"#).is_err());
        let no_meta = br#"{"data":[{"id":"y"}]}"#;
        assert!(!parse_models(no_meta).unwrap()[0].is_chat());
    }
}
