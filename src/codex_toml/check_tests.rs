//! The doctor's checks of Codex's files, and reading a catalog as Codex does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::catalog_file;
use super::checks::{Files, check};
use super::merge::merge;
use super::*;

const URL: &str = "http://127.0.0.1:8797/v1";
const DIR: &str = "/home/u/.codex";

const GOOD: &str = "model = \"deepseek-ai/DeepSeek-V4-Flash\"\nmodel_provider = \"deepinfra\"\n\n[model_providers.deepinfra]\nname = \"DeepInfra via deepinfra-shim\"\nbase_url = \"http://127.0.0.1:8797/v1\"\nenv_key = \"DEEPINFRA_TOKEN\"\nwire_api = \"responses\"\n";

/// A catalog entry as `shimctl codex-config --catalog` writes it (the built-in template).
fn entry(slug: &str) -> serde_json::Value {
    crate::catalog::template::entry(
        &crate::catalog::template::EntrySpec {
            slug,
            display_name: slug,
            description: "d",
            model_for_prompt: Some(slug),
            hidden: false,
            priority: -1,
            context_window: 65_536,
            auto_compact_token_limit: None,
            vision: false,
            reasoning: true,
            apply_patch: true,
        },
        None,
    )
}

fn catalog_text(slugs: &[&str]) -> String {
    json!({"models": slugs.iter().map(|s| entry(s)).collect::<Vec<_>>()}).to_string()
}

/// Runs the checks with these catalog files (path -> text; others do not exist).
fn run(main: Option<&str>, profiles: &[(&str, &str)], catalogs: &[(&str, String)]) -> Report {
    let catalogs: BTreeMap<PathBuf, String> = catalogs
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.clone()))
        .collect();
    check(
        &Files {
            dir: Path::new(DIR),
            main,
            profiles: profiles.to_vec(),
        },
        URL,
        &|p: &Path| {
            catalogs
                .get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        },
    )
}

fn fails(r: &Report) -> Vec<String> {
    of(r, Severity::Fail)
}

fn warns(r: &Report) -> Vec<String> {
    of(r, Severity::Warn)
}

fn of(r: &Report, s: Severity) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity == s)
        .map(|f| format!("{}: {} | fix: {}", f.file, f.message, f.fix))
        .collect()
}

fn with_catalog(text: &str, path: &str) -> String {
    format!("model_catalog_json = {path:?}\n{text}")
}

#[test]
fn a_good_setup_has_no_findings_and_one_use() {
    let main = with_catalog(GOOD, "/home/u/.codex/deepinfra-models.json");
    let r = run(
        Some(&main),
        &[],
        &[(
            "/home/u/.codex/deepinfra-models.json",
            catalog_text(&["deepseek-ai/DeepSeek-V4-Flash"]),
        )],
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.uses.len(), 1);
    let u = &r.uses[0];
    assert_eq!(u.provider, "deepinfra");
    assert_eq!(u.selected_by(), "model_provider");
    assert_eq!(u.env_key.as_deref(), Some("DEEPINFRA_TOKEN"));
    assert_eq!(u.model.as_deref(), Some("deepseek-ai/DeepSeek-V4-Flash"));

    // Without a catalog it works, with a warning that says what is missing.
    let r = run(Some(GOOD), &[], &[]);
    assert!(fails(&r).is_empty(), "{:?}", r.findings);
    let w = warns(&r);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("no model_catalog_json"), "{w:?}");
    assert!(
        w[0].contains("no apply_patch tool; it compacts only near 245k"),
        "{w:?}"
    );
    assert!(w[0].contains("--write --catalog"), "{w:?}");
}

#[test]
fn parse_errors_are_explained_with_their_line() {
    let twice = format!("{GOOD}\n[model_providers.deepinfra]\nname = \"again\"\n");
    let r = run(Some(&twice), &[], &[]);
    let f = fails(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].starts_with(&format!(
            "{DIR}/config.toml: not valid TOML, Codex refuses to start: line 10: table \
             [model_providers.deepinfra] is defined twice (first on line 4); appending a block \
             with `>>`"
        )),
        "{f:?}"
    );
    assert!(!f[0].contains("TOML parse error at"), "plain words: {f:?}");
    let r = run(Some("model = \"a\"\nmodel = \"b\"\n"), &[], &[]);
    assert!(
        fails(&r)[0].contains("line 2: `model` is set twice at the top level (first on line 1)"),
        "{:?}",
        r.findings
    );
    // A profile file is checked too.
    let r = run(Some(GOOD), &[("shim", "model = \n")], &[]);
    assert!(
        fails(&r)
            .iter()
            .any(|f| f.starts_with(&format!("{DIR}/shim.config.toml: not valid TOML"))),
        "{:?}",
        r.findings
    );
}

