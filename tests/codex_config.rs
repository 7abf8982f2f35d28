//! `shimctl codex-config --write [--profile NAME]` on a real `CODEX_HOME`, with and without a
//! running daemon, and the real Codex CLI run on what it wrote:
//!
//! ```text
//! shimctl codex-config --write ──▶ $CODEX_HOME/config.toml (+ NAME.config.toml, catalog)
//! codex exec --strict-config ──/v1/responses──▶ deepinfra-shim ──▶ MockUpstream
//! ```
//!
//! The user's comments and other settings survive, one backup is written, a second run
//! changes nothing, a file that does not parse is refused with its line and left alone, and
//! Codex (`CODEX_BIN`) accepts the result and reaches the daemon with it. Without `CODEX_BIN`
//! the Codex tests print `SKIPPED: …` and pass, except under `CI=true`, where they fail (see
//! `tests/common/codex.rs`).
// Test code: a panic is how a check fails, and the harness's sleeps block no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Reply;
use common::codex::{Codex, codex_bin_or_skip};
use common::daemon::{Daemon, start_for};
use common::mock_upstream::MockUpstream;

/// A DeepInfra model name Codex does not bundle.
const MODEL: &str = "deepseek-ai/DeepSeek-V3.2";
const ROUTES: &str = "models:\n  \"deepseek-ai/DeepSeek-V3.2\": { context_window: 65536 }\n";

/// A config.toml as a user has it: comments, settings of their own (here the ones that keep
/// Codex offline and quick in tests), a table Codex wrote, and what appending an old block
/// with `>>` left under that table.
const USERS_CONFIG: &str = "# My Codex setup\n# (hand-written; keep this)\n\napproval_policy = \"never\"   # I review diffs myself\n\n# no network beyond the provider\n[analytics]\nenabled = false\n\n[features]\nplugins = false\nremote_plugin = false\nunbounded_connection_retries = false\n\n[projects.\"/home/u/src\"]\ntrust_level = \"trusted\"\nmodel = \"gpt-5.5\"\nmodel_provider = \"deepinfra\"\n";

