#!/usr/bin/env bash
# run.sh runs Orc on this machine: the scheduler in the background (it
# places each pool's workers on the local Ray cluster) and the gateway in the
# foreground on :5900, with the example plugins registered. `make run` builds
# what it needs first. Ctrl-C stops both; the worker replicas on Ray stay
# until `deploy/local/run.sh stop-workers` (or a restart of the scheduler
# finds them again).
#
# The first admin account comes from ORC_ADMIN_EMAIL and ORC_ADMIN_PASSWORD
# (admin@example.com / admin123 unless set: change them anywhere but a
# laptop).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Every request has a bound: a hung dashboard or gateway must not hang the
# script.
curl() { command curl --connect-timeout 5 --max-time 30 "$@"; }

eval "$(deploy/local/services.sh env)"
export ORC_ADMIN_EMAIL=${ORC_ADMIN_EMAIL:-admin@example.com}
export ORC_ADMIN_PASSWORD=${ORC_ADMIN_PASSWORD:-admin123}
export ORC_ADDR=${ORC_ADDR:-:5900}
port=${ORC_ADDR##*:}
state=${ORC_STATE_DIR:-/var/lib/orc-local}
mkdir -p "$state"

if [[ ${1:-} == stop-workers ]]; then
	# Stop and delete this installation's Ray jobs (worker replicas and
	# ray-job invocations).
	prefix=${ORC_QUEUE_PREFIX:-orc}
	ids=$(curl -fsS "$ORC_RAY_ADDRESS/api/jobs/" | python3 -c '
import json, sys
for j in json.load(sys.stdin):
    if (j.get("metadata") or {}).get("orc_prefix") == sys.argv[1]:
        print(j["submission_id"])' "$prefix")
	for id in $ids; do curl -fsS -X POST "$ORC_RAY_ADDRESS/api/jobs/$id/stop" >/dev/null || true; done
	sleep 8
	for id in $ids; do curl -fsS -X DELETE "$ORC_RAY_ADDRESS/api/jobs/$id" >/dev/null || true; done
	echo "stopped $(wc -w <<<"$ids") Ray job(s)"
	exit 0
fi

bin/orc migrate
bin/orc scheduler >"$state/scheduler.log" 2>&1 &
scheduler=$!
trap 'kill $scheduler 2>/dev/null; wait $scheduler 2>/dev/null' EXIT
echo "scheduler running (pid $scheduler), logging to $state/scheduler.log; workers run on Ray ($ORC_RAY_ADDRESS)"

register() {
	for i in $(seq 1 100); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	local token
	token=$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/auth/token" \
		--data-urlencode "username=$ORC_ADMIN_EMAIL" --data-urlencode "password=$ORC_ADMIN_PASSWORD" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
	for manifest in plugins/*/plugin.json; do
		code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/v1/plugins" \
			-H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d @"$manifest")
		case $code in
		201) echo "registered $manifest" ;;
		409) echo "already registered: $manifest" ;;
		*) echo "registering $manifest answered $code" >&2 ;;
		esac
	done
	echo "Orc is up: http://127.0.0.1:$port (admin: $ORC_ADMIN_EMAIL)"
}
register &
bin/orc gateway
