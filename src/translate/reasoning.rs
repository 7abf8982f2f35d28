//! The reasoning envelope carried in a reasoning item's `encrypted_content`.
//!
//! Codex treats `encrypted_content` as opaque and replays it verbatim on every later request
//! (it survives `codex resume` and daemon restarts because it lives in Codex's rollout). We
//! put the model's raw reasoning text there, in a versioned envelope of ours, so the next
//! request can hand it back to the provider as `reasoning_content` without any server-side
//! state. Format: `dsh1.` + base64url(JSON `{"v":1,"provider":…,"model":…,"text":…}`).
//!
//! Decoding is defensive: anything that is not our envelope yields `None`, and the caller
//! falls back to the item's `content[].text`, then `summary[].text`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The prefix that marks our envelope (and its version).
pub const ENVELOPE_PREFIX: &str = "dsh1.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub model: String,
    pub text: String,
}

/// Encodes reasoning text into an `encrypted_content` value.
pub fn encode(provider: &str, model: &str, text: &str) -> String {
    let env = Envelope {
        v: 1,
        provider: provider.to_owned(),
        model: model.to_owned(),
        text: text.to_owned(),
    };
    let json = serde_json::to_vec(&env).expect("envelope serialises");
    let mut out = String::with_capacity(ENVELOPE_PREFIX.len() + json.len() * 4 / 3 + 4);
    out.push_str(ENVELOPE_PREFIX);
    URL_SAFE_NO_PAD.encode_string(json, &mut out);
    out
}

/// Decodes an `encrypted_content` value produced by [`encode`]; `None` for anything else
/// (another provider's opaque blob, a newer or corrupted envelope).
pub fn decode(encrypted: &str) -> Option<Envelope> {
    let env: Envelope = serde_json::from_slice(&envelope_json(encrypted)?).ok()?;
    (env.v == 1).then_some(env)
}

/// Like [`decode`], but returns only the text, as the escaped JSON string token it is stored
/// as. A long session replays dozens of envelopes on every request; the request translation
/// writes this token upstream as is, so the text is never unescaped and escaped again.
pub fn decode_text_raw(encrypted: &str) -> Option<Box<RawValue>> {
    #[derive(Deserialize)]
    struct TextOnly {
        v: u32,
        text: Box<RawValue>,
    }
    let env: TextOnly = serde_json::from_slice(&envelope_json(encrypted)?).ok()?;
    // `text` must be a string, as in [`Envelope`].
    (env.v == 1 && env.text.get().starts_with('"')).then_some(env.text)
}

/// The envelope's JSON: the value without our prefix, base64url-decoded.
fn envelope_json(encrypted: &str) -> Option<Vec<u8>> {
    let body = encrypted.strip_prefix(ENVELOPE_PREFIX)?;
    URL_SAFE_NO_PAD.decode(body.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_unicode_text() {
        let s = encode(
            "deepinfra",
            "deepseek-ai/DeepSeek-V4-Flash",
            "17×23 = 391 — naïve \"q\"\n",
        );
        assert!(s.starts_with(ENVELOPE_PREFIX));
        let env = decode(&s).unwrap();
        assert_eq!(env.text, "17×23 = 391 — naïve \"q\"\n");
        assert_eq!(env.model, "deepseek-ai/DeepSeek-V4-Flash");
    }

    #[test]
    fn foreign_or_broken_values_decode_to_none() {
        assert!(decode("gAAAAABoPaque").is_none());
        assert!(decode("dsh1.!!!not-base64").is_none());
        assert!(decode("dsh1.e30").is_none()); // "{}": no text
        assert!(decode("").is_none());
    }

    #[test]
    fn the_raw_text_is_the_escaped_form_of_the_decoded_text() {
        for text in ["", "plain", "17×23 = 391 — naïve \"q\"\n\t\u{1}😀"] {
            let s = encode("p", "m", text);
            let raw = decode_text_raw(&s).unwrap();
            assert_eq!(raw.get(), serde_json::to_string(text).unwrap());
        }
        for bad in ["gAAAAABoPaque", "dsh1.!!!not-base64", "dsh1.e30", ""] {
            assert!(decode_text_raw(bad).is_none(), "{bad}");
        }
        // A text that is not a string, and a version we do not know, are not ours.
        let b64 = |j: &str| format!("{ENVELOPE_PREFIX}{}", URL_SAFE_NO_PAD.encode(j));
        assert!(decode_text_raw(&b64(r#"{"v":1,"text":5}"#)).is_none());
        assert!(decode_text_raw(&b64(r#"{"v":2,"text":"x"}"#)).is_none());
        assert!(decode_text_raw(&b64(r#"{"v":1,"text":"x"}"#)).is_some());
    }
}
