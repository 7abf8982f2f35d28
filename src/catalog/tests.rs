//! Catalog facts from config-only, metadata-only and mixed sources.

use serde_json::{Value, json};

use super::*;
use crate::config::Config;
use crate::config::load::{Env, check_file};

fn config(yaml: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let env = Env::from_pairs([("XDG_RUNTIME_DIR", "/tmp/catalog-test-runtime")]);
    check_file(&path, &env).unwrap_or_else(|e| panic!("config: {:?}", e.lines()))
}

/// A DeepInfra-shaped list (docs/protocol.md#model-list).
fn deepinfra_list() -> Vec<ModelMeta> {
    meta::models_from_value(&json!({"object": "list", "data": [
        {"id": "deepseek-ai/DeepSeek-V3.2", "object": "model", "created": 0, "owned_by": "deepinfra",
         "root": "deepseek-ai/DeepSeek-V3.2", "parent": null,
         "metadata": {"description": "DeepSeek", "context_length": 163840, "max_tokens": 16384,
                      "pricing": {"input_tokens": 0.27, "output_tokens": 0.4, "cache_read_tokens": 0.2},
                      "tags": ["chat", "reasoning_effort", "prompt_cache"]}},
        {"id": "Qwen/Qwen3-VL-235B-A22B-Instruct", "object": "model", "created": 0,
         "metadata": {"context_length": 262144, "max_tokens": 32768, "tags": ["chat", "vision"]}},
        {"id": "moonshotai/Kimi-K2.6", "object": "model", "created": 0,
         "metadata": {"context_length": 262144, "max_tokens": 65536, "tags": ["chat"]}},
        {"id": "BAAI/bge-m3", "object": "model", "created": 0,
         "metadata": {"context_length": 8192, "tags": ["embed"]}},
        {"id": "meta-llama/Llama-Guard-4-12B", "object": "model", "created": 0, "metadata": null}
    ]}))
    .unwrap()
}

fn template() -> Template {
    Template::from_models_json(
        &json!({"models": [
            {"slug": "gpt-5.5", "display_name": "GPT-5.5", "use_responses_lite": false,
             "apply_patch_tool_type": "freeform", "visibility": "list", "priority": 13,
             "supported_reasoning_levels": [], "shell_type": "unified_exec",
             "supported_in_api": true, "support_verbosity": true,
             "truncation_policy": {"mode": "tokens", "limit": 10000},
             "experimental_supported_tools": [],
             "base_instructions": "You are Codex, a coding agent based on GPT-5. Long prompt."},
            {"slug": "gpt-6-sol", "display_name": "GPT-6-Sol", "use_responses_lite": true,
             "base_instructions": "x", "priority": 3}
        ]}),
        "codex-cli 0.169.0",
    )
    .unwrap()
}

fn sources<'a>(
    config: &'a Config,
    lists: Vec<(&str, Result<Vec<ModelMeta>, String>)>,
) -> Sources<'a> {
    Sources {
        config,
        upstream_models: lists.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        template: Some(Ok(template())),
    }
}

fn all() -> Selection {
    Selection::All { also: Vec::new() }
}

fn entry<'a>(cat: &'a Catalog, slug: &str) -> &'a Value {
    cat.json["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["slug"] == slug)
        .unwrap_or_else(|| panic!("no entry {slug}"))
}

const ROUTES: &str = r#"
upstreams:
  local: { url: "http://127.0.0.1:8000/v1", api_key_env: LOCAL_KEY }
models:
  "deepseek-ai/DeepSeek-V3.2": { context_window: 65536 }
  fast: { upstream: local, model: Qwen/Qwen3-Coder-30B-A3B-Instruct, context_window: 262144, max_output_tokens: 32768, reasoning: false }
  pics: { model: "Qwen/Qwen3-VL-235B-A22B-Instruct", apply_patch: false }
  "moonshotai/*": { context_window: 200000, vision: false }
"#;

