#!/usr/bin/env bash
# services.sh installs and starts the services Orc needs on one Debian machine:
# PostgreSQL, RabbitMQ, the Docker engine, Podman (daemonless: it is only
# installed and checked) and a small Ray cluster. It is
# idempotent: on a machine where they already run it only checks them and
# prepares Orc's database and broker user.
#
# The Ray cluster (pinned ray[default] in a virtualenv) is three Ray nodes on
# this machine: a head that offers no CPUs (so Ray places no work on it), a
# general node, and a node that also offers the custom resource
# `accelerator`. A node that died is started again while the head runs;
# without a head the whole cluster is started afresh. The dashboard (Jobs and State APIs) listens on 127.0.0.1 only:
# whoever reaches it can run code on the cluster.
#
#   deploy/local/services.sh            install (if needed), start, prepare
#   deploy/local/services.sh env        print the ORC_* variables for them
#   deploy/local/services.sh docker     only the Docker engine (for compose.yaml)
#
# It runs as root (it installs Debian packages) and does not need systemd.
# The daemons it starts run in sessions of their own (setsid): Ctrl-C in the
# terminal that ran it, or `make run`, reaches Orc and not them.
set -euo pipefail

ORC_DB_USER=${ORC_DB_USER:-orc}
ORC_DB_PASSWORD=${ORC_DB_PASSWORD:-orc}
ORC_DB_NAME=${ORC_DB_NAME:-orc}
ORC_AMQP_USER=${ORC_AMQP_USER:-orc}
ORC_AMQP_PASSWORD=${ORC_AMQP_PASSWORD:-orc}
STATE_DIR=${ORC_STATE_DIR:-/var/lib/orc-local}
RAY_VERSION=2.60.0
RAY_VENV=${ORC_RAY_VENV:-/opt/orc/ray}
RAY_GCS_PORT=${ORC_RAY_GCS_PORT:-6380}
RAY_DASHBOARD_PORT=${ORC_RAY_DASHBOARD_PORT:-8265}

log() { printf 'services: %s\n' "$*" >&2; }

print_env() {
	cat <<ENV
export ORC_DATABASE_URL=postgres://${ORC_DB_USER}:${ORC_DB_PASSWORD}@127.0.0.1:5432/${ORC_DB_NAME}?sslmode=disable
export ORC_AMQP_URL=amqp://${ORC_AMQP_USER}:${ORC_AMQP_PASSWORD}@127.0.0.1:5672/
export DOCKER_HOST=unix:///var/run/docker.sock
export ORC_RAY_ADDRESS=http://127.0.0.1:${RAY_DASHBOARD_PORT}
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

mode=${1:-all}
need_pkgs=()
if [[ $mode != docker ]]; then
	command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)
	command -v rabbitmq-server >/dev/null 2>&1 || need_pkgs+=(rabbitmq-server)
fi
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
if [[ $mode != docker ]]; then
	command -v podman >/dev/null 2>&1 || need_pkgs+=(podman)
	# netavark is only recommended (the first alternative, CNI, would be
	# taken without it); the driver is built and tested on netavark.
	[[ -x /usr/lib/podman/netavark ]] || need_pkgs+=(netavark aardvark-dns)
	command -v newuidmap >/dev/null 2>&1 || need_pkgs+=(uidmap)
	command -v slirp4netns >/dev/null 2>&1 || need_pkgs+=(slirp4netns)
fi
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
		setsid -w pg_ctlcluster "$ver" main start </dev/null
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
	# Erlang's schedulers spin for work by default before they sleep; on a
	# small machine shared with PostgreSQL, Docker and Orc that spinning
	# takes the cores the others need (+sbwt none: about 0.15 ms less per
	# warm call on two cores, docs/BENCHMARKS.md). Takes effect at the
	# broker's next start.
	local erl_args='SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"'
	if ! grep -qxF "$erl_args" /etc/rabbitmq/rabbitmq-env.conf; then
		sed -i '/^SERVER_ADDITIONAL_ERL_ARGS=/d' /etc/rabbitmq/rabbitmq-env.conf
		echo "$erl_args" >>/etc/rabbitmq/rabbitmq-env.conf
	fi
	if ! rabbitmqctl -q status >/dev/null 2>&1; then
		log "starting RabbitMQ"
		# The Debian package's default Erlang cookie and data live in
		# /var/lib/rabbitmq; run the server as the rabbitmq user.
		mkdir -p /var/log/rabbitmq /var/lib/rabbitmq
		chown -R rabbitmq:rabbitmq /var/log/rabbitmq /var/lib/rabbitmq
		setsid -w su rabbitmq -s /bin/sh -c 'HOME=/var/lib/rabbitmq rabbitmq-server -detached' </dev/null ||
			HOME=/var/lib/rabbitmq setsid -w rabbitmq-server -detached </dev/null
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
		setsid nohup dockerd --exec-opt native.cgroupdriver=cgroupfs \
			</dev/null >"$STATE_DIR/dockerd.log" 2>&1 &
		wait_for 60 "the Docker engine" docker version
	fi
}

