//! Where the service's log ends up, and how `shimctl logs` shows it.
//!
//! - Linux: the systemd user unit logs to the journal, so `journalctl --user -u
//!   deepinfra-shim` (`-f`, `-n N`; `--no-pager` when the output is not a terminal). A probe
//!   (the last entry, captured) tells whether that shows anything; when it does not, the user
//!   gets the reasons and the other way to read it (see [`empty_hint`]).
//! - macOS: the LaunchAgent's `StandardErrorPath`, `~/Library/Logs/deepinfra-shim/
//!   deepinfra-shim.log` (the path `packaging/install.sh` writes into the plist), shown with
//!   `tail -n N [-f]`.
//!
//! The tool's exit status is the command's: `shimctl` hands over to it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The systemd user unit.
pub const UNIT: &str = "deepinfra-shim";
/// The LaunchAgent's label.
pub const AGENT: &str = "com.deepinfra.shim";
/// The LaunchAgent's log file, relative to the home directory.
pub const AGENT_LOG: &str = "Library/Logs/deepinfra-shim/deepinfra-shim.log";

/// Which service manager's log to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    /// systemd user unit, journald.
    Linux,
    /// LaunchAgent, a log file.
    Macos,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::Macos
        } else {
            Os::Linux
        }
    }
}

/// What the user asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Keep printing new lines (`-f`).
    pub follow: bool,
    /// Only the last N lines (`-n N`); the tool's own default otherwise.
    pub lines: Option<u64>,
    /// Standard output is a terminal (a pager is then fine).
    pub tty: bool,
}

/// A program and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub program: &'static str,
    pub args: Vec<OsString>,
}

/// How to show the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Run first with output captured: empty output means the log shows nothing.
    pub probe: Option<Invocation>,
    /// The file the log is in, when it is a file (checked for existence first).
    pub file: Option<PathBuf>,
    /// The command that shows the log; its exit status is `shimctl logs`'s.
    pub show: Invocation,
}

/// The LaunchAgent's log file under `home`.
pub fn agent_log(home: &Path) -> PathBuf {
    home.join(AGENT_LOG)
}

fn invocation(program: &'static str, args: &[&str]) -> Invocation {
    Invocation {
        program,
        args: args.iter().map(OsString::from).collect(),
    }
}

/// The plan for `os`. `home` is needed on macOS (the log file is under it).
pub fn plan(os: Os, home: Option<&Path>, opts: Options) -> Result<Plan, String> {
    let lines = opts.lines.map(|n| n.to_string());
    match os {
        Os::Linux => {
            let mut show = invocation("journalctl", &["--user", "-u", UNIT]);
            if opts.follow {
                show.args.push("-f".into());
            }
            if let Some(n) = &lines {
                show.args.extend(["-n".into(), n.into()]);
            }
            if !opts.tty {
                show.args.push("--no-pager".into());
            }
            Ok(Plan {
                probe: Some(invocation(
                    "journalctl",
                    &[
                        "--user",
                        "-u",
                        UNIT,
                        "-n",
                        "1",
                        "-q",
                        "--no-pager",
                        "-o",
                        "cat",
                    ],
                )),
                file: None,
                show,
            })
        }
        Os::Macos => {
            let home = home.ok_or_else(|| {
                format!("HOME is not set, so the log file (~/{AGENT_LOG}) cannot be found")
            })?;
            let file = agent_log(home);
            let mut show = invocation("tail", &[]);
            if let Some(n) = &lines {
                show.args.extend(["-n".into(), n.into()]);
            }
            if opts.follow {
                show.args.push("-f".into());
            }
            show.args.push(file.clone().into_os_string());
            Ok(Plan {
                probe: None,
                file: Some(file),
                show,
            })
        }
    }
}

/// Why the log shows nothing, and what to do; one piece of advice per line.
pub fn empty_hint(os: Os, file: Option<&Path>) -> String {
    match os {
        Os::Linux => format!(
            "the user journal shows no {UNIT} entries.\n\
             Not started yet? systemctl --user enable --now {UNIT}\n\
             Running (systemctl --user status {UNIT})? Then this system keeps the journal in \
             volatile storage, where there is no per-user journal (and root's services always \
             log to the system journal). Read it with\n  \
             journalctl _SYSTEMD_USER_UNIT={UNIT}.service\n\
             (as root, or as a member of the systemd-journal group), or make the journal \
             persistent:\n  \
             sudo mkdir -p /var/log/journal && sudo systemctl restart systemd-journald"
        ),
        Os::Macos => format!(
            "{} is empty: the agent has not logged anything yet.\n\
             Its state: launchctl print gui/$(id -u)/{AGENT}",
            file.map(|f| f.display().to_string())
                .unwrap_or_else(|| format!("~/{AGENT_LOG}"))
        ),
    }
}

/// The log file does not exist (macOS).
pub fn no_file_hint(file: &Path) -> String {
    format!(
        "no log file at {}: the LaunchAgent creates it when it starts.\n\
         Start it: launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/{AGENT}.plist\n\
         Its state: launchctl print gui/$(id -u)/{AGENT}",
        file.display()
    )
}

/// The program that shows the log is not installed.
pub fn missing_tool_hint(os: Os, program: &str) -> String {
    match os {
        Os::Linux => format!(
            "{program} not found: the service logs to the systemd journal, which {program} \
             reads. Without systemd, run deepinfra-shim in a terminal: it logs to stderr."
        ),
        Os::Macos => format!("{program} not found on PATH (it is part of macOS: check PATH)."),
    }
}
