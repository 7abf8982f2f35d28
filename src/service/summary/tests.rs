use clap::Parser;

use super::*;
use crate::config::cli::Cli;
use crate::config::load::{self, Env};

fn load_with(home: &std::path::Path, args: &[&str], vars: &[(&str, &str)]) -> Config {
    let cli =
        Cli::try_parse_from(std::iter::once("deepinfra-shim").chain(args.iter().copied())).unwrap();
    let mut pairs = vec![
        ("HOME".to_owned(), home.display().to_string()),
        (
            "XDG_RUNTIME_DIR".to_owned(),
            format!("{}/run", home.display()),
        ),
    ];
    pairs.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    load::load(&cli, &Env::from_pairs(pairs)).unwrap()
}

#[test]
fn built_in_defaults_say_which_file_to_create() {
    let home = tempfile::tempdir().unwrap();
    let c = load_with(home.path(), &[], &[]);
    let file = home.path().join(".config/deepinfra-shim/config.yaml");
    let s = Summary::new(&c, Some(&file), "watching /x");
    assert_eq!(
        s.config,
        format!(
            "none, built-in defaults (create {} to configure)",
            file.display()
        )
    );
    assert_eq!(s.tokens, "default: DEEPINFRA_TOKEN (not set)");
    assert_eq!(s.pinned, "none");
    assert_eq!(
        s.socket,
        format!("{}/run/deepinfra-shim/control.sock", home.path().display())
    );
    assert_eq!(
        s.one_line(),
        format!(
            "config {}; socket {}; tokens default: DEEPINFRA_TOKEN (not set); pinned none; \
             watching /x",
            s.config, s.socket
        )
    );
    let none = Summary::new(&c, None, "not watching: no path");
    assert!(none.config.contains("built-in defaults"), "{}", none.config);
}

#[test]
fn a_file_tokens_and_pins_are_named_never_the_token() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".config/deepinfra-shim/config.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "upstreams:\n  local: { url: http://127.0.0.1:9/v1, api_key_env: LOCAL_KEY }\n",
    )
    .unwrap();
    let c = load_with(
        home.path(),
        &[
            "--upstream",
            "http://127.0.0.1:8/v1",
            "--control-socket",
            "rel/ctl.sock",
        ],
        &[
            ("DEEPINFRA_TOKEN", "sk-summary-secret-123"),
            ("DEEPINFRA_CODEX_SHIM_LOG_LEVEL", "debug"),
        ],
    );
    let s = Summary::new(&c, Some(&file), "watching d");
    assert_eq!(s.config, file.display().to_string());
    assert_eq!(
        s.tokens,
        "default: DEEPINFRA_TOKEN (set), local: LOCAL_KEY (not set)"
    );
    assert!(
        s.pinned.contains("upstream.url by --upstream"),
        "{}",
        s.pinned
    );
    assert!(
        s.pinned
            .contains("log.level by DEEPINFRA_CODEX_SHIM_LOG_LEVEL"),
        "{}",
        s.pinned
    );
    // A relative socket path is shown as the absolute path the daemon bound.
    assert!(s.socket.starts_with('/'), "{}", s.socket);
    assert!(s.socket.ends_with("/rel/ctl.sock"), "{}", s.socket);
    assert!(
        !s.one_line().contains("sk-summary-secret"),
        "{}",
        s.one_line()
    );
}
