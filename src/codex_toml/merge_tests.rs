//! The edit `codex-config --write` makes, on text.

use super::merge::{ChangeKind, Refusal, current_model, legacy_profile_line, merge};
use super::*;
use crate::control::codex_config::{CodexBlock, PROVIDER_NAME};
use std::path::{Path, PathBuf};

fn setup() -> Setup {
    Setup {
        provider: Provider {
            id: "deepinfra".into(),
            name: PROVIDER_NAME.into(),
            base_url: "http://127.0.0.1:8797/v1".into(),
            env_key: "DEEPINFRA_TOKEN".into(),
            stream_idle_timeout_ms: 300_000,
            request_max_retries: 4,
            stream_max_retries: 5,
        },
        selection: Selection {
            model: "deepseek-ai/DeepSeek-V4-Flash".into(),
            provider: "deepinfra".into(),
            catalog: None,
            context_window: None,
        },
    }
}

fn full(text: &str, s: &Setup) -> Merged {
    merge(text, Some(&s.provider), Some(&s.selection)).unwrap()
}

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The merge's output, merged again: nothing changes.
fn assert_idempotent(text: &str, s: &Setup) {
    let again = full(text, s);
    assert!(again.changes.is_empty(), "{:?}\n{text}", again.changes);
    assert_eq!(again.text, text);
}

#[test]
fn empty_file_gets_the_whole_setup() {
    let s = setup();
    let m = full("", &s);
    assert_eq!(
        m.text,
        "model = \"deepseek-ai/DeepSeek-V4-Flash\"\n\
         model_provider = \"deepinfra\"\n\
         \n\
         # deepinfra-shim (`shimctl codex-config --write`). Never name this provider \"OpenAI\":\n\
         # Codex then uses OpenAI-only remote compaction, which the shim cannot serve.\n\
         [model_providers.deepinfra]\n\
         name = \"DeepInfra via deepinfra-shim\"\n\
         base_url = \"http://127.0.0.1:8797/v1\"\n\
         env_key = \"DEEPINFRA_TOKEN\"\n\
         wire_api = \"responses\"\n\
         stream_idle_timeout_ms = 300000\n\
         request_max_retries = 4\n\
         stream_max_retries = 5\n"
    );
    let shown: Vec<String> = m.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "added    [model_providers.deepinfra] (name, base_url, env_key, wire_api, \
             stream_idle_timeout_ms, request_max_retries, stream_max_retries)",
            "added    model = \"deepseek-ai/DeepSeek-V4-Flash\"",
            "added    model_provider = \"deepinfra\"",
        ]
    );
    assert_idempotent(&m.text, &s);
    // Whitespace only counts as empty.
    assert_eq!(full("\n\n", &s).text, m.text);
}

