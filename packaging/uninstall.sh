#!/bin/sh
# Reverses packaging/install.sh: stops and disables the user service (when not staging under
# DESTDIR), removes the service file, both binaries, their man pages and shell completions. Your config directory (config.yaml and
# the env file with the token) stays unless you pass --purge.
# Takes the same --prefix/--destdir/--os/--unit-dir as install.sh; pass the ones you installed with.
set -eu

usage() {
	cat <<'EOF'
Usage: packaging/uninstall.sh [OPTIONS]

Options:
  --prefix DIR      where the binaries were installed: DIR/bin (default: ${CARGO_HOME:-~/.cargo})
                    (man pages under DIR/share/man; completions under DIR/share, by default
                    under ${XDG_DATA_HOME:-~/.local/share})
  --destdir DIR     remove from a staging directory (same as DESTDIR=DIR); no service is touched
  --os linux|macos  default: from uname
  --unit-dir DIR    where the service file was installed (default as in install.sh)
  --purge           also remove ~/.config/deepinfra-shim (config and token) and, on macOS,
                    ~/Library/Logs/deepinfra-shim
  -h, --help        this help
EOF
}

die() {
	printf 'uninstall.sh: %s\n' "$*" >&2
	exit 1
}

say() {
	printf '%s\n' "$*"
}

prefix=''
destdir=${DESTDIR:-}
os=''
unit_dir=''
purge=no

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#*=}; shift ;;
	--destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir=$2; shift 2 ;;
	--destdir=*) destdir=${1#*=}; shift ;;
	--os) [ $# -ge 2 ] || die "--os needs linux or macos"; os=$2; shift 2 ;;
	--os=*) os=${1#*=}; shift ;;
	--unit-dir) [ $# -ge 2 ] || die "--unit-dir needs a directory"; unit_dir=$2; shift 2 ;;
	--unit-dir=*) unit_dir=${1#*=}; shift ;;
	--purge) purge=yes; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
done

# Paths and OS, shared with the other script.
# shellcheck source=packaging/layout.sh
. "$(dirname -- "$0")/layout.sh"
if [ "$os" = linux ]; then unit=$unit_dir/deepinfra-shim.service; else unit=$unit_dir/com.deepinfra.shim.plist; fi

remove() {
	if [ -e "$destdir$1" ] || [ -L "$destdir$1" ]; then
		rm -f -- "$destdir$1"
		say "  removed $destdir$1"
	fi
}

# Stop the service first, so nothing runs a binary that is about to disappear. Failures here
# (no user manager, not loaded) are fine: there is then nothing to stop.
if [ -z "$destdir" ]; then
	if [ "$os" = linux ]; then
		if command -v systemctl >/dev/null 2>&1 && systemctl --user show-environment >/dev/null 2>&1; then
			if systemctl --user disable --now deepinfra-shim.service >/dev/null 2>&1; then
				say "  stopped and disabled deepinfra-shim.service"
			fi
		fi
	elif command -v launchctl >/dev/null 2>&1; then
		if launchctl bootout "gui/$(id -u)/com.deepinfra.shim" >/dev/null 2>&1; then
			say "  stopped and unloaded com.deepinfra.shim (launchctl bootout)"
		fi
	fi
fi

say "Removing deepinfra-shim ($os)${destdir:+ from $destdir}:"
remove "$unit"
remove "$prefix/bin/deepinfra-shim"
remove "$prefix/bin/shimctl"
remove "$man_dir/deepinfra-shim.1"
remove "$man_dir/shimctl.1"
for page in "$destdir$man_dir"/shimctl-*.1; do
	[ -f "$page" ] || continue
	remove "${page#"$destdir"}"
done
remove "$bash_completion"
remove "$zsh_completion"
remove "$fish_completion"

if [ -z "$destdir" ] && [ "$os" = linux ] && command -v systemctl >/dev/null 2>&1 &&
	systemctl --user show-environment >/dev/null 2>&1; then
	systemctl --user daemon-reload || true
fi

if [ "$purge" = yes ]; then
	# Only ever the directories this project names; never a parent.
	dirs=$config_dir
	[ "$os" = linux ] || dirs="$dirs $log_dir"
	for d in $dirs; do
		case $d in /*/deepinfra-shim) ;; *) die "refusing to remove '$d'" ;; esac
		if [ -d "$destdir$d" ]; then
			rm -rf -- "$destdir$d"
			say "  removed $destdir$d"
		fi
	done
elif [ -d "$destdir$config_dir" ]; then
	say "Kept $destdir$config_dir (your config and token); --purge removes it."
fi
