#!/bin/sh
# build.sh builds every example hook to <outdir>/<name>.wasm.
#
# Usage: hooks/examples/build.sh [outdir]   (default outdir: bin/hooks,
# relative to the current directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-bin/hooks}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
for dir in */; do
	name=${dir%/}
	[ -f "$name/main.go" ] || continue
	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$out/$name.wasm" "./$name"
	echo "$out/$name.wasm"
done
