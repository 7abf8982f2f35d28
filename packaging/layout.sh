# shellcheck shell=sh disable=SC2034  # the variables are for the scripts that source this file
# Shared by install.sh and uninstall.sh (sourced, not run): where everything goes, so the two
# scripts can never disagree about a path. Expects $prefix, $destdir, $os and $unit_dir from
# the caller's options (empty = default) and a die() function; sets $os, $prefix, $bin_dir,
# $config_home, $config_dir, $log_dir, $unit_dir and $destdir.
# Final locations are what the service files refer to; $destdir is only prepended when writing.

[ -n "${HOME:-}" ] || die "HOME is not set"
case $HOME in /*) ;; *) die "HOME must be an absolute path (it is '$HOME')" ;; esac

if [ -z "$os" ]; then
	case $(uname -s) in
	Linux) os=linux ;;
	Darwin) os=macos ;;
	*) die "unsupported OS $(uname -s): pass --os linux or --os macos" ;;
	esac
fi
case $os in linux | macos) ;; *) die "--os must be linux or macos, not '$os'" ;; esac

[ -n "$prefix" ] || prefix=${CARGO_HOME:-$HOME/.cargo}
prefix=${prefix%/}
bin_dir=$prefix/bin
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
config_home=${config_home%/}
config_dir=$config_home/deepinfra-shim
log_dir=$HOME/Library/Logs/deepinfra-shim
if [ -z "$unit_dir" ]; then
	if [ "$os" = linux ]; then unit_dir=$config_home/systemd/user; else unit_dir=$HOME/Library/LaunchAgents; fi
fi
unit_dir=${unit_dir%/}
destdir=${destdir%/}
