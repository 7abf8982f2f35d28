# shellcheck shell=sh disable=SC2034  # the variables are for the scripts that source this file
# Shared by install.sh and uninstall.sh (sourced, not run): where everything goes, so the two
# scripts can never disagree about a path. Expects $prefix, $destdir, $os and $unit_dir from
# the caller's options (empty = default) and a die() function; sets $os, $prefix, $bin_dir,
# $man_dir, $bash_completion, $zsh_completion, $fish_completion, $config_home, $config_dir,
# $log_dir, $unit_dir and $destdir.
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

if [ -n "$prefix" ]; then prefix_given=yes; else prefix_given=no; fi
[ -n "$prefix" ] || prefix=${CARGO_HOME:-$HOME/.cargo}
prefix=${prefix%/}
bin_dir=$prefix/bin
# man-db (Linux) finds PREFIX/share/man by itself once PREFIX/bin is on PATH; other man
# implementations may need it in MANPATH (the installer says so).
man_dir=$prefix/share/man/man1
# Completions: with --prefix, under PREFIX/share (found by itself for /usr and /usr/local);
# by default in the per-user data directory, where bash-completion and fish look by themselves
# (zsh needs that directory in its fpath; the installer says so).
if [ "$prefix_given" = yes ]; then
	share_dir=$prefix/share
else
	share_dir=${XDG_DATA_HOME:-$HOME/.local/share}
	share_dir=${share_dir%/}
fi
bash_completion=$share_dir/bash-completion/completions/shimctl
zsh_completion=$share_dir/zsh/site-functions/_shimctl
fish_completion=$share_dir/fish/vendor_completions.d/shimctl.fish
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
config_home=${config_home%/}
config_dir=$config_home/deepinfra-shim
log_dir=$HOME/Library/Logs/deepinfra-shim
if [ -z "$unit_dir" ]; then
	if [ "$os" = linux ]; then unit_dir=$config_home/systemd/user; else unit_dir=$HOME/Library/LaunchAgents; fi
fi
unit_dir=${unit_dir%/}
destdir=${destdir%/}