/// Runs shimctl with only `HOME`, `CODEX_HOME` (= `home/codex`) and `extra` set.
fn shimctl(socket: &Path, home: &Path, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shimctl"));
    cmd.env_clear()
        .env("HOME", home)
        .env("CODEX_HOME", home.join("codex"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(std::process::Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("running shimctl")
}

/// [`shimctl`] off the async runtime (the mock upstream runs on it).
async fn shimctl_async(socket: PathBuf, home: PathBuf, args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        shimctl(&socket, &home, &[], &args)
    })
    .await
    .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("config.toml.bak-"))
        .collect();
    v.sort();
    v
}

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn without_a_daemon_the_config_it_would_load_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let codex_home = home.join("codex");
    std::fs::create_dir(&codex_home).unwrap();
    let config = codex_home.join("config.toml");
    std::fs::write(&config, USERS_CONFIG).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let yaml = home.join("shim.yaml");
    std::fs::write(&yaml, "listen:\n  port: 9911\n").unwrap();
    let sock = home.join("none.sock");
    let extra = [("DEEPINFRA_CODEX_SHIM_CONFIG", yaml.to_str().unwrap())];

    let o = shimctl(
        &sock,
        home,
        &extra,
        &["codex-config", "--write", "--model", MODEL],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let printed = out(&o);
    assert!(
        printed.starts_with(&format!("{}:\n", config.display())),
        "{printed}"
    );
    for line in [
        "  added    [model_providers.deepinfra] (name, base_url, env_key, wire_api, stream_idle_timeout_ms, request_max_retries, stream_max_retries)\n",
        "  added    model = \"deepseek-ai/DeepSeek-V3.2\"\n",
        "  added    model_provider = \"deepinfra\"\n",
        "  removed  projects.\"/home/u/src\".model = \"gpt-5.5\" (line 17: a top-level key that had landed under [projects.\"/home/u/src\"])\n",
        "  removed  projects.\"/home/u/src\".model_provider = \"deepinfra\" (line 18: a top-level key that had landed under [projects.\"/home/u/src\"])\n",
        "  backup   ",
    ] {
        assert!(printed.contains(line), "{line:?} in\n{printed}");
    }
    assert!(err(&o).contains("The daemon is not running"), "{}", err(&o));

    let after = std::fs::read_to_string(&config).unwrap();
    assert!(
        after.starts_with(
            "# My Codex setup\n# (hand-written; keep this)\n\napproval_policy = \"never\"   # I review diffs myself\nmodel = \"deepseek-ai/DeepSeek-V3.2\"\nmodel_provider = \"deepinfra\"\n\n# no network beyond the provider\n[analytics]\n"
        ),
        "{after}"
    );
    let t = table(&after);
    assert_eq!(
        t["model_providers"]["deepinfra"]["base_url"].as_str(),
        Some("http://127.0.0.1:9911/v1")
    );
    assert_eq!(t["features"]["plugins"].as_bool(), Some(false));
    assert_eq!(t["projects"]["/home/u/src"].as_table().unwrap().len(), 1);
    let b = backups(&codex_home);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(std::fs::read_to_string(&b[0]).unwrap(), USERS_CONFIG);
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Again: nothing to do, no second backup; the model picked before is kept.
    let o = shimctl(&sock, home, &extra, &["codex-config", "--write"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        out(&o),
        format!(
            "{}: already set up for this daemon; nothing changed (no backup written)\n",
            config.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), after);
    assert_eq!(backups(&codex_home).len(), 1);

    // A file that does not parse: refused with its line, left as it is.
    let broken = format!("{after}\n[model_providers.deepinfra]\nname = \"again\"\n");
    std::fs::write(&config, &broken).unwrap();
    let o = shimctl(&sock, home, &extra, &["codex-config", "--write"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let e = err(&o);
    assert!(
        e.contains("table [model_providers.deepinfra] is defined twice (first on line")
            && e.contains("nothing was changed"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), broken);
    assert_eq!(backups(&codex_home).len(), 1);

    // --profile needs --write, and a name Codex accepts.
    let o = shimctl(&sock, home, &extra, &["codex-config", "--profile", "x"]);
    assert_eq!(o.status.code(), Some(2), "clap refuses: {}", err(&o));
    std::fs::write(&config, USERS_CONFIG).unwrap();
    let o = shimctl(
        &sock,
        home,
        &extra,
        &["codex-config", "--write", "--profile", "a/b"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("Codex accepts only letters, digits"),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), USERS_CONFIG);
}

/// A daemon (the mock's model list and the route's window) and a temp home for shimctl.
async fn stack() -> (MockUpstream, Daemon, tempfile::TempDir) {
    let mock = MockUpstream::start().await;
    let daemon = start_for(&mock, Some(ROUTES));
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("codex")).unwrap();
    (mock, daemon, home)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_daemon_its_address_and_route_are_written_and_doctor_agrees() {
    let (_mock, daemon, home) = stack().await;
    let sock = daemon.control_socket().unwrap().to_owned();
    let codex_home = home.path().join("codex");
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let o = shimctl_async(
        sock.clone(),
        home.path().to_owned(),
        args(&[
            "codex-config",
            "--write",
            "--profile",
            "shim",
            "--model",
            MODEL,
        ]),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let main = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    let t = table(&main);
    assert_eq!(
        t["model_providers"]["deepinfra"]["base_url"].as_str(),
        Some(daemon.base_url().as_str())
    );
    assert!(
        t.get("model").is_none(),
        "the top level is left alone: {main}"
    );
    let prof = table(&std::fs::read_to_string(codex_home.join("shim.config.toml")).unwrap());
    assert_eq!(prof["model"].as_str(), Some(MODEL));
    assert_eq!(prof["model_provider"].as_str(), Some("deepinfra"));
    // The route's window, as the printed block has it (no catalog here).
    assert_eq!(prof["model_context_window"].as_integer(), Some(65_536));
    assert!(
        backups(&codex_home).is_empty(),
        "nothing existed to back up"
    );

    let o = shimctl_async(sock.clone(), home.path().to_owned(), args(&["doctor"])).await;
    let d = out(&o);
    assert!(
        d.contains(&format!(
            "ok    codex    {}: provider 'deepinfra' (profile shim) -> {}",
            codex_home.join("shim.config.toml").display(),
            daemon.base_url()
        )),
        "{d}"
    );
    assert!(!d.lines().any(|l| l.starts_with("FAIL  codex")), "{d}");

    // A stale address in the file: doctor says so, --write fixes it, doctor agrees.
    std::fs::write(
        codex_home.join("config.toml"),
        main.replace(&daemon.base_url(), "http://127.0.0.1:9/v1"),
    )
    .unwrap();
    let o = shimctl_async(sock.clone(), home.path().to_owned(), args(&["doctor"])).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("points at http://127.0.0.1:9/v1, not at this daemon"),
        "{}",
        out(&o)
    );
    let o = shimctl_async(
        sock.clone(),
        home.path().to_owned(),
        args(&["codex-config", "--write", "--profile", "shim"]),
    )
    .await;
    assert!(
        out(&o).contains("  updated  model_providers.deepinfra.base_url = "),
        "{}",
        out(&o)
    );
    assert!(
        out(&o).contains(&format!(
            "{}: already set up for this daemon",
            codex_home.join("shim.config.toml").display()
        )),
        "the kept model is not rewritten: {}",
        out(&o)
    );
    assert_eq!(backups(&codex_home).len(), 1);
}

/// `--write --catalog`, then the real Codex on exactly what was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_on_the_written_config_and_catalog() {
    let Some(bin) = codex_bin_or_skip("codex_runs_on_the_written_config_and_catalog") else {
        return;
    };
    let (mock, daemon, home) = stack().await;
    mock.set_handler(|_| Reply::text("Hello from the shim."));
    let codex = Codex::new(&bin, daemon.base_url()).existing_config();
    // shimctl's CODEX_HOME is the harness's.
    let codex_home = codex.codex_home();
    std::fs::remove_dir(home.path().join("codex")).unwrap();
    std::os::unix::fs::symlink(&codex_home, home.path().join("codex")).unwrap();
    std::fs::write(codex_home.join("config.toml"), USERS_CONFIG).unwrap();
    let catalog = codex_home.join("deepinfra-models.json");
    let args: Vec<String> = [
        "codex-config",
        "--write",
        "--model",
        MODEL,
        "--catalog",
        catalog.to_str().unwrap(),
        "--codex-bin",
        bin.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let sock = daemon.control_socket().unwrap().to_owned();
    let o = shimctl_async(sock.clone(), home.path().to_owned(), args.clone()).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains(&format!(
            "  added    model_catalog_json = \"{}\"",
            std::fs::canonicalize(&catalog).unwrap().display()
        )),
        "{}",
        out(&o)
    );
    assert!(
        !err(&o).contains("warning: "),
        "the checks of the result are clean: {}",
        err(&o)
    );

    let run = codex.run("Say hello.").await;
    run.assert_success();
    run.assert_model_described();
    assert!(
        run.last_message.contains("Hello from the shim."),
        "{}",
        run.describe()
    );
    assert_eq!(mock.chat_requests().len(), 1, "{}", run.describe());
    let written = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    assert!(written.starts_with("# My Codex setup\n"), "{written}");

    // Writing again (catalog regenerated the same way) changes nothing in config.toml.
    let o = shimctl_async(sock, home.path().to_owned(), args).await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("nothing changed"), "{}", out(&o));
    assert_eq!(
        std::fs::read_to_string(codex_home.join("config.toml")).unwrap(),
        written
    );
    assert_eq!(backups(&codex_home).len(), 1);
}

/// `--write --profile`: plain `codex` keeps the user's setup; `codex --profile shim`
/// reaches the daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_profile_written_by_shimctl_reaches_the_daemon() {
    let Some(bin) = codex_bin_or_skip("codex_profile_written_by_shimctl_reaches_the_daemon") else {
        return;
    };
    let (mock, daemon, home) = stack().await;
    mock.set_handler(|_| Reply::text("Profile works."));
    let codex = Codex::new(&bin, daemon.base_url())
        .existing_config()
        .arg("--profile")
        .arg("shim");
    let codex_home = codex.codex_home();
    std::fs::remove_dir(home.path().join("codex")).unwrap();
    std::os::unix::fs::symlink(&codex_home, home.path().join("codex")).unwrap();
    let users = USERS_CONFIG.replace("approval_policy", "model = \"gpt-5.5\"\napproval_policy");
    std::fs::write(codex_home.join("config.toml"), &users).unwrap();
    let args: Vec<String> = [
        "codex-config",
        "--write",
        "--profile",
        "shim",
        "--model",
        MODEL,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = shimctl_async(
        daemon.control_socket().unwrap().to_owned(),
        home.path().to_owned(),
        args,
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let main = table(&std::fs::read_to_string(codex_home.join("config.toml")).unwrap());
    assert_eq!(main["model"].as_str(), Some("gpt-5.5"));
    assert!(main.get("model_provider").is_none());

    let run = codex.run("Say something.").await;
    run.assert_success();
    assert!(
        run.last_message.contains("Profile works."),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("provider: deepinfra"),
        "{}",
        run.describe()
    );
    let reqs = mock.chat_requests();
    assert_eq!(reqs.len(), 1, "{}", run.describe());
    assert_eq!(reqs[0].json()["model"], MODEL);
}