#[test]
fn keys_under_the_wrong_table() {
    // `>>` onto a file that ended with a table Codex wrote.
    let text = "[projects.\"/home/u/src\"]\ntrust_level = \"trusted\"\nmodel = \"m\"\nmodel_provider = \"deepinfra\"\n\n[model_providers.deepinfra]\nbase_url = \"http://127.0.0.1:8797/v1\"\nwire_api = \"responses\"\nmodel_catalog_json = \"/x.json\"\n";
    let r = run(Some(text), &[], &[]);
    let f = fails(&r);
    for (line, key, table) in [
        (3, "model", "[projects.\"/home/u/src\"]"),
        (4, "model_provider", "[projects.\"/home/u/src\"]"),
        (9, "model_catalog_json", "[model_providers.deepinfra]"),
    ] {
        let want = format!(
            "line {line}: `{key}` is under {table}, so Codex does not read it as the top-level setting"
        );
        assert!(f.iter().any(|l| l.contains(&want)), "{want}\n{f:?}");
    }
    assert!(f.iter().all(|l| !l.contains("nothing selects")), "{f:?}");
    assert!(f[0].contains("move it above the first [table]"), "{f:?}");

    // A stray copy under a table while the top level has the key: a warning.
    let stray = format!("{GOOD}model = \"x\"\n");
    let r = run(Some(&stray), &[], &[]);
    assert!(
        warns(&r).iter().any(|w| w
            .contains("line 9: `model` is under [model_providers.deepinfra]")
            && w.contains("also has one at the top")),
        "{:?}",
        r.findings
    );
    // A table Codex may use for it (a legacy profile) is not reported; an unknown one is
    // only a warning.
    let r = run(
        Some(&format!(
            "{GOOD}[profiles.a]\nmodel = \"x\"\n[agents.b]\nmodel = \"y\"\n"
        )),
        &[],
        &[],
    );
    assert!(fails(&r).is_empty(), "{:?}", r.findings);
    assert!(
        warns(&r)
            .iter()
            .any(|w| w.contains("`model` is under [agents.b]")),
        "{:?}",
        r.findings
    );
    assert!(
        !warns(&r).iter().any(|w| w.contains("[profiles.a]")),
        "{:?}",
        r.findings
    );
}

#[test]
fn the_selected_provider() {
    let r = run(
        Some(&GOOD.replace(
            "model_provider = \"deepinfra\"",
            "model_provider = \"deepinfr\"",
        )),
        &[],
        &[],
    );
    let f = fails(&r);
    assert!(
        f.iter()
            .any(|l| l.contains("line 2: model_provider = \"deepinfr\" names no provider")),
        "{f:?}"
    );

    let r = run(
        Some(&GOOD.replace("DeepInfra via deepinfra-shim", "OpenAI")),
        &[],
        &[],
    );
    assert!(
        fails(&r)
            .iter()
            .any(|l| l.contains("provider 'deepinfra' is named \"OpenAI\"")
                && l.contains("rename it")),
        "{:?}",
        r.findings
    );

    let r = run(Some(&GOOD.replace("8797", "9999")), &[], &[]);
    let f = fails(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].contains(
            "provider 'deepinfra' (selected) points at http://127.0.0.1:9999/v1, not at this \
             daemon (http://127.0.0.1:8797/v1)"
        ) && f[0].contains("shimctl codex-config --write"),
        "{f:?}"
    );
    // `localhost` and a trailing slash are the same address.
    let r = run(
        Some(&GOOD.replace("127.0.0.1:8797/v1", "localhost:8797/v1/")),
        &[],
        &[],
    );
    assert_eq!(r.uses.len(), 1, "{:?}", r.findings);

    let r = run(Some(&GOOD.replace("\"responses\"", "\"chat\"")), &[], &[]);
    assert!(
        fails(&r)
            .iter()
            .any(|l| l.contains("wire_api = \"chat\"; the daemon speaks only the Responses API")),
        "{:?}",
        r.findings
    );
    let r = run(
        Some(&GOOD.replace("model = \"deepseek-ai/DeepSeek-V4-Flash\"\n", "")),
        &[],
        &[],
    );
    assert!(
        fails(&r).iter().any(|l| l.contains("no `model` is set")),
        "{:?}",
        r.findings
    );

    let r = run(
        Some(&format!("{GOOD}[model_providers.openai]\nname = \"x\"\n")),
        &[],
        &[],
    );
    assert!(
        fails(&r)
            .iter()
            .any(|l| l.contains("[model_providers.openai] reuses the id")),
        "{:?}",
        r.findings
    );
}

