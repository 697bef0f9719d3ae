#!/bin/sh
# dind.sh runs the Docker engine of a Ray worker pod (the docker:dind
# image's dockerd) for the plugin containers that Orc's workers on this
# node start, then walls those containers off from the cluster:
#
#   - the engine listens only on a Unix socket in an emptyDir shared with
#     the ray-worker container, owned by the group $ORC_DIND_GROUP (the
#     pod's supplemental group), never on TCP;
#   - no default bridge; the networks Orc makes (orc-warm, orc-warm-bridge)
#     are cut from $ORC_DIND_POOL;
#   - connections from those networks to $ORC_DIND_DENY (the cluster's and
#     every private range: the database, the broker, the Ray dashboard, the
#     cloud's metadata service) are dropped, as are new connections from
#     them to the pod itself (Ray's and Orc's ports). The internet stays
#     reachable for plugins that ask for a network.
#
# The pod's other containers share its network namespace, so the worker
# reaches warm containers at their bridge addresses.
set -eu

# The startup probe waits for this file: the Ray container starts only
# once the fence is up.
fenced=/run/orc-dind-fenced
rm -f "$fenced"

socket=${ORC_DIND_SOCKET:-/var/run/dind/docker.sock}
group=${ORC_DIND_GROUP:-2375}
pool=${ORC_DIND_POOL:-172.30.0.0/16}
deny=${ORC_DIND_DENY:-10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 169.254.0.0/16}

mkdir -p "$(dirname "$socket")"
rm -f "$socket"
dockerd-entrypoint.sh dockerd \
	--host="unix://$socket" --group="$group" \
	--bridge=none --default-address-pool="base=$pool,size=24" &
engine=$!
trap 'kill -TERM "$engine" 2>/dev/null; wait "$engine"; exit 0' TERM INT

tries=0
until docker -H "unix://$socket" version >/dev/null 2>&1; do
	kill -0 "$engine" 2>/dev/null || { wait "$engine"; exit 1; }
	tries=$((tries + 1))
	[ "$tries" -lt 120 ] || { echo "dind: the engine did not start" >&2; exit 1; }
	sleep 1
done

# The engine made its DOCKER-USER chain with the iptables it chose
# (legacy or nft): use the same.
ipt=
for candidate in iptables iptables-nft iptables-legacy; do
	if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -n -L DOCKER-USER >/dev/null 2>&1; then
		ipt=$candidate
		break
	fi
done
if [ -z "$ipt" ]; then
	echo "dind: no DOCKER-USER chain; refusing to run plugins unfenced" >&2
	kill -TERM "$engine"
	wait "$engine" || true
	exit 1
fi
# Rules stay in the pod's network namespace when this container restarts:
# each is added once.
rule() { "$ipt" -C "$@" 2>/dev/null || "$ipt" -I "$@"; }
for net in $deny; do
	rule DOCKER-USER -s "$pool" -d "$net" -j DROP
done
rule INPUT -s "$pool" -m conntrack --ctstate NEW -j DROP
: >"$fenced"
echo "dind: engine up on $socket; plugin networks $pool may not reach $deny or this pod"

wait "$engine"
