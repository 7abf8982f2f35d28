//! The generated Codex model catalog with the real Codex CLI 0.169.0, the real daemon and the
//! in-process mock upstream (issue 9):
//!
//! ```text
//! codex exec ──/v1/responses──▶ deepinfra-shim ──/v1/chat/completions──▶ MockUpstream
//!      ▲ model_catalog_json = <catalog built from the config, the mock's GET /models and
//!      │                       `codex debug models --bundled` of the same Codex>
//! ```
//!
//! (a) With the catalog Codex offers the freeform `apply_patch` tool for a DeepInfra model
//! name, the shim passes it upstream as a function with one string `input`, and a patch call
//! from the model changes the file on disk. (b) With usage reported near the declared window
//! Codex's next request is a compaction request, not another turn that would overflow at the
//! provider; the control run without the catalog shows the same usage does not compact.
//!
//! The Codex binary comes from `CODEX_BIN`; without it these tests print `SKIPPED: …` and pass,
//! except under `CI=true`, where they fail (see `tests/common/codex.rs`).
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::chat::{
    any_user_contains, is_compaction, last_user_text, patch_loop, text_of, tool_message,
};
use common::codex::{Codex, codex_bin_or_skip, read_work_file};
use common::daemon::{Daemon, start_for};
use common::{ChatTurn, MockUpstream, Recorded, Reply, ToolCall, Usage};
use deepinfra_shim::catalog::{self, Selection, Sources};
use deepinfra_shim::config::load::{Env, check_file};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// A DeepInfra model name Codex does not bundle.
const MODEL: &str = "deepseek-ai/DeepSeek-V3.2";

/// The daemon's config: the model's declared window.
const ROUTES: &str = "models:\n  \"deepseek-ai/DeepSeek-V3.2\": { context_window: 65536 }\n";

/// DeepInfra's `GET /models?filter=with_meta` shape (docs/protocol.md#model-list).
fn deepinfra_models() -> Value {
    json!({"object": "list", "data": [
        {"id": MODEL, "object": "model", "created": 0, "owned_by": "deepinfra", "root": MODEL,
         "parent": null,
         "metadata": {"description": "DeepSeek V3.2", "context_length": 163840, "max_tokens": 16384,
                      "pricing": {"input_tokens": 0.27, "output_tokens": 0.4},
                      "tags": ["chat", "reasoning_effort", "prompt_cache"]}},
        {"id": "BAAI/bge-m3", "object": "model", "created": 0, "owned_by": "deepinfra",
         "root": "BAAI/bge-m3", "parent": null,
         "metadata": {"context_length": 8192, "tags": ["embed"]}}
    ]})
}

/// Mock upstream serving [`deepinfra_models`] + a daemon pointed at it with [`ROUTES`].
async fn stack() -> (MockUpstream, Daemon) {
    let mock = MockUpstream::start().await;
    mock.set_models(deepinfra_models());
    let daemon = start_for(&mock, Some(ROUTES));
    (mock, daemon)
}

/// Builds the catalog the way `shimctl codex-config --catalog` does (config + the upstream's
/// list + this Codex's bundled catalog), writes it into the setup's `CODEX_HOME` and points
/// Codex at it.
async fn with_generated_catalog(codex: Codex, bin: &Path, mock: &MockUpstream) -> Codex {
    let yaml = format!("upstream:\n  url: {}\n{ROUTES}", mock.url());
    let cfg_path = codex.codex_home().join("shim-config.yaml");
    std::fs::write(&cfg_path, yaml).unwrap();
    let env = Env::from_pairs([("XDG_RUNTIME_DIR", codex.codex_home().to_str().unwrap())]);
    let config = check_file(&cfg_path, &env).unwrap_or_else(|e| panic!("{:?}", e.lines()));

    let lists = catalog::fetch_all(&config, catalog::fetch::TIMEOUT).await;
    let template = catalog::codex_bin::load_template_in(bin, Some(&codex.codex_home()));
    let template_slug = template
        .as_ref()
        .map(|t| t.base_slug().to_owned())
        .unwrap_or_else(|e| panic!("the real Codex must give a template: {e}"));
    let sources = Sources {
        config: &config,
        upstream_models: lists,
        template: Some(template),
    };
    let cat = catalog::build(
        &sources,
        &Selection::All {
            also: vec![MODEL.to_owned()],
        },
    );
    assert!(cat.warnings.is_empty(), "{:?}", cat.warnings);
    let facts = cat.get(MODEL).expect("the model is described");
    assert_eq!(facts.context_window.value, 65_536, "the route wins");
    assert!(facts.reasoning.value, "tagged reasoning_effort upstream");
    let entries = cat.json["models"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["slug"] == template_slug.as_str()),
        "the bundled entries are kept"
    );
    assert!(
        !entries.iter().any(|e| e["slug"] == "BAAI/bge-m3"),
        "no embedding models"
    );

    let path = catalog::write_file(&cat, &codex.codex_home().join("codex-models.json")).unwrap();
    let path = serde_json::to_string(&path.to_string_lossy()).unwrap();
    codex.model(MODEL).top_level("model_catalog_json", &path)
}