#[test]
fn comments_order_and_other_tables_are_kept() {
    let before = "# My Codex settings\n# (keep this header)\n\n# sandbox for work\n[sandbox_workspace_write]\nnetwork_access = true   # needed for cargo\n\n[mcp_servers.docs]\ncommand = 'docs-mcp'\nargs = [\"--port\", \"9\"]\n\n[projects.\"/home/u/src\"]\ntrust_level = \"trusted\"\n";
    let mut s = setup();
    s.selection.catalog = Some("/home/u/.codex/deepinfra-models.json".into());
    let m = full(before, &s);
    let after = &m.text;
    // The file's header stays on top; the table keeps its own comment.
    assert!(
        after.starts_with(
            "# My Codex settings\n# (keep this header)\n\nmodel = \"deepseek-ai/DeepSeek-V4-Flash\"\nmodel_provider = \"deepinfra\"\nmodel_catalog_json = \"/home/u/.codex/deepinfra-models.json\"\n\n# sandbox for work\n[sandbox_workspace_write]\nnetwork_access = true   # needed for cargo\n"
        ),
        "{after}"
    );
    // Everything the user wrote is still there, byte for byte, in the same order.
    for part in [
        "[mcp_servers.docs]\ncommand = 'docs-mcp'\nargs = [\"--port\", \"9\"]\n",
        "[projects.\"/home/u/src\"]\ntrust_level = \"trusted\"\n",
    ] {
        assert!(after.contains(part), "{part:?} in\n{after}");
    }
    let order: Vec<usize> = ["[sandbox", "[mcp_servers", "[projects", "[model_providers"]
        .iter()
        .map(|h| after.find(h).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{after}");
    let t = table(after);
    assert_eq!(t["model_provider"].as_str(), Some("deepinfra"));
    assert_eq!(
        t["model_catalog_json"].as_str(),
        Some("/home/u/.codex/deepinfra-models.json")
    );
    assert_eq!(
        t["sandbox_workspace_write"]["network_access"].as_bool(),
        Some(true)
    );
    assert_idempotent(after, &s);

    // No header paragraph: the table's comment stays with the table, after our keys.
    let m = full("# about features\n[features]\nplugins = false\n", &setup());
    assert!(
        m.text.starts_with("model = \"deepseek-ai/DeepSeek-V4-Flash\"\nmodel_provider = \"deepinfra\"\n\n# about features\n[features]\n"),
        "{}",
        m.text
    );
}

#[test]
fn stale_provider_values_are_updated_in_place() {
    let before = "model = \"gpt-5.5\"\nmodel_provider = \"openai\"\napproval_policy = \"never\"\n\n[model_providers.deepinfra]\nname = \"old name\"\nbase_url = \"http://127.0.0.1:9999/v1\"  # the old port\nenv_key = \"DEEPINFRA_TOKEN\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nhttp_headers = { \"X-Team\" = \"a\" }\n\n[tui]\nnotifications = true\n";
    let s = setup();
    let m = full(before, &s);
    let shown: Vec<String> = m.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "updated  model_providers.deepinfra.name = \"DeepInfra via deepinfra-shim\" (was \"old name\")",
            "updated  model_providers.deepinfra.base_url = \"http://127.0.0.1:8797/v1\" (was \"http://127.0.0.1:9999/v1\")",
            "added    model_providers.deepinfra.stream_idle_timeout_ms = 300000",
            "added    model_providers.deepinfra.stream_max_retries = 5",
            "updated  model = \"deepseek-ai/DeepSeek-V4-Flash\" (was \"gpt-5.5\")",
            "updated  model_provider = \"deepinfra\" (was \"openai\")",
        ]
    );
    // The comment on the line survives its new value; the user's own retry count and
    // headers stay; nothing is duplicated.
    assert!(
        m.text
            .contains("base_url = \"http://127.0.0.1:8797/v1\"  # the old port\n"),
        "{}",
        m.text
    );
    assert!(m.text.contains("request_max_retries = 0\n"), "{}", m.text);
    assert_eq!(m.text.matches("[model_providers.deepinfra]").count(), 1);
    assert_eq!(m.text.matches("model =").count(), 1);
    let t = table(&m.text);
    assert_eq!(t["approval_policy"].as_str(), Some("never"));
    assert_eq!(
        t["model_providers"]["deepinfra"]["http_headers"]["X-Team"].as_str(),
        Some("a")
    );
    assert_eq!(t["tui"]["notifications"].as_bool(), Some(true));
    assert!(m.changes.iter().all(|c| c.kind != ChangeKind::Removed));
    assert_idempotent(&m.text, &s);
}

#[test]
fn top_level_keys_written_under_a_table_are_moved_to_the_top() {
    // What `shimctl codex-config >> ~/.codex/config.toml` did to a file that ends with a
    // table Codex wrote.
    let before = "approval_policy = \"on-request\"\n\n[projects.\"/home/u/src\"]\ntrust_level = \"trusted\"\n# Codex CLI provider for deepinfra-shim (printed by `shimctl codex-config`).\nmodel = \"moonshotai/Kimi-K2.6\"\nmodel_provider = \"deepinfra\"\n\n[model_providers.deepinfra]\nname = \"DeepInfra via deepinfra-shim\"\nbase_url = \"http://127.0.0.1:8797/v1\"\nenv_key = \"DEEPINFRA_TOKEN\"\nwire_api = \"responses\"\nstream_idle_timeout_ms = 300000\nrequest_max_retries = 4\nstream_max_retries = 5\nmodel_context_window = 131072\n";
    let t = table(before);
    assert!(t.get("model").is_none(), "the symptom: not top-level");
    // The model the appended block picked is the one to keep.
    assert_eq!(
        current_model(before, "deepinfra").as_deref(),
        Some("moonshotai/Kimi-K2.6")
    );
    assert_eq!(current_model(before, "other"), None);

    let mut s = setup();
    s.selection.model = "moonshotai/Kimi-K2.6".into();
    let m = full(before, &s);
    let removed: Vec<&str> = m
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Removed)
        .map(|c| c.what.as_str())
        .collect();
    assert_eq!(
        removed,
        [
            "projects.\"/home/u/src\".model = \"moonshotai/Kimi-K2.6\" (line 6: a top-level key that had landed under [projects.\"/home/u/src\"])",
            "projects.\"/home/u/src\".model_provider = \"deepinfra\" (line 7: a top-level key that had landed under [projects.\"/home/u/src\"])",
            "model_providers.deepinfra.model_context_window = 131072 (line 17: a top-level key that had landed under [model_providers.deepinfra])",
        ]
    );
    let t = table(&m.text);
    assert_eq!(t["model"].as_str(), Some("moonshotai/Kimi-K2.6"));
    assert_eq!(t["model_provider"].as_str(), Some("deepinfra"));
    assert_eq!(t["approval_policy"].as_str(), Some("on-request"));
    let project = t["projects"]["/home/u/src"].as_table().unwrap();
    assert_eq!(project.len(), 1, "{project:?}");
    assert!(
        m.text
            .starts_with("approval_policy = \"on-request\"\nmodel = "),
        "{}",
        m.text
    );
    // Codex ignored it there: it goes too, even though the top level gets none.
    assert!(!m.text.contains("model_context_window"), "{}", m.text);
    // In config.toml of a profile setup (no selection written) they go as well.
    let p = merge(before, Some(&s.provider), None).unwrap();
    assert_eq!(
        p.changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Removed)
            .count(),
        3
    );
    assert!(table(&p.text).get("model").is_none());
    assert_idempotent(&m.text, &s);
}

