#!/usr/bin/env bash
# build.sh builds the image of every plugin under plugins/ that has a
# Dockerfile: a static Go binary (CGO_ENABLED=0) copied into a FROM scratch
# image tagged with the docker_image of the plugin's plugin.json. No
# registry is needed. It is idempotent (an unchanged plugin rebuilds to the
# same image from the cache) and stops at the first failure.
#
#   plugins/build.sh               build every plugin
#   plugins/build.sh echo ...      build the named plugins
set -euo pipefail

plugins_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module_dir=$(dirname "$plugins_dir")

log() { printf 'build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH"
command -v docker >/dev/null || die "docker is not on PATH"
docker version >/dev/null 2>&1 || die "the docker engine is not reachable (deploy/local/services.sh starts it)"

# docker_image prints the docker_image field of a plugin.json.
docker_image() {
	local file=$1 image
	if command -v python3 >/dev/null; then
		image=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["docker_image"])' "$file") ||
			die "$file: cannot read docker_image"
	else
		image=$(sed -n 's/^[[:space:]]*"docker_image"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$file" | head -n1)
	fi
	[[ -n $image ]] || die "$file: no docker_image"
	printf '%s\n' "$image"
}

build() {
	local dir=$1 name image ctx
	name=$(basename "$dir")
	[[ -f $dir/Dockerfile ]] || die "$name: no Dockerfile"
	[[ -f $dir/plugin.json ]] || die "$name: no plugin.json"
	image=$(docker_image "$dir/plugin.json")

	# A plugin with its own build.sh (the Python ones) builds itself.
	if [[ -x $dir/build.sh ]]; then
		"$dir/build.sh" || die "$name: build.sh failed"
		return
	fi

	ctx=$(mktemp -d)
	trap 'rm -rf "$ctx"' RETURN
	(cd "$module_dir" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/plugin" "./plugins/$name") ||
		die "$name: go build failed"
	cp "$dir/Dockerfile" "$ctx/"
	# The legacy builder needs no build images; its output (a deprecation
	# notice) is shown only when it fails.
	local out id
	out=$(DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "$name: docker build failed"
	}
	id=$(docker image inspect -f '{{.Id}}' "$image")
	log "$name -> $image (${id#sha256:})"
}

if (($#)); then
	for name in "$@"; do
		[[ -d $plugins_dir/$name ]] || die "no plugin $name under $plugins_dir"
		build "$plugins_dir/$name"
	done
else
	found=0
	for dir in "$plugins_dir"/*/; do
		dir=${dir%/}
		[[ -f $dir/Dockerfile ]] || continue
		build "$dir"
		found=1
	done
	((found)) || die "no plugin with a Dockerfile under $plugins_dir"
fi
