//! The upstream's chat chunk as we read it (docs/protocol.md#chunks).
//!
//! Lenient by design: unknown keys are ignored, `null` counts as absent, and a field of an
//! unexpected type becomes empty text rather than failing the chunk (providers disagree on
//! almost every detail). Strings are borrowed from the payload when they have no escapes, so
//! a token's text is not copied before it is written out.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::translate::json_from_bytes;
use crate::translate::reply::context::Usage;

#[derive(Deserialize)]
pub(super) struct ChatChunk<'a> {
    #[serde(default, borrow)]
    pub(super) choices: Option<Vec<ChatChoice<'a>>>,
    #[serde(default)]
    pub(super) usage: Option<Value>,
    #[serde(default)]
    pub(super) error: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct ChatChoice<'a> {
    #[serde(default)]
    pub(super) index: Option<Value>,
    #[serde(default, borrow)]
    pub(super) delta: Option<ChatDelta<'a>>,
    /// Non-streamed replies carry the whole message here.
    #[serde(default, borrow)]
    pub(super) message: Option<ChatDelta<'a>>,
    #[serde(default, borrow)]
    pub(super) finish_reason: Option<Text<'a>>,
    #[serde(default)]
    pub(super) error: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct ChatDelta<'a> {
    #[serde(default, borrow)]
    pub(super) content: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) reasoning_content: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) reasoning: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) tool_calls: Option<Vec<ToolCallDelta<'a>>>,
    #[serde(default, borrow)]
    pub(super) function_call: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
pub(super) struct ToolCallDelta<'a> {
    #[serde(default)]
    pub(super) index: Option<Value>,
    #[serde(default, borrow)]
    pub(super) id: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
pub(super) struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    pub(super) name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub(super) arguments: Option<Args<'a>>,
}

/// A string field read leniently. Strings are taken as they are; `null` is empty. The two
/// flavours differ only in what other JSON becomes:
/// - [`Text`] (`JSON_AS_TEXT = false`): an array of `{"text": …}` parts (or strings) is
///   joined, an object gives its `text`, anything else is no text;
/// - [`Args`] (`JSON_AS_TEXT = true`): tool arguments some servers send as a JSON value
///   instead of a string, kept as that value's JSON text.
pub(super) struct Lenient<'a, const JSON_AS_TEXT: bool>(pub(super) Cow<'a, str>);

/// Message text (`content`, `reasoning_content`, names, ids, `finish_reason`).
pub(super) type Text<'a> = Lenient<'a, false>;
/// Tool call arguments.
pub(super) type Args<'a> = Lenient<'a, true>;

impl<'de: 'a, 'a, const JSON_AS_TEXT: bool> Deserialize<'de> for Lenient<'a, JSON_AS_TEXT> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor::<JSON_AS_TEXT>(PhantomData))
    }
}

struct LenientVisitor<'a, const JSON_AS_TEXT: bool>(PhantomData<&'a ()>);

impl<'a, const JSON_AS_TEXT: bool> LenientVisitor<'a, JSON_AS_TEXT> {
    fn empty() -> Lenient<'a, JSON_AS_TEXT> {
        Lenient(Cow::Borrowed(""))
    }

    /// A scalar: its JSON text for arguments, no text otherwise.
    fn scalar(json: impl FnOnce() -> String) -> Lenient<'a, JSON_AS_TEXT> {
        if JSON_AS_TEXT {
            Lenient(Cow::Owned(json()))
        } else {
            Self::empty()
        }
    }
}

