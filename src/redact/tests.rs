use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;

use super::*;
use crate::redact::check::{self, Case, Encoding};
use crate::redact::{RedactingWriter, echo_prefix_len};

/// Fake secrets shaped like real ones: a DeepInfra-style token, an OpenAI-style key, a header
/// value with characters that JSON, URLs and base64 treat specially.
const TOKEN: &str = "Xq3vT9kLm2Rp8sWz4Yb7Nc1Df6Gh5Jk0";
const KEY: &str = "sk-proj-4f8a2c9e7b1d3f5a6c8e0b2d4f6a8c0e";
const HEADER: &str = "Zm9v/bar+baz=\"qu<x>&y\"~é中";

fn secrets() -> Vec<String> {
    [TOKEN, KEY, HEADER].map(String::from).to_vec()
}

fn redactor() -> Redactor {
    Redactor::new([TOKEN, KEY, HEADER])
}

/// Redacts `text` and fails naming the surviving form, if any.
fn assert_clean(r: &Redactor, text: &[u8]) -> Vec<u8> {
    let out = r.redact_bytes(text).into_owned();
    if let Some(form) = check::leak(&secrets(), &out) {
        panic!("the {form} survives in {:?}", String::from_utf8_lossy(&out));
    }
    out
}

fn every_encoding() -> Vec<Encoding> {
    let mut all = vec![
        Encoding::Plain,
        Encoding::Bearer,
        Encoding::Json,
        Encoding::JsonSlash,
        Encoding::JsonHtml,
        Encoding::Jwt,
    ];
    for upper in [false, true] {
        all.push(Encoding::JsonAscii { upper });
        all.push(Encoding::Unicode { upper });
        all.push(Encoding::Percent { upper });
        for safe in ["", "/", "!'()*"] {
            all.push(Encoding::PercentRfc { upper, safe });
        }
    }
    for user in ["", "u", "uu", "user"] {
        all.push(Encoding::Basic { user: user.into() });
    }
    for url in [false, true] {
        for pad in [false, true] {
            for before in 0..6 {
                for after in 0..4 {
                    all.push(Encoding::Base64 {
                        url,
                        pad,
                        before: vec![0xa5; before],
                        after: vec![0x3c; after],
                    });
                }
            }
        }
    }
    all
}

#[test]
fn every_encoding_of_every_secret_is_redacted_and_the_text_around_it_kept() {
    let r = redactor();
    for secret in secrets() {
        for enc in every_encoding() {
            let mut text = b"before [".to_vec();
            text.extend_from_slice(&check::encode(&secret, &enc));
            text.extend_from_slice(b"] after");
            let out = assert_clean(&r, &text);
            let out = String::from_utf8(out).unwrap();
            assert!(out.starts_with("before ["), "{enc:?}: {out}");
            assert!(out.ends_with("] after"), "{enc:?}: {out}");
            assert!(out.contains(MARKER), "{enc:?}: {out}");
        }
    }
}

#[test]
fn base64_runs_are_matched_at_every_alignment_and_only_the_mixed_edges_stay() {
    let r = Redactor::new([TOKEN]);
    for before in 0..3 {
        let mut raw = vec![b'x'; before];
        raw.extend_from_slice(TOKEN.as_bytes());
        raw.extend_from_slice(b"yy");
        let encoded = STANDARD.encode(&raw);
        // Exactly the characters that carry bits of the secret alone are replaced: the
        // neighbours' characters and the one mixed character at each edge stay.
        let first = (8 * before).div_ceil(6);
        let end = 8 * (before + TOKEN.len()) / 6;
        let expected = format!("{}***{}", &encoded[..first], &encoded[end..]);
        assert_eq!(r.redact(&encoded), expected, "offset {before}");
    }
}