// ---------------------------------------------------------------------------------------------
// (a) apply_patch
// ---------------------------------------------------------------------------------------------

const PATCH: &str = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_catalog_offers_apply_patch_and_the_patch_lands() {
    let Some(bin) = codex_bin_or_skip("generated_catalog_offers_apply_patch_and_the_patch_lands")
    else {
        return;
    };
    let (mock, daemon) = stack().await;
    mock.set_handler(patch_loop("call_patch_1", PATCH));
    let codex = with_generated_catalog(Codex::new(&bin, daemon.base_url()), &bin, &mock).await;

    let run = codex.run("Create hello.txt containing hi.").await;
    run.assert_success();
    run.assert_model_described();
    assert_eq!(run.last_message, "Patched.", "{}", run.describe());
    assert_eq!(
        read_work_file(&codex, "hello.txt").as_deref(),
        Some("hi\n"),
        "{}",
        run.describe()
    );

    let reqs = mock.wait_chat_requests(2, WAIT).await;
    assert_eq!(reqs.len(), 2, "the patch call, then the answer");
    let first = &reqs[0];
    assert_eq!(first.model(), Some(MODEL));
    // The freeform tool reaches the provider as a function with one string `input`.
    let tools = first.tools();
    let patch_tool = tools
        .iter()
        .find(|t| t["function"]["name"] == "apply_patch")
        .unwrap_or_else(|| panic!("apply_patch not offered: {:?}", first.tool_names()));
    let params = &patch_tool["function"]["parameters"];
    let props = params["properties"].as_object().expect("properties");
    assert_eq!(
        props.keys().collect::<Vec<_>>(),
        ["input"],
        "{patch_tool:#}"
    );
    assert_eq!(props["input"]["type"], "string", "{patch_tool:#}");
    // The prompt is Codex's own (from the template), retargeted at the model.
    let system = text_of(&first.messages()[0]);
    assert!(
        system.len() > 10_000,
        "Codex's full prompt, not a stub ({} chars)",
        system.len()
    );
    assert!(
        system.contains(&format!("running on {MODEL}")),
        "the prompt names the model: {}",
        &system[..system.len().min(300)]
    );
    // A reasoning model: Codex sends the catalog's default effort, the shim passes it on.
    assert_eq!(
        first.json()["reasoning_effort"],
        "medium",
        "{}",
        first.json()
    );
    // The patch result went back to the model.
    let second = &reqs[1];
    let tool_reply = tool_message(&second.messages(), "call_patch_1");
    assert!(text_of(&tool_reply).contains("hello.txt"), "{tool_reply}");
}

// ---------------------------------------------------------------------------------------------
// (b) compaction on time
// ---------------------------------------------------------------------------------------------

const SUMMARY: &str = "SUMMARY-5150: echo ran; nothing else to do.";

