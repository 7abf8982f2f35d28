//! Classification of provider refusals, from the bodies providers send (fixtures under
//! `tests/fixtures/upstream/`).

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/upstream/", $name))
    };
}

fn body_json(e: &ProviderRefusal) -> Value {
    serde_json::from_slice(&e.openai_body()).unwrap()
}

#[test]
fn e11_429_engine_overloaded_is_a_rate_limit_with_retry_after() {
    let e = classify(429, fixture!("E11-429-engine_overloaded.json"), None, None);
    assert_eq!(e.kind, RefusalKind::RateLimited);
    assert_eq!(e.message, "Model busy, retry later");
    assert_eq!(e.http_status(), 429);
    assert_eq!(e.retry_after_header(), Some(DEFAULT_RETRY_AFTER_SECS));
    assert_eq!(e.failed_code(), "rate_limit_exceeded");
    assert!(e.failed_message().contains("try again in 2s"));
    let b = body_json(&e);
    assert_eq!(b["error"]["code"], "rate_limit_exceeded");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Model busy")
    );
}

#[test]
fn e11_429_plain_uses_upstream_retry_after_then_reset_hint() {
    let body = fixture!("E11-429-model_busy.json");
    let e = classify(429, body, Some("7"), Some(1.2));
    assert_eq!(e.kind, RefusalKind::RateLimited);
    assert_eq!(e.retry_after_header(), Some(7));
    let e = classify(429, body, None, Some(1.2));
    assert_eq!(e.retry_after_header(), Some(2));
    // An HTTP-date cannot be used without a clock: fall back to the reset hint.
    let e = classify(429, body, Some("Wed, 21 Oct 2026 07:28:00 GMT"), Some(4.0));
    assert_eq!(e.retry_after_header(), Some(4));
    let e = classify(429, body, Some("86400"), None);
    assert_eq!(e.retry_after_header(), Some(MAX_RETRY_AFTER_SECS));
}

#[test]
fn e11_401_and_403_keep_their_status() {
    let e = classify(401, fixture!("E11-401-not_authenticated.json"), None, None);
    assert_eq!((e.kind, e.http_status()), (RefusalKind::Auth, 401));
    assert_eq!(e.message, "Not authenticated");
    let e = classify(403, fixture!("E11-403-detail_error.json"), None, None);
    assert_eq!((e.kind, e.http_status()), (RefusalKind::Auth, 403));
    assert_eq!(e.message, "Not authenticated");
    let e = classify(401, fixture!("E11-401-bare_string.json"), None, None);
    assert_eq!((e.kind, e.http_status()), (RefusalKind::Auth, 401));
    assert_eq!(e.message, "Unauthorised");
    assert_eq!(body_json(&e)["error"]["type"], "authentication_error");
}

#[test]
fn e11_422_bodies_are_invalid_requests_with_readable_messages() {
    let e = classify(422, fixture!("E11-422-developer_role.json"), None, None);
    assert_eq!((e.kind, e.http_status()), (RefusalKind::Invalid, 400));
    assert_eq!(e.message, "Input should be <ChatMessageRole.TOOL: 'tool'>");
    let e = classify(422, fixture!("E11-422-detail.json"), None, None);
    assert_eq!((e.kind, e.http_status()), (RefusalKind::Invalid, 400));
    assert!(
        e.message
            .starts_with("body.reasoning_effort: Input should be 'none'"),
        "{}",
        e.message
    );
    let b = body_json(&e);
    assert_eq!(b["error"]["type"], "invalid_request_error");
    assert!(b["error"]["code"].is_null());
}

