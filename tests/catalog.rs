//! The catalog built from an upstream's real `GET /models` answer (the mock upstream serving
//! DeepInfra-shaped metadata, upstream.md §1.8), from the config alone when the upstream is
//! unreachable, and from both.

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
            "Qwen/Qwen3-VL-235B-A22B-Instruct",
            "deepseek-ai/DeepSeek-V3.2"
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
    assert_eq!(entries[1]["input_modalities"], json!(["text"]));
    assert_eq!(entries[0]["input_modalities"], json!(["text", "image"]));
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
