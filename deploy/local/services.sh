#!/usr/bin/env bash
# services.sh installs and starts the services Orc needs on one Debian machine:
# PostgreSQL, RabbitMQ and the Docker engine. It is idempotent: on a machine
# where they already run it only checks them and prepares Orc's database and
# broker user.
#
#   deploy/local/services.sh            install (if needed), start, prepare
#   deploy/local/services.sh env        print the ORC_* variables for them
#
# It runs as root (it installs Debian packages) and does not need systemd.
set -euo pipefail

ORC_DB_USER=${ORC_DB_USER:-orc}
ORC_DB_PASSWORD=${ORC_DB_PASSWORD:-orc}
ORC_DB_NAME=${ORC_DB_NAME:-orc}
ORC_AMQP_USER=${ORC_AMQP_USER:-orc}
ORC_AMQP_PASSWORD=${ORC_AMQP_PASSWORD:-orc}
STATE_DIR=${ORC_STATE_DIR:-/var/lib/orc-local}

log() { printf 'services: %s\n' "$*" >&2; }

print_env() {
	cat <<ENV
export ORC_DATABASE_URL=postgres://${ORC_DB_USER}:${ORC_DB_PASSWORD}@127.0.0.1:5432/${ORC_DB_NAME}?sslmode=disable
export ORC_AMQP_URL=amqp://${ORC_AMQP_USER}:${ORC_AMQP_PASSWORD}@127.0.0.1:5672/
export DOCKER_HOST=unix:///var/run/docker.sock
ENV
}

if [[ ${1:-} == env ]]; then
	print_env
	exit 0
fi

if [[ $(id -u) != 0 ]]; then
	log "run as root (it installs Debian packages and starts daemons)"
	exit 1
fi

need_pkgs=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v rabbitmq-server >/dev/null 2>&1 || need_pkgs+=(rabbitmq-server)
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
for tool in curl iptables python3 debootstrap; do
	command -v "$tool" >/dev/null 2>&1 || need_pkgs+=("$tool")
done
if ((${#need_pkgs[@]})); then
	log "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# policy-rc.d keeps the packages' init scripts from starting daemons
	# half-configured; this script starts them itself below.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
	trap - EXIT
fi
mkdir -p "$STATE_DIR"

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local secs=$1 what=$2
	shift 2
	for ((i = 0; i < secs * 4; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.25
	done
	log "$what did not come up in ${secs}s"
	return 1
}

# --- PostgreSQL -------------------------------------------------------------
start_postgres() {
	local ver cluster
	ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
	if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -q "^${ver}/main$"; then
		log "creating PostgreSQL ${ver} cluster"
		pg_createcluster "$ver" main >/dev/null
	fi
	if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
		log "starting PostgreSQL ${ver}"
		pg_ctlcluster "$ver" main start
	fi
	wait_for 30 PostgreSQL su postgres -c "psql -Atqc 'select 1'"
	su postgres -c "psql -v ON_ERROR_STOP=1 -Atq" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ORC_DB_USER}') THEN
    CREATE ROLE ${ORC_DB_USER} LOGIN CREATEDB PASSWORD '${ORC_DB_PASSWORD}';
  END IF;
END \$\$;
SQL
	if ! su postgres -c "psql -Atqc \"select 1 from pg_database where datname='${ORC_DB_NAME}'\"" | grep -q 1; then
		su postgres -c "createdb -O ${ORC_DB_USER} ${ORC_DB_NAME}"
	fi
}

# --- RabbitMQ ---------------------------------------------------------------
start_rabbitmq() {
	mkdir -p /etc/rabbitmq
	touch /etc/rabbitmq/rabbitmq.conf /etc/rabbitmq/rabbitmq-env.conf
	# A consumer that holds a message longer than consumer_timeout loses its
	# channel; it must outlast the longest plugin timeout (24 h).
	grep -q '^consumer_timeout' /etc/rabbitmq/rabbitmq.conf ||
		echo 'consumer_timeout = 90000000' >>/etc/rabbitmq/rabbitmq.conf
	# Loopback only: plugin containers on a bridge network must not reach
	# the broker (nor Erlang's distribution ports) through the host.
	grep -q '^listeners.tcp.default' /etc/rabbitmq/rabbitmq.conf ||
		echo 'listeners.tcp.default = 127.0.0.1:5672' >>/etc/rabbitmq/rabbitmq.conf
	grep -q '^export ERL_EPMD_ADDRESS' /etc/rabbitmq/rabbitmq-env.conf ||
		echo 'export ERL_EPMD_ADDRESS=127.0.0.1' >>/etc/rabbitmq/rabbitmq-env.conf
	grep -q '^SERVER_ADDITIONAL_ERL_ARGS' /etc/rabbitmq/rabbitmq-env.conf || cat >>/etc/rabbitmq/rabbitmq-env.conf <<'ENV'
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
ENV
	if ! rabbitmqctl -q status >/dev/null 2>&1; then
		log "starting RabbitMQ"
		# The Debian package's default Erlang cookie and data live in
		# /var/lib/rabbitmq; run the server as the rabbitmq user.
		mkdir -p /var/log/rabbitmq /var/lib/rabbitmq
		chown -R rabbitmq:rabbitmq /var/log/rabbitmq /var/lib/rabbitmq
		su rabbitmq -s /bin/sh -c 'HOME=/var/lib/rabbitmq rabbitmq-server -detached' ||
			HOME=/var/lib/rabbitmq rabbitmq-server -detached
		wait_for 90 RabbitMQ rabbitmqctl -q await_startup
	fi
	rabbitmqctl -q await_startup
	if ! rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$ORC_AMQP_USER"; then
		rabbitmqctl -q add_user "$ORC_AMQP_USER" "$ORC_AMQP_PASSWORD" >/dev/null
	fi
	rabbitmqctl -q set_permissions -p / "$ORC_AMQP_USER" '.*' '.*' '.*' >/dev/null
}

# --- Docker -----------------------------------------------------------------
start_docker() {
	if ! docker version >/dev/null 2>&1; then
		log "starting dockerd"
		# cgroup v2 machines without systemd need the cgroupfs driver.
		nohup dockerd --exec-opt native.cgroupdriver=cgroupfs \
			>"$STATE_DIR/dockerd.log" 2>&1 &
		wait_for 60 "the Docker engine" docker version
	fi
}

start_postgres
start_rabbitmq
start_docker
log "PostgreSQL, RabbitMQ and Docker are up"
