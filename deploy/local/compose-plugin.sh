#!/usr/bin/env bash
# compose-plugin.sh installs Docker Compose v2 (the `docker compose` CLI
# plugin), which Debian does not package: it builds the pinned release from
# its Go module with this machine's Go into
# /usr/local/lib/docker/cli-plugins. Idempotent: nothing is done when that
# version answers.
set -Eeuo pipefail
version=v5.6.0
module=github.com/docker/compose/v5
dest=${ORC_COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
log() { printf 'compose: %s\n' "$*" >&2; }

if [[ $(docker compose version --short 2>/dev/null) == "${version#v}" ]]; then
	exit 0
fi
log "building docker compose $version from $module (a few minutes)"
# The module has exclude directives, so `go install module@version` refuses
# it: build it as the main module, in a copy of its source.
dir=$(go mod download -json "$module@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X $module/internal.Version=$version" -o "$work/docker-compose" ./cmd)
mkdir -p "$dest"
install -m 0755 "$work/docker-compose" "$dest/docker-compose"
log "installed $(docker compose version)"
