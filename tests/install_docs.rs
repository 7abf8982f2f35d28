//! Man pages and shell completions, as `packaging/install.sh` installs them.
//!
//! Contract checked here:
//! - by default (no `--prefix`) the man pages go to `~/.cargo/share/man/man1`, where `man`
//!   finds them once `~/.cargo/bin` is on PATH, and the completions to the per-user data
//!   directory (`~/.local/share/...`), where bash-completion and fish look by themselves and
//!   zsh does once the directory is in its `fpath`;
//! - the pages render (`man -l`, else `groff`, else a roff structure check) and describe the
//!   installed binaries (every flag of `--help` is in the page);
//! - the completion scripts parse in their shell and register `shimctl`; with bash-completion,
//!   fish and zsh installed they are picked up from where the installer put them and complete
//!   a command name;
//! - a packager install (`--prefix /usr --destdir`) puts them under `/usr/share`, where the
//!   `.deb` assets in Cargo.toml take them from; `uninstall.sh` removes every one of them;
//! - a reader that stops early (`shimctl completions bash | head -1`) ends shimctl with status
//!   141 and nothing on stderr, as a tool killed by SIGPIPE would, not with a panic report.
//!
//! A missing shell or tool is skipped with a `SKIPPED:` line, and fails under `CI=true`
//! (`.ci/run` installs them).
// Test code: a panic is how a check fails.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Prints `SKIPPED: …` straight to stderr, past the test harness's output capture.
fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// True when `tool` can be run. Missing: fails under `CI=true`, else prints `SKIPPED:`.
fn have(tool: &str, check: &[&str], what: &str) -> bool {
    let ok = Command::new(tool)
        .args(check)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "`{tool}` is required under CI=true ({what}); install it in .ci/run"
        );
        skipped(&format!(
            "`{tool}` is not installed, so {what} is not checked here"
        ));
    }
    ok
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A temp home and the prebuilt binaries, and the scripts run against them with a clean
/// environment.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fx = Fixture {
            dir: tempfile::Builder::new()
                .prefix("dsh-docs")
                .tempdir()
                .unwrap(),
        };
        for sub in ["home", "bins", "tmp"] {
            std::fs::create_dir_all(fx.path(sub)).unwrap();
        }
        for (name, src) in [
            ("deepinfra-shim", env!("CARGO_BIN_EXE_deepinfra-shim")),
            ("shimctl", env!("CARGO_BIN_EXE_shimctl")),
        ] {
            let dst = fx.path("bins").join(name);
            if std::fs::hard_link(src, &dst).is_err() {
                std::fs::copy(src, &dst).unwrap();
            }
        }
        fx
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// The environment of a user whose PATH has `~/.cargo/bin` (and nothing of the caller's
    /// XDG or MANPATH settings).
    fn user_env(&self, cmd: &mut Command) {
        let path = format!(
            "{}:{}",
            self.home().join(".cargo/bin").display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        cmd.env_clear()
            .env("HOME", self.home())
            .env("PATH", path)
            .env("TMPDIR", self.path("tmp"))
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
    }

    fn script(&self, name: &str, args: &[&str]) -> String {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg(repo().join("packaging").join(name)).args(args);
        self.user_env(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{name} {args:?}:\n{}", text(&out));
        text(&out)
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(program);
        cmd.args(args);
        self.user_env(&mut cmd);
        cmd.output().unwrap()
    }
}

/// Every man page the installed shimctl has: the two binaries and each visible command.
fn expected_pages() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_shimctl"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let mut pages = vec!["deepinfra-shim.1".to_owned(), "shimctl.1".to_owned()];
    let commands = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap();
    for line in commands.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if !name.is_empty() && name != "help" && line.starts_with("  ") {
            pages.push(format!("shimctl-{name}.1"));
        }
    }
    pages.sort();
    pages
}

fn pages_in(dir: &Path) -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .collect();
    pages.sort();
    pages
}

/// The page rendered as text, with whatever this machine has.
fn render(page: &Path) -> Option<String> {
    let roff = std::fs::read_to_string(page).unwrap();
    assert!(
        roff.contains("\n.TH ") || roff.starts_with(".TH "),
        "{}",
        page.display()
    );
    assert!(roff.contains(".SH NAME"), "{}", page.display());
    let attempts: [(&str, Vec<&str>); 2] = [
        ("man", vec!["-l", "-P", "cat", page.to_str().unwrap()]),
        ("groff", vec!["-man", "-Tutf8", page.to_str().unwrap()]),
    ];
    for (tool, args) in attempts {
        let Ok(out) = Command::new(tool)
            .args(&args)
            .env("MANWIDTH", "100")
            .env("LC_ALL", "C")
            .stderr(Stdio::piped())
            .output()
        else {
            continue;
        };
        assert!(
            out.status.success(),
            "{tool} {}:\n{}",
            page.display(),
            text(&out)
        );
        // Undo overstrike bold/underline (`x\bx`, `_\bx`) that some renderers emit.
        let mut shown = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            if c == '\u{8}' {
                shown.pop();
            } else {
                shown.push(c);
            }
        }
        return Some(shown);
    }
    assert!(
        !in_ci(),
        "neither man nor groff is installed under CI=true; install man-db in .ci/run"
    );
    skipped("neither man nor groff is installed; the pages were only checked as roff");
    None
}

