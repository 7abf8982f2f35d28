use super::*;

fn yaml(s: &str) -> Value {
    serde_yaml_ng::from_str(s).unwrap()
}

fn err<T: std::fmt::Debug>(r: Result<T, Bad>) -> String {
    let Bad(items) = r.unwrap_err();
    assert_eq!(items.len(), 1, "{items:?}");
    items[0].1.clone()
}

#[test]
fn numbers_are_type_checked_then_ruled_like_flags() {
    assert_eq!((PORT.yaml)(&yaml("8797")).unwrap(), 8797);
    assert_eq!(
        err((PORT.yaml)(&yaml("99999"))),
        "expected a number 0-65535, got '99999'"
    );
    assert_eq!(
        err((PORT.yaml)(&yaml("\"8797\""))),
        "expected a number 0-65535, got text '8797' (write the number without quotes)"
    );
    assert_eq!(
        err((MILLIS.yaml)(&yaml("abc"))),
        "expected a whole number of milliseconds > 0, got text 'abc'"
    );
    assert_eq!(
        err((MILLIS.yaml)(&yaml("[1]"))),
        "expected a whole number of milliseconds > 0, got a list"
    );
    assert_eq!((MILLIS_OR_ZERO.yaml)(&yaml("0")).unwrap(), Duration::ZERO);
    assert!((MILLIS.yaml)(&yaml("0")).is_err());
    assert!((BYTES.yaml)(&yaml("-1")).is_err());
    assert!((CONNECTIONS.yaml)(&yaml("1.5")).is_err());
    assert_eq!((CONNECTIONS.yaml)(&yaml("64")).unwrap(), 64);
    assert_eq!((TOKENS.yaml)(&yaml("262144")).unwrap(), Some(262144));
    assert_eq!(
        err((TOKENS.yaml)(&yaml("0"))),
        "expected a number > 0, got '0'"
    );
    // The same rule as the flag.
    assert_eq!(
        (PORT.text.unwrap())("99999").unwrap_err(),
        "expected a number 0-65535, got '99999'"
    );
}

#[test]
fn booleans_and_text() {
    assert!((BOOL.yaml)(&yaml("true")).unwrap());
    assert_eq!(
        err((BOOL.yaml)(&yaml("yes"))),
        "expected true or false, got text 'yes'"
    );
    assert_eq!(
        err((BOOL.yaml)(&yaml("1"))),
        "expected true or false, got 1"
    );
    // Variables: 0 false no off are false, anything else true.
    assert!(!(BOOL.text.unwrap())("off").unwrap());
    assert!((BOOL.text.unwrap())("yes").unwrap());
    assert_eq!(
        err((HOST.yaml)(&yaml("{a: 1}"))),
        "expected an IP address or host name, got a mapping"
    );
    assert_eq!((OPT_ENV_NAME.yaml)(&yaml("null")).unwrap(), None);
    assert_eq!(
        (OPT_ENV_NAME.yaml)(&yaml("KEYS")).unwrap(),
        Some("KEYS".into())
    );
    assert!((ENV_NAME.yaml)(&yaml("123")).is_err());
    assert_eq!(err((NAME.yaml)(&yaml("' '"))), "must not be empty");
}

#[test]
fn choices() {
    assert_eq!(
        (REASONING.yaml)(&yaml("replay")).unwrap(),
        ReasoningPolicy::Replay
    );
    assert_eq!(
        err((REASONING.yaml)(&yaml("sometimes"))),
        "expected one of auto, replay, drop, got 'sometimes'"
    );
    assert_eq!(
        (IMAGES.yaml)(&yaml("placeholder")).unwrap(),
        ImagePolicy::Placeholder
    );
    assert_eq!((LOG_FORMAT.yaml)(&yaml("JSON")).unwrap(), LogFormat::Json);
    assert!((LOG_FORMAT.yaml)(&yaml("journald")).is_err());
    assert_eq!((LOG_LEVEL.yaml)(&yaml("DEBUG")).unwrap(), "debug");
}

#[test]
fn lists_report_every_bad_entry_and_drop_duplicates() {
    assert_eq!(
        (HOST_LIST.yaml)(&yaml("[a.lan, 'b:1', a.lan]")).unwrap(),
        ["a.lan", "b:1"]
    );
    let Bad(items) = (HOST_LIST.yaml)(&yaml("['a b', ok, 'http://x', 5]")).unwrap_err();
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(err((ORIGIN_LIST.yaml)(&yaml("x"))).contains("expected a list of origins"));
    assert!((ORIGIN_LIST.yaml)(&yaml("['*']")).is_err());
}

#[test]
fn header_problems_name_the_header_never_the_value() {
    let h = (HEADERS.yaml)(&yaml("{X-Title: codex, X-Key: 'sec ret'}")).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].1.expose(), "sec ret");
    let Bad(items) = (HEADERS.yaml)(&yaml(
        "{'Bad Name': hunter2, X-A: \"hunter2\\nx\", x-a: hunter2, X-B: 5, Content-Length: 1}",
    ))
    .unwrap_err();
    assert_eq!(items.len(), 4, "{items:?}");
    let subs: Vec<Option<&str>> = items.iter().map(|(s, _)| s.as_deref()).collect();
    assert_eq!(
        subs,
        [
            Some("Bad Name"),
            Some("X-A"),
            Some("X-B"),
            Some("Content-Length")
        ]
    );
    for (_, m) in &items {
        assert!(!m.contains("hunter2"), "{m}");
    }
    let Bad(items) = (HEADERS.yaml)(&yaml("{X-A: a, x-a: b}")).unwrap_err();
    assert!(items[0].1.contains("twice"), "{items:?}");
    assert!(err((HEADERS.yaml)(&yaml("[a]"))).contains("expected a mapping"));
}

#[test]
fn secrets_show_only_whether_they_are_set() {
    let s = Some(Secret::new("tok-secret"));
    assert_eq!(s.shown().text(), "<set>");
    assert_eq!(None::<Secret>.shown().text(), "<unset>");
    let h = vec![("X-Key".to_owned(), Secret::new("hdr-secret"))];
    let shown = h.shown();
    assert_eq!(shown.text(), "{X-Key: <set>}");
    assert!(!format!("{shown:?}").contains("hdr-secret"));
    assert_eq!(Vec::<(String, Secret)>::new().shown().text(), "{}");
    assert_eq!(Duration::from_millis(1500).shown().text(), "1500");
    assert_eq!(None::<u64>.shown().text(), "none");
    assert_eq!(
        vec!["a".to_owned(), "b".to_owned()].shown().text(),
        "[a, b]"
    );
}

#[test]
fn describe_quotes_text_and_names_containers() {
    assert_eq!(describe(&yaml("abc")), "text 'abc'");
    assert_eq!(describe(&yaml("~")), "null");
    assert_eq!(describe(&yaml("{}")), "a mapping");
    assert_eq!(describe(&yaml("!x 1")), "a value tagged !x");
}
