//! `--write` on real files: backups, permissions, atomic replace, refusals.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::control::codex_config::CodexBlock;
use std::path::Path;

fn setup(catalog: Option<&str>) -> Setup {
    Setup::from_block(
        &CodexBlock {
            model: "deepseek-ai/DeepSeek-V4-Flash".into(),
            addr: "127.0.0.1:8797".into(),
            env_key: "DEEPINFRA_TOKEN".into(),
            env_key_is_client_key: false,
            context_window: None,
            note: None,
        },
        catalog,
    )
}

fn backups(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".bak-"))
        .collect();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_missing_directory_and_file_are_created_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("codex-home");
    let out = write(&dir, None, &setup(None)).unwrap();
    assert!(out.changed());
    let path = dir.join("config.toml");
    assert_eq!(out.files[0].path, path);
    assert!(out.files[0].created);
    assert_eq!(out.files[0].backup, None, "nothing to back up");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let text = out.render();
    assert!(
        text.starts_with(&format!(
            "{} (created):\n  added    [model_providers.deepinfra]",
            path.display()
        )),
        "{text}"
    );
    // The result passes the checks apart from the advice to use a catalog.
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    assert_eq!(out.findings[0].severity, Severity::Warn);
    assert!(out.findings[0].message.contains("no model_catalog_json"));
}

#[test]
fn one_backup_when_something_changes_none_on_a_second_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = dir.join("config.toml");
    let before = "# mine\nmodel = \"gpt-5.5\"\n\n[tui]\nnotifications = true\n";
    std::fs::write(&path, before).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

    let out = write(dir, None, &setup(None)).unwrap();
    let b = backups(dir);
    assert_eq!(b.len(), 1, "{b:?}");
    let name = &b[0];
    // config.toml.bak-YYYYMMDDTHHMMSSZ
    let stamp = name.strip_prefix("config.toml.bak-").unwrap();
    assert_eq!(stamp.len(), 16, "{name}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T',
        "{name}"
    );
    assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), before);
    assert_eq!(mode(&dir.join(name)), 0o640, "the backup keeps the mode");
    assert_eq!(mode(&path), 0o640, "the new file keeps the mode");
    assert_eq!(
        out.files[0].backup.as_deref(),
        Some(dir.join(name).as_path())
    );
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(
        after.starts_with("# mine\nmodel = \"deepseek-ai/DeepSeek-V4-Flash\"\n"),
        "{after}"
    );
    assert!(
        out.render()
            .contains("  updated  model = \"deepseek-ai/DeepSeek-V4-Flash\" (was \"gpt-5.5\")"),
        "{}",
        out.render()
    );

    let again = write(dir, None, &setup(None)).unwrap();
    assert!(!again.changed());
    assert_eq!(
        again.render(),
        format!(
            "{}: already set up for this daemon; nothing changed (no backup written)\n",
            path.display()
        )
    );
    assert_eq!(backups(dir).len(), 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
    // No temp files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());

    // Two changes within one second get two backups.
    write(dir, None, &setup(Some("/c/a.json"))).unwrap();
    write(dir, None, &setup(Some("/c/b.json"))).unwrap();
    assert_eq!(backups(dir).len(), 3, "{:?}", backups(dir));
}

#[test]
fn a_file_that_does_not_parse_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.toml");
    let bad = "model = \"a\"\n[tui]\n[tui]\n";
    std::fs::write(&path, bad).unwrap();
    let e = write(tmp.path(), None, &setup(None)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: line 3: table [tui] is defined twice (first on line 2)",
            path.display()
        )),
        "{msg}"
    );
    assert!(msg.ends_with("nothing was changed"), "{msg}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
    assert!(backups(tmp.path()).is_empty());
}

#[test]
fn a_profile_goes_to_its_own_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("config.toml"), "model = \"gpt-5.5\"\n").unwrap();
    let out = write(dir, Some("shim"), &setup(None)).unwrap();
    assert_eq!(out.files.len(), 2);
    let main = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(main.starts_with("model = \"gpt-5.5\"\n\n"), "{main}");
    assert!(!main.contains("model_provider ="), "{main}");
    let prof = std::fs::read_to_string(dir.join("shim.config.toml")).unwrap();
    assert_eq!(
        prof,
        "model = \"deepseek-ai/DeepSeek-V4-Flash\"\nmodel_provider = \"deepinfra\"\n"
    );
    assert!(out.files[1].created);
    assert_eq!(
        current_model(dir, Some("shim")).as_deref(),
        Some("deepseek-ai/DeepSeek-V4-Flash")
    );
    assert_eq!(current_model(dir, None), None);
    assert!(!write(dir, Some("shim"), &setup(None)).unwrap().changed());

    let e = write(dir, Some("../x"), &setup(None)).unwrap_err();
    assert!(matches!(e, WriteError::BadProfileName(_)), "{e}");

    std::fs::write(dir.join("config.toml"), "[profiles.work]\nmodel = \"x\"\n").unwrap();
    let e = write(dir, Some("work"), &setup(None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 1 has a legacy [profiles.work] table"),
        "{e}"
    );
    assert!(!dir.join("work.config.toml").exists());
}

#[test]
fn a_symlinked_config_stays_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("dotfiles");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("codex.toml"), "approval_policy = \"never\"\n").unwrap();
    let dir = tmp.path().join("codex");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(real.join("codex.toml"), dir.join("config.toml")).unwrap();
    let out = write(&dir, None, &setup(None)).unwrap();
    assert!(
        std::fs::symlink_metadata(dir.join("config.toml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(real.join("codex.toml")).unwrap();
    assert!(text.contains("[model_providers.deepinfra]"), "{text}");
    assert_eq!(
        backups(&real).len(),
        1,
        "the backup is next to the real file"
    );
    assert_eq!(
        out.files[0].path,
        std::fs::canonicalize(real.join("codex.toml")).unwrap()
    );
}

#[test]
fn check_dir_reads_profile_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, Some("shim"), &setup(None)).unwrap();
    std::fs::write(dir.join("notes.txt"), "x").unwrap();
    let r = check_dir(dir, "http://127.0.0.1:8797/v1").unwrap();
    assert!(!r.failed(), "{:?}", r.findings);
    assert_eq!(r.uses.len(), 1);
    assert_eq!(r.uses[0].profile.as_deref(), Some("shim"));
    let r = check_dir(dir, "http://127.0.0.1:1/v1").unwrap();
    assert!(r.failed());
}