#[test]
fn a_token_in_a_jwt_in_basic_auth_in_json_html_and_query_strings() {
    let r = redactor();
    let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"api_key":"{TOKEN}","n":1}}"#));
    let jwt = format!("eyJhbGciOiJIUzI1NiJ9.{claims}.c2lnbmF0dXJl");
    let out = r.redact(&jwt);
    assert!(out.starts_with("eyJhbGciOiJIUzI1NiJ9.") && out.ends_with(".c2lnbmF0dXJl"));
    assert!(out.contains(MARKER), "{out}");

    let basic = format!(
        "Authorization: Basic {}",
        STANDARD.encode(format!("me:{KEY}"))
    );
    assert!(r.redact(&basic).starts_with("Authorization: Basic "));
    assert_clean(&r, basic.as_bytes());

    let body = serde_json::json!({"error": {"message": format!("Invalid header {HEADER}")}});
    let body = serde_json::to_string(&body).unwrap();
    let out = assert_clean(&r, body.as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["error"]["message"], "Invalid header ***");

    let html = format!("<html><body><p>Bad key <code>{KEY}</code></p></body></html>");
    assert_eq!(
        r.redact(&html),
        "<html><body><p>Bad key <code>***</code></p></body></html>"
    );

    let query = format!(
        "https://api.example/v1?key={}&x=1",
        check::encode(
            HEADER,
            &Encoding::PercentRfc {
                upper: true,
                safe: ""
            }
        )
        .into_iter()
        .map(char::from)
        .collect::<String>()
    );
    assert_eq!(r.redact(&query), "https://api.example/v1?key=***&x=1");
}

#[test]
fn secrets_shorter_than_the_minimum_are_ignored() {
    let r = Redactor::new(["abc", "1234567", ""]);
    assert!(r.is_empty());
    assert!(matches!(r.redact("abc 1234567"), Cow::Borrowed(_)));
    let r = Redactor::new(["12345678"]);
    assert_eq!(r.redact("x12345678y 1234567"), "x***y 1234567");
}

#[test]
fn a_prefix_echo_of_half_the_secret_or_more_is_redacted_as_far_as_it_agrees() {
    let r = Redactor::new([KEY]);
    let half = echo_prefix_len(KEY.len());
    assert_eq!(half, KEY.len().div_ceil(2));
    let shown = format!("Incorrect API key provided: {}…{}.", &KEY[..half], "c0e");
    assert_eq!(r.redact(&shown), "Incorrect API key provided: ***…c0e.");
    let longer = format!("key {}ZZZ", &KEY[..half + 5]);
    assert_eq!(r.redact(&longer), "key ***ZZZ");
    let shorter = format!("key {}…", &KEY[..half - 1]);
    assert!(matches!(r.redact(&shorter), Cow::Borrowed(_)));
    // The floor: a short secret's echo must show at least 12 bytes (or all of it).
    assert_eq!(echo_prefix_len(8), 8);
    assert_eq!(echo_prefix_len(16), 12);
    assert_eq!(echo_prefix_len(40), 20);
}

#[test]
fn overlapping_matches_become_one_marker_and_leave_no_tail() {
    let pair = ["abcdefgh12345678", "12345678zzzzzzzz"];
    // Also with each pattern in its own automaton: the match found first (`12345678zzzz`,
    // sorted first) begins after the one that must win.
    for group in [1, GROUP_PATTERNS] {
        let r = Redactor::grouped(pair, group);
        assert_eq!(r.redact("<abcdefgh12345678zzzzzzzz>"), "<***>", "{group}");
        // Adjacent occurrences do not overlap: each gets its marker.
        assert_eq!(r.redact("abcdefgh12345678abcdefgh12345678"), "******");
    }
}

#[test]
fn bytes_that_are_not_utf8_are_redacted_too() {
    let r = redactor();
    let mut body = vec![0xff, 0xfe, b' '];
    body.extend_from_slice(TOKEN.as_bytes());
    body.push(0x80);
    assert_eq!(&*r.redact_bytes(&body), b"\xff\xfe ***\x80");
}