#[test]
fn a_profile_file_gets_the_selection_and_config_toml_only_the_provider() {
    let s = setup();
    let main = "model = \"gpt-5.5\"\n\n[features]\nplugins = false\n";
    let m = merge(main, Some(&s.provider), None).unwrap();
    let t = table(&m.text);
    assert_eq!(t["model"].as_str(), Some("gpt-5.5"), "the top level stays");
    assert!(t.get("model_provider").is_none());
    assert_eq!(
        t["model_providers"]["deepinfra"]["base_url"].as_str(),
        Some("http://127.0.0.1:8797/v1")
    );
    assert_eq!(m.changes.len(), 1);

    let mut sel = s.selection.clone();
    sel.catalog = Some("/c/models.json".into());
    let p = merge("", None, Some(&sel)).unwrap();
    assert_eq!(
        p.text,
        "model = \"deepseek-ai/DeepSeek-V4-Flash\"\nmodel_provider = \"deepinfra\"\nmodel_catalog_json = \"/c/models.json\"\n"
    );
    let again = merge(&p.text, None, Some(&sel)).unwrap();
    assert!(again.changes.is_empty());

    // The model the user picked in the profile is found again.
    assert_eq!(
        current_model(&p.text, "deepinfra").as_deref(),
        Some("deepseek-ai/DeepSeek-V4-Flash")
    );
    assert_eq!(
        current_model(main, "deepinfra"),
        None,
        "another provider's model"
    );
    assert_eq!(current_model("model = [", "deepinfra"), None);

    let legacy = "[profiles.shim]\nmodel = \"x\"\n\n[profiles.work]\nmodel = \"y\"\n";
    assert_eq!(legacy_profile_line(legacy, "work"), Some(4));
    assert_eq!(legacy_profile_line(legacy, "other"), None);
}

#[test]
fn context_window_only_without_a_catalog() {
    let mut s = setup();
    s.selection.context_window = Some(65_536);
    let m = full("model_context_window = 1000 # mine\n", &s);
    assert!(
        m.text.starts_with("model_context_window = 65536 # mine\n"),
        "{}",
        m.text
    );
    assert_idempotent(&m.text, &s);
    let from_block = Setup::from_block(
        &CodexBlock {
            model: "m".into(),
            addr: "127.0.0.1:1".into(),
            env_key: "K".into(),
            env_key_is_client_key: true,
            context_window: Some((4096, "route m".into())),
            note: None,
        },
        Some("/cat.json"),
    );
    assert_eq!(from_block.selection.context_window, None);
    assert_eq!(from_block.selection.catalog.as_deref(), Some("/cat.json"));
    assert_eq!(from_block.provider.base_url, "http://127.0.0.1:1/v1");
    assert_eq!(from_block.provider.env_key, "K");
}

#[test]
fn providers_written_inline_or_dotted_are_edited_where_they_are() {
    let s = setup();
    let inline = "model = \"m\"\nmodel_provider = \"deepinfra\"\n[model_providers]\ndeepinfra = { name = \"x\", base_url = \"http://127.0.0.1:8797/v1\", env_key = \"DEEPINFRA_TOKEN\", wire_api = \"responses\", stream_idle_timeout_ms = 300000, request_max_retries = 4, stream_max_retries = 5 }\n";
    let mut s2 = s.clone();
    s2.selection.model = "m".into();
    let m = full(inline, &s2);
    assert_eq!(m.changes.len(), 1, "{:?}", m.changes);
    assert!(
        m.text
            .contains("deepinfra = { name = \"DeepInfra via deepinfra-shim\", base_url"),
        "{}",
        m.text
    );
    assert_idempotent(&m.text, &s2);

    let dotted = "model_providers.deepinfra.base_url = \"http://old/v1\"\n";
    let m = full(dotted, &s);
    let t = table(&m.text);
    assert_eq!(
        t["model_providers"]["deepinfra"]["base_url"].as_str(),
        Some("http://127.0.0.1:8797/v1")
    );
    assert_eq!(
        t["model_providers"]["deepinfra"]["wire_api"].as_str(),
        Some("responses")
    );
    assert!(
        !m.text.contains("[model_providers"),
        "still dotted: {}",
        m.text
    );
    assert_idempotent(&m.text, &s);
}