#[test]
fn nothing_reaches_the_daemon() {
    let unselected = GOOD.replace("model_provider = \"deepinfra\"\n", "");
    let r = run(Some(&unselected), &[], &[]);
    let f = fails(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].contains("provider 'deepinfra' points at this daemon, but nothing selects it"),
        "{f:?}"
    );
    assert!(r.uses.is_empty());

    let r = run(Some("model = \"gpt-5.5\"\n"), &[], &[]);
    assert!(
        fails(&r)[0].contains("no Codex provider points at this daemon (http://127.0.0.1:8797/v1)"),
        "{:?}",
        r.findings
    );
    let r = run(None, &[], &[]);
    assert_eq!(
        fails(&r),
        [format!(
            "{DIR}/config.toml: does not exist | fix: `shimctl codex-config --write` creates it"
        )]
    );
    // A remote provider someone uses on purpose is not "pointing elsewhere".
    let remote = "model_provider = \"azure\"\n[model_providers.azure]\nbase_url = \"https://x.openai.azure.com/openai\"\nwire_api = \"responses\"\n";
    let r = run(Some(remote), &[], &[]);
    assert!(
        fails(&r)[0].contains("no Codex provider points at this daemon"),
        "{:?}",
        r.findings
    );
}

#[test]
fn profiles() {
    // What `--write --profile shim` leaves: the provider in config.toml, the selection in
    // shim.config.toml, the top level still on OpenAI.
    let s = Setup::from_block(
        &crate::control::codex_config::CodexBlock {
            model: "m".into(),
            addr: "127.0.0.1:8797".into(),
            env_key: "DEEPINFRA_TOKEN".into(),
            env_key_is_client_key: false,
            context_window: None,
            note: None,
        },
        Some("/c/cat.json"),
    );
    let main = merge(
        "model = \"gpt-5.5\"\n[features]\nplugins = false\n",
        Some(&s.provider),
        None,
    )
    .unwrap()
    .text;
    let prof = merge("", None, Some(&s.selection)).unwrap().text;
    let r = run(
        Some(&main),
        &[("shim", &prof), ("other", "approval_policy = \"never\"\n")],
        &[("/c/cat.json", catalog_text(&["m"]))],
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.uses.len(), 1, "{:?}", r.uses);
    assert_eq!(r.uses[0].selected_by(), "profile shim");
    assert_eq!(r.uses[0].catalog.as_deref(), Some(Path::new("/c/cat.json")));

    // A legacy table of the same name: `codex --profile shim` refuses to start.
    let legacy = format!("{main}\n[profiles.shim]\nmodel = \"x\"\n");
    let r = run(
        Some(&legacy),
        &[("shim", &prof)],
        &[("/c/cat.json", catalog_text(&["m"]))],
    );
    let f = fails(&r);
    assert!(
        f.iter()
            .any(|l| l.contains(
                "[profiles.shim] is a legacy profile table: `codex --profile shim` refuses to start"
            ) && l.contains("move its keys (as top-level keys) into shim.config.toml")),
        "{f:?}"
    );
    // Without a profile file, a legacy profile that picks a provider is ignored by Codex.
    let legacy = format!("{GOOD}\n[profiles.work]\nmodel_provider = \"deepinfra\"\n");
    let r = run(Some(&legacy), &[], &[]);
    assert!(
        warns(&r).iter().any(|w| w
            .contains("[profiles.work] is a legacy profile table, which Codex no longer reads")),
        "{:?}",
        r.findings
    );
    let r = run(Some(&format!("profile = \"work\"\n{GOOD}")), &[], &[]);
    assert!(
        fails(&r).iter().any(|l| l
            .contains("line 1: profile = \"work\" is no longer supported: Codex refuses to start")),
        "{:?}",
        r.findings
    );
}

