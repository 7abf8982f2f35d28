#!/bin/sh
# Installs deepinfra-shim for the current user: both binaries, their man pages and shell
# completions (bash, zsh, fish), the service file for this OS (systemd user unit on Linux,
# LaunchAgent on macOS) with absolute paths filled in, the example config (never overwriting
# yours) and the env file for the token (mode 0600).
#
# Idempotent: running it again with the same inputs changes no file's bytes or mode. It never
# starts, stops or reloads a service; it prints the commands to do so. It never prints the token.
# Run `packaging/install.sh --help` for the options.
set -eu

usage() {
	cat <<'EOF'
Usage: packaging/install.sh [OPTIONS]

Builds deepinfra-shim (cargo install --locked) and installs it as a user service.

Options:
  --prefix DIR      binaries go to DIR/bin, man pages to DIR/share/man/man1 (default:
                    ${CARGO_HOME:-~/.cargo}, i.e. ~/.cargo/bin), completions under DIR/share
                    (default: ${XDG_DATA_HOME:-~/.local/share})
  --destdir DIR     stage every file under DIR (same as DESTDIR=DIR); paths written inside
                    the files leave DIR out. Nothing is written outside DIR.
  --bin-dir DIR     take prebuilt deepinfra-shim and shimctl from DIR instead of building
  --no-build        take the binaries from <repo>/target/release (cargo build --release --locked)
  --os linux|macos  which service file to install (default: from uname)
  --unit-dir DIR    where the service file goes (default: ~/.config/systemd/user on Linux,
                    ~/Library/LaunchAgents on macOS; packagers: /usr/lib/systemd/user)
  --no-user-files   do not write the config, env file or log directory under $HOME (packagers)
  -h, --help        this help

Environment:
  DEEPINFRA_TOKEN   if set, written to the env file (~/.config/deepinfra-shim/env, mode 0600)
  DESTDIR, HOME, XDG_CONFIG_HOME, XDG_DATA_HOME, CARGO_HOME   as usual
EOF
}

die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

say() {
	printf '%s\n' "$*"
}

repo=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
prefix=''
destdir=${DESTDIR:-}
bin_src=''
build=yes
os=''
unit_dir=''
user_files=yes

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#*=}; shift ;;
	--destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir=$2; shift 2 ;;
	--destdir=*) destdir=${1#*=}; shift ;;
	--bin-dir) [ $# -ge 2 ] || die "--bin-dir needs a directory"; bin_src=$2; build=no; shift 2 ;;
	--bin-dir=*) bin_src=${1#*=}; build=no; shift ;;
	--no-build) build=no; shift ;;
	--os) [ $# -ge 2 ] || die "--os needs linux or macos"; os=$2; shift 2 ;;
	--os=*) os=${1#*=}; shift ;;
	--unit-dir) [ $# -ge 2 ] || die "--unit-dir needs a directory"; unit_dir=$2; shift 2 ;;
	--unit-dir=*) unit_dir=${1#*=}; shift ;;
	--no-user-files) user_files=no; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
done

# Paths and OS, shared with the other script.
# shellcheck source=packaging/layout.sh
. "$(dirname -- "$0")/layout.sh"

