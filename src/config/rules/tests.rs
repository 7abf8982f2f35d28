use super::*;

#[test]
fn ports() {
    assert_eq!(parse_port("0"), Ok(0));
    assert_eq!(parse_port("65535"), Ok(65535));
    assert_eq!(
        parse_port("65536").unwrap_err(),
        "expected a number 0-65535, got '65536'"
    );
    assert!(parse_port("abc").is_err());
    assert!(parse_port("-1").is_err());
    assert!(parse_port("").is_err());
}

#[test]
fn urls() {
    assert_eq!(
        check_url("https://api.deepinfra.com/v1/openai/").unwrap(),
        "https://api.deepinfra.com/v1/openai"
    );
    assert_eq!(
        check_url("http://127.0.0.1:8000/v1").unwrap(),
        "http://127.0.0.1:8000/v1"
    );
    assert_eq!(check_url("http://[::1]:8000").unwrap(), "http://[::1]:8000");
    assert_eq!(
        check_url("HTTP://Example.com//").unwrap(),
        "HTTP://Example.com"
    );
    for bad in [
        "ftp://x",
        "api.deepinfra.com/v1",
        "https://",
        "https:///v1",
        "http://x:port/",
        "http://x:99999/",
        "https://a b/",
        "https://x/v1?key=1",
        "http://[::1/",
        "",
    ] {
        assert!(check_url(bad).is_err(), "{bad}");
    }
    let e = check_url("https://user:hunter2@x/v1").unwrap_err();
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn env_names() {
    assert!(is_env_name("DEEPINFRA_TOKEN"));
    assert!(is_env_name("_x1"));
    assert!(!is_env_name("1X"));
    assert!(!is_env_name("A-B"));
    assert!(!is_env_name(""));
    assert!(!is_env_name("$TOKEN"));
}

#[test]
fn hosts() {
    for ok in [
        "127.0.0.1",
        "::1",
        "[::1]",
        "0.0.0.0",
        "localhost",
        "my-host.lan",
    ] {
        assert!(check_host(ok).is_ok(), "{ok}");
    }
    for bad in ["", "a b", "http://x", "[localhost]", "1.2.3.4:80"] {
        assert!(check_host(bad).is_err(), "{bad}");
    }
}

#[test]
fn patterns() {
    assert_eq!(parse_pattern("fast"), Ok(Pattern::Exact));
    assert_eq!(
        parse_pattern("moonshotai/*"),
        Ok(Pattern::Prefix("moonshotai/".into()))
    );
    assert_eq!(
        parse_pattern("deepseek*"),
        Ok(Pattern::Prefix("deepseek".into()))
    );
    assert_eq!(parse_pattern("*"), Ok(Pattern::Prefix(String::new())));
    assert!(parse_pattern("*/x").is_err());
    assert!(parse_pattern("a*b").is_err());
    assert!(parse_pattern("a/**").is_err());
    assert!(parse_pattern(" ").is_err());
}

#[test]
fn headers() {
    assert!(check_header("X-Title", "codex cli").is_ok());
    assert!(check_header("Authorization", "Bearer x").is_ok());
    assert!(check_header("Bad Name", "x").is_err());
    assert!(check_header("", "x").is_err());
    assert!(check_header("Content-Length", "1").is_err());
    let e = check_header("X-Key", "sec\nret").unwrap_err();
    assert!(!e.contains("sec"), "{e}");
}

#[test]
fn levels_and_formats() {
    assert_eq!(parse_log_level("DEBUG").unwrap(), "debug");
    assert_eq!(parse_log_level("silent").unwrap(), "silent");
    assert!(parse_log_level("verbose").is_err());
    assert_eq!(parse_log_format("JSON"), Ok(LogFormat::Json));
    assert!(parse_log_format("journald").is_err());
}

#[test]
fn keys_split() {
    let k = split_keys(" a, ,b ,,");
    assert_eq!(k.iter().map(Secret::expose).collect::<Vec<_>>(), ["a", "b"]);
    assert!(split_keys(" , ").is_empty());
}

#[test]
fn cleartext_is_http_to_a_host_that_is_not_loopback() {
    for (url, host) in [
        ("http://api.example.com/v1", Some("api.example.com")),
        ("HTTP://10.0.0.2:8000/v1", Some("10.0.0.2")),
        ("http://[2001:db8::1]:80/v1", Some("2001:db8::1")),
        ("http://127.0.0.1:8000/v1", None),
        ("http://127.5.6.7/v1", None),
        ("http://localhost:8000", None),
        ("http://LOCALHOST", None),
        ("http://[::1]:8000/v1", None),
        ("https://api.example.com/v1", None),
        ("https://10.0.0.2/v1", None),
    ] {
        assert_eq!(cleartext_remote_host(url), host, "{url}");
    }
}

#[test]
fn allowed_hosts() {
    for ok in [
        "myhost",
        "myhost.lan:8797",
        "10.0.0.5",
        "[::1]:8797",
        "[2001:db8::1]",
        "MyHost",
    ] {
        assert!(check_allowed_host(ok).is_ok(), "{ok}");
    }
    assert_eq!(check_allowed_host("MyHost.LAN").unwrap(), "myhost.lan");
    for bad in [
        "", "http://x", "a b", "x:port", "x:99999", "[::1", "[::1]x", "x/y",
    ] {
        assert!(check_allowed_host(bad).is_err(), "{bad}");
    }
}

#[test]
fn origins() {
    for ok in [
        "http://localhost:3000",
        "https://app.example.com",
        "chrome-extension://abcdef",
        "http://[::1]:8080",
    ] {
        assert!(check_origin(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        check_origin("HTTPS://App.Example.com").unwrap(),
        "https://app.example.com"
    );
    for bad in [
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://user@app.example.com",
        "https://",
        "1http://x",
    ] {
        assert!(check_origin(bad).is_err(), "{bad}");
    }
    for wildcard in ["*", "null", "NULL"] {
        let e = check_origin(wildcard).unwrap_err();
        assert!(e.contains("any web page"), "{e}");
    }
}
