use super::*;

fn listen(host: &str, allowed_hosts: &[&str], allowed_origins: &[&str]) -> Listen {
    Listen {
        host: host.into(),
        port: 8797,
        client_keys_env: None,
        client_keys: Vec::new(),
        allow_unauthenticated: false,
        allowed_hosts: allowed_hosts.iter().map(|s| s.to_string()).collect(),
        allowed_origins: allowed_origins.iter().map(|s| s.to_string()).collect(),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn post(l: &Listen, pairs: &[(&str, &str)]) -> Result<Pass, ApiError> {
    check(
        l,
        &Method::POST,
        &Uri::from_static("/v1/responses"),
        &headers(pairs),
        false,
    )
}

fn get_host(l: &Listen, host: &str) -> bool {
    check(
        l,
        &Method::GET,
        &Uri::from_static("/v1/models"),
        &headers(&[("host", host)]),
        false,
    )
    .is_ok()
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[test]
fn what_codex_sends_passes() {
    let l = listen("127.0.0.1", &[], &[]);
    let p = post(&l, &[("host", "127.0.0.1:8797"), JSON]).unwrap();
    assert!(p.cors_origin.is_none());
}

#[test]
fn loopback_names_and_ips_pass_on_any_port() {
    let l = listen("127.0.0.1", &[], &[]);
    for h in [
        "127.0.0.1",
        "127.0.0.1:1",
        "127.1.2.3:8797",
        "localhost",
        "LOCALHOST:8797",
        "[::1]",
        "[::1]:8797",
    ] {
        assert!(get_host(&l, h), "{h}");
    }
}

#[test]
fn other_names_are_refused() {
    let l = listen("127.0.0.1", &[], &[]);
    for h in [
        "attacker.example",
        "attacker.example:8797",
        "evil.localhost",
        "localhost.",
        "127.1",
        "128.0.0.1",
        "0.0.0.0:8797",
        "[::2]",
        "",
        "127.0.0.1:99999",
        "127.0.0.1:x",
        "[::1",
        "localhost:8797 x",
    ] {
        assert!(!get_host(&l, h), "{h:?} must be refused");
    }
}

#[test]
fn the_configured_host_passes() {
    assert!(get_host(&listen("0.0.0.0", &[], &[]), "0.0.0.0:8797"));
    assert!(get_host(&listen("::", &[], &[]), "[::]:8797"));
    assert!(get_host(&listen("Shim.LAN", &[], &[]), "shim.lan:8797"));
    assert!(!get_host(&listen("shim.lan", &[], &[]), "other.lan:8797"));
}

#[test]
fn allowed_hosts_match_by_name_and_port_when_given() {
    let l = listen("127.0.0.1", &["shim.lan", "box.lan:8797", "[fd00::1]"], &[]);
    assert!(get_host(&l, "shim.lan"));
    assert!(get_host(&l, "SHIM.lan:1234"));
    assert!(get_host(&l, "box.lan:8797"));
    assert!(!get_host(&l, "box.lan:8798"));
    assert!(!get_host(&l, "box.lan"));
    assert!(get_host(&l, "[fd00::1]:8797"));
    assert!(!get_host(&l, "sub.shim.lan"));
}

#[test]
fn a_missing_host_passes_two_hosts_do_not() {
    let l = listen("127.0.0.1", &[], &[]);
    assert!(post(&l, &[JSON]).is_ok());
    let e = post(
        &l,
        &[("host", "127.0.0.1"), ("host", "attacker.example"), JSON],
    )
    .unwrap_err();
    assert_eq!(e.status, StatusCode::FORBIDDEN);
}

#[test]
fn an_absolute_form_authority_is_checked_too() {
    let l = listen("127.0.0.1", &[], &[]);
    let uri = Uri::from_static("http://attacker.example/v1/models");
    let h = headers(&[("host", "127.0.0.1")]);
    let e = check(&l, &Method::GET, &uri, &h, false).unwrap_err();
    assert!(e.message.contains("'attacker.example'"), "{}", e.message);
}

#[test]
fn a_valid_client_key_serves_any_host_but_not_any_origin() {
    let l = listen("0.0.0.0", &[], &[]);
    let uri = Uri::from_static("/v1/models");
    assert!(
        check(
            &l,
            &Method::GET,
            &uri,
            &headers(&[("host", "shim.example")]),
            true
        )
        .is_ok()
    );
    let h = headers(&[("host", "shim.example"), ("origin", "https://evil.example")]);
    let e = check(&l, &Method::GET, &uri, &h, true).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("origin_not_allowed"));
}

#[test]
fn host_refusal_names_the_setting_and_bounds_the_value() {
    let mut l = listen("127.0.0.1", &[], &[]);
    let long = format!("{}.example", "a".repeat(500));
    let e = post(&l, &[("host", &long), JSON]).unwrap_err();
    assert_eq!(e.status, StatusCode::FORBIDDEN);
    assert_eq!(e.kind, "permission_error");
    assert_eq!(e.code.as_deref(), Some("host_not_allowed"));
    assert!(e.message.contains("listen.allowed_hosts"), "{}", e.message);
    assert!(!e.message.contains("client key"), "{}", e.message);
    assert!(e.message.len() < 400, "{}", e.message);
    l.client_keys_env = Some("KEYS".into());
    let e = post(&l, &[("host", "x.example"), JSON]).unwrap_err();
    assert!(
        e.message.contains("listen.client_keys_env"),
        "{}",
        e.message
    );
}

#[test]
fn origins_pass_only_when_listed_exactly() {
    let l = listen("127.0.0.1", &[], &["http://localhost:3000"]);
    let ok = post(&l, &[("origin", "http://localhost:3000"), JSON]).unwrap();
    assert_eq!(ok.cors_origin.unwrap(), "http://localhost:3000");
    assert!(post(&l, &[("origin", "HTTP://LOCALHOST:3000"), JSON]).is_ok());
    for o in [
        "http://localhost:3001",
        "https://localhost:3000",
        "http://localhost",
        "null",
        "https://evil.example",
        "",
    ] {
        let e = post(&l, &[("origin", o), JSON]).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN, "{o}");
        assert_eq!(e.code.as_deref(), Some("origin_not_allowed"));
        assert!(
            e.message.contains("listen.allowed_origins"),
            "{}",
            e.message
        );
    }
    let two = [
        ("origin", "http://localhost:3000"),
        ("origin", "https://evil.example"),
        JSON,
    ];
    assert!(post(&l, &two).is_err());
}

#[test]
fn post_needs_json() {
    let l = listen("127.0.0.1", &[], &[]);
    for ct in [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        " application/json ;charset=UTF-8",
    ] {
        assert!(post(&l, &[("content-type", ct)]).is_ok(), "{ct}");
    }
    for ct in [
        "text/plain",
        "text/plain; a=application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json-seq",
        "",
    ] {
        let e = post(&l, &[("content-type", ct)]).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert!(e.message.contains("application/json"), "{}", e.message);
    }
    let e = post(&l, &[]).unwrap_err();
    assert!(e.message.contains("got none"), "{}", e.message);
    // GET carries no body: no content type needed.
    assert!(get_host(&l, "127.0.0.1"));
}

#[test]
fn control_characters_are_escaped_in_the_message() {
    let l = listen("127.0.0.1", &[], &[]);
    let mut h = HeaderMap::new();
    h.insert(HOST, HeaderValue::from_bytes(b"a\tb\xff").unwrap());
    let e = check(&l, &Method::GET, &Uri::from_static("/"), &h, false).unwrap_err();
    assert!(!e.message.contains('\t'), "{}", e.message);
}

#[test]
fn preflight_names_the_origin() {
    let l = listen("127.0.0.1", &[], &["http://localhost:3000"]);
    let h = headers(&[("origin", "http://localhost:3000")]);
    let p = check(
        &l,
        &Method::OPTIONS,
        &Uri::from_static("/v1/responses"),
        &h,
        false,
    )
    .unwrap();
    let r = preflight(&p);
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    assert!(
        r.headers()[ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
}

#[test]
fn a_cross_site_fetch_without_origin_is_refused() {
    let l = listen("127.0.0.1", &[], &["http://localhost:3000"]);
    let get = |pairs: &[(&str, &str)]| {
        check(
            &l,
            &Method::GET,
            &Uri::from_static("/v1/models"),
            &headers(pairs),
            false,
        )
    };
    for site in ["cross-site", "same-site", "Cross-Site", "bogus"] {
        let e = get(&[("sec-fetch-site", site)]).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN, "{site}");
        assert!(
            e.message.contains("listen.allowed_origins"),
            "{}",
            e.message
        );
    }
    for site in ["same-origin", "none"] {
        assert!(get(&[("sec-fetch-site", site)]).is_ok(), "{site}");
    }
    // A listed origin's cors fetch is cross-site and carries its Origin: served.
    let listed = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "http://localhost:3000"),
    ];
    assert!(get(&listed).is_ok());
}
