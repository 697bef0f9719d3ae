#!/usr/bin/env bash
# standins.sh makes sure the base images that compose.yaml and deploy/'s
# Dockerfiles name are there: each is pulled from its registry, and where
# that cannot be done (a machine without a container registry) a stand-in is
# built under the same name from Debian's packages, so that the same
# compose.yaml works on both.
#
#   deploy/images/standins.sh               pull or build what is missing
#   deploy/images/standins.sh --monitoring  also Prometheus, for compose.yaml's
#                                           monitoring profile (Grafana has no
#                                           Debian package: it must be pulled)
#   deploy/images/standins.sh --list        print the images it provides
#
# debian:bookworm-slim is a debootstrap minbase root filesystem (cached in
# ORC_CACHE_DIR, default /var/cache/orc) imported with `docker import`; the
# others are built FROM it with deploy/images/standins/*.Dockerfile and
# labelled org.orc.standin. The machine's own extra trust anchors
# (/usr/local/share/ca-certificates) are copied into the root filesystem,
# where they count once an image installs ca-certificates: a machine that
# reaches the registries through an intercepting proxy builds too.
#
# It runs as root (debootstrap needs it) and is idempotent.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=bookworm
mirror=${ORC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${ORC_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache_dir=${ORC_CACHE_DIR:-/var/cache/orc}

# The images, in the order they are built (the first is the others' base),
# each with the Dockerfile of its stand-in.
images=(
	"debian:bookworm-slim="
	"golang:1.26-bookworm=golang.Dockerfile"
	"python:3.11-slim-bookworm=python.Dockerfile"
	"postgres:15-bookworm=postgres.Dockerfile"
	"rabbitmq:3.10=rabbitmq.Dockerfile"
)

start=$SECONDS
log() { printf 'standins: [%4ds] %s\n' "$((SECONDS - start))" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# The monitoring profile's Prometheus, with --monitoring.
monitoring=("prom/prometheus:v3.5.0=prometheus.Dockerfile")
case ${1:-} in
--list)
	for entry in "${images[@]}" "${monitoring[@]}"; do echo "${entry%%=*}"; done
	exit 0
	;;
--monitoring) images+=("${monitoring[@]}") ;;
"") ;;
*) die "unknown argument $1" ;;
esac
docker version >/dev/null 2>&1 || die "the docker engine is not reachable (deploy/local/services.sh starts it)"

# debian_rootfs builds the Debian root filesystem as a tarball, once.
debian_rootfs() {
	local tarball=$cache_dir/debian-$suite-minbase.tar buildlog=$cache_dir/debian-build.log root
	if [[ -s $tarball ]]; then
		echo "$tarball"
		return
	fi
	[[ $(id -u) == 0 ]] || die "run as root (debootstrap needs it)"
	command -v debootstrap >/dev/null || die "debootstrap is missing (deploy/local/services.sh installs it)"
	mkdir -p "$cache_dir"
	work=$(mktemp -d "$cache_dir/debian.XXXXXX")
	trap 'rm -rf "${work:-}"' EXIT
	root=$work/rootfs
	log "debootstrap --variant=minbase $suite from $mirror (log: $buildlog)"
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$buildlog" 2>&1 ||
		{ tail -n 20 "$buildlog" >&2; die "debootstrap failed"; }
	cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	cat >"$root/etc/apt/apt.conf.d/01-orc" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "3";
EOF
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
	tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	rm -rf "$work"
	echo "$tarball"
}

for entry in "${images[@]}"; do
	image=${entry%%=*} dockerfile=${entry#*=}
	if docker image inspect "$image" >/dev/null 2>&1; then
		continue
	fi
	if timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
		log "pulled $image"
		continue
	fi
	log "$image cannot be pulled: building a stand-in"
	if [[ -z $dockerfile ]]; then
		docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			-c 'ENV LANG=C.UTF-8' -c 'CMD ["bash"]' -c 'LABEL org.orc.standin=true' \
			"$(debian_rootfs)" "$image" >/dev/null
		continue
	fi
	context=$here/standins
	[[ $image == golang:* ]] && context=$(go env GOROOT)
	docker build -q --label org.orc.standin=true -t "$image" -f "$here/standins/$dockerfile" "$context" >/dev/null ||
		die "building the stand-in for $image failed"
done
log "base images ready: $(printf '%s ' "${images[@]%%=*}")"