impl<'de: 'a, 'a, const JSON_AS_TEXT: bool> Visitor<'de> for LenientVisitor<'a, JSON_AS_TEXT> {
    type Value = Lenient<'a, JSON_AS_TEXT>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if JSON_AS_TEXT {
            "tool arguments"
        } else {
            "text"
        })
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Lenient(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Lenient(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Lenient(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Self::empty())
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Self::empty())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Self::scalar(|| v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Self::scalar(|| v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Self::scalar(|| v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Self::scalar(|| Value::from(v).to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if JSON_AS_TEXT {
            let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
            return Ok(Lenient(Cow::Owned(v.to_string())));
        }
        let mut s = String::new();
        while let Some(part) = seq.next_element::<Value>()? {
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                s.push_str(t);
            } else if let Some(t) = part.as_str() {
                s.push_str(t);
            }
        }
        Ok(Lenient(Cow::Owned(s)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        if JSON_AS_TEXT {
            return Ok(Lenient(Cow::Owned(v.to_string())));
        }
        let t = v.get("text").and_then(Value::as_str).unwrap_or("");
        Ok(Lenient(Cow::Owned(t.to_owned())))
    }
}

/// Parses one `data:` payload as a chat chunk; `None` (logged at debug) when it is not one.
///
/// A server that splits a character between tokens can emit half a surrogate pair as
/// `\ud83d`, which serde refuses: such a payload is repaired into `scratch` and parsed again,
/// and the chunk then borrows from there.
pub(super) fn parse<'a>(data: &'a [u8], scratch: &'a mut Option<Vec<u8>>) -> Option<ChatChunk<'a>> {
    let first = match json_from_bytes::<ChatChunk<'_>>(data) {
        Ok(c) => return Some(c),
        Err(e) => e,
    };
    let Some(fixed) = sanitize_lone_surrogates(data) else {
        tracing::debug!(error = %first, "skipping an upstream data event that is not a chat chunk");
        return None;
    };
    let fixed: &'a [u8] = scratch.insert(fixed);
    match json_from_bytes::<ChatChunk<'_>>(fixed) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::debug!(error = %e, "skipping an upstream data event that is not a chat chunk");
            None
        }
    }
}

impl<'a> ChatChunk<'a> {
    /// Choice 0 (we never ask for n > 1); a choice without an index counts as 0.
    pub(super) fn first_choice(self) -> Option<ChatChoice<'a>> {
        self.choices?
            .into_iter()
            .find(|c| c.index.as_ref().map_or(Some(0), index_of) == Some(0))
    }
}

/// An index sent as a number or as a numeric string.
pub(super) fn index_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            (f >= 0.0 && f.fract() == 0.0 && f < 9.0e15).then_some(f as u64)
        }),
        _ => None,
    }
}

/// Chat usage -> Responses usage; `None` unless prompt and completion counts are integers.
pub(super) fn parse_usage(v: &Value) -> Option<Usage> {
    let o = v.as_object()?;
    let input_tokens = as_count(o.get("prompt_tokens"))?;
    let output_tokens = as_count(o.get("completion_tokens"))?;
    let total_tokens = as_count(o.get("total_tokens")).unwrap_or(input_tokens + output_tokens);
    let cached_tokens = as_count(
        o.get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens")),
    )
    .or_else(|| as_count(o.get("prompt_cache_hit_tokens")))
    .unwrap_or(0);
    let reasoning_tokens = as_count(
        o.get("completion_tokens_details")
            .and_then(|d| d.get("reasoning_tokens")),
    )
    .unwrap_or(0);
    Some(Usage {
        input_tokens,
        output_tokens,
        total_tokens,
        cached_tokens,
        reasoning_tokens,
    })
}

/// Replaces `\uD800`–`\uDFFF` escapes that are not part of a valid pair with `\uFFFD`.
/// `None` when there is nothing to replace.
pub(super) fn sanitize_lone_surrogates(data: &[u8]) -> Option<Vec<u8>> {
    fn unit_at(d: &[u8], i: usize) -> Option<u16> {
        if d.get(i) != Some(&b'\\') || d.get(i + 1) != Some(&b'u') {
            return None;
        }
        let hex = std::str::from_utf8(d.get(i + 2..i + 6)?).ok()?;
        u16::from_str_radix(hex, 16).ok()
    }
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < data.len() {
        if data[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit_at(data, i) {
            Some(0xD800..=0xDBFF) if matches!(unit_at(data, i + 6), Some(0xDC00..=0xDFFF)) => {
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                let o = out.get_or_insert_with(|| Vec::with_capacity(data.len()));
                o.extend_from_slice(&data[copied..i]);
                o.extend_from_slice(b"\\ufffd");
                i += 6;
                copied = i;
            }
            // Any other escape: skip the backslash and the escaped byte.
            _ => i += 2,
        }
    }
    let mut o = out?;
    o.extend_from_slice(&data[copied.min(data.len())..]);
    Some(o)
}
