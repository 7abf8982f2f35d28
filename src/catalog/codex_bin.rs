//! Asking the user's Codex for its bundled model catalog (the template, see
//! [`super::template`]).
//!
//! `codex debug models --bundled` prints the catalog compiled into that Codex binary. The
//! `--bundled` matters: without it Codex prints the *configured* catalog, which after
//! `shimctl codex-config --catalog` is our own file. The binary comes from `--codex-bin`, else
//! `CODEX_BIN`, else `codex` on `PATH`. Blocking (std::process) with a time limit; the child
//! runs in its own process group (the npm launcher is a Node process that starts the native
//! binary) and the group is killed if it overstays.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::template::Template;

/// Longest wait for `codex debug models --bundled` (it answers in well under a second).
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// "Text file busy" (the same number on Linux and macOS).
const ETXTBSY: i32 = 26;

/// The Codex binary to ask: `flag`, else `CODEX_BIN`, else `codex` found on `PATH`.
pub fn find_bin(
    flag: Option<&Path>,
    codex_bin_env: Option<&str>,
    path_env: Option<&str>,
) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_owned());
    }
    if let Some(p) = codex_bin_env.filter(|p| !p.trim().is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(path_env?)
        .map(|dir| dir.join("codex"))
        .find(|p| p.is_file())
}

/// [`find_bin`] with the process environment.
pub fn find_bin_from_env(flag: Option<&Path>) -> Option<PathBuf> {
    find_bin(
        flag,
        std::env::var("CODEX_BIN").ok().as_deref(),
        std::env::var("PATH").ok().as_deref(),
    )
}

/// Runs `bin debug models --bundled` (and `bin --version`, for the origin note) and reads
/// the template from it. The error says what went wrong in one line.
pub fn load_template(bin: &Path) -> Result<Template, String> {
    load_template_in(bin, None)
}

/// [`load_template`] with `CODEX_HOME` set for the child (tests keep Codex out of `~/.codex`).
pub fn load_template_in(bin: &Path, codex_home: Option<&Path>) -> Result<Template, String> {
    let run = |args: &[&str]| run(bin, args, codex_home, TIMEOUT);
    let out = run(&["debug", "models", "--bundled"])?;
    let start = out
        .find('{')
        .ok_or_else(|| format!("`{} debug models --bundled` printed no JSON", bin.display()))?;
    let value: serde_json::Value = serde_json::from_str(out[start..].trim_end()).map_err(|e| {
        format!(
            "`{} debug models --bundled` did not print a catalog ({e})",
            bin.display()
        )
    })?;
    let version = run(&["--version"])
        .ok()
        .and_then(|v| v.lines().next().map(|l| l.trim().to_owned()))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "codex (version unknown)".to_owned());
    Template::from_models_json(&value, version)
}

/// Runs the command with stdin closed; its stdout when it exits 0.
fn run(
    bin: &Path,
    args: &[&str],
    codex_home: Option<&Path>,
    timeout: Duration,
) -> Result<String, String> {
    let shown = format!("{} {}", bin.display(), args.join(" "));
    let spawn = || {
        let mut cmd = Command::new(bin);
        if let Some(home) = codex_home {
            cmd.env("CODEX_HOME", home);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
    };
    // ETXTBSY: a just-written script may still be open in a process forked meanwhile.
    let mut attempt = spawn();
    for _ in 0..5 {
        match &attempt {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) => {
                #[allow(
                    clippy::disallowed_methods,
                    reason = "shimctl is synchronous here: no runtime to block"
                )]
                std::thread::sleep(Duration::from_millis(50));
                attempt = spawn();
            }
            _ => break,
        }
    }
    let mut child = attempt.map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    // Read both pipes while waiting: the catalog is larger than a pipe buffer.
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            #[allow(
                clippy::disallowed_methods,
                reason = "shimctl is synchronous here: no runtime to block"
            )]
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{shown}` did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for `{shown}`: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!("`{shown}` failed ({status}): {last}"));
    }
    String::from_utf8(out).map_err(|_| format!("`{shown}` printed something that is not UTF-8"))
}

fn kill_group(pid: u32) {
    // The child leads its own group, so `-pid` addresses exactly that group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_lookup_order() {
        let dir = tempfile::tempdir().unwrap();
        let codex = dir.path().join("codex");
        std::fs::write(&codex, "").unwrap();
        let path = dir.path().to_str().unwrap();
        assert_eq!(
            find_bin(Some(Path::new("/x/flag")), Some("/x/env"), Some(path)),
            Some(PathBuf::from("/x/flag"))
        );
        assert_eq!(
            find_bin(None, Some("/x/env"), Some(path)),
            Some(PathBuf::from("/x/env"))
        );
        assert_eq!(find_bin(None, Some(" "), Some(path)), Some(codex));
        assert_eq!(find_bin(None, None, Some("/nonexistent")), None);
        assert_eq!(find_bin(None, None, None), None);
    }

    #[test]
    fn a_fake_codex() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("codex");
        let script = r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "codex-cli 9.9.9"; exit 0; fi
if [ "$3" != "--bundled" ]; then echo "want --bundled" >&2; exit 3; fi
echo '{"models":[{"slug":"gpt-x","display_name":"X","base_instructions":"You are Codex."}]}'
"#;
        std::fs::write(&bin, script).unwrap();
        let mut perm = std::fs::metadata(&bin).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&bin, perm).unwrap();
        let t = load_template(&bin).unwrap();
        assert_eq!(t.base_slug(), "gpt-x");
        assert_eq!(t.origin, "codex-cli 9.9.9");

        let missing = load_template(&dir.path().join("nope")).unwrap_err();
        assert!(missing.contains("cannot run"), "{missing}");

        let failing = dir.path().join("failing");
        std::fs::write(&failing, "#!/bin/sh\necho boom >&2\nexit 1\n").unwrap();
        std::fs::set_permissions(&failing, std::fs::metadata(&bin).unwrap().permissions()).unwrap();
        let e = load_template(&failing).unwrap_err();
        assert!(e.contains("boom"), "{e}");
    }
}