#[test]
fn a_file_that_does_not_parse_is_refused_with_its_line() {
    let s = setup();
    // The block appended twice.
    let twice = "model = \"a\"\n[model_providers.deepinfra]\nname = \"x\"\n\n[tui]\n\n[model_providers.deepinfra]\nname = \"y\"\n";
    let Err(Refusal::Parse(p)) = full_result(twice, &s) else {
        panic!("must refuse");
    };
    assert_eq!((p.line, p.column), (7, 18), "{p:?}");
    assert!(
        p.message.starts_with(
            "line 7: table [model_providers.deepinfra] is defined twice (first on line 2)"
        ),
        "{p:?}"
    );
    assert!(
        p.fix.contains("keep one [model_providers.deepinfra]"),
        "{p:?}"
    );

    let Err(Refusal::Parse(p)) = full_result(
        "model = \"a\"\napproval_policy = \"never\"\nmodel = \"b\"\n",
        &s,
    ) else {
        panic!("must refuse");
    };
    assert!(
        p.message
            .starts_with("line 3: `model` is set twice at the top level (first on line 1)"),
        "{p:?}"
    );
    assert_eq!(p.fix, "delete line 1 or line 3, keeping the value you want");

    let Err(Refusal::Parse(p)) = full_result("[features]\nplugins = false\nplugins = true\n", &s)
    else {
        panic!("must refuse");
    };
    assert!(
        p.message
            .contains("set twice in [features] (first on line 2)"),
        "{p:?}"
    );

    let Err(Refusal::Parse(p)) = full_result("x = 1\nmodel = gpt-5\n", &s) else {
        panic!("must refuse");
    };
    assert_eq!(p.line, 2);
    assert_eq!(p.message, "line 2: the value of `model` is not quoted");
    // A broken line's value is never repeated: it may be a token.
    for broken in [
        "experimental_bearer_token = sk-secret-1234\n",
        "experimental_bearer_token = \"sk-secret-1234\n",
        "http_headers = { \"Authorization\" = \"Bearer sk-secret-1234\" \n",
        "sk-secret-1234\n",
    ] {
        let Err(Refusal::Parse(p)) = full_result(broken, &s) else {
            panic!("must refuse {broken:?}");
        };
        assert!(!p.to_string().contains("secret"), "{p:?}");
    }

    let Err(Refusal::Parse(p)) = full_result("[model_providers.deepinfra\n", &s) else {
        panic!("must refuse");
    };
    assert!(p.message.contains("has no closing `]`"), "{p:?}");

    let Err(Refusal::Parse(p)) = full_result("a = [1,\n", &s) else {
        panic!("must refuse");
    };
    assert!(p.message.starts_with("line 1, column 8 (`a`): "), "{p:?}");

    let Err(Refusal::NotATable { key, line }) =
        full_result("x = 1\nmodel_providers = \"deepinfra\"\n", &s)
    else {
        panic!("must refuse");
    };
    assert_eq!((key.as_str(), line), ("model_providers", 2));
    let Err(Refusal::NotATable { key, .. }) = full_result("[model_providers]\ndeepinfra = 1\n", &s)
    else {
        panic!("must refuse");
    };
    assert_eq!(key, "model_providers.deepinfra");
}

fn full_result(text: &str, s: &Setup) -> Result<Merged, Refusal> {
    merge(text, Some(&s.provider), Some(&s.selection))
}

#[test]
fn profile_names() {
    for ok in ["shim", "deep-infra_2"] {
        assert!(valid_profile_name(ok), "{ok}");
    }
    for bad in ["", "a b", "../x", "a.b", "ß"] {
        assert!(!valid_profile_name(bad), "{bad}");
    }
    assert_eq!(
        profile_path(Path::new("/c"), "shim"),
        PathBuf::from("/c/shim.config.toml")
    );
    assert_eq!(
        codex_home(None, Some("/h")),
        Some(PathBuf::from("/h/.codex"))
    );
    assert_eq!(
        codex_home(Some("/c"), Some("/h")),
        Some(PathBuf::from("/c"))
    );
}
