use super::*;
use crate::config::keys;
use crate::config::testutil::{Home, cli};
use crate::config::validate::build;

/// Every top-level key of the table is read exactly once when a configuration is built, so a
/// key declared but never used (or read twice, with two chances to disagree) fails here.
#[test]
fn building_reads_every_key_once() {
    let h = Home::new(None);
    let (cli, env) = (cli(&[]), h.env(&[]));
    let values = FileValues::default();
    let (_, layered) = build(Layers::new(&cli, &env, None, &values, Vec::new()), None);
    assert!(layered.problems.is_empty(), "{:?}", layered.problems);
    let mut used = layered.used.clone();
    used.sort();
    let mut all: Vec<&str> = keys::TOP.iter().map(|k| k.meta().path).collect();
    all.sort();
    assert_eq!(used, all);
}

#[test]
fn sources_and_origins() {
    let h = Home::new(None);
    let ft = FileText {
        path: h.dir.path().join("c.yaml"),
        text: "# c\nlisten:\n  port: 1\n".into(),
    };
    let (values, misplaced) = crate::config::file::read(&ft.text).unwrap();
    let (none, env) = (cli(&[]), h.env(&[]));
    let mut l = Layers::new(&none, &env, Some(&ft), &values, misplaced);
    let port = l.get(&keys::LISTEN_PORT);
    assert_eq!(port.value, 1);
    assert_eq!(port.source, Source::file(&["listen", "port"]));
    assert_eq!(
        l.origin(&port.source),
        format!("{}:3 listen.port", ft.path.display())
    );
    let host = l.get(&keys::LISTEN_HOST);
    assert_eq!(host.source, Source::Default);
    assert_eq!(l.origin(&Source::Flag("--port")), "--port");
    // Without a file a key is named by its path alone.
    let values = FileValues::default();
    let l = Layers::new(&none, &env, None, &values, Vec::new());
    assert_eq!(l.origin(&Source::file(&["listen", "port"])), "listen.port");

    let flag = cli(&["--port", "2"]);
    let env = h.env(&[("DEEPINFRA_CODEX_SHIM_PORT", "3")]);
    let values = FileValues::default();
    let mut l = Layers::new(&flag, &env, None, &values, Vec::new());
    assert!(l.overridden(&keys::LISTEN_PORT));
    assert!(!l.overridden(&keys::LISTEN_HOST));
    let got = l.get(&keys::LISTEN_PORT);
    assert_eq!((got.value, got.source), (2, Source::Flag("--port")));
    let out = l.finish();
    assert_eq!(out.pins.len(), 1);
    assert_eq!(out.pins[0].by, PinSource::Flag("--port"));
    assert_eq!(out.pins[0].file_value, None);
}

#[test]
fn the_file_text_never_prints() {
    let ft = FileText {
        path: "/c.yaml".into(),
        text: "upstream: { headers: { X-Key: hdr-secret } }".into(),
    };
    let d = format!("{ft:?}");
    assert!(!d.contains("hdr-secret") && d.contains("/c.yaml"), "{d}");
}
