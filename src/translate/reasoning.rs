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
    let body = encrypted.strip_prefix(ENVELOPE_PREFIX)?;
    let bytes = URL_SAFE_NO_PAD.decode(body.trim_end_matches('=')).ok()?;
    let env: Envelope = serde_json::from_slice(&bytes).ok()?;
    (env.v == 1).then_some(env)
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
}
