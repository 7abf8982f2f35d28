//! The typed shape of a Responses request body, as far as the translation reads it.
//!
//! Parsing is single-pass and *lenient below the top level*: an input item, content part or
//! tool definition whose fields have unexpected types (future item types, hosted tools we do
//! not know) parses with those fields left `None` instead of failing the whole request. Large
//! pieces that are passed upstream untouched (tool `parameters`, JSON schemas, call
//! `arguments`, string tool `output`s, content part `text`s, tool `description`s and string
//! `instructions`) are kept as raw JSON text ([`RawValue`]) borrowed from the request body:
//! never copied, decoded or re-encoded until they are written into the chat body. So is each
//! reasoning item's `encrypted_content` (a long session replays dozens per request).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Top-level fields of a Responses request that the translation uses. Everything else
/// (`store`, `include`, `client_metadata`, ids…) is skipped by the parser.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RequestFields<'a> {
    pub model: Option<String>,
    pub stream: Option<bool>,
    /// A string (kept escaped) or a list of parts; read by [`instructions`].
    #[serde(borrow)]
    pub instructions: Option<&'a RawValue>,
    #[serde(borrow, deserialize_with = "input")]
    pub input: Option<Input<'a>>,
    #[serde(borrow, deserialize_with = "seq")]
    pub tools: Option<Vec<ToolDef<'a>>>,
    #[serde(borrow)]
    pub tool_choice: Option<&'a RawValue>,
    pub parallel_tool_calls: Option<bool>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub reasoning: Option<ReasoningParam>,
    #[serde(borrow)]
    pub text: Option<TextParam<'a>>,
    #[serde(deserialize_with = "string")]
    pub prompt_cache_key: Option<String>,
    #[serde(deserialize_with = "string")]
    pub service_tier: Option<String>,
}

/// `reasoning: {effort, summary, …}`; only `effort` matters upstream.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReasoningParam {
    #[serde(deserialize_with = "string")]
    pub effort: Option<String>,
}

/// `text: {format, verbosity}`; only `format` matters upstream.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TextParam<'a> {
    #[serde(borrow)]
    pub format: Option<TextFormat<'a>>,
}

/// `text.format`: `{"type":"json_schema","name","schema","strict"}`, `{"type":"json_object"}`
/// or `{"type":"text"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TextFormat<'a> {
    #[serde(rename = "type", deserialize_with = "string")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "string")]
    pub name: Option<String>,
    #[serde(borrow)]
    pub schema: Option<&'a RawValue>,
    pub strict: Option<bool>,
}

/// `input`: a plain string (one user message) or the item list.
#[derive(Debug)]
pub(crate) enum Input<'a> {
    Text(String),
    Items(Vec<Item<'a>>),
}

/// One input item, all types in one flat struct: which fields are meaningful depends on
/// `kind` (`type`). Items without `type` but with `role` are messages (Responses shorthand).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Item<'a> {
    #[serde(rename = "type", deserialize_with = "string")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "string")]
    pub role: Option<String>,
    /// Message content, or a reasoning item's `content` (`reasoning_text` parts).
    #[serde(borrow, deserialize_with = "content")]
    pub content: Option<Content<'a>>,
    #[serde(deserialize_with = "string")]
    pub call_id: Option<String>,
    #[serde(deserialize_with = "string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "string")]
    pub namespace: Option<String>,
    /// `function_call`: a JSON string; `tool_search_call`: an object.
    #[serde(borrow)]
    pub arguments: Option<&'a RawValue>,
    /// `custom_tool_call`: the raw freeform input (a JSON string).
    #[serde(borrow)]
    pub input: Option<&'a RawValue>,
    /// `*_output`: a string or an array of content parts.
    #[serde(borrow)]
    pub output: Option<&'a RawValue>,
    #[serde(borrow, deserialize_with = "seq")]
    pub summary: Option<Vec<Part<'a>>>,
    /// Borrowed: a long session replays dozens of these (base64, no escapes) per request.
    #[serde(borrow, deserialize_with = "cow_str")]
    pub encrypted_content: Option<Cow<'a, str>>,
    /// `tool_search_output` / `additional_tools`: tool definitions.
    #[serde(borrow, deserialize_with = "seq")]
    pub tools: Option<Vec<ToolDef<'a>>>,
}

/// Message content: a plain string or a list of parts.
#[derive(Debug)]
pub(crate) enum Content<'a> {
    Text(String),
    Parts(Vec<Part<'a>>),
}

/// A content part (`input_text`, `output_text`, `input_image`, `reasoning_text`,
/// `summary_text`, `refusal`, …).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Part<'a> {
    #[serde(rename = "type", deserialize_with = "string")]
    pub kind: Option<String>,
    /// Kept as the escaped JSON string token: it is written upstream verbatim.
    #[serde(borrow, deserialize_with = "json_str")]
    pub text: Option<&'a RawValue>,
    #[serde(deserialize_with = "string")]
    pub refusal: Option<String>,
    /// A string in the Responses API; `{"url":…}` accepted too.
    #[serde(deserialize_with = "image_url")]
    pub image_url: Option<String>,
    #[serde(deserialize_with = "string")]
    pub detail: Option<String>,
}

