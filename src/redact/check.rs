//! The redactor's invariants, written once for the fuzz target (`fuzz/fuzz_targets/redact.rs`),
//! the replay of its corpus under `cargo test` (`tests/fuzz_corpus.rs`) and the property tests:
//!
//! 1. no form of a secret survives [`Redactor::redact_bytes`];
//! 2. a [`super::StreamRedactor`] fed the same bytes in any chunks writes the same output;
//! 3. [`Redactor::redact`] agrees with it on text, and [`Redactor::redact_truncated`] is a
//!    prefix of it within its size limit;
//! 4. [`Redactor::with_extra`] gives the redactor compiled with every secret at once;
//! 5. splitting the patterns over many automata (one each) changes nothing.
//!
//! The encoders here are written apart from the redactor's own (serde_json, `format!`, and base64
//! runs found by encoding the secret between two different fillers), so a form the redactor
//! forgot fails here instead of being forgotten twice.
//!
//! Not part of the daemon's API: public only so that the fuzz crate can call it.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::engine::Redactor;
use super::forms::{MIN_SECRET_LEN, echo_prefix_len};

/// One way to write a secret into a body.
#[derive(Clone, Debug)]
pub enum Encoding {
    Plain,
    /// `Bearer X`.
    Bearer,
    /// A JSON string literal as serde_json writes it (quotes included).
    Json,
    /// The same with `/` as `\/`.
    JsonSlash,
    /// The same with `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`.
    JsonHtml,
    /// The same with every non-ASCII character as `\uXXXX`.
    JsonAscii {
        upper: bool,
    },
    /// Every character as `\uXXXX`.
    Unicode {
        upper: bool,
    },
    /// Every byte as `%XX`.
    Percent {
        upper: bool,
    },
    /// RFC 3986 (`safe` = the reserved characters left as they are: "", "/" or "!'()*").
    PercentRfc {
        upper: bool,
        safe: &'static str,
    },
    /// `before ‖ secret ‖ after`, base64-encoded.
    Base64 {
        url: bool,
        pad: bool,
        before: Vec<u8>,
        after: Vec<u8>,
    },
    /// `Basic base64(user:secret)`.
    Basic {
        user: String,
    },
    /// A JWT whose payload carries the secret in a claim.
    Jwt,
}

/// `secret` written as `enc`.
pub fn encode(secret: &str, enc: &Encoding) -> Vec<u8> {
    match enc {
        Encoding::Plain => secret.as_bytes().to_vec(),
        Encoding::Bearer => format!("Bearer {secret}").into_bytes(),
        Encoding::Json => json(secret).into_bytes(),
        Encoding::JsonSlash => json(secret).replace('/', "\\/").into_bytes(),
        Encoding::JsonHtml => json_html(&json(secret)).into_bytes(),
        Encoding::JsonAscii { upper } => json_ascii(&json(secret), *upper).into_bytes(),
        Encoding::Unicode { upper } => unicode(secret, *upper).into_bytes(),
        Encoding::Percent { upper } => percent(secret, *upper, "").into_bytes(),
        Encoding::PercentRfc { upper, safe } => percent_rfc(secret, *upper, safe).into_bytes(),
        Encoding::Base64 {
            url,
            pad,
            before,
            after,
        } => {
            let mut raw = before.clone();
            raw.extend_from_slice(secret.as_bytes());
            raw.extend_from_slice(after);
            let engine = match (url, pad) {
                (false, true) => &STANDARD,
                (false, false) => &STANDARD_NO_PAD,
                (true, true) => &URL_SAFE,
                (true, false) => &URL_SAFE_NO_PAD,
            };
            engine.encode(raw).into_bytes()
        }
        Encoding::Basic { user } => {
            format!("Basic {}", STANDARD.encode(format!("{user}:{secret}"))).into_bytes()
        }
        Encoding::Jwt => {
            let claims = format!(r#"{{"sub":"{secret}","iat":1760000000}}"#);
            format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
                URL_SAFE_NO_PAD.encode(claims),
                URL_SAFE_NO_PAD.encode([0x5a; 32])
            )
            .into_bytes()
        }
    }
}

fn json(secret: &str) -> String {
    serde_json::to_string(secret).expect("a string serializes")
}

fn json_html(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn json_ascii(json: &str, upper: bool) -> String {
    json.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                unicode(&c.to_string(), upper)
            }
        })
        .collect()
}

fn unicode(text: &str, upper: bool) -> String {
    text.encode_utf16()
        .map(|u| {
            if upper {
                format!("\\u{u:04X}")
            } else {
                format!("\\u{u:04x}")
            }
        })
        .collect()
}