# These paths end up in unit files and plists. Refuse characters that would need quoting or
# escaping there (systemd splits on spaces and expands %, XML needs & and <, sed uses |)
# rather than write a file that silently means something else.
check_path() {
	case $2 in
	/*) ;;
	*) die "$1 must be an absolute path, not '$2'" ;;
	esac
	case $2 in
	*[[:space:]%\"\'\\\$\&\<\>\|]*) die "$1 '$2' contains a space or one of % \" ' \\ \$ & < > |; choose another path" ;;
	esac
}
check_path "prefix" "$prefix"
check_path "config directory" "$config_dir"
check_path "service file directory" "$unit_dir"
[ "$os" = linux ] || check_path "log directory" "$log_dir"
[ -z "$destdir" ] || case $destdir in /*) ;; *) destdir=$(pwd)/$destdir ;; esac

# The token goes into a KEY=value file read by both systemd and /bin/sh: refuse what the two
# would read differently, before anything is written. The token itself is never printed.
if [ "$user_files" = yes ]; then
	case ${DEEPINFRA_TOKEN:-} in
	*[[:space:][:cntrl:]\"\'\\\$\`]*) die "DEEPINFRA_TOKEN contains whitespace, quotes, \\, \$ or \`; write the env file by hand" ;;
	esac
fi

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/deepinfra-shim-install.XXXXXX" 2>/dev/null ||
	mktemp -d /tmp/deepinfra-shim-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# --- binaries -------------------------------------------------------------------------------
if [ "$build" = yes ]; then
	command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust from https://rustup.rs, or pass --bin-dir"
	say "Building with cargo install --locked (this takes a few minutes the first time)..."
	# A throwaway --root keeps cargo's install bookkeeping out of the prefix; --path builds in
	# the repository's target/ directory, so a second run reuses the build.
	cargo install --locked --path "$repo" --root "$work/cargo-root"
	bin_src=$work/cargo-root/bin
elif [ -z "$bin_src" ]; then
	bin_src=$repo/target/release
fi
for b in deepinfra-shim shimctl; do
	if [ ! -f "$bin_src/$b" ] || [ ! -x "$bin_src/$b" ]; then
		die "no executable $bin_src/$b (build first, or pass --bin-dir)"
	fi
done

changed=0
# install_file SRC DEST MODE: copies SRC to $destdir/DEST unless the bytes are already there,
# then sets MODE. The copy goes to a temp name in the same directory (created under umask 077,
# so a secret is never readable by others) and is renamed over DEST: a running binary is
# replaced, not overwritten in place.
install_file() {
	dst=$destdir$2
	mkdir -p -- "$(dirname -- "$dst")"
	if [ -f "$dst" ] && cmp -s -- "$1" "$dst"; then
		chmod "$3" -- "$dst"
		return 0
	fi
	(umask 077 && cp -- "$1" "$dst.tmp.$$")
	chmod "$3" -- "$dst.tmp.$$"
	mv -f -- "$dst.tmp.$$" "$dst"
	say "  wrote $dst"
	changed=$((changed + 1))
}

# make_dir DIR MODE: creates $destdir/DIR (and parents) and sets MODE on DIR itself.
make_dir() {
	mkdir -p -- "$destdir$1"
	chmod "$2" -- "$destdir$1"
}

# fill TEMPLATE OUT: replaces the __PLACEHOLDERS__ of a service template with final paths.
fill() {
	sed -e "s|__BIN_DIR__|$bin_dir|g" \
		-e "s|__CONFIG_DIR__|$config_dir|g" \
		-e "s|__CONFIG_HOME__|$config_home|g" \
		-e "s|__LOG_DIR__|$log_dir|g" \
		-e "s|__CONTROL_SOCKET__|${control_socket:-}|g" \
		"$1" >"$2"
}

say "Installing deepinfra-shim ($os)${destdir:+ into $destdir}:"
install_file "$bin_src/deepinfra-shim" "$bin_dir/deepinfra-shim" 0755
install_file "$bin_src/shimctl" "$bin_dir/shimctl" 0755

# --- man pages and shell completions ---------------------------------------------------------
# Made by the shimctl being installed, so they describe exactly these binaries' flags.
docs=$work/docs
mkdir -p "$docs"
if "$bin_src/shimctl" generate-man "$docs/man" >/dev/null 2>&1 &&
	"$bin_src/shimctl" completions bash >"$docs/bash" 2>/dev/null &&
	"$bin_src/shimctl" completions zsh >"$docs/zsh" 2>/dev/null &&
	"$bin_src/shimctl" completions fish >"$docs/fish" 2>/dev/null; then
	for page in "$docs"/man/*.1; do
		install_file "$page" "$man_dir/${page##*/}" 0644
	done
	# Pages of shimctl commands that no longer exist.
	for page in "$destdir$man_dir"/shimctl-*.1; do
		[ -f "$page" ] && [ ! -f "$docs/man/${page##*/}" ] || continue
		rm -f -- "$page"
		say "  removed $page (no such command any more)"
	done
	install_file "$docs/bash" "$bash_completion" 0644
	install_file "$docs/zsh" "$zsh_completion" 0644
	install_file "$docs/fish" "$fish_completion" 0644
	docs_installed=yes
else
	say "  note: $bin_src/shimctl cannot write man pages and completions (built for another"
	say "        machine, or too old); installed without them"
	docs_installed=no
fi

# --- service file ---------------------------------------------------------------------------
if [ "$os" = linux ]; then
	unit=$unit_dir/deepinfra-shim.service
	# The checked-in unit runs %h/.cargo/bin/...; point it at the real binaries. When the config
	# is not under ~/.config, tell the daemon where it is through XDG_CONFIG_HOME (its default
	# lookup, so a missing file still means built-in defaults) and read the env file from there.
	# A packaged unit (--no-user-files) serves every user: it keeps %h.
	if [ "$config_home" = "$HOME/.config" ] || [ "$user_files" = no ]; then
		sed -e "s|%h/\.cargo/bin/|$bin_dir/|g" "$repo/systemd/deepinfra-shim.service" >"$work/unit"
	else
		sed -e "s|%h/\.cargo/bin/|$bin_dir/|g" \
			-e "s|^EnvironmentFile=-%h/\.config/deepinfra-shim/env\$|EnvironmentFile=-$config_dir/env\\
Environment=XDG_CONFIG_HOME=$config_home|" \
			"$repo/systemd/deepinfra-shim.service" >"$work/unit"
	fi
	install_file "$work/unit" "$unit" 0644
