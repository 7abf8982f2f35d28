//! The live check against the real provider: `DEEPINFRA_TOKEN=... cargo test --test live`.
//!
//! With the token, it starts the daemon against DeepInfra (the default upstream, or
//! `DEEPINFRA_SHIM_LIVE_UPSTREAM`) with that token, then:
//! 1. `shimctl smoke`: one harmless request ("Reply with exactly OK."), streamed through the
//!    daemon; the answer, time to first token, tokens and the Codex-relevant shape
//!    (`response.created` first, a terminal `response.completed` with usage, output items Codex
//!    keeps), exit 0;
//! 2. the same request checked here, and one tool-call round trip: a function tool the model
//!    must call, the tool's output sent back with the first turn's items, a final answer that
//!    carries it, both turns in the shape Codex needs.
//!
//! The model is `DEEPINFRA_SHIM_LIVE_MODEL`, else `deepseek-ai/DeepSeek-V4-Flash`. It costs a
//! few hundred tokens.
//!
//! Without the token it prints `SKIPPED: …` and exits 0, under `CI=true` too: CI here has no
//! network to the provider. A skip is not a pass, and the summary line says so (`0 passed;
//! 2 skipped`). This target has its own `main` (no libtest), so that line and the results are
//! printed as they happen rather than captured.
// Test code: a panic is how a check fails.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::process::Command;
use std::time::Instant;

use common::daemon::Daemon;
use common::live_flow;

const CHECKS: [&str; 2] = ["live_smoke", "live_tool_round_trip"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for c in CHECKS {
            println!("{c}: test");
        }
        return;
    }
    let Some(token) = std::env::var("DEEPINFRA_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    else {
        println!("\nrunning {} tests", CHECKS.len());
        for c in CHECKS {
            println!("test {c} ... SKIPPED");
        }
        println!(
            "SKIPPED: DEEPINFRA_TOKEN is not set (live test against the real provider). Nothing \
             was checked: this is not a pass. Run it with DEEPINFRA_TOKEN=... cargo test --test \
             live (CI has no network to the provider, so it skips there too)."
        );
        println!(
            "\ntest result: SKIPPED. 0 passed; 0 failed; {} skipped\n",
            CHECKS.len()
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(live(token));
}

async fn live(token: String) {
    let model = std::env::var("DEEPINFRA_SHIM_LIVE_MODEL")
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| deepinfra_shim::control::codex_config::DEFAULT_MODEL.to_owned());
    let mut b = Daemon::builder().token(&token);
    if let Some(url) = std::env::var("DEEPINFRA_SHIM_LIVE_UPSTREAM")
        .ok()
        .filter(|u| !u.is_empty())
    {
        b = b.upstream(url);
    }
    let d = b.start();
    println!(
        "\nrunning {} tests (model {model}, upstream {})",
        CHECKS.len(),
        d.health_upstream().await
    );
    let url = format!("{}/responses", d.base_url());

    // 1. shimctl smoke, as a user runs it.
    let t = Instant::now();
    let socket = d.control_socket().unwrap().to_owned();
    let home = d.dir().to_owned();
    let smoke_model = model.clone();
    let o = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_shimctl"))
            .env_clear()
            .env("HOME", &home)
            .env("CODEX_HOME", home.join("codex"))
            .arg("--socket")
            .arg(&socket)
            .args(["smoke", "--model", &smoke_model])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    print!("{out}");
    assert_eq!(
        o.status.code(),
        Some(0),
        "shimctl smoke failed:\n{out}{err}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok    codex    usable: response.created first")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("ok    tokens")), "{out}");
    let v = live_flow::ok_turn(&url, None, &model).await;
    println!(
        "test live_smoke ... ok ({} ms; answer {:?})",
        t.elapsed().as_millis(),
        v.text.trim()
    );

    // 2. A tool call and its output, as Codex runs a tool.
    let t = Instant::now();
    let (first, second) = live_flow::tool_round_trip(&url, None, &model).await;
    println!(
        "test live_tool_round_trip ... ok ({} ms; call {}({}), answer {:?})",
        t.elapsed().as_millis(),
        first.function_calls[0].name,
        first.function_calls[0].arguments,
        second.text.trim()
    );
    let logs = d.logs();
    assert!(!logs.contains(&token), "the token is in the daemon's log");
    assert!(!out.contains(&token) && !err.contains(&token));
    println!(
        "\ntest result: ok. {} passed; 0 failed; 0 skipped\n",
        CHECKS.len()
    );
}
