#!/bin/sh
# node-env.sh NAME... writes the named environment variables as NAME=VALUE
# lines to $ORC_NODE_ENV_FILE, readable by its owner only: the file of a Ray
# node's settings that the processes Ray starts there (orc worker replicas,
# orc ray-exec) read through ORC_ENV_FILE, so that the database and broker
# passwords stay out of Ray's job records. It runs as the Ray worker pod's
# first init container, with the values from the orc Secret.
set -eu

file=${ORC_NODE_ENV_FILE:?ORC_NODE_ENV_FILE names the file to write}
[ "$#" -gt 0 ] || { echo "node-env: name the variables to write" >&2; exit 2; }

umask 077
tmp=$file.tmp.$$
trap 'rm -f "$tmp"' EXIT
: >"$tmp"
for name in "$@"; do
	case $name in
	*[!A-Z0-9_]* | '' | [0-9]*)
		echo "node-env: $name is not a variable name" >&2
		exit 2
		;;
	esac
	value=$(printenv "$name") || { echo "node-env: $name is not set" >&2; exit 1; }
	[ -n "$value" ] || { echo "node-env: $name is empty" >&2; exit 1; }
	# orc reads one line per setting.
	case $value in
	*"
"*)
		echo "node-env: the value of $name spans lines" >&2
		exit 1
		;;
	esac
	printf '%s=%s\n' "$name" "$value" >>"$tmp"
done
mv "$tmp" "$file"
trap - EXIT
echo "node-env: wrote $# settings to $file"
