#!/bin/bash
# The official image's entrypoint, in what compose.yaml needs of it: a new
# data directory is initialized with POSTGRES_USER (default postgres) and
# POSTGRES_PASSWORD, and POSTGRES_DB created; then postgres runs as the
# postgres user, listening on every address with password authentication.
set -Eeuo pipefail
if [[ ${1:-} == postgres && $(id -u) == 0 ]]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown -R postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [[ ${1:-} == postgres && ! -s $PGDATA/PG_VERSION ]]; then
	: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
	rm -f "$pwfile"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
	if [[ $db != postgres ]]; then
		pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
		createdb --username="$user" "$db"
		pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	fi
fi
exec "$@"
