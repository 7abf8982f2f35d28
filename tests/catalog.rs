//! The catalog built from an upstream's real `GET /models` answer (the mock upstream serving
//! DeepInfra-shaped metadata, docs/protocol.md#model-list), from the config alone when the upstream is
//! unreachable, and from both.
// Test code: a panic is how a check fails, and a sleep here blocks no request.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use deepinfra_shim::catalog::{
    self, Kind, Selection, Source, Sources, fetch, fetch_all, fetch_models,
};
use deepinfra_shim::config::Config;
use deepinfra_shim::config::load::{Env, check_file};
use serde_json::{Value, json};

use common::MockUpstream;

const TIMEOUT: Duration = Duration::from_secs(5);

fn deepinfra_models() -> Value {
    json!({"object": "list", "data": [
        {"id": "deepseek-ai/DeepSeek-V3.2", "object": "model", "created": 0, "owned_by": "deepinfra",
         "root": "deepseek-ai/DeepSeek-V3.2", "parent": null,
         "metadata": {"description": "DeepSeek V3.2", "context_length": 163840, "max_tokens": 16384,
                      "pricing": {"input_tokens": 0.27, "output_tokens": 0.4, "cache_read_tokens": 0.216},
                      "tags": ["chat", "reasoning_effort", "prompt_cache"]}},
        {"id": "Qwen/Qwen3-VL-235B-A22B-Instruct", "object": "model", "created": 0, "owned_by": "deepinfra",
         "root": "Qwen/Qwen3-VL-235B-A22B-Instruct", "parent": null,
         "metadata": {"description": "Qwen3 VL", "context_length": 262144, "max_tokens": 32768,
                      "pricing": {"input_tokens": 0.2, "output_tokens": 0.6}, "tags": ["chat", "vision"]}},
        {"id": "BAAI/bge-m3", "object": "model", "created": 0, "owned_by": "deepinfra",
         "root": "BAAI/bge-m3", "parent": null,
         "metadata": {"description": "embeddings", "context_length": 8192, "max_tokens": 0,
                      "pricing": {"input_tokens": 0.01}, "tags": ["embed"]}},
        {"id": "meta-llama/Llama-Guard-4-12B", "object": "model", "created": 0, "owned_by": "deepinfra",
         "root": "meta-llama/Llama-Guard-4-12B", "parent": null, "metadata": null}
    ]})
}

fn config(yaml: &str) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let env = Env::from_pairs([
        ("XDG_RUNTIME_DIR", dir.path().to_str().unwrap()),
        ("DEEPINFRA_TOKEN", "upstream-secret"),
    ]);
    let cfg = check_file(&path, &env).unwrap_or_else(|e| panic!("config: {:?}", e.lines()));
    (dir, cfg)
}

/// A loopback URL nothing listens on.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/v1")
}

#[tokio::test]
async fn metadata_from_the_mock_upstream() {
    let mock = MockUpstream::start().await;
    mock.set_models(deepinfra_models());
    let list = fetch_models(&mock.url(), Some("upstream-secret"), &[], TIMEOUT)
        .await
        .unwrap();
    assert_eq!(list.len(), 4);

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/v1/models?filter=with_meta");
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer upstream-secret")
    );

    let (_dir, cfg) = config(&format!("upstream:\n  url: {}\n", mock.url()));
    let sources = Sources {
        config: &cfg,
        upstream_models: [("default".to_owned(), Ok(list))].into(),
        template: None,
    };
    let cat = catalog::build(&sources, &Selection::All { also: vec![] });
    let names: Vec<&str> = cat.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "deepseek-ai/DeepSeek-V3.2",
            "Qwen/Qwen3-VL-235B-A22B-Instruct"
        ]
    );
    let ds = cat.get("deepseek-ai/DeepSeek-V3.2").unwrap();
    assert_eq!(ds.context_window.value, 163_840);
    assert_eq!(ds.context_window.source, Source::Upstream("default".into()));
    assert!(ds.reasoning.value && !ds.vision.value && ds.apply_patch.value);
    let vl = cat.get("Qwen/Qwen3-VL-235B-A22B-Instruct").unwrap();
    assert!(vl.vision.value && !vl.reasoning.value);
    let entries = cat.json["models"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "no template: provider entries only");
    assert_eq!(entries[0]["input_modalities"], json!(["text"]));
    assert_eq!(entries[1]["input_modalities"], json!(["text", "image"]));
}