/// A tool definition (`function`, `namespace`, `custom`, `tool_search`, hosted tools…).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ToolDef<'a> {
    #[serde(rename = "type", deserialize_with = "string")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "string")]
    pub name: Option<String>,
    /// Kept as the escaped JSON string token: it is written upstream verbatim.
    #[serde(borrow, deserialize_with = "json_str")]
    pub description: Option<&'a RawValue>,
    #[serde(borrow)]
    pub parameters: Option<&'a RawValue>,
    /// Inner tools of a `namespace`.
    #[serde(borrow, deserialize_with = "seq")]
    pub tools: Option<Vec<ToolDef<'a>>>,
    /// A `custom` tool's input format.
    #[serde(deserialize_with = "object")]
    pub format: Option<CustomFormat>,
}

/// A `custom` tool's `format`: `{"type":"grammar","syntax":"lark","definition":"…"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CustomFormat {
    #[serde(deserialize_with = "string")]
    pub syntax: Option<String>,
    #[serde(deserialize_with = "string")]
    pub definition: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Lenient field deserializers. Each consumes whatever value is there, in one pass, and
// yields `None` when it is not the expected kind.

/// Consumes any value and yields nothing.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the "anything else" visitor methods as "consume and yield `None`".
macro_rules! ignore_other_kinds {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

/// A string, or `None` for any other value.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    cow_str(d).map(|s| s.map(Cow::into_owned))
}

/// A string, borrowed from the body when it has no escapes, or `None` for any other value.
fn cow_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            skip_seq(seq).map(|()| None)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            skip_map(map).map(|()| None)
        }
        ignore_other_kinds!();
    }
    d.deserialize_any(V)
}

/// A string kept as its raw (escaped) JSON token, or `None` for any other value.
fn json_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    let raw = Option::<&'de RawValue>::deserialize(d)?;
    Ok(raw.filter(|r| raw_kind(r) == RawKind::String))
}

/// `instructions`: a string (kept escaped) or a list of parts; anything else is ignored.
pub(crate) enum Instructions<'a> {
    Text(&'a RawValue),
    Parts(Vec<Part<'a>>),
}

pub(crate) fn instructions(raw: &RawValue) -> Option<Instructions<'_>> {
    match raw_kind(raw) {
        RawKind::String => Some(Instructions::Text(raw)),
        RawKind::Array => Some(Instructions::Parts(parse_raw_list(raw))),
        _ => None,
    }
}

/// An image URL: a string, or an object with a string `url`.
fn image_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an image URL")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            skip_seq(seq).map(|()| None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            #[derive(Deserialize)]
            struct UrlObject {
                #[serde(default, deserialize_with = "string")]
                url: Option<String>,
            }
            let obj = UrlObject::deserialize(MapAccessDeserializer::new(&mut map))?;
            Ok(obj.url)
        }
        ignore_other_kinds!();
    }
    d.deserialize_any(V)
}

/// A list whose object elements parse as `T`; other elements (and a non-list) are skipped.
pub(crate) fn seq<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Option<Vec<T>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            collect_objects(seq).map(Some)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            skip_map(map).map(|()| None)
        }
        ignore_other_kinds!();
    }
    d.deserialize_any(V(PhantomData))
}

/// Collects the object elements of a list as `T`, skipping anything that is not an object.
fn collect_objects<'de, A, T>(mut seq: A) -> Result<Vec<T>, A::Error>
where
    A: SeqAccess<'de>,
    T: Deserialize<'de>,
{
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
    while let Some(Lenient(v)) = seq.next_element::<Lenient<T>>()? {
        if let Some(v) = v {
            out.push(v);
        }
    }
    Ok(out)
}

/// An element that is `T` when it is an object, and skipped otherwise.
struct Lenient<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Option<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Some)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| None)
            }
            ignore_other_kinds!();
        }
        d.deserialize_any(V(PhantomData)).map(Lenient)
    }
}

/// An object parsed as `T`; any other value yields `None`.
fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Lenient::<T>::deserialize(d).map(|l| l.0)
}

/// Message content: a string or a list of parts; anything else is ignored.
fn content<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Content<'de>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Content<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of content parts")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Content::Text(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Content::Text(v)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            collect_objects(seq).map(|parts| Some(Content::Parts(parts)))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            skip_map(map).map(|()| None)
        }
        ignore_other_kinds!();
    }
    d.deserialize_any(V)
}

/// Top-level `input`: a string or a list of items. Any other type is a request error.
fn input<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Input<'de>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Input<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("`input` as a string or an array of items")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Input::Text(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Input::Text(v)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            collect_objects(seq).map(|items| Some(Input::Items(items)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// The text of a raw JSON value that is known to be a string token, decoded.
pub(crate) fn decode_raw_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(raw.get()).ok()
}

/// What kind of JSON value a raw value is, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawKind {
    String,
    Array,
    Object,
    Null,
    Other,
}

pub(crate) fn raw_kind(raw: &RawValue) -> RawKind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => RawKind::String,
        Some(b'[') => RawKind::Array,
        Some(b'{') => RawKind::Object,
        Some(b'n') => RawKind::Null,
        _ => RawKind::Other,
    }
}

/// Parses a raw JSON array whose object elements are `T` (others skipped).
pub(crate) fn parse_raw_list<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Vec<T> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    match seq::<_, T>(&mut de) {
        Ok(Some(v)) => v,
        _ => Vec::new(),
    }
}
