use super::*;
use crate::control::codex_config;
use crate::control::protocol::UpstreamStatus;

fn status() -> StatusReport {
    StatusReport {
        version: crate::VERSION.into(),
        pid: 7,
        listen: "127.0.0.1:1".into(),
        upstreams: vec![UpstreamStatus {
            name: "default".into(),
            url: "https://api.example.com/v1".into(),
            api_key_env: "DEEPINFRA_TOKEN".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn check(name: &str, result: CheckResult, token: TokenUsed, status: Option<u16>) -> UpstreamCheck {
    UpstreamCheck {
        name: name.into(),
        url: "https://api.example.com/v1".into(),
        result,
        token,
        api_key_env: if name == "default" {
            "DEEPINFRA_TOKEN".into()
        } else {
            "LOCAL_KEY".into()
        },
        model: Some("m/x".into()),
        request: Some("POST https://api.example.com/v1/chat/completions".into()),
        status,
        message: None,
        elapsed_ms: 41,
    }
}

fn lines(answer: UpstreamAnswer, codex: &CodexSide, env: &Env) -> String {
    let checks = daemon_report(&status(), vec![], codex, &answer, env, Os::Linux);
    render(&checks, Style::PLAIN)
}

fn line<'a>(text: &'a str, starts: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(starts))
        .unwrap_or_else(|| panic!("no line starting with {starts:?} in:\n{text}"))
}

#[test]
fn one_line_per_upstream_for_each_result() {
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let mut rejected = check(
        "default",
        CheckResult::Rejected,
        TokenUsed::Daemon,
        Some(401),
    );
    rejected.message = Some("Not authenticated".into());
    let mut down = check("local", CheckResult::Unreachable, TokenUsed::Daemon, None);
    down.message = Some("could not connect: connection refused".into());
    let text = lines(
        UpstreamAnswer::Checked(vec![rejected, down]),
        &CodexSide::default(),
        &env,
    );
    assert!(text.starts_with("ok    daemon   running (pid 7"), "{text}");
    let r = line(&text, "FAIL  upstream 'default'");
    assert!(
        r.contains("rejected the daemon's DEEPINFRA_TOKEN: 401 Not authenticated"),
        "{r}"
    );
    assert!(r.contains("model m/x, max_tokens 1 -> 401, 41 ms"), "{r}");
    assert!(text.contains("fix: the token is wrong, revoked or old: put `DEEPINFRA_TOKEN=...` in ~/.config/deepinfra-shim/env"), "{text}");
    assert!(
        text.contains("systemctl --user restart deepinfra-shim"),
        "{text}"
    );
    let u = line(&text, "FAIL  upstream 'local' unreachable");
    assert!(
        u.contains("POST https://api.example.com/v1/chat/completions: could not connect"),
        "{u}"
    );
    assert!(
        text.contains("check the URL (upstreams.local.url)"),
        "{text}"
    );
    // Two upstreams, two upstream lines (fix lines are indented).
    assert_eq!(
        text.lines().filter(|l| l.contains(" upstream ")).count(),
        2,
        "{text}"
    );

    let ok = check("default", CheckResult::Valid, TokenUsed::Daemon, Some(200));
    let text = lines(
        UpstreamAnswer::Checked(vec![ok]),
        &CodexSide::default(),
        &env,
    );
    let v = line(&text, "ok    upstream 'default' valid");
    assert!(
        v.contains("the daemon's DEEPINFRA_TOKEN was accepted"),
        "{v}"
    );
    assert!(v.contains("-> 200, 41 ms"), "{v}");
}

#[test]
fn no_token_says_whether_codex_header_stands_in() {
    let none = check(
        "default",
        CheckResult::NoToken,
        TokenUsed::NoneCodexHeader,
        Some(401),
    );
    let codex = CodexSide {
        env_key: Some("MY_KEY".into()),
        model: None,
    };
    // Codex's variable set where doctor runs: Codex's header would carry the token.
    let env = Env::from_pairs([("MY_KEY", "secret-value")]);
    let text = lines(UpstreamAnswer::Checked(vec![none.clone()]), &codex, &env);
    let l = line(&text, "ok    upstream 'default'");
    assert!(
        l.contains("no token in the daemon (DEEPINFRA_TOKEN is not set), so Codex's header would be used: Codex sends its MY_KEY"),
        "{l}"
    );
    assert!(!text.contains("secret-value"));
    // Not set: nobody has a token.
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let text = lines(UpstreamAnswer::Checked(vec![none.clone()]), &codex, &env);
    let l = line(&text, "FAIL  upstream 'default'");
    assert!(
        l.contains("MY_KEY (Codex's env_key) is not set in this shell"),
        "{l}"
    );
    assert!(text.contains("or export MY_KEY where Codex runs"), "{text}");
    // A provider that needs no token (a local server): fine.
    let mut open = check("local", CheckResult::NoToken, TokenUsed::None, Some(200));
    open.model = Some("qwen".into());
    let text = lines(UpstreamAnswer::Checked(vec![open]), &codex, &env);
    assert!(
        line(&text, "ok    upstream 'local' answers without a token").contains("LOCAL_KEY"),
        "{text}"
    );
    // Client keys: Codex's header is a key for us, never forwarded.
    let keys = check("default", CheckResult::NoToken, TokenUsed::None, Some(401));
    let text = lines(UpstreamAnswer::Checked(vec![keys]), &codex, &env);
    assert!(
        line(&text, "FAIL  upstream 'default'").contains("with client keys"),
        "{text}"
    );
}

#[test]
fn other_answers_name_the_likely_cause() {
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let mut moved = check("default", CheckResult::Error, TokenUsed::Daemon, Some(307));
    moved.message = Some("upstream returned HTTP 307".into());
    let mut busy = check("local", CheckResult::Error, TokenUsed::Daemon, Some(429));
    busy.message = Some("Model busy, retry later".into());
    let mut unknown_model = check("other", CheckResult::Error, TokenUsed::Daemon, Some(404));
    unknown_model.message = Some("Model not found".into());
    let text = lines(
        UpstreamAnswer::Checked(vec![moved, busy, unknown_model]),
        &CodexSide::default(),
        &env,
    );
    assert!(
        line(&text, "FAIL  upstream 'default'").contains("with 307"),
        "{text}"
    );
    assert!(text.contains("never follows redirects"), "{text}");
    assert!(text.contains("set upstream.url to the address"), "{text}");
    assert!(
        line(&text, "warn  upstream 'local'").contains("429 Model busy"),
        "{text}"
    );
    assert!(
        line(&text, "warn  upstream 'other'").contains("404 Model not found"),
        "{text}"
    );
    assert!(text.contains("the request for m/x was"), "{text}");
}

#[test]
fn an_older_daemon_and_a_version_mismatch() {
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let mut s = status();
    s.version = "0.0.1".into();
    let checks = daemon_report(
        &s,
        vec![],
        &CodexSide::default(),
        &UpstreamAnswer::Unsupported("unknown command 'check-upstreams'".into()),
        &env,
        Os::Macos,
    );
    let text = render(&checks, Style::PLAIN);
    assert!(
        line(&text, "warn  daemon").contains(&format!(
            "version 0.0.1, http://127.0.0.1:1), but this shimctl is version {}",
            crate::VERSION
        )),
        "{text}"
    );
    assert!(
        text.contains("launchctl kickstart -k gui/$(id -u)/com.deepinfra.shim"),
        "{text}"
    );
    assert!(
        line(&text, "warn  upstream").contains("cannot check its token"),
        "{text}"
    );
    assert!(all_good(&checks), "warnings only: {text}");
}

#[test]
fn without_a_daemon_the_token_check_needs_it_and_the_rest_is_checked() {
    let codex = vec![Check::fail("codex", "a finding", "its fix")];
    for (os, start) in [
        (Os::Linux, "systemctl --user start deepinfra-shim"),
        (
            Os::Macos,
            "launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/com.deepinfra.shim.plist",
        ),
    ] {
        let checks = offline_report("nothing answers", None, Some(codex.clone()), os);
        let text = render(&checks, Style::PLAIN);
        assert!(!all_good(&checks));
        assert!(
            line(&text, "FAIL  daemon").contains("nothing answers"),
            "{text}"
        );
        assert!(text.contains(start), "{os:?}: {text}");
        assert!(line(&text, "FAIL  codex").contains("a finding"), "{text}");
        let t = line(&text, "warn  token");
        assert!(
            t.contains("not checked: the daemon checks each upstream"),
            "{t}"
        );
    }
}

#[test]
fn codex_findings_come_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([("CODEX_HOME", dir.path().to_str().unwrap())]);
    // No config: the finding says so.
    let (l, side) = codex_checks(&env, "http://127.0.0.1:1/v1");
    let text = render(&l, Style::PLAIN);
    assert!(text.contains("FAIL  codex    "), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    assert_eq!(side, CodexSide::default());

    std::fs::write(
        dir.path().join("config.toml"),
        codex_config::render_block(&codex_config::CodexBlock {
            model: "m".into(),
            addr: "127.0.0.1:1".into(),
            env_key: "MY_KEY".into(),
            env_key_is_client_key: false,
            context_window: None,
            note: None,
        }),
    )
    .unwrap();
    let (l, side) = codex_checks(&env, "http://127.0.0.1:1/v1");
    let text = render(&l, Style::PLAIN);
    assert!(text.contains("ok    codex    "), "{text}");
    assert_eq!(side.env_key.as_deref(), Some("MY_KEY"));
    assert_eq!(side.model.as_deref(), Some("m"));
}

#[test]
fn a_config_writable_by_others_is_a_warning_with_its_fix() {
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let mut s = status();
    s.config_warning = Some(
        "the config file /h/c.yaml is writable by other users (mode 0666); whoever can write \
         it decides where your provider token is sent: run chmod go-w /h/c.yaml"
            .into(),
    );
    let answer = UpstreamAnswer::Checked(vec![check(
        "default",
        CheckResult::Valid,
        TokenUsed::Daemon,
        Some(200),
    )]);
    let checks = daemon_report(&s, vec![], &CodexSide::default(), &answer, &env, Os::Linux);
    let text = render(&checks, Style::PLAIN);
    assert!(
        line(&text, "warn  config").contains("chmod go-w /h/c.yaml"),
        "{text}"
    );
}