#[test]
fn e11_402_is_quota() {
    let e = classify(
        402,
        fixture!("E11-402-insufficient_balance.json"),
        None,
        None,
    );
    assert_eq!(e.kind, RefusalKind::Quota);
    assert_eq!(e.http_status(), 429);
    assert_eq!(e.retry_after_header(), None);
    assert_eq!(e.failed_code(), "insufficient_quota");
    assert_eq!(body_json(&e)["error"]["code"], "insufficient_quota");
    // The same wording on a 429 or 400 is quota too.
    let e = classify(429, br#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","code":"insufficient_quota"}}"#, Some("5"), None);
    assert_eq!(e.kind, RefusalKind::Quota);
}

#[test]
fn e11_400_reasoning_replay_errors_are_invalid_not_context() {
    for name in [
        &fixture!("E11-400-deepseek_reasoning.json")[..],
        &fixture!("E11-400-moonshot_reasoning.json")[..],
    ] {
        let e = classify(400, name, None, None);
        assert_eq!(e.kind, RefusalKind::Invalid, "{}", e.message);
        assert_eq!(e.http_status(), 400);
        assert!(e.message.contains("reasoning_content"));
    }
}

#[test]
fn e11_5xx_are_server_errors_and_overload_is_separate() {
    let e = classify(503, fixture!("E11-503-unavailable.json"), None, None);
    assert_eq!(e.kind, RefusalKind::Server);
    assert!(e.stream_as_failed());
    assert_eq!((e.http_status(), e.failed_code()), (502, "server_error"));
    let e = classify(500, fixture!("E11-500-internal.json"), None, None);
    assert_eq!(e.kind, RefusalKind::Server);
    assert_eq!(e.message, "Internal server error");
    let e = classify(
        503,
        br#"{"error":{"message":"The engine is currently overloaded"}}"#,
        None,
        None,
    );
    assert_eq!(e.kind, RefusalKind::Overloaded);
    assert_eq!(
        (e.http_status(), e.failed_code()),
        (503, "server_is_overloaded")
    );
}

#[test]
fn e11_405_empty_body_gets_a_status_message() {
    let e = classify(405, fixture!("E11-405-empty.json"), None, None);
    assert_eq!(e.kind, RefusalKind::Invalid);
    assert_eq!(e.message, "upstream returned HTTP 405 (Method Not Allowed)");
    let e = classify(502, b"<html><body>Bad Gateway</body></html>", None, None);
    assert_eq!(e.kind, RefusalKind::Server);
    assert_eq!(e.message, "<html><body>Bad Gateway</body></html>");
}

#[test]
fn not_found_answers_400_model_not_found() {
    let e = classify(
        404,
        br#"{"error":{"message":"Model not found: foo/bar"}}"#,
        None,
        None,
    );
    assert_eq!(e.kind, RefusalKind::NotFound);
    assert_eq!(e.http_status(), 400);
    assert_eq!(body_json(&e)["error"]["code"], "model_not_found");
    let e = classify(404, b"", None, None);
    assert_eq!(e.kind, RefusalKind::NotFound);
}

#[test]
fn context_overflow_in_any_wording() {
    let wordings = [
        (
            400,
            r#"{"error":{"message":"x","code":"context_length_exceeded"}}"#,
        ),
        (
            400,
            r#"{"error":{"message":"This model's maximum context length is 131072 tokens. However, you requested 140000 tokens. Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}}"#,
        ),
        (
            400,
            r#"{"error":{"message":"Requested token count exceeds the model's context length"}}"#,
        ),
        (
            400,
            r#"{"error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
        ),
        (422, r#"{"detail":"Input too long for model"}"#),
        (400, r#"{"error":"too many tokens in the prompt"}"#),
        (
            400,
            r#"{"message":"Input exceeds the context window of this model"}"#,
        ),
        (
            400,
            r#"{"error":{"message":"Please reduce the length of the messages."}}"#,
        ),
        (413, ""),
        (
            500,
            r#"{"error":{"message":"maximum context length exceeded"}}"#,
        ),
    ];
    for (status, body) in wordings {
        let e = classify(status, body.as_bytes(), None, None);
        assert_eq!(e.kind, RefusalKind::ContextLength, "{status} {body}");
        assert_eq!(e.http_status(), 400);
        assert_eq!(e.failed_code(), "context_length_exceeded");
        let b = body_json(&e);
        assert_eq!(b["error"]["code"], "context_length_exceeded");
        assert_eq!(b["error"]["type"], "invalid_request_error");
    }
    // A token *rate* limit mentions tokens too, but it is a 429.
    let e = classify(429, br#"{"error":{"message":"Rate limit reached: too many tokens per minute. Please try again in 1.5s."}}"#, None, None);
    assert_eq!(e.kind, RefusalKind::RateLimited);
    assert_eq!(e.retry_after_secs, Some(2));
    assert!(!e.failed_message().contains("(try again"));
}

#[test]
fn embedded_stream_errors() {
    let v: Value = serde_json::from_str(r#"{"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error"}"#).unwrap();
    let e = classify_embedded(&v);
    assert_eq!(
        (e.kind, e.failed_code()),
        (RefusalKind::Server, "server_error")
    );
    let v: Value = serde_json::from_str(
        r#"{"message": "TimeoutError", "type": "GatewayTimeout", "code": 504}"#,
    )
    .unwrap();
    let e = classify_embedded(&v);
    assert_eq!((e.kind, e.upstream_status), (RefusalKind::Server, 504));
    assert_eq!(e.message, "TimeoutError");
    let e = classify_embedded(&Value::String("upstream failed".into()));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (RefusalKind::Server, "upstream failed")
    );
    let v: Value = serde_json::from_str(r#"{"code":429,"message":"Rate limited"}"#).unwrap();
    let e = classify_embedded(&v);
    assert_eq!(e.failed_code(), "rate_limit_exceeded");
    assert_eq!(e.failed_message(), "Rate limited (try again in 2s)");
    let v: Value =
        serde_json::from_str(r#"{"code":"context_length_exceeded","message":"too long"}"#).unwrap();
    assert_eq!(
        classify_embedded(&v).failed_code(),
        "context_length_exceeded"
    );
}

#[test]
fn messages_are_truncated_and_error_body_is_the_openai_envelope() {
    let long = "é".repeat(2000);
    let body = format!(r#"{{"error":{{"message":"{long}"}}}}"#);
    let e = classify(400, body.as_bytes(), None, None);
    assert!(e.message.len() <= MAX_MESSAGE_BYTES + "…".len());
    let b: Value = serde_json::from_slice(&openai_error_body(
        "no \"route\"",
        "invalid_request_error",
        None,
    ))
    .unwrap();
    assert_eq!(b["error"]["message"], "no \"route\"");
    assert!(b["error"]["code"].is_null());
    let b: Value = serde_json::from_slice(&openai_error_body("m", "t", Some("c"))).unwrap();
    assert_eq!(b["error"]["code"], "c");
}

#[test]
fn duration_hints() {
    assert_eq!(parse_duration_hint("20ms"), Some(0.02));
    assert_eq!(parse_duration_hint("1.5s"), Some(1.5));
    assert_eq!(parse_duration_hint("6m0s"), Some(360.0));
    assert_eq!(parse_duration_hint("1h2m3s"), Some(3723.0));
    assert_eq!(parse_duration_hint("12"), Some(12.0));
    assert_eq!(parse_duration_hint("1760000000"), None);
    assert_eq!(parse_duration_hint("soon"), None);
    assert_eq!(parse_retry_after(" 3 "), Some(3));
    assert_eq!(parse_retry_after("0.2"), Some(1));
    assert_eq!(parse_retry_after("-1"), None);
}
