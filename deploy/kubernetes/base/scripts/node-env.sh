#!/bin/sh
# node-env.sh NAME... writes the named environment variables as NAME=VALUE
# lines to $ORC_NODE_ENV_FILE, readable by its owner only: the file of a Ray
# node's settings that the processes Ray starts there (orc worker replicas,
# orc ray-exec) read through ORC_ENV_FILE, so that the database and broker
# passwords stay out of Ray's job records. It runs as the Ray worker pod's
# first init container, with the values from the orc Secret. A name that
# ends in ? is optional: written when set and not empty, else left out.
set -eu

file=${ORC_NODE_ENV_FILE:?ORC_NODE_ENV_FILE names the file to write}
[ "$#" -gt 0 ] || { echo "node-env: name the variables to write" >&2; exit 2; }

umask 077
tmp=$file.tmp.$$
trap 'rm -f "$tmp"' EXIT
: >"$tmp"
n=0
for arg in "$@"; do
	name=${arg%\?}
	case $name in
	*[!A-Z0-9_]* | '' | [0-9]*)
		echo "node-env: $name is not a variable name" >&2
		exit 2
		;;
	esac
	if ! value=$(printenv "$name") || [ -z "$value" ]; then
		[ "$name" = "$arg" ] || continue
		if printenv "$name" >/dev/null; then
			echo "node-env: $name is empty" >&2
		else
			echo "node-env: $name is not set" >&2
		fi
		exit 1
	fi
	# orc reads one line per setting.
	case $value in
	*"
"*)
		echo "node-env: the value of $name spans lines" >&2
		exit 1
		;;
	esac
	printf '%s=%s\n' "$name" "$value" >>"$tmp"
	n=$((n + 1))
done
mv "$tmp" "$file"
trap - EXIT
echo "node-env: wrote $n settings to $file"