#[tokio::test]
async fn unreachable_upstream_falls_back_to_the_config() {
    let dead = dead_url();
    let (_dir, cfg) = config(&format!(
        "upstream:\n  url: {dead}\nmodels:\n  \"deepseek-ai/DeepSeek-V3.2\": {{ context_window: 65536, reasoning: true }}\n"
    ));
    let lists = fetch_all(&cfg, TIMEOUT).await;
    assert_eq!(lists.len(), 1);
    let err = lists["default"].as_ref().unwrap_err();
    assert!(err.contains(&fetch::models_url(&dead)), "{err}");
    assert!(!err.contains("upstream-secret"), "{err}");

    let sources = Sources {
        config: &cfg,
        upstream_models: lists,
        template: None,
    };
    let cat = catalog::build(
        &sources,
        &Selection::Only("deepseek-ai/DeepSeek-V3.2".into()),
    );
    let ds = &cat.models[0];
    assert_eq!(ds.kind, Kind::Route);
    assert_eq!(ds.context_window.value, 65_536);
    assert!(ds.reasoning.value);
    assert_eq!(ds.vision.source, Source::Default);
    assert!(
        cat.warnings
            .iter()
            .any(|w| w.contains("could not read the model list of upstream 'default'")),
        "{:?}",
        cat.warnings
    );
}

#[tokio::test]
async fn mixed_upstreams() {
    let deepinfra = MockUpstream::start().await;
    deepinfra.set_models(deepinfra_models());
    let local = MockUpstream::start().await;
    local.set_models(json!({"object": "list", "data": [
        {"id": "Qwen/Qwen3-Coder-30B-A3B-Instruct", "object": "model", "max_model_len": 131072}
    ]}));
    let dead = dead_url();
    let (_dir, cfg) = config(&format!(
        "upstream:\n  url: {}\n\
         upstreams:\n  local: {{ url: \"{}\", api_key_env: LOCAL_KEY }}\n  gone: {{ url: \"{dead}\", api_key_env: GONE_KEY }}\n\
         models:\n  fast: {{ upstream: local, model: Qwen/Qwen3-Coder-30B-A3B-Instruct }}\n\
         \x20 old: {{ upstream: gone, model: x, context_window: 32768 }}\n\
         \x20 \"deepseek-ai/*\": {{ apply_patch: false }}\n",
        deepinfra.url(),
        local.url()
    ));
    let lists = fetch_all(&cfg, TIMEOUT).await;
    assert_eq!(
        lists.keys().map(String::as_str).collect::<Vec<_>>(),
        ["default", "gone", "local"]
    );
    // The local upstream has no token in this environment: no Authorization header.
    assert_eq!(local.requests()[0].header("authorization"), None);

    let sources = Sources {
        config: &cfg,
        upstream_models: lists,
        template: None,
    };
    let cat = catalog::build(&sources, &Selection::All { also: vec![] });
    let fast = cat.get("fast").unwrap();
    assert_eq!(fast.context_window.value, 131_072);
    assert_eq!(fast.context_window.source, Source::Upstream("local".into()));
    let old = cat.get("old").unwrap();
    assert_eq!(old.context_window.source, Source::Config("old".into()));
    let ds = cat.get("deepseek-ai/DeepSeek-V3.2").unwrap();
    assert!(!ds.apply_patch.value);
    assert_eq!(
        ds.apply_patch.source,
        Source::Config("deepseek-ai/*".into())
    );
    assert_eq!(ds.context_window.source, Source::Upstream("default".into()));
    let pattern = cat.get("deepseek-ai/*").unwrap();
    assert_eq!(pattern.kind, Kind::Pattern);
    assert!(
        cat.warnings.iter().any(|w| w.contains("upstream 'gone'")),
        "{:?}",
        cat.warnings
    );
    let table = catalog::render_table(&cat);
    assert!(
        table.contains("local -> Qwen/Qwen3-Coder-30B-A3B-Instruct"),
        "{table}"
    );
    assert!(table.contains("131072 (upstream)"), "{table}");
}

// ---------------------------------------------------------------------------------------------
// shimctl models / codex-config --catalog (no Codex needed)
// ---------------------------------------------------------------------------------------------

use std::path::Path;
use std::process::Output;

use common::daemon::Daemon;