#[test]
fn config_only() {
    let cfg = config(ROUTES);
    let cat = build(
        &sources(&cfg, vec![("default", Err("connection refused".into()))]),
        &all(),
    );
    let names: Vec<&str> = cat.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["deepseek-ai/DeepSeek-V3.2", "fast", "pics", "moonshotai/*"]
    );
    let ds = cat.get("deepseek-ai/DeepSeek-V3.2").unwrap();
    assert_eq!(ds.kind, Kind::Route);
    assert_eq!(ds.context_window.value, 65_536);
    assert_eq!(
        ds.context_window.source,
        Source::Config("deepseek-ai/DeepSeek-V3.2".into())
    );
    assert_eq!(ds.vision.source, Source::Default);
    assert!(!ds.vision.value && !ds.reasoning.value && ds.apply_patch.value);
    assert_eq!(ds.compact_at(), 58_982);

    let fast = cat.get("fast").unwrap();
    assert_eq!(fast.upstream, "local");
    assert_eq!(
        fast.upstream_model.as_deref(),
        Some("Qwen/Qwen3-Coder-30B-A3B-Instruct")
    );
    assert_eq!(fast.reasoning.source, Source::Config("fast".into()));
    assert_eq!(fast.max_output_tokens.value, Some(32_768));
    // 262144 - 32768 = 229376 < 90 % (235929): compaction must leave room for the output.
    assert_eq!(fast.auto_compact_token_limit, Some(229_376));
    assert_eq!(entry(&cat, "fast")["auto_compact_token_limit"], 229_376);

    // Not in any list, no route value: assumed, and said so.
    let pics = cat.get("pics").unwrap();
    assert_eq!(pics.context_window.source, Source::Default);
    assert_eq!(pics.context_window.value, DEFAULT_CONTEXT_WINDOW);
    assert!(!pics.apply_patch.value);
    assert!(entry(&cat, "pics").get("apply_patch_tool_type").is_none());

    let pattern = cat.get("moonshotai/*").unwrap();
    assert_eq!(pattern.kind, Kind::Pattern);
    assert_eq!(pattern.slug, "moonshotai/");
    let e = entry(&cat, "moonshotai/");
    assert_eq!(e["visibility"], "hide");
    assert_eq!(e["context_window"], 200_000);

    let w = cat.warnings.join("\n");
    assert!(w.contains("upstream 'default' (connection refused)"), "{w}");
    assert!(w.contains("context window unknown for `pics`"), "{w}");
    assert!(!w.contains("NO CODEX TEMPLATE"), "{w}");

    // The entries: ours first with negative priorities, then the bundled ones.
    let slugs: Vec<&str> = cat.json["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        [
            "deepseek-ai/DeepSeek-V3.2",
            "fast",
            "pics",
            "moonshotai/",
            "gpt-5.5",
            "gpt-6-sol"
        ]
    );
    let e = entry(&cat, "deepseek-ai/DeepSeek-V3.2");
    assert_eq!(e["priority"], -4);
    assert_eq!(e["apply_patch_tool_type"], "freeform");
    assert_eq!(e["input_modalities"], json!(["text"]));
    assert_eq!(e["display_name"], "DeepSeek-V3.2");
    assert!(
        e["base_instructions"]
            .as_str()
            .unwrap()
            .starts_with("You are Codex, a coding agent running on deepseek-ai/DeepSeek-V3.2.")
    );
    assert!(
        cat.json["generated_by"]
            .as_str()
            .unwrap()
            .contains("gpt-5.5 from codex-cli 0.169.0")
    );
    assert_eq!(
        cat.template.as_deref(),
        Some("gpt-5.5 from codex-cli 0.169.0")
    );
}

