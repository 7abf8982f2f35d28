use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::*;
use crate::config::testutil::Home;

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The configuration reference's key table is the one generated from the key table. Run the
/// test with `DEEPINFRA_SHIM_BLESS=1` to rewrite it after changing a key.
#[test]
fn documented_key_table_matches_the_keys() {
    let path = repo_file(DOC);
    let doc = std::fs::read_to_string(&path).unwrap();
    let want = key_tables();
    let have =
        between_markers(&doc).unwrap_or_else(|| panic!("{DOC} has no {BEGIN} ... {END} block"));
    if have == want.trim_matches('\n') {
        return;
    }
    if std::env::var_os("DEEPINFRA_SHIM_BLESS").is_some() {
        let start = doc.find(BEGIN).unwrap() + BEGIN.len();
        let end = doc.find(END).unwrap();
        let updated = format!(
            "{}\n{}\n{}",
            &doc[..start],
            want.trim_matches('\n'),
            &doc[end..]
        );
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "{DOC}'s key table differs from src/config/keys.rs; run \
         `DEEPINFRA_SHIM_BLESS=1 cargo test --lib config::docs` to regenerate it. Expected:\n{want}"
    );
}

/// The README links to the reference rather than holding a second copy that nothing checks.
#[test]
fn the_readme_holds_no_copy_of_the_table() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    assert!(
        !readme.contains(BEGIN),
        "README.md still has a key table block"
    );
    assert!(readme.contains(DOC), "README.md does not link to {DOC}");
}

#[test]
fn the_table_lists_every_key() {
    let t = key_tables();
    for k in keys::TOP {
        assert!(t.contains(k.meta().path), "{}", k.meta().path);
    }
    assert!(t.contains("| `listen.port` | port (0-65535) | `8797` | `--port` / `DEEPINFRA_CODEX_SHIM_PORT` | needs a restart |"), "{t}");
    assert!(t.contains("text \\| json"), "pipes are escaped: {t}");
    assert!(t.contains("map of header: value (secret)"), "{t}");
    for k in keys::NAMED_UPSTREAM
        .iter()
        .map(|k| k.meta())
        .chain(keys::ROUTE.iter().map(|k| k.meta()))
    {
        assert!(t.contains(&format!("`{}`", k.path)), "{}", k.path);
    }
}

fn example_text() -> String {
    std::fs::read_to_string(repo_file("packaging/config.example.yaml")).unwrap()
}

/// The example with every `# key: value` line uncommented (`##` lines are prose).
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if !l.starts_with("##") => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, seg| v.get(seg))
}

/// Every file key is in the example, uncommented it is the key's default, and the example
/// loads both as shipped (all commented) and uncommented.
#[test]
fn the_example_config_has_every_key_with_its_default() {
    let text = example_text();
    let full = uncommented(&text);
    assert!(full.contains("\nlisten:\n"), "uncommenting works");
    let doc: Value = serde_yaml_ng::from_str(&full).unwrap();
    for k in keys::TOP.iter().map(|k| k.meta()).filter(|m| m.in_file) {
        let have = lookup(&doc, k.path)
            .unwrap_or_else(|| panic!("packaging/config.example.yaml lacks {}", k.path));
        let want: Value = serde_yaml_ng::from_str(k.default.unwrap()).unwrap();
        assert_eq!(have, &want, "{}: the example must show the default", k.path);
    }
    for k in keys::NAMED_UPSTREAM
        .iter()
        .map(|k| k.meta())
        .chain(keys::ROUTE.iter().map(|k| k.meta()))
    {
        let last = k.path.rsplit('.').next().unwrap();
        assert!(text.contains(last), "the example never mentions {}", k.path);
    }

    let h = Home::new(Some(&text));
    let c = h.load(&[], &[]).unwrap();
    assert_eq!(c.config_path, Some(h.config_path()));
    h.write(&full);
    let c2 = h.load(&[], &[]).unwrap();
    // Every documented value is the built-in default; only the examples of maps add entries.
    assert_eq!(
        crate::config::diff::diff(&c, &c2),
        [
            "upstreams.local: added",
            "models.fast: added",
            "models.moonshotai/*: added"
        ]
    );
}