/// Runs `shimctl ARGS` in `home` (also its HOME and runtime dir) with a scrubbed environment:
/// no developer config, no Codex on PATH.
async fn shimctl(args: Vec<String>, envs: Vec<(&'static str, String)>, home: &Path) -> Output {
    let home = home.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shimctl"));
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("DEEPINFRA_") || k.starts_with("CODEX_") || k.starts_with("XDG_") {
                cmd.env_remove(&key);
            }
        }
        cmd.current_dir(&home)
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &home)
            .env("PATH", "/usr/bin:/bin")
            .envs(envs)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running shimctl")
    })
    .await
    .unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shimctl_models_shows_facts_and_sources() {
    let mock = MockUpstream::start().await;
    mock.set_models(deepinfra_models());
    let daemon = Daemon::builder()
        .upstream(mock.url())
        .config_yaml("models:\n  \"deepseek-ai/DeepSeek-V3.2\": { context_window: 65536 }\n")
        .start();
    let socket = daemon
        .control_socket()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let home = tempfile::tempdir().unwrap();

    let out = shimctl(
        vec![
            "--socket".into(),
            socket.clone(),
            "models".into(),
            "--json".into(),
        ],
        vec![],
        home.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let facts: Value = serde_json::from_slice(&out.stdout).unwrap();
    let models = facts["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "deepseek-ai/DeepSeek-V3.2",
            "Qwen/Qwen3-VL-235B-A22B-Instruct"
        ],
        "the route, then the upstream's chat models (the daemon's --upstream, not the file's)"
    );
    assert_eq!(
        models[0]["context_window"],
        json!({"value": 65536, "source": "config", "route": "deepseek-ai/DeepSeek-V3.2"})
    );
    assert_eq!(
        models[0]["reasoning"],
        json!({"value": true, "source": "upstream", "upstream": "default"})
    );
    assert_eq!(models[0]["compact_at"], 58_982);
    assert_eq!(models[1]["vision"]["value"], true);

    let out = shimctl(
        vec!["--socket".into(), socket, "models".into()],
        vec![],
        home.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("MODEL "), "{table}");
    assert!(table.contains("65536 (config)"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shimctl_catalog_without_daemon_or_codex() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "upstream:\n  url: {}\nmodels:\n  \"deepseek-ai/DeepSeek-V3.2\": {{ context_window: 65536 }}\n",
            dead_url()
        ),
    )
    .unwrap();
    let socket = home.path().join("no-daemon.sock");
    let out = shimctl(
        vec![
            "--socket".into(),
            socket.to_string_lossy().into_owned(),
            "codex-config".into(),
            "--model".into(),
            "deepseek-ai/DeepSeek-V3.2".into(),
            "--catalog".into(),
            "catalog/models.json".into(),
        ],
        vec![
            (
                "DEEPINFRA_CODEX_SHIM_CONFIG",
                cfg.to_string_lossy().into_owned(),
            ),
            // Deterministic even where a `codex` is installed system-wide.
            ("CODEX_BIN", "/nonexistent/codex".to_owned()),
        ],
        home.path(),
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Said what it could not learn, loudly about the prompt.
    assert!(
        stderr.contains("could not read the model list of upstream 'default'"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("NO CODEX TEMPLATE (cannot run `/nonexistent/codex debug models --bundled`"),
        "{stderr}"
    );

    let block: toml::Table = toml::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(block["model"].as_str(), Some("deepseek-ai/DeepSeek-V3.2"));
    assert!(
        block.get("model_context_window").is_none(),
        "the catalog carries the window; a global override would apply to every model"
    );
    let path = Path::new(block["model_catalog_json"].as_str().expect("top-level key"));
    assert!(path.is_absolute(), "{}", path.display());
    // Relative to shimctl's working directory, not CODEX_HOME.
    assert_eq!(
        path,
        std::fs::canonicalize(home.path())
            .unwrap()
            .join("catalog/models.json")
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let entries = written["models"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1,
        "only the model asked for; no bundled entries without Codex"
    );
    assert_eq!(entries[0]["slug"], "deepseek-ai/DeepSeek-V3.2");
    assert_eq!(entries[0]["context_window"], 65_536);
    assert_eq!(entries[0]["apply_patch_tool_type"], "freeform");
    assert_eq!(
        entries[0]["base_instructions"],
        catalog::template::BUILTIN_INSTRUCTIONS
    );
}