/// Turn 1: a tool call whose usage is 60 000 tokens (over 90 % of 65 536 = 58 982, under
/// Codex's fallback limit of ~245k). Then: the summary for a compaction request, a short
/// answer for anything else.
fn near_the_window(calls: Arc<AtomicUsize>) -> impl Fn(&Recorded) -> Reply {
    move |req| {
        if is_compaction(req) {
            return Reply::text(SUMMARY);
        }
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            ChatTurn::new()
                .tool_call(ToolCall::new(
                    "call_big_1",
                    "exec_command",
                    r#"{"cmd":"echo big"}"#,
                ))
                .usage(Some(Usage {
                    prompt_tokens: 59_000,
                    completion_tokens: 1_000,
                    cached_tokens: 0,
                }))
                .into()
        } else {
            Reply::text_with_usage("Done.", 3_000, 10)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_catalog_compacts_near_the_declared_window() {
    let Some(bin) = codex_bin_or_skip("generated_catalog_compacts_near_the_declared_window") else {
        return;
    };
    let (mock, daemon) = stack().await;
    mock.set_handler(near_the_window(Arc::new(AtomicUsize::new(0))));
    let codex = with_generated_catalog(Codex::new(&bin, daemon.base_url()), &bin, &mock).await;

    let run = codex.run("Run echo big, then finish.").await;
    run.assert_success();
    run.assert_model_described();
    assert_eq!(run.last_message, "Done.", "{}", run.describe());

    let reqs = mock.chat_requests();
    assert_eq!(
        reqs.len(),
        3,
        "tool call, compaction, resumed turn:\n{}",
        run.describe()
    );
    assert!(!reqs[0].tools().is_empty());
    let compaction = &reqs[1];
    assert!(
        is_compaction(compaction),
        "the request after 60 000 tokens of a 65 536 window is a compaction request; tools: \
         {:?}, last user message: {}",
        compaction.tool_names(),
        last_user_text(compaction)
    );
    let resumed = &reqs[2];
    assert!(
        !resumed.tools().is_empty(),
        "the turn goes on with its tools"
    );
    assert!(
        any_user_contains(resumed, SUMMARY),
        "the summary replaces the history: {:#?}",
        resumed.messages()
    );
    assert!(
        !resumed
            .messages()
            .iter()
            .any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_big_1"),
        "the big tool turn is gone from the history"
    );
}

/// Control: the same usage without a catalog (Codex's fallback metadata, ~272k window) does
/// not compact, so the catalog is what makes the test above pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_catalog_the_same_usage_does_not_compact() {
    let Some(bin) = codex_bin_or_skip("without_the_catalog_the_same_usage_does_not_compact") else {
        return;
    };
    let (mock, daemon) = stack().await;
    mock.set_handler(near_the_window(Arc::new(AtomicUsize::new(0))));
    let codex = Codex::new(&bin, daemon.base_url()).model(MODEL);

    let run = codex.run("Run echo big, then finish.").await;
    run.assert_success();
    assert!(
        run.stderr.contains("Defaulting to fallback metadata"),
        "{}",
        run.describe()
    );
    let reqs = mock.chat_requests();
    assert_eq!(
        reqs.len(),
        2,
        "tool call, then the answer:\n{}",
        run.describe()
    );
    assert!(
        !reqs.iter().any(is_compaction),
        "no compaction with the fallback window"
    );
    assert!(
        !reqs[0].tool_names().iter().any(|n| n == "apply_patch"),
        "no apply_patch without the catalog"
    );
}

// ---------------------------------------------------------------------------------------------
// The user's path: `shimctl codex-config --catalog`, then Codex
// ---------------------------------------------------------------------------------------------

/// What the README tells a new user to do: the block and the catalog come from `shimctl`,
/// asking the running daemon; Codex then edits files with `apply_patch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shimctl_catalog_gives_codex_apply_patch() {
    let Some(bin) = codex_bin_or_skip("shimctl_catalog_gives_codex_apply_patch") else {
        return;
    };
    let (mock, daemon) = stack().await;
    mock.set_handler(patch_loop("call_patch_2", PATCH));
    let codex = Codex::new(&bin, daemon.base_url());
    let catalog_path = codex.codex_home().join("deepinfra-models.json");

    let socket = daemon.control_socket().unwrap().to_owned();
    let codex_home = codex.codex_home();
    let codex_bin = bin.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shimctl"));
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("DEEPINFRA_") || k.starts_with("CODEX_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("CODEX_HOME", &codex_home)
            .arg("--socket")
            .arg(&socket)
            .args(["codex-config", "--model", MODEL, "--catalog"])
            .arg(&catalog_path)
            .arg("--codex-bin")
            .arg(&codex_bin)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running shimctl")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(stderr.contains("modelled on"), "{stderr}");
    let block: toml::Table = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(block["model"].as_str(), Some(MODEL));
    assert_eq!(
        block["model_providers"]["deepinfra"]["base_url"].as_str(),
        Some(daemon.base_url().as_str())
    );
    let catalog = block["model_catalog_json"].as_str().expect("top-level key");
    assert!(Path::new(catalog).is_absolute());

    let codex = codex.model(MODEL).top_level(
        "model_catalog_json",
        &serde_json::to_string(catalog).unwrap(),
    );
    let run = codex.run("Create hello.txt containing hi.").await;
    run.assert_success();
    run.assert_model_described();
    assert_eq!(
        read_work_file(&codex, "hello.txt").as_deref(),
        Some("hi\n"),
        "{}",
        run.describe()
    );
    let reqs = mock.chat_requests();
    assert!(
        reqs[0].tool_names().iter().any(|n| n == "apply_patch"),
        "{:?}",
        reqs[0].tool_names()
    );
}
