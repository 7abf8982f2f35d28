use super::*;
use clap::CommandFactory;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("deepinfra-shim").chain(args.iter().copied()))
}

#[test]
fn definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn no_flags_is_all_none() {
    assert_eq!(parse(&[]).unwrap(), Cli::default());
}

#[test]
fn values_stay_raw() {
    let c = parse(&[
        "--host",
        "0.0.0.0",
        "--port=abc",
        "--upstream",
        "https://x/v1/",
        "--api-key-env",
        "K",
        "--log-level",
        "LOUD",
        "--timeout-ms",
        "5",
        "--max-body-bytes",
        "9",
        "--config",
        "/c.yaml",
        "--control-socket",
        "/s.sock",
        "--log-format",
        "json",
        "--check-config",
    ])
    .unwrap();
    assert_eq!(c.host.as_deref(), Some("0.0.0.0"));
    assert_eq!(c.port.as_deref(), Some("abc"));
    assert_eq!(c.upstream.as_deref(), Some("https://x/v1/"));
    assert_eq!(c.log_level.as_deref(), Some("LOUD"));
    assert_eq!(c.log_format.as_deref(), Some("json"));
    assert!(c.check_config);
}

#[test]
fn boolean_flags() {
    let c = parse(&["--log-requests", "--log-content=false", "--port", "1"]).unwrap();
    assert_eq!(c.log_requests, Some(true));
    assert_eq!(c.log_content, Some(false));
    assert_eq!(c.port.as_deref(), Some("1"));
    let c = parse(&["--compat-drop-tool-call-content=true", "--log-requests=no"]).unwrap();
    assert_eq!(c.compat_drop_tool_call_content, Some(true));
    assert_eq!(c.log_requests, Some(false));
    assert_eq!(c.log_content, None);
    let e = parse(&["--log-requests=maybe"]).unwrap_err();
    assert!(e.to_string().contains("--log-requests"), "{e}");
    // Without `=`, a following word is not taken as the value.
    assert!(parse(&["--log-requests", "false"]).is_err());
}

#[test]
fn version_and_unknown_flags() {
    let e = parse(&["--version"]).unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
    assert_eq!(
        e.to_string().trim(),
        format!("deepinfra-shim {}", crate::VERSION)
    );
    let e = parse(&["--prot", "1"]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn env_booleans() {
    for v in ["0", "false", "FALSE", "No", "off", " off "] {
        assert!(!env_bool(v), "{v}");
    }
    for v in ["1", "true", "yes", "on", "anything", ""] {
        assert!(env_bool(v), "{v:?}");
    }
}