else
	unit=$unit_dir/com.deepinfra.shim.plist
	# The same socket path shimctl computes in this shell (XDG_RUNTIME_DIR, else TMPDIR, else
	# /tmp), written into the plist because launchd's environment may differ from the shell's.
	uid=$(id -u)
	if [ -n "${XDG_RUNTIME_DIR:-}" ]; then
		control_socket=${XDG_RUNTIME_DIR%/}/deepinfra-shim/control.sock
	else
		tmp=${TMPDIR:-/tmp}
		control_socket=${tmp%/}/deepinfra-shim-$uid/control.sock
	fi
	# sun_path holds 104 bytes on macOS, including the terminating NUL.
	if [ "${#control_socket}" -gt 103 ] || ! (check_path x "$control_socket") 2>/dev/null; then
		control_socket=/tmp/deepinfra-shim-$uid/control.sock
		say "  note: using $control_socket for the control socket; add"
		say "        export DEEPINFRA_CODEX_SHIM_CONTROL_SOCKET=$control_socket"
		say "        to your shell profile so shimctl finds it"
	fi
	fill "$repo/launchd/com.deepinfra.shim.plist" "$work/plist"
	before=$changed
	install_file "$work/plist" "$unit" 0644
	plist_changed=$((changed - before))
	if [ "$user_files" = yes ]; then
		make_dir "$log_dir" 0700
	fi
fi

# --- config and env file --------------------------------------------------------------------
env_file=$config_dir/env
if [ "$user_files" = yes ]; then
	make_dir "$config_dir" 0700
	if [ -e "$destdir$config_dir/config.yaml" ]; then
		say "  kept $destdir$config_dir/config.yaml (yours; not overwritten)"
	else
		[ -f "$repo/packaging/config.example.yaml" ] || die "missing $repo/packaging/config.example.yaml"
		install_file "$repo/packaging/config.example.yaml" "$config_dir/config.yaml" 0644
	fi

	if [ -f "$destdir$env_file" ]; then
		cp -- "$destdir$env_file" "$work/env.old"
	else
		cp -- "$repo/packaging/deepinfra-shim.env.example" "$work/env.old"
	fi
	if [ -n "${DEEPINFRA_TOKEN:-}" ]; then
		# Replace the first DEEPINFRA_TOKEN= line (else the commented one, else append); the
		# token reaches awk through its environment, never its command line.
		awk '
			BEGIN { tok = ENVIRON["DEEPINFRA_TOKEN"] }
			{ lines[NR] = $0 }
			/^DEEPINFRA_TOKEN=/ && !live { live = NR }
			/^#[ ]*DEEPINFRA_TOKEN=/ && !commented { commented = NR }
			END {
				at = live ? live : commented
				for (i = 1; i <= NR; i++) {
					if (i == at) { print "DEEPINFRA_TOKEN=" tok; continue }
					if (live && i != live && lines[i] ~ /^DEEPINFRA_TOKEN=/) continue
					print lines[i]
				}
				if (!at) print "DEEPINFRA_TOKEN=" tok
			}' "$work/env.old" >"$work/env"
		install_file "$work/env" "$env_file" 0600
		token_note=''
	else
		install_file "$work/env.old" "$env_file" 0600
		if grep -q '^DEEPINFRA_TOKEN=.' "$work/env.old"; then token_note=''; else token_note=yes; fi
	fi
fi

# --- next steps -----------------------------------------------------------------------------
if [ "$changed" -eq 0 ]; then say "  (everything already up to date)"; fi
if [ -n "$destdir" ]; then
	say "Staged under $destdir; nothing to start."
	exit 0
fi
say ""
if [ "$user_files" = yes ] && [ -n "$token_note" ]; then
	say "No token yet: put DEEPINFRA_TOKEN=<your token> in $env_file"
	say "(or re-run with DEEPINFRA_TOKEN set in the environment)."
	say ""
fi
case ":${PATH:-}:" in
*":$bin_dir:"*) shimctl=shimctl ;;
*) shimctl=$bin_dir/shimctl; say "Note: $bin_dir is not on your PATH; add it, or use the full paths below." ;;
esac
if [ "$docs_installed" = yes ]; then
	if [ "$os" = linux ]; then
		say "Help: man deepinfra-shim, man shimctl (found once $bin_dir is on your PATH)."
	else
		say "Help: man deepinfra-shim, man shimctl (if man does not find them:"
		say "  export MANPATH=\"${man_dir%/*}:\$MANPATH\")."
	fi
	say "Completions: bash (with the bash-completion package) and fish find them by themselves;"
	say "  zsh: add  fpath=(${zsh_completion%/*} \$fpath)  to ~/.zshrc before compinit."
	say ""
fi
say "Next steps:"
if [ "$os" = linux ]; then
	say "  systemctl --user daemon-reload && systemctl --user enable --now deepinfra-shim"
	say "  $shimctl status"
	say "After an upgrade: systemctl --user restart deepinfra-shim"
	say "Logs: $shimctl logs (journalctl --user -u deepinfra-shim)"
	say "Keep it running while you are logged out: loginctl enable-linger \"\$USER\""
else
	say "  launchctl bootstrap gui/\$(id -u) $unit"
	say "  $shimctl status"
	say "After an upgrade: launchctl kickstart -k gui/\$(id -u)/com.deepinfra.shim"
	if [ "$plist_changed" -gt 0 ]; then
		say "(the plist was rewritten: if the agent is loaded, run"
		say " launchctl bootout gui/\$(id -u)/com.deepinfra.shim and bootstrap it again)"
	fi
	say "Logs: $shimctl logs ($log_dir/deepinfra-shim.log)"
fi