/// Bodies a provider or Codex sends every day, without any secret.
fn ordinary_texts() -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = vec![
        b"The agent should run the tests before editing files; read the output carefully."
            .to_vec(),
        br#"{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}"#.to_vec(),
        b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>".to_vec(),
        b"https://api.deepinfra.com/v1/openai/chat/completions?x=%2F%3D%26".to_vec(),
        br#"data: {"choices":[{"delta":{"content":"sk-proj- keys start like this"}}]}"#.to_vec(),
        "unicode \u{1f600} caf\u{e9} \\u00e9\\u4e2d %C3%A9".as_bytes().to_vec(),
    ];
    for name in ["E1", "E5", "E7", "E12"] {
        let path = format!(
            "{}/tests/fixtures/upstream/{name}.sse",
            env!("CARGO_MANIFEST_DIR")
        );
        all.push(std::fs::read(path).unwrap());
    }
    let mut rng = fastrand::Rng::with_seed(7);
    for len in [9, 24, 33, 64, 1000, 6000] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        all.push(STANDARD.encode(&bytes).into_bytes());
        all.push(URL_SAFE_NO_PAD.encode(&bytes).into_bytes());
    }
    all
}

#[test]
fn ordinary_text_passes_unchanged_and_unallocated() {
    let r = redactor();
    for text in ordinary_texts() {
        let shown = String::from_utf8_lossy(&text).into_owned();
        assert!(
            matches!(r.redact_bytes(&text), Cow::Borrowed(_)),
            "false positive in {shown}"
        );
        if let Ok(s) = std::str::from_utf8(&text) {
            assert!(matches!(r.redact(s), Cow::Borrowed(_)), "{shown}");
        }
    }
}

#[test]
fn a_stream_of_sse_events_leaves_event_by_event_with_nothing_kept_back() {
    let r = redactor();
    let body = ordinary_texts().swap_remove(7);
    let mut stream = r.stream();
    for event in body.split_inclusive(|&b| b == b'\n') {
        let mut out = Vec::new();
        stream.push(event, &mut out);
        assert_eq!(out, event, "an event must leave whole and at once");
        assert_eq!(stream.pending_len(), 0);
    }
}

/// A body with each secret in several forms, and SSE framing around them.
fn secret_body() -> Vec<u8> {
    let mut body = b"data: {\"error\":{\"message\":\"Bearer ".to_vec();
    body.extend_from_slice(KEY.as_bytes());
    body.extend_from_slice(b" and ");
    body.extend_from_slice(&check::encode(HEADER, &Encoding::Json));
    body.extend_from_slice(b" and ");
    body.extend_from_slice(&check::encode(TOKEN, &Encoding::Unicode { upper: false }));
    body.extend_from_slice(b"\"}}\n\nBasic ");
    body.extend_from_slice(STANDARD.encode(format!("u:{TOKEN}")).as_bytes());
    body.extend_from_slice(b" end");
    body
}