fn percent(secret: &str, upper: bool, keep: &str) -> String {
    secret
        .bytes()
        .map(|b| {
            if keep.as_bytes().contains(&b) {
                char::from(b).to_string()
            } else if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

fn percent_rfc(secret: &str, upper: bool, safe: &str) -> String {
    let keep = format!("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~{safe}");
    percent(secret, upper, &keep)
}

/// The forms of `secret` that must not appear in redacted output, each with its name.
pub fn forbidden_forms(secret: &str) -> Vec<(String, Vec<u8>)> {
    let mut forms = Vec::new();
    let mut echo = echo_prefix_len(secret.len());
    while !secret.is_char_boundary(echo) {
        echo += 1;
    }
    forms.push(("plain".to_string(), secret.as_bytes().to_vec()));
    forms.push(("echo prefix".into(), secret.as_bytes()[..echo].to_vec()));
    let inner = json(secret);
    let inner = &inner[1..inner.len() - 1];
    forms.push(("JSON".into(), inner.as_bytes().to_vec()));
    forms.push(("JSON \\/".into(), inner.replace('/', "\\/").into_bytes()));
    forms.push(("JSON HTML-safe".into(), json_html(inner).into_bytes()));
    for upper in [false, true] {
        let case = if upper { "upper" } else { "lower" };
        forms.push((
            format!("JSON ASCII {case}"),
            json_ascii(inner, upper).into_bytes(),
        ));
        forms.push((format!("\\u {case}"), unicode(secret, upper).into_bytes()));
        forms.push((format!("% {case}"), percent(secret, upper, "").into_bytes()));
        for safe in ["", "/", "!'()*"] {
            forms.push((
                format!("% RFC 3986 keeping {safe:?} {case}"),
                percent_rfc(secret, upper, safe).into_bytes(),
            ));
        }
    }
    for (name, engine) in [
        ("standard", &STANDARD_NO_PAD),
        ("URL-safe", &URL_SAFE_NO_PAD),
    ] {
        for offset in 0..3 {
            forms.push((
                format!("base64 {name} at offset {offset}"),
                base64_determined(secret.as_bytes(), offset, engine),
            ));
        }
    }
    forms
}

/// The base64 characters of `secret` at byte `offset` of a 3-byte group that do not depend on
/// the neighbouring bytes: encoded between zero bytes and between 0xff bytes, those characters
/// agree and the ones mixing in a neighbour's bits differ.
fn base64_determined(secret: &[u8], offset: usize, engine: &impl base64::Engine) -> Vec<u8> {
    let wrap = |filler: u8| {
        let mut raw = vec![filler; offset];
        raw.extend_from_slice(secret);
        raw.extend_from_slice(&[filler; 2]);
        engine.encode(raw).into_bytes()
    };
    let (a, b) = (wrap(0), wrap(0xff));
    let same: Vec<usize> = (0..a.len()).filter(|&i| a[i] == b[i]).collect();
    match (same.first(), same.last()) {
        (Some(&first), Some(&last)) => a[first..=last].to_vec(),
        _ => Vec::new(),
    }
}

/// Whether the redactor promises to hide `secret` everywhere: it is long enough, and it holds
/// no `*` (a secret containing the marker's character could be re-formed around a marker from
/// text that did not contain it, which says nothing about a leak).
pub fn is_checked(secret: &str) -> bool {
    secret.len() >= MIN_SECRET_LEN && !secret.contains('*')
}

/// The first form of a checked secret found in `output`, by name.
pub fn leak(secrets: &[String], output: &[u8]) -> Option<String> {
    secrets.iter().filter(|s| is_checked(s)).find_map(|s| {
        forbidden_forms(s)
            .into_iter()
            .find(|(_, form)| !form.is_empty() && contains(output, form))
            .map(|(name, _)| format!("{name} form of secret {s:?}"))
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// One checked scenario.
#[derive(Clone, Debug, Default)]
pub struct Case {
    pub secrets: Vec<String>,
    pub body: Vec<u8>,
    /// Where the body is cut into stream chunks (any order; values past the end are clamped).
    pub splits: Vec<usize>,
    /// The limit given to `redact_truncated`.
    pub max_bytes: usize,
}

/// Checks every invariant on `case`; the error says which one failed and how.
pub fn check(case: &Case) -> Result<(), String> {
    let redactor = Redactor::new(case.secrets.iter().map(String::as_str));
    let whole = redactor.redact_bytes(&case.body);
    let shown = || String::from_utf8_lossy(&whole).into_owned();
    if let Some(form) = leak(&case.secrets, &whole) {
        return Err(format!("the {form} survives redaction: {:?}", shown()));
    }

    let streamed = stream_in_chunks(&redactor, &case.body, &case.splits);
    if streamed != *whole {
        return Err(format!(
            "chunked at {:?}, the stream wrote {:?} instead of {:?}",
            case.splits,
            String::from_utf8_lossy(&streamed),
            shown()
        ));
    }

    if let Ok(text) = std::str::from_utf8(&case.body) {
        let redacted = redactor.redact(text);
        if redacted.as_bytes() != &*whole {
            return Err(format!(
                "redact gave {redacted:?}, redact_bytes {:?}",
                shown()
            ));
        }
        let max = case.max_bytes;
        let cut = redactor.redact_truncated(text, max);
        let fits = if redacted.len() <= max {
            cut == redacted
        } else {
            let kept = if max >= "…".len() {
                cut.strip_suffix('…')
            } else {
                Some(cut.as_str())
            };
            cut.len() <= max && kept.is_some_and(|k| redacted.starts_with(k))
        };
        if !fits {
            return Err(format!(
                "redact_truncated({max}) gave {cut:?} for {redacted:?}"
            ));
        }
    }

    if let Some((last, rest)) = case.secrets.split_last() {
        let extra = Redactor::new(rest.iter().map(String::as_str)).with_extra(last);
        if extra.redact_bytes(&case.body) != whole {
            return Err(format!("with_extra({last:?}) redacts differently"));
        }
    }

    let split = Redactor::grouped(case.secrets.iter().map(String::as_str), 1);
    if split.redact_bytes(&case.body) != whole {
        return Err("one automaton per pattern redacts differently".into());
    }
    Ok(())
}

/// `body` through a [`super::StreamRedactor`], cut at `splits`.
pub fn stream_in_chunks(redactor: &Redactor, body: &[u8], splits: &[usize]) -> Vec<u8> {
    let mut cuts: Vec<usize> = splits.iter().map(|&s| s.min(body.len())).collect();
    cuts.sort_unstable();
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    let mut at = 0;
    for cut in cuts.into_iter().chain([body.len()]) {
        stream.push(&body[at..cut], &mut out);
        at = cut;
    }
    stream.finish(&mut out);
    out
}

/// The fuzz target: decodes `data` into a [`Case`] and panics if an invariant fails.
pub fn fuzz_one(data: &[u8]) {
    let case = decode(data);
    if let Err(e) = check(&case) {
        panic!("{e}\n{case:?}");
    }
}

/// Characters fuzzed secrets are made of: token alphabets, every character some encoding
/// treats specially, and multi-byte characters (no `*`: see [`is_checked`]).
const SECRET_CHARS: &[char] = &[
    'a', 'b', 'c', 'k', 's', 'x', 'y', 'z', 'A', 'B', 'Q', 'Z', '0', '1', '7', '9', '-', '_', '.',
    '~', '+', '/', '=', ':', '"', '\\', '<', '>', '&', '%', '!', '\'', '(', ')', ' ', '\t', '\n',
    '\u{1}', 'é', '中', '😀', '\u{2028}',
];

/// Turns fuzzer bytes into a [`Case`]: a few secrets, then a body built from pieces (raw
/// bytes, a secret in some encoding, a prefix echo), the chunk cuts and the truncation limit.
/// Every input decodes to something, so the fuzzer explores bodies, not the format.
pub fn decode(data: &[u8]) -> Case {
    let mut input = Reader(data);
    let mut case = Case {
        max_bytes: 1024,
        ..Case::default()
    };
    for _ in 0..1 + input.byte() % 3 {
        let len = input.byte() % 48;
        let secret: String = (0..len)
            .map(|_| SECRET_CHARS[usize::from(input.byte()) % SECRET_CHARS.len()])
            .collect();
        case.secrets.push(secret);
    }
    while !input.0.is_empty() {
        match input.byte() % 6 {
            0 | 1 => {
                let n = usize::from(input.byte() % 64);
                case.body.extend_from_slice(input.take(n));
            }
            2 => {
                let secret = &case.secrets[usize::from(input.byte()) % case.secrets.len()];
                let enc = encoding(&mut input);
                case.body.extend_from_slice(&encode(secret, &enc));
            }
            3 => case.splits.push(case.body.len()),
            4 => {
                let secret = &case.secrets[usize::from(input.byte()) % case.secrets.len()];
                let mut n = usize::from(input.byte()) % (secret.len() + 1);
                while !secret.is_char_boundary(n) {
                    n -= 1;
                }
                case.body.extend_from_slice(&secret.as_bytes()[..n]);
                case.body.extend_from_slice("…".as_bytes());
            }
            _ => case.max_bytes = usize::from(input.byte()) * 4,
        }
    }
    case
}

fn encoding(input: &mut Reader<'_>) -> Encoding {
    let b = input.byte();
    let upper = b & 0x80 != 0;
    match b % 13 {
        0 => Encoding::Plain,
        1 => Encoding::Bearer,
        2 => Encoding::Json,
        3 => Encoding::JsonSlash,
        4 => Encoding::JsonHtml,
        5 => Encoding::JsonAscii { upper },
        6 => Encoding::Unicode { upper },
        7 => Encoding::Percent { upper },
        8 => Encoding::PercentRfc {
            upper,
            safe: ["", "/", "!'()*"][usize::from(input.byte() % 3)],
        },
        9 => Encoding::Basic {
            user: "u".repeat(usize::from(input.byte() % 4)),
        },
        10 => Encoding::Jwt,
        _ => {
            let flags = input.byte();
            let before = usize::from(input.byte() % 8);
            let before = input.take(before).to_vec();
            let after = usize::from(input.byte() % 8);
            Encoding::Base64 {
                url: flags & 1 != 0,
                pad: flags & 2 != 0,
                before,
                after: input.take(after).to_vec(),
            }
        }
    }
}

/// Fuzzer bytes, read front to back; zeros once they run out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}
