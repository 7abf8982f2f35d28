//! The byte strings one secret is searched for: the echo prefix of its plain text and every
//! encoding a provider, a proxy or a client library is likely to wrap it in.
//!
//! Each encoder writes one form; forms equal to the plain text (a token made only of letters and
//! digits is its own JSON and RFC 3986 form) or to each other are dropped.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Secrets shorter than this are not matched at all: redacting every `abc` would destroy
/// ordinary output, and a secret that short protects nothing anyway.
pub const MIN_SECRET_LEN: usize = 8;

/// The shortest plain-text prefix that counts as an echo of a long secret (see
/// [`echo_prefix_len`]).
const MIN_ECHO_LEN: usize = 12;

/// How many leading bytes of a secret of `len` bytes must show, in any of its forms, for the
/// text to count as an echo of it: half the secret, and at least [`MIN_ECHO_LEN`] bytes (all of
/// it when shorter).
///
/// Providers print a long prefix of a key they refuse (`sk-abc…wxyz`). Each form is searched
/// for by its encoding of this prefix, and a match is extended as far as the text keeps
/// agreeing with the whole form, so an echo that shows half of a secret or more is redacted from
/// its first byte to the last agreeing one; an echo that shows less leaves more than half of the
/// secret unknown. The floor keeps a shared, low-entropy beginning (`sk-proj-`, a JWT header)
/// from matching on its own.
pub fn echo_prefix_len(len: usize) -> usize {
    len.div_ceil(2).max(len.min(MIN_ECHO_LEN))
}

/// One form of a secret: its full text, and how many leading bytes of it are searched for
/// (the same form of the secret's echo prefix, see [`echo_prefix_len`]).
pub(super) struct Form {
    pub full: Box<str>,
    pub prefix_len: usize,
}

/// Every form of `secret` (at least [`MIN_SECRET_LEN`] bytes), the plain text first.
pub(super) fn all(secret: &str) -> Vec<Form> {
    let mut echo = echo_prefix_len(secret.len());
    while !secret.is_char_boundary(echo) {
        echo += 1;
    }
    let prefix = &secret[..echo];
    let mut forms = vec![Form {
        full: secret.into(),
        prefix_len: echo,
    }];
    let mut add = |encode: &dyn Fn(&str) -> String| {
        let full = encode(secret);
        let prefix_len = encode(prefix).len();
        debug_assert!(full.starts_with(&encode(prefix)), "{full:?}");
        if full != secret && !full.is_empty() && prefix_len > 0 {
            forms.push(Form {
                full: full.into(),
                prefix_len,
            });
        }
    };
    add(&|s| json_escaped(s, false, false));
    if secret.contains('/') {
        add(&|s| json_escaped(s, true, false));
    }
    if secret.contains(['<', '>', '&']) {
        add(&|s| json_escaped(s, false, true));
    }
    for upper in [false, true] {
        add(&|s| utf16_escaped(s, upper, |_| true));
        // Python's json.dumps (ensure_ascii) escapes only what is not ASCII.
        if !secret.is_ascii() {
            add(&|s| utf16_escaped(&json_escaped(s, false, false), upper, |c| !c.is_ascii()));
        }
        add(&|s| percent(s, upper, |_| false));
        add(&|s| percent(s, upper, is_unreserved));
        // Python's urllib.parse.quote keeps `/` by default; JavaScript's encodeURIComponent
        // keeps `!'()*` as well.
        add(&|s| percent(s, upper, |b| is_unreserved(b) || b == b'/'));
        add(&|s| percent(s, upper, |b| is_unreserved(b) || b"!'()*".contains(&b)));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            add(&|s| base64_run(s.as_bytes(), offset, engine));
        }
    }
    let mut seen = std::collections::HashSet::new();
    forms.retain(|f| seen.insert(f.full.clone()));
    forms
}

/// `secret` as the inside of a JSON string: `"` and `\` escaped, control characters as
/// `\n`-style or `\u00xx` escapes (as serde_json and most encoders write them).
fn json_escaped(secret: &str, slash: bool, html: bool) -> String {
    let mut out = String::with_capacity(secret.len() + 8);
    for c in secret.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if slash => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (html && matches!(c, '<' | '>' | '&')) => {
                push_u_escape(&mut out, c as u16, false);
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` with every character that `escape` selects written as `\uXXXX` (UTF-16 units,
/// surrogate pairs beyond the BMP).
fn utf16_escaped(text: &str, upper: bool, escape: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len() * 6);
    for c in text.chars() {
        if escape(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                push_u_escape(&mut out, *unit, upper);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn push_u_escape(out: &mut String, unit: u16, upper: bool) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(hex_digit(((unit >> shift) & 0xf) as u8, upper));
    }
}

/// Percent-encoding: every byte for which `keep` is false becomes `%XX`.
fn percent(text: &str, upper: bool, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4, upper));
            out.push(hex_digit(b & 0xf, upper));
        }
    }
    out
}

/// RFC 3986 unreserved characters: never percent-encoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn hex_digit(nibble: u8, upper: bool) -> char {
    let digits = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    char::from(digits[usize::from(nibble & 0xf)])
}

/// The base64 characters fully determined by `secret` when it starts `offset` bytes (0..3)
/// into a 3-byte group of a longer encoded string: the characters at either edge that also
/// carry bits of the neighbouring bytes are left out, so the run matches wherever the secret
/// sits (`Basic base64(user:TOKEN)`, a JWT claim) and with or without padding.
fn base64_run(secret: &[u8], offset: usize, engine: &impl base64::Engine) -> String {
    let mut group = vec![0u8; offset];
    group.extend_from_slice(secret);
    let mut encoded = engine.encode(&group);
    // Character j carries bits [6j, 6j+6) of the group; the secret holds bits
    // [8*offset, 8*(offset+len)).
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + secret.len())) / 6;
    encoded.truncate(end);
    encoded.split_off(first.min(end))
}