#[test]
fn a_secret_split_across_two_chunks_is_caught_at_every_position() {
    let r = redactor();
    let body = secret_body();
    let whole = assert_clean(&r, &body);
    for cut in 0..=body.len() {
        let out = check::stream_in_chunks(&r, &body, &[cut]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&whole),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_secret_split_across_three_chunks_is_caught_at_every_pair_of_positions() {
    let r = Redactor::new([TOKEN]);
    let body = format!("x: {TOKEN}; {} end", STANDARD.encode(TOKEN)).into_bytes();
    let whole = assert_clean(&r, &body);
    for a in 0..=body.len() {
        for b in a..=body.len() {
            let out = check::stream_in_chunks(&r, &body, &[a, b]);
            assert_eq!(out, whole, "cuts at {a} and {b}");
        }
    }
}

#[test]
fn a_tail_that_could_start_a_secret_is_kept_back_until_the_next_chunk_or_the_end() {
    let r = Redactor::new([KEY]);
    let mut stream = r.stream();
    let mut out = Vec::new();
    stream.push(b"key sk-proj-4f8", &mut out);
    assert_eq!(out, b"key ");
    assert_eq!(stream.pending_len(), 11);
    stream.push(b"a2c9e7b1d3f5a6c8e0b2d4f6a8c0e!", &mut out);
    assert_eq!(out, b"key ***!");
    // A body that ends in what looked like a start: flushed as it is by finish.
    stream.push(b" sk-pr", &mut out);
    stream.finish(&mut out);
    assert_eq!(out, b"key ***! sk-pr");
    assert_eq!(stream.pending_len(), 0);
}

#[test]
fn redact_truncated_never_keeps_a_prefix_of_a_secret_at_any_cut() {
    let r = Redactor::new([TOKEN]);
    let text = format!("Invalid key: {TOKEN} (check your env file) é");
    let redacted = r.redact(&text).into_owned();
    for max in 0..=text.len() + 4 {
        let out = r.redact_truncated(&text, max);
        assert!(out.len() <= max || max >= redacted.len(), "{max}: {out}");
        assert!(out.len() <= max.max(redacted.len()));
        assert!(!out.contains('X'), "{max}: a prefix survives in {out:?}");
        let kept = out.strip_suffix('…').unwrap_or(&out);
        assert!(redacted.starts_with(kept), "{max}: {out}");
        if out.len() < redacted.len() && max >= 3 {
            assert!(out.ends_with('…'), "{max}: {out}");
        }
    }
    // Truncating first, as the daemon did, leaks the start of the token at these cuts.
    let naive = &text[..text.find(TOKEN).unwrap() + 5];
    assert!(r.redact(naive).contains("Xq3vT"));
}

#[test]
fn with_extra_shares_the_compiled_set_for_a_known_or_repeated_secret() {
    let r = redactor();
    let same = r.with_extra(KEY);
    assert!(Arc::ptr_eq(&same.shared, &r.shared));
    let short = r.with_extra("abc");
    assert!(Arc::ptr_eq(&short.shared, &r.shared));

    let bearer = "sk-codex-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d";
    let extended = r.with_extra(bearer);
    assert!(!Arc::ptr_eq(&extended.shared, &r.shared));
    assert_eq!(extended.redact(&format!("{bearer} {TOKEN}")), "*** ***");
    assert_eq!(r.redact(bearer), bearer, "the original is unchanged");
    let again = r.with_extra(bearer);
    assert!(Arc::ptr_eq(&again.shared, &extended.shared), "cached");

    let from_empty = Redactor::empty().with_extra(bearer);
    assert_eq!(from_empty.redact(bearer), "***");
}

#[test]
fn the_redacting_writer_uses_the_current_secrets_for_every_write() {
    use std::io::Write as _;
    let current = Arc::new(Mutex::new(Arc::new(Redactor::new([TOKEN]))));
    let source = Arc::clone(&current);
    let mut w = RedactingWriter::new(Vec::new(), move || source.lock().unwrap().clone());
    writeln!(w, "token={TOKEN} key={KEY}").unwrap();
    *current.lock().unwrap() = Arc::new(Redactor::new([KEY]));
    writeln!(w, "token={TOKEN} key={KEY}").unwrap();
    w.flush().unwrap();
    let text = String::from_utf8(w.into_inner()).unwrap();
    assert_eq!(
        text,
        format!("token=*** key={KEY}\ntoken={TOKEN} key=***\n")
    );
}

#[test]
fn debug_output_never_shows_a_secret() {
    let r = redactor();
    let mut stream = r.stream();
    stream.push(b"sk-proj-4f8a", &mut Vec::new());
    let shown = format!("{r:?} {stream:?}");
    assert!(
        !shown.contains("sk-proj") && !shown.contains("Xq3v"),
        "{shown}"
    );
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Redactor>();
    send_sync::<StreamRedactor>();
}

/// Twenty secrets: more patterns than one automaton gets.
fn many_secrets() -> Vec<String> {
    let mut all = secrets();
    all.extend((0..17).map(|i| {
        format!(
            "tok-{i:02}-{:024x}",
            (i as u128 + 1) * 0x9e37_79b9_7f4a_7c15
        )
    }));
    all
}

/// The twenty secrets compiled with one automaton per pattern and with one for all (built once:
/// a hundred and more automata take a while in a debug build).
fn per_pattern_and_single() -> &'static (Redactor, Redactor) {
    static PAIR: std::sync::OnceLock<(Redactor, Redactor)> = std::sync::OnceLock::new();
    PAIR.get_or_init(|| {
        let secrets = many_secrets();
        let secrets = || secrets.iter().map(String::as_str);
        (
            Redactor::grouped(secrets(), 1),
            Redactor::grouped(secrets(), usize::MAX),
        )
    })
}

#[test]
fn a_large_config_split_over_several_automata_still_catches_every_form() {
    let secrets = many_secrets();
    let r = Redactor::new(secrets.iter().map(String::as_str));
    assert!(r.inner().unwrap().groups.len() > 1, "{r:?}");
    let mut body = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let all = every_encoding();
        for enc in all.iter().skip(i % 3).step_by(3) {
            body.extend_from_slice(b" <");
            body.extend_from_slice(&check::encode(secret, enc));
        }
    }
    let case = Case {
        secrets,
        splits: vec![17, 4000, 4001, 9000],
        max_bytes: 512,
        body,
    };
    check::check(&case).unwrap();
}

