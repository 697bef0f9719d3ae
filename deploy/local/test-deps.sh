#!/usr/bin/env bash
# test-deps.sh installs what the tests need besides the services: Debian's
# headless Chromium, which the web console's tests drive through
# internal/testenv/browser, and a font so that its screenshots show text.
# It is idempotent: where both are installed it only prints where Chromium is.
#
#   deploy/local/test-deps.sh           install (if needed), print the path
#
# It runs as root (it installs Debian packages). Recommends are left out:
# Chromium runs headless without them (no X server, no desktop portal);
# fonts-dejavu-core is named because without any font the pages render
# as empty boxes.
set -euo pipefail

log() { printf 'test-deps: %s\n' "$*" >&2; }

need_pkgs=()
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q 'install ok installed' ||
	need_pkgs+=(fonts-dejavu-core)

if ((${#need_pkgs[@]})); then
	if [[ $(id -u) != 0 ]]; then
		log "run as root to install ${need_pkgs[*]}"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	log "installing ${need_pkgs[*]}"
	# The package lists are refreshed once, and only when they are missing
	# or too old to hold the packages (an install that fails on them).
	updated=
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt-get update -qq
		updated=1
	fi
	if ! apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null; then
		[[ -z $updated ]] || exit 1
		log "install failed on the current package lists; updating them once"
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
	fi
fi

chromium_path=$(command -v chromium)
log "chromium: $chromium_path ($("$chromium_path" --version 2>/dev/null || echo 'version unknown'))"
echo "$chromium_path"
