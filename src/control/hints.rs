//! What to type next, for the OS the binary runs on: how to start or restart the daemon (the
//! systemd user unit on Linux, the LaunchAgent on macOS, or in the foreground), and how to find
//! the process that holds a port. Every message that says "not running" or "port in use" takes
//! its advice from here, so the commands are spelled once.

use crate::service::logging::viewer::{AGENT, UNIT};

pub use crate::service::logging::viewer::Os;

const START_LINUX: &str = "Start it with `systemctl --user start deepinfra-shim` (the installed \
     service), or run `deepinfra-shim` in a terminal (foreground).";

const START_MACOS: &str = "Start it with `launchctl bootstrap gui/$(id -u) \
     ~/Library/LaunchAgents/com.deepinfra.shim.plist` (the installed LaunchAgent; if it is \
     already loaded: `launchctl kickstart gui/$(id -u)/com.deepinfra.shim`), or run \
     `deepinfra-shim` in a terminal (foreground).";

/// How to start the daemon on the OS this binary was built for.
pub const HOW_TO_START: &str = if cfg!(target_os = "macos") {
    START_MACOS
} else {
    START_LINUX
};

/// How to start the daemon on `os`: one sentence, service first, foreground second.
pub fn how_to_start(os: Os) -> &'static str {
    match os {
        Os::Linux => START_LINUX,
        Os::Macos => START_MACOS,
    }
}

/// The one command that starts the installed service on `os`.
pub fn start_command(os: Os) -> String {
    match os {
        Os::Linux => format!("systemctl --user start {UNIT}"),
        Os::Macos => {
            format!("launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/{AGENT}.plist")
        }
    }
}

/// The one command that restarts the installed service on `os` (after the env file changed,
/// or to run a newly installed version).
pub fn restart_command(os: Os) -> String {
    match os {
        Os::Linux => format!("systemctl --user restart {UNIT}"),
        Os::Macos => format!("launchctl kickstart -k gui/$(id -u)/{AGENT}"),
    }
}

/// Where the installed service (systemd unit and LaunchAgent alike) reads its environment,
/// the provider token included.
pub const ENV_FILE: &str = "~/.config/deepinfra-shim/env";

/// The command that shows which process listens on TCP `port`.
pub fn find_listener(os: Os, port: u16) -> String {
    match os {
        Os::Linux => format!("ss -ltnp 'sport = :{port}'"),
        Os::Macos => format!("lsof -nP -iTCP:{port} -sTCP:LISTEN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_os_gets_its_own_service_manager() {
        let linux = how_to_start(Os::Linux);
        assert!(
            linux.contains("systemctl --user start deepinfra-shim"),
            "{linux}"
        );
        assert!(linux.contains("`deepinfra-shim` in a terminal"), "{linux}");
        assert!(!linux.contains("launchctl"));
        let mac = how_to_start(Os::Macos);
        assert!(
            mac.contains(
                "launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/com.deepinfra.shim.plist"
            ),
            "{mac}"
        );
        assert!(mac.contains("kickstart"), "{mac}");
        assert!(!mac.contains("systemctl"), "{mac}");
        assert_eq!(HOW_TO_START, how_to_start(Os::current()));
        assert_eq!(
            restart_command(Os::Macos),
            "launchctl kickstart -k gui/$(id -u)/com.deepinfra.shim"
        );
        assert_eq!(
            restart_command(Os::Linux),
            "systemctl --user restart deepinfra-shim"
        );
    }

    #[test]
    fn finding_a_port_holder() {
        assert_eq!(find_listener(Os::Linux, 8797), "ss -ltnp 'sport = :8797'");
        assert_eq!(
            find_listener(Os::Macos, 8797),
            "lsof -nP -iTCP:8797 -sTCP:LISTEN"
        );
    }
}