#[test]
fn the_fuzz_decoder_accepts_any_bytes() {
    for data in [
        &b""[..],
        b"\x00",
        b"\xff\xff\xff",
        b"\x02\x10abcdefghijklmnop\x02\x00\x00",
    ] {
        check::fuzz_one(data);
    }
}

fn encoding_strategy() -> impl Strategy<Value = Encoding> {
    let upper = any::<bool>();
    prop_oneof![
        Just(Encoding::Plain),
        Just(Encoding::Bearer),
        Just(Encoding::Json),
        Just(Encoding::JsonSlash),
        Just(Encoding::JsonHtml),
        Just(Encoding::Jwt),
        upper.prop_map(|upper| Encoding::JsonAscii { upper }),
        upper.prop_map(|upper| Encoding::Unicode { upper }),
        upper.prop_map(|upper| Encoding::Percent { upper }),
        (upper, prop::sample::select(vec!["", "/", "!'()*"]))
            .prop_map(|(upper, safe)| Encoding::PercentRfc { upper, safe }),
        "[a-z]{0,5}".prop_map(|user| Encoding::Basic { user }),
        (
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..7),
            prop::collection::vec(any::<u8>(), 0..4)
        )
            .prop_map(|(url, pad, before, after)| Encoding::Base64 {
                url,
                pad,
                before,
                after
            }),
    ]
}

/// Secrets in the alphabets real ones use, plus characters every encoding treats specially.
const SECRET_PATTERN: &str = "[A-Za-z0-9_.~+/=:<>&%!'()\"\\\\é中😀 -]{8,40}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_text_with_secrets_in_random_encodings_never_leaks(
        secrets in prop::collection::vec(SECRET_PATTERN, 1..4),
        pieces in prop::collection::vec(
            (any::<bool>(), ".{0,40}", any::<prop::sample::Index>(), encoding_strategy()),
            1..8,
        ),
        splits in prop::collection::vec(0usize..600, 0..4),
        max_bytes in 0usize..400,
    ) {
        let mut body = Vec::new();
        for (is_secret, text, which, enc) in &pieces {
            if *is_secret {
                body.extend_from_slice(&check::encode(which.get::<String>(&secrets), enc));
            } else {
                body.extend_from_slice(text.as_bytes());
            }
        }
        let case = Case { secrets, body, splits, max_bytes };
        if let Err(e) = check::check(&case) {
            return Err(TestCaseError::fail(e));
        }
    }

    #[test]
    fn one_automaton_per_pattern_redacts_exactly_like_one_for_all(
        picks in prop::collection::vec(
            (any::<prop::sample::Index>(), encoding_strategy(), ".{0,12}"),
            1..12,
        ),
    ) {
        let secrets = many_secrets();
        let mut body = Vec::new();
        for (which, enc, text) in &picks {
            body.extend_from_slice(&check::encode(which.get::<String>(&secrets), enc));
            body.extend_from_slice(text.as_bytes());
        }
        let (each, one) = per_pattern_and_single();
        prop_assert_eq!(one.inner().unwrap().groups.len(), 1);
        prop_assert_eq!(each.redact_bytes(&body), one.redact_bytes(&body));
        prop_assert_eq!(
            check::stream_in_chunks(each, &body, &[body.len() / 2]),
            one.redact_bytes(&body).into_owned()
        );
    }

    #[test]
    fn chunked_streaming_equals_whole_body_redaction_for_any_split(
        splits in prop::collection::vec(0usize..400, 0..6),
    ) {
        let r = redactor();
        let body = secret_body();
        let whole = r.redact_bytes(&body).into_owned();
        prop_assert_eq!(check::stream_in_chunks(&r, &body, &splits), whole);
    }
}