#[test]
fn metadata_only() {
    let cfg = config("{}\n");
    let cat = build(
        &sources(&cfg, vec![("default", Ok(deepinfra_list()))]),
        &all(),
    );
    let names: Vec<&str> = cat.models.iter().map(|m| m.name.as_str()).collect();
    // Chat models only, sorted; embeddings and metadata-less models left out.
    assert_eq!(
        names,
        [
            "deepseek-ai/DeepSeek-V3.2",
            "moonshotai/Kimi-K2.6",
            "Qwen/Qwen3-VL-235B-A22B-Instruct"
        ]
    );
    let ds = cat.get("deepseek-ai/DeepSeek-V3.2").unwrap();
    assert_eq!(ds.kind, Kind::Listed);
    assert_eq!(ds.context_window.value, 163_840);
    assert_eq!(ds.context_window.source, Source::Upstream("default".into()));
    assert_eq!(ds.max_output_tokens.value, Some(16_384));
    assert!(ds.reasoning.value);
    assert_eq!(ds.vision.source, Source::Upstream("default".into()));
    assert!(!ds.vision.value);
    assert_eq!(ds.apply_patch.source, Source::Default);
    // The upstream's max_tokens is not sent by the shim: Codex's 90 % rule stays.
    assert_eq!(ds.auto_compact_token_limit, None);
    let e = entry(&cat, "deepseek-ai/DeepSeek-V3.2");
    let efforts: Vec<&str> = e["supported_reasoning_levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["effort"].as_str().unwrap())
        .collect();
    assert_eq!(efforts, ["low", "medium", "high"]);
    assert_eq!(e["default_reasoning_level"], "medium");

    let vl = entry(&cat, "Qwen/Qwen3-VL-235B-A22B-Instruct");
    assert_eq!(vl["input_modalities"], json!(["text", "image"]));
    assert_eq!(vl["supported_reasoning_levels"], json!([]));
    assert!(cat.warnings.is_empty(), "{:?}", cat.warnings);
}

#[test]
fn mixed_sources() {
    let cfg = config(ROUTES);
    let local = meta::models_from_value(&json!({"data": [
        {"id": "Qwen/Qwen3-Coder-30B-A3B-Instruct", "max_model_len": 131072},
        {"id": "only-local", "max_model_len": 4096}
    ]}))
    .unwrap();
    let cat = build(
        &sources(
            &cfg,
            vec![("default", Ok(deepinfra_list())), ("local", Ok(local))],
        ),
        &Selection::All {
            also: vec!["deepseek-ai/DeepSeek-V4-Flash".into()],
        },
    );
    let names: Vec<&str> = cat.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "deepseek-ai/DeepSeek-V4-Flash",
            "deepseek-ai/DeepSeek-V3.2",
            "fast",
            "pics",
            // `moonshotai/Kimi-K2.6` matches the pattern but is still the default upstream's.
            "moonshotai/Kimi-K2.6",
            "Qwen/Qwen3-VL-235B-A22B-Instruct",
            "moonshotai/*"
        ],
        "`only-local` is not reachable under its own name (it would go to the default upstream)"
    );
    // Route value beats metadata; metadata fills the rest.
    let ds = cat.get("deepseek-ai/DeepSeek-V3.2").unwrap();
    assert_eq!(ds.context_window.value, 65_536);
    assert_eq!(
        ds.context_window.source,
        Source::Config("deepseek-ai/DeepSeek-V3.2".into())
    );
    assert!(ds.reasoning.value);
    assert_eq!(ds.reasoning.source, Source::Upstream("default".into()));
    // An alias gets the metadata of the model it names, on its upstream.
    let fast = cat.get("fast").unwrap();
    assert_eq!(fast.context_window.source, Source::Config("fast".into()));
    let pics = cat.get("pics").unwrap();
    assert_eq!(pics.context_window.value, 262_144);
    assert!(pics.vision.value);
    assert_eq!(pics.vision.source, Source::Upstream("default".into()));
    // A pattern's values apply to the listed models it matches.
    let kimi = cat.get("moonshotai/Kimi-K2.6").unwrap();
    assert_eq!(kimi.context_window.value, 200_000);
    assert_eq!(
        kimi.context_window.source,
        Source::Config("moonshotai/*".into())
    );
    assert_eq!(kimi.max_output_tokens.value, Some(65_536));
    // The requested model is in no list: default window, warned.
    let flash = cat.get("deepseek-ai/DeepSeek-V4-Flash").unwrap();
    assert_eq!(flash.kind, Kind::Requested);
    assert_eq!(flash.context_window.source, Source::Default);
    assert!(
        cat.warnings
            .iter()
            .any(|w| w.contains("`deepseek-ai/DeepSeek-V4-Flash`")),
        "{:?}",
        cat.warnings
    );
}

