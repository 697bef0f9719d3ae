#!/usr/bin/env bash
# build.sh builds the classifier plugin's image, tagged with the docker_image
# of its plugin.json (orc-classifier:1.0.0), without a registry: it first
# makes sure Orc's Python base image exists (deploy/images/python-base/
# build.sh, which builds it from Debian packages when it is missing and does
# nothing when it is up to date), then builds this directory's Dockerfile
# from a temporary context that also holds the Python SDK. The model is
# trained during the build. Unchanged inputs rebuild from the cache in
# seconds.
#
#   plugins/classifier/build.sh
set -euo pipefail

plugin_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module_dir=$(cd "$plugin_dir/../.." && pwd)

log() { printf 'classifier: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

command -v docker >/dev/null || die "docker is not on PATH"
docker version >/dev/null 2>&1 || die "the docker engine is not reachable (deploy/local/services.sh starts it)"

"$module_dir/deploy/images/python-base/build.sh"

if command -v python3 >/dev/null; then
	image=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["docker_image"])' "$plugin_dir/plugin.json") ||
		die "plugin.json: cannot read docker_image"
else
	image=$(sed -n 's/^[[:space:]]*"docker_image"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$plugin_dir/plugin.json" | head -n1)
fi
[[ -n $image ]] || die "plugin.json: no docker_image"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$plugin_dir"/{Dockerfile,main.py,train.py,plugin.json} "$ctx/"
cp -r "$module_dir/sdk/python/orc_plugin" "$ctx/orc_plugin"
find "$ctx" -name __pycache__ -prune -exec rm -rf {} +

start=$SECONDS
old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
log "building $image"
# steps shows the build's steps and what its RUN commands print, without
# the builder's bookkeeping and deprecation notice. (The legacy builder is
# used because it needs no build images; BuildKit would pull its frontend.)
steps() {
	tr -d '\r' | sed -E \
		-e '/^DEPRECATED: The legacy builder/,/environment-variable\.$/d' \
		-e '/^ *---> /d' -e '/^Removing intermediate container/d' -e '/^Sending build context/d' \
		-e '/^Successfully (built|tagged)/d' -e '/^$/d' \
		-e 's/^/classifier:   /'
}
DOCKER_BUILDKIT=0 docker build --force-rm -t "$image" "$ctx" 2>&1 | steps >&2 || die "docker build failed"
id=$(docker image inspect -f '{{.Id}}' "$image")
# The image the tag moved from goes, unless a container still uses it.
if [[ -n $old && $old != "$id" ]]; then
	docker image rm "$old" >/dev/null 2>&1 || true
fi
size=$(docker image inspect -f '{{.Size}}' "$image")
log "$image (${id#sha256:}) built in $((SECONDS - start))s, $((size / 1000000)) MB"