# --- Podman -------------------------------------------------------------------
check_podman() {
	# Without systemd (a container, this script's usual home) Podman must
	# manage cgroups itself and log its events to a file.
	if [[ ! -e /etc/containers/containers.conf ]] && [[ ! -d /run/systemd/system ]]; then
		mkdir -p /etc/containers
		printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[network]\nnetwork_backend = "netavark"\n' >/etc/containers/containers.conf
	fi
	if ! podman info >/dev/null 2>&1 && [[ ! -e /etc/containers/storage.conf ]]; then
		# overlay cannot stack on an overlay root (a container's); vfs can.
		log "podman info fails with overlay storage; using vfs"
		printf '[storage]\ndriver = "vfs"\n' >/etc/containers/storage.conf
	fi
	if ! podman info >/dev/null; then
		log "podman does not work (podman info fails)"
		return 1
	fi
	local backend
	backend=$(podman info --format '{{.Host.NetworkBackend}}')
	if [[ $backend != netavark ]]; then
		log "podman's network backend is $backend, not netavark (set network_backend in /etc/containers/containers.conf)"
		return 1
	fi
}

# --- Ray ----------------------------------------------------------------------
ray_nodes_alive() { # prints the alive Ray nodes by role (head, general, accelerator), or fails
	curl -fsS --max-time 5 "http://127.0.0.1:${RAY_DASHBOARD_PORT}/api/v0/nodes?limit=100&detail=true" |
		python3 -c '
import json, sys
for n in json.load(sys.stdin)["data"]["result"]["result"]:
    if n["state"] != "ALIVE":
        continue
    r = n.get("resources_total", {})
    print("head" if n.get("is_head_node") else "accelerator" if "accelerator" in r else "general" if "general" in r else "other")
' | sort
}

ray_node_count() { ray_nodes_alive | wc -l; }

# start_ray_node ROLE starts the general or the accelerator node. Nodes on
# one machine need their own dashboard-agent and metrics ports.
start_ray_node() {
	local role=$1 resources port
	case $role in
	general) resources='{"general": 1}' port=52366 ;;
	accelerator) resources='{"accelerator": 2}' port=52367 ;;
	esac
	setsid -w "$RAY_VENV/bin/ray" start --address="127.0.0.1:$RAY_GCS_PORT" --node-ip-address=127.0.0.1 \
		--num-cpus=8 --num-gpus=0 --memory=6000000000 --resources="$resources" \
		--dashboard-agent-listen-port=$port --metrics-export-port=0 "${RAY_COMMON[@]}" >>"$STATE_DIR/ray-$role.log" 2>&1
}

start_ray() {
	if [[ ! -x $RAY_VENV/bin/ray ]] || [[ $("$RAY_VENV/bin/ray" --version 2>/dev/null) != *"$RAY_VERSION"* ]]; then
		log "installing ray[default]==${RAY_VERSION} into ${RAY_VENV}"
		if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
			# Debian's python3 makes virtualenvs only with python3-venv.
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null ||
				{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
		fi
		rm -rf "$RAY_VENV"
		python3 -m venv "$RAY_VENV"
		"$RAY_VENV/bin/pip" install -q --disable-pip-version-check "ray[default]==${RAY_VERSION}"
	fi
	export RAY_USAGE_STATS_ENABLED=0 PATH="$RAY_VENV/bin:$PATH"
	# Small object stores: Orc passes no objects through Ray, and each node
	# would otherwise reserve 30% of the machine's memory in /dev/shm.
	RAY_COMMON=(--object-store-memory=100000000 --disable-usage-stats)
	local alive
	alive=$(ray_nodes_alive 2>/dev/null | tr '\n' ' ') || alive=
	case $alive in
	"accelerator general head ") return ;;
	*head*)
		# The head runs: start only the nodes it lost (their jobs are gone;
		# the scheduler places replicas again).
		for role in general accelerator; do
			if [[ $alive != *$role* ]]; then
				log "starting the Ray $role node again"
				start_ray_node "$role"
			fi
		done
		;;
	*)
		log "starting Ray ${RAY_VERSION} (head and two nodes)"
		"$RAY_VENV/bin/ray" stop --force >/dev/null 2>&1 || true
		setsid -w "$RAY_VENV/bin/ray" start --head --node-ip-address=127.0.0.1 --port="$RAY_GCS_PORT" \
			--dashboard-host=127.0.0.1 --dashboard-port="$RAY_DASHBOARD_PORT" \
			--num-cpus=0 --num-gpus=0 "${RAY_COMMON[@]}" >"$STATE_DIR/ray-head.log" 2>&1
		: >"$STATE_DIR/ray-general.log"
		: >"$STATE_DIR/ray-accelerator.log"
		start_ray_node general
		start_ray_node accelerator
		;;
	esac
	wait_for 60 "the Ray cluster (3 nodes)" bash -c "[[ \$($(declare -f ray_nodes_alive ray_node_count); RAY_DASHBOARD_PORT=$RAY_DASHBOARD_PORT ray_node_count) == 3 ]]"
}

if [[ $mode == docker ]]; then
	start_docker
	log "Docker is up"
	exit 0
fi
start_postgres
start_rabbitmq
start_docker
check_podman
start_ray
log "PostgreSQL, RabbitMQ, Docker, Podman and Ray are up"