#[test]
fn only_one_model() {
    let cfg = config(ROUTES);
    let cat = build(
        &sources(&cfg, vec![("default", Ok(deepinfra_list()))]),
        &Selection::Only("Qwen/Qwen3-VL-235B-A22B-Instruct".into()),
    );
    assert_eq!(cat.models.len(), 1);
    assert_eq!(cat.models[0].kind, Kind::Listed);
    let ours: Vec<&Value> = cat.json["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["priority"].as_i64().unwrap() < 0)
        .collect();
    assert_eq!(ours.len(), 1);

    let typo = build(
        &sources(&cfg, vec![("default", Ok(deepinfra_list()))]),
        &Selection::Only("deepseek-ai/DeepSeek-V9".into()),
    );
    assert!(
        typo.warnings
            .iter()
            .any(|w| w.contains("not in the model list of upstream 'default'")),
        "{:?}",
        typo.warnings
    );
}

#[test]
fn without_a_template() {
    let cfg = config(ROUTES);
    let mut s = sources(&cfg, vec![]);
    s.template = Some(Err("codex not found on PATH".into()));
    let cat = build(&s, &Selection::Only("fast".into()));
    assert!(cat.template.is_none());
    assert_eq!(cat.json["models"].as_array().unwrap().len(), 1);
    assert_eq!(
        cat.json["models"][0]["base_instructions"],
        template::BUILTIN_INSTRUCTIONS
    );
    let w = cat.warnings.join("\n");
    assert!(
        w.contains("NO CODEX TEMPLATE (codex not found on PATH)"),
        "{w}"
    );

    s.template = None;
    assert!(
        build(&s, &all())
            .warnings
            .iter()
            .all(|w| !w.contains("TEMPLATE"))
    );
}

#[test]
fn a_route_may_override_a_bundled_slug() {
    let cfg = config("models:\n  gpt-5.5: { context_window: 100000 }\n");
    let cat = build(&sources(&cfg, vec![]), &all());
    let gpt: Vec<&Value> = cat.json["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["slug"] == "gpt-5.5")
        .collect();
    assert_eq!(gpt.len(), 1);
    assert_eq!(gpt[0]["context_window"], 100_000);
}

#[test]
fn table_and_json() {
    let cfg = config(ROUTES);
    let cat = build(
        &sources(&cfg, vec![("default", Ok(deepinfra_list()))]),
        &all(),
    );
    let t = render_table(&cat);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with("MODEL"), "{t}");
    assert!(
        lines[0].contains("CONTEXT") && lines[0].contains("APPLY_PATCH"),
        "{t}"
    );
    let ds = lines
        .iter()
        .find(|l| l.starts_with("deepseek-ai/DeepSeek-V3.2 "))
        .unwrap();
    assert!(ds.contains("65536 (config)"), "{ds}");
    assert!(ds.contains("yes (upstream)"), "{ds}");
    let fast = lines.iter().find(|l| l.starts_with("fast ")).unwrap();
    assert!(
        fast.contains("local -> Qwen/Qwen3-Coder-30B-A3B-Instruct"),
        "{fast}"
    );
    assert!(t.contains("moonshotai/* (pattern)"), "{t}");
    assert!(!t.contains("warning:"), "{t}");
    let mut with_warning = cat.clone();
    with_warning.warnings.push("something".into());
    assert!(render_table(&with_warning).ends_with("warning: something\n"));

    let j = cat.facts_json();
    let first = &j["models"][0];
    assert_eq!(first["name"], "deepseek-ai/DeepSeek-V3.2");
    assert_eq!(
        first["context_window"],
        json!({"value": 65536, "source": "config", "route": "deepseek-ai/DeepSeek-V3.2"})
    );
    assert_eq!(
        first["reasoning"],
        json!({"value": true, "source": "upstream", "upstream": "default"})
    );
    assert_eq!(first["compact_at"], 58_982);
}

#[test]
fn writes_an_absolute_path() {
    let cfg = config(ROUTES);
    let cat = build(&sources(&cfg, vec![]), &all());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/../codex-models.json");
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let written = write_file(&cat, &path).unwrap();
    assert!(written.is_absolute());
    assert!(!written.to_string_lossy().contains(".."));
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(back, cat.json);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn daemon_urls_override_the_file() {
    let cfg = config(ROUTES);
    let cfg = with_upstream_urls(
        cfg,
        [
            ("default", "http://127.0.0.1:1/v1/"),
            ("local", "http://127.0.0.1:2/v1"),
            ("unknown", "http://x"),
        ],
    );
    assert_eq!(cfg.default_upstream.url, "http://127.0.0.1:1/v1");
    assert_eq!(cfg.upstreams["local"].url, "http://127.0.0.1:2/v1");
    assert_eq!(cfg.resolve("fast").upstream.url, "http://127.0.0.1:2/v1");
}