#[test]
fn default_install_puts_man_pages_and_completions_where_the_tools_find_them() {
    let fx = Fixture::new();
    let bins = fx.path("bins");
    let out = fx.script(
        "install.sh",
        &["--bin-dir", bins.to_str().unwrap(), "--os", "linux"],
    );
    assert!(out.contains("man shimctl"), "{out}");
    assert!(
        out.contains("fpath=("),
        "the zsh step is spelled out:\n{out}"
    );

    let home = fx.home();
    let man_dir = home.join(".cargo/share/man/man1");
    assert_eq!(pages_in(&man_dir), expected_pages());
    let data = home.join(".local/share");
    let bash = data.join("bash-completion/completions/shimctl");
    let zsh = data.join("zsh/site-functions/_shimctl");
    let fish = data.join("fish/vendor_completions.d/shimctl.fish");
    for f in pages_in(&man_dir).iter().map(|p| man_dir.join(p)).chain([
        bash.clone(),
        zsh.clone(),
        fish.clone(),
    ]) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}", f.display());
    }

    // man finds the pages from PATH alone (no MANPATH).
    if have("man", &["--version"], "that man finds the installed pages") {
        let out = fx.run("man", &["-w", "shimctl"]);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            man_dir.join("shimctl.1").display().to_string()
        );
        let out = fx.run("man", &["-w", "shimctl-logs"]);
        assert!(out.status.success(), "{}", text(&out));
    }

    // bash: the script parses and registers the completion when sourced; with
    // bash-completion it is found on demand in the per-user directory and completes.
    let out = fx.run("bash", &["-n", bash.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = fx.run(
        "bash",
        &[
            "-c",
            &format!("source {} && complete -p shimctl", bash.display()),
        ],
    );
    assert!(
        text(&out).contains("-F _shimctl") && text(&out).trim_end().ends_with(" shimctl"),
        "{}",
        text(&out)
    );
    let loader = Path::new("/usr/share/bash-completion/bash_completion");
    if !loader.exists() {
        assert!(
            !in_ci(),
            "bash-completion is required under CI=true; install it in .ci/run"
        );
        skipped("bash-completion is not installed; on-demand loading is not checked");
    } else {
        let script = format!(
            "source {}; _completion_loader shimctl; complete -p shimctl; \
             COMP_WORDS=(shimctl lo); COMP_CWORD=1; COMP_LINE='shimctl lo'; COMP_POINT=10; \
             _shimctl shimctl lo shimctl; echo \"${{COMPREPLY[*]}}\"",
            loader.display()
        );
        let out = fx.run("bash", &["-c", &script]);
        let shown = text(&out);
        assert!(
            shown.contains("-F _shimctl"),
            "not loaded from {}:\n{shown}",
            bash.display()
        );
        assert!(
            shown.contains("logs") && shown.contains("log-level"),
            "`shimctl lo<TAB>`:\n{shown}"
        );
    }

    // zsh: parses; compinit registers it from the directory the installer names.
    if have("zsh", &["--version"], "the zsh completion") {
        let out = fx.run("zsh", &["-n", zsh.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let script = format!(
            "fpath=({} $fpath); autoload -Uz compinit; compinit -u -D; print -r -- ${{_comps[shimctl]}}",
            zsh.parent().unwrap().display()
        );
        let out = fx.run("zsh", &["-f", "-c", &script]);
        assert_eq!(text(&out).trim(), "_shimctl", "{}", text(&out));
    }

    // fish: parses; found by itself in the per-user vendor directory.
    if have("fish", &["--version"], "the fish completion") {
        let out = fx.run("fish", &["--no-execute", fish.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
        let out = fx.run("fish", &["-c", "complete -C'shimctl lo'"]);
        let shown = text(&out);
        assert!(
            shown.contains("logs") && shown.contains("log-level"),
            "`shimctl lo<TAB>` in fish:\n{shown}"
        );
    }

    // uninstall removes every page and script (and nothing is left behind under share/).
    fx.script("uninstall.sh", &["--os", "linux"]);
    assert_eq!(pages_in(&man_dir), Vec::<String>::new());
    for f in [&bash, &zsh, &fish] {
        assert!(!f.exists(), "{} left behind", f.display());
    }
}

#[test]
fn the_pages_render_and_describe_the_installed_binaries() {
    let fx = Fixture::new();
    let bins = fx.path("bins");
    let prefix = fx.path("prefix");
    fx.script(
        "install.sh",
        &[
            "--bin-dir",
            bins.to_str().unwrap(),
            "--prefix",
            prefix.to_str().unwrap(),
            "--os",
            "linux",
        ],
    );
    let man_dir = prefix.join("share/man/man1");
    for (bin, page) in [
        (env!("CARGO_BIN_EXE_deepinfra-shim"), "deepinfra-shim.1"),
        (env!("CARGO_BIN_EXE_shimctl"), "shimctl.1"),
    ] {
        let Some(shown) = render(&man_dir.join(page)) else {
            return;
        };
        let help = Command::new(bin).arg("--help").output().unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        let flags: Vec<&str> = help
            .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.split(['=', '<']).next().unwrap())
            .collect();
        assert!(flags.len() >= 3, "{help}");
        for flag in flags {
            assert!(
                shown.contains(flag),
                "{page} does not mention {flag}:\n{shown}"
            );
        }
    }
    let shown = render(&man_dir.join("shimctl-logs.1")).unwrap();
    for needle in ["--follow", "--lines", "journalctl"] {
        assert!(shown.contains(needle), "{needle}:\n{shown}");
    }
    let shown = render(&man_dir.join("shimctl.1")).unwrap();
    assert!(shown.contains("shimctl-logs(1)"), "{shown}");
    assert!(
        !shown.contains("generate-man"),
        "the hidden command has no page:\n{shown}"
    );
}

#[test]
fn packager_staging_has_what_the_deb_assets_take_and_uninstall_removes_it() {
    let fx = Fixture::new();
    let stage = fx.path("deb-stage");
    let bins = fx.path("bins");
    // As the comment above [package.metadata.deb] in Cargo.toml says, with prebuilt binaries.
    fx.script(
        "install.sh",
        &[
            "--bin-dir",
            bins.to_str().unwrap(),
            "--os",
            "linux",
            "--prefix",
            "/usr",
            "--unit-dir",
            "/usr/lib/systemd/user",
            "--no-user-files",
            "--destdir",
            stage.to_str().unwrap(),
        ],
    );
    assert_eq!(
        pages_in(&stage.join("usr/share/man/man1")),
        expected_pages()
    );

    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).unwrap()).unwrap();
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .unwrap();
    let mut staged = 0;
    for asset in assets {
        let src = asset[0].as_str().unwrap();
        let Some(rel) = src.strip_prefix("target/deb-stage/") else {
            continue;
        };
        staged += 1;
        let path = stage.join(rel);
        let found = match path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .strip_prefix('*')
        {
            Some(suffix) => !pages_in(path.parent().unwrap()).is_empty() && suffix == ".1",
            None => path.is_file(),
        };
        assert!(found, "the .deb asset {src} is not in the staging tree");
    }
    assert!(
        staged >= 5,
        "unit, man pages and three completions: {staged}"
    );
    for shell_asset in ["completions/shimctl", "_shimctl", "shimctl.fish"] {
        assert!(
            assets
                .iter()
                .any(|a| a[0].as_str().unwrap().ends_with(shell_asset)),
            "no .deb asset for {shell_asset}"
        );
    }

    // A page of a command that no longer exists goes on reinstall.
    let stale = stage.join("usr/share/man/man1/shimctl-gone.1");
    std::fs::write(&stale, ".TH shimctl-gone 1\n").unwrap();
    fx.script(
        "install.sh",
        &[
            "--bin-dir",
            bins.to_str().unwrap(),
            "--os",
            "linux",
            "--prefix",
            "/usr",
            "--unit-dir",
            "/usr/lib/systemd/user",
            "--no-user-files",
            "--destdir",
            stage.to_str().unwrap(),
        ],
    );
    assert!(!stale.exists());

    fx.script(
        "uninstall.sh",
        &[
            "--os",
            "linux",
            "--prefix",
            "/usr",
            "--unit-dir",
            "/usr/lib/systemd/user",
            "--destdir",
            stage.to_str().unwrap(),
        ],
    );
    let mut left = Vec::new();
    let mut stack = vec![stage.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                left.push(p);
            }
        }
    }
    assert!(left.is_empty(), "uninstall left {left:?}");
}

#[test]
fn a_reader_that_stops_early_ends_shimctl_quietly_as_sigpipe_would() {
    // `shimctl completions bash | head -1`: the reader is gone before shimctl writes.
    for args in [&["completions", "bash"][..], &["completions", "zsh"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_shimctl"))
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "shimctl {args:?} reported: {stderr}");
        assert_eq!(out.status.code(), Some(141), "shimctl {args:?}");
    }
}