#[test]
fn the_catalog_file() {
    let cat = "/home/u/.codex/deepinfra-models.json";
    let main = with_catalog(GOOD, cat);
    let fail_with = |text: String| {
        let r = run(Some(&main), &[], &[(cat, text)]);
        let f = fails(&r);
        assert_eq!(f.len(), 1, "{:?}", r.findings);
        f[0].clone()
    };
    let f = run(Some(&main), &[], &[]);
    assert!(
        fails(&f)[0].contains(&format!(
            "model_catalog_json (line 1) = {cat} does not exist: Codex stops at start"
        )),
        "{:?}",
        f.findings
    );
    let f = fail_with("{\"models\": [".to_owned());
    assert!(
        f.contains("is not a catalog Codex accepts: EOF while parsing"),
        "{f}"
    );
    let f = fail_with("[]".to_owned());
    assert!(f.contains("not a catalog Codex accepts"), "{f}");
    let f = fail_with("{\"models\": []}".to_owned());
    assert!(f.contains("it must contain at least one model"), "{f}");
    let mut e = entry("deepseek-ai/DeepSeek-V4-Flash");
    e.as_object_mut().unwrap().remove("display_name");
    let f = fail_with(json!({"models": [e]}).to_string());
    assert!(f.contains("missing field `display_name`"), "{f}");
    let mut e = entry("deepseek-ai/DeepSeek-V4-Flash");
    e.as_object_mut().unwrap().remove("base_instructions");
    let f = fail_with(json!({"models": [e]}).to_string());
    assert!(
        f.contains("missing both `base_instructions` and `model_messages.instructions_template`"),
        "{f}"
    );
    let mut e = entry("deepseek-ai/DeepSeek-V4-Flash");
    e["apply_patch_tool_type"] = json!("function");
    let f = fail_with(json!({"models": [e]}).to_string());
    assert!(f.contains("unknown variant `function`"), "{f}");
    let f = fail_with(catalog_text(&["moonshotai/Kimi-K2.6"]));
    assert!(
        f.contains(
            "does not describe deepseek-ai/DeepSeek-V4-Flash: Codex falls back to generic metadata"
        ) && f.contains("--model deepseek-ai/DeepSeek-V4-Flash --catalog"),
        "{f}"
    );
    // A prefix entry covers the model, as in Codex.
    let r = run(Some(&main), &[], &[(cat, catalog_text(&["deepseek-ai/"]))]);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // A relative path is Codex's directory's.
    let r = run(
        Some(&with_catalog(GOOD, "deepinfra-models.json")),
        &[],
        &[(cat, catalog_text(&["deepseek-ai/DeepSeek-V4-Flash"]))],
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // A global window next to a catalog overrides it.
    let r = run(
        Some(&format!("model_context_window = 131072\n{main}")),
        &[],
        &[(cat, catalog_text(&["deepseek-ai/DeepSeek-V4-Flash"]))],
    );
    assert_eq!(
        warns(&r),
        [format!(
            "{DIR}/config.toml: line 1: model_context_window overrides the catalog's window for every model | fix: delete it: the catalog holds each model's window"
        )]
    );
}

#[test]
fn catalog_reading_follows_codex() {
    let c = catalog_file::parse(&catalog_text(&["a/", "a/b", "x"])).unwrap();
    assert_eq!(c.entry_for("a/b"), Some("a/b"));
    assert_eq!(c.entry_for("a/b-2"), Some("a/b"), "the longest prefix");
    assert_eq!(c.entry_for("a/c"), Some("a/"));
    assert_eq!(c.entry_for("A/b"), None, "case-sensitive");
    assert_eq!(c.entry_for("y"), None);
    // What Codex accepts, this accepts: unknown fields, unknown effort names and modalities,
    // an empty prompt, a template instead of base_instructions.
    let mut e = entry("m");
    e["something_new"] = json!({"x": 1});
    e["supported_reasoning_levels"] = json!([{"effort": "ultra", "description": "d"}]);
    e["input_modalities"] = json!(["text", "audio"]);
    e["base_instructions"] = json!("");
    assert!(catalog_file::parse(&json!({"models": [e.clone()]}).to_string()).is_ok());
    e.as_object_mut().unwrap().remove("base_instructions");
    e["model_messages"] = json!({"instructions_template": "t"});
    assert!(catalog_file::parse(&json!({"models": [e.clone()]}).to_string()).is_ok());
    // What Codex refuses, this refuses.
    for (key, bad) in [
        ("priority", json!(3_000_000_000_i64)),
        ("shell_type", json!("bogus")),
        ("visibility", json!("bogus")),
        ("truncation_policy", json!({"mode": "lines", "limit": 1})),
        ("context_window", json!("big")),
        ("default_verbosity", json!("loud")),
        ("input_modalities", json!("text")),
        ("description", json!(5)),
        ("upgrade", json!(5)),
    ] {
        let mut e = entry("m");
        e[key] = bad;
        assert!(
            catalog_file::parse(&json!({"models": [e]}).to_string()).is_err(),
            "{key}"
        );
    }
    for key in [
        "slug",
        "supported_in_api",
        "support_verbosity",
        "experimental_supported_tools",
    ] {
        let mut e = entry("m");
        e.as_object_mut().unwrap().remove(key);
        let err = catalog_file::parse(&json!({"models": [e]}).to_string()).unwrap_err();
        assert!(err.contains(&format!("missing field `{key}`")), "{err}");
    }
}
