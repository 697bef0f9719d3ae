#!/usr/bin/env bash
# build.sh builds Orc's Python base image, orc-python-base:bookworm, without a
# container registry: debootstrap makes a minimal Debian bookworm root
# filesystem, apt installs Python 3 and scikit-learn from Debian's packages
# into it, and `docker import` turns it into an image.
#
#   deploy/images/python-base/build.sh           build unless the image is up to date
#   deploy/images/python-base/build.sh --force   build the root filesystem again
#
# It is idempotent. The image carries a label with a hash of the recipe (the
# suite, the mirror, the package list and this script's version); when an
# image with that label exists, nothing is done. The root filesystem is kept
# as a tarball under /var/cache/orc, named by the same hash, so that after a
# `docker rmi` the image is imported again in seconds. --force ignores both
# and fetches the newest packages (security updates included).
#
# It runs as root (debootstrap and chroot need it) and installs the
# debootstrap package when it is missing. Python plugins build FROM the
# image; they may install more Debian packages as root (USER root, then
# apt-get update && apt-get install, then USER 65534:65534 again).
#
# Environment: ORC_PYTHON_BASE_IMAGE (image name), ORC_DEBIAN_MIRROR,
# ORC_DEBIAN_SECURITY_MIRROR, ORC_CACHE_DIR (default /var/cache/orc).
set -Eeuo pipefail

# recipe_version changes whenever a change to this script should rebuild the
# image even though the package list is the same.
recipe_version=2

image=${ORC_PYTHON_BASE_IMAGE:-orc-python-base:bookworm}
suite=bookworm
mirror=${ORC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${ORC_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache_dir=${ORC_CACHE_DIR:-/var/cache/orc}
# libopenblas0 is the optimized BLAS; without it numpy and scipy get the
# slow reference one.
packages=(python3 python3-numpy python3-joblib python3-sklearn libopenblas0)

# The image's configuration. docker import applies these Dockerfile
# instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME,
# WORKDIR). The thread counts keep numpy and scikit-learn to the one CPU
# that Orc gives a plugin by default; HOME and JOBLIB_TEMP_FOLDER point at
# the only writable place under Orc's read-only root, the /tmp tmpfs.
changes=(
	'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	'ENV LANG=C.UTF-8'
	'ENV PYTHONDONTWRITEBYTECODE=1'
	'ENV PYTHONUNBUFFERED=1'
	'ENV HOME=/tmp'
	'ENV JOBLIB_TEMP_FOLDER=/tmp'
	'ENV OMP_NUM_THREADS=1'
	'ENV OPENBLAS_NUM_THREADS=1'
	'ENV MKL_NUM_THREADS=1'
	'WORKDIR /'
	'USER 65534:65534'
	'CMD ["python3"]'
)

start=$SECONDS
log() { printf 'python-base: [%4ds] %s\n' "$((SECONDS - start))" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

usage() {
	sed -n '2,/^set -E/{/^set -E/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

force=0
for arg in "$@"; do
	case $arg in
	--force) force=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument $arg (see --help)" ;;
	esac
done

command -v docker >/dev/null || die "docker is not on PATH"
docker version >/dev/null 2>&1 || die "the docker engine is not reachable (deploy/local/services.sh starts it)"

recipe=$(printf '%s\n' "$recipe_version" "$suite" "$mirror" "$security_mirror" "${packages[@]}" "${changes[@]}" |
	sha256sum | cut -c1-16)
label=org.orc.python-base.recipe
tarball=$cache_dir/python-base-$suite-$recipe.tar

# exit_if_up_to_date exits when the image exists and was built from this
# recipe (unless --force).
exit_if_up_to_date() {
	((!force)) && docker image inspect "$image" >/dev/null 2>&1 || return 0
	local have
	have=$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$image")
	if [[ $have == "$recipe" ]]; then
		log "$image is up to date (recipe $recipe); --force rebuilds it"
		exit 0
	fi
	log "$image was built from another recipe (${have/<no value>/none}, now $recipe): building it again"
}
exit_if_up_to_date

[[ $(id -u) == 0 ]] || die "run as root (debootstrap and chroot need it)"
mkdir -p "$cache_dir"
# One build at a time; one that waited finds the image the other built.
exec 9>"$cache_dir/python-base.lock"
if ! flock -n 9; then
	log "waiting for another build of $image"
	flock 9
	exit_if_up_to_date
fi

# build_rootfs makes the root filesystem and writes it to $tarball.
build_rootfs() {
	local root buildlog=$cache_dir/python-base-build.log
	: >"$buildlog"
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap"
		{
			DEBIAN_FRONTEND=noninteractive apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
		} >>"$buildlog" 2>&1 || {
			tail -n 25 "$buildlog" >&2
			die "cannot install debootstrap"
		}
	fi

	# work is global: the EXIT trap runs after this function has returned.
	work=$(mktemp -d "$cache_dir/python-base.XXXXXX")
	root=$work/rootfs
	# The root filesystem has no mounts (nothing below needs /proc), so
	# removing it is safe whatever step failed.
	trap 'rm -rf "${work:-}"' EXIT
	trap 'log "failed; the last lines of $buildlog:"; tail -n 25 "$buildlog" >&2' ERR

	log "debootstrap --variant=minbase $suite from $mirror (log: $buildlog)"
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >>"$buildlog" 2>&1

	cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
	# Packages must not start services inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	# Nothing of the documentation is needed at run time; dpkg skips it
	# from now on, also in images built on this one (copyrights stay). The
	# Python packages' own tests (110 MB for numpy, scipy and scikit-learn)
	# stay: excluding them breaks the packages' byte-compiling postinst, and
	# deleting them afterwards leaves dpkg's file lists wrong.
	cat >"$root/etc/dpkg/dpkg.cfg.d/01-orc-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
EOF
	cat >"$root/etc/apt/apt.conf.d/01-orc" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "3";
EOF

	local chroot_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8)
	log "apt-get update && upgrade (with $suite-updates and $suite-security)"
	chroot "$root" "${chroot_env[@]}" apt-get update >>"$buildlog" 2>&1
	chroot "$root" "${chroot_env[@]}" apt-get -y upgrade >>"$buildlog" 2>&1
	# Debian bookworm's python3-scipy depends on python3-pythran, a compiler
	# that scipy uses only when it is built: it pulls in gcc, g++, Boost and
	# the Python headers, about 500 MB that nothing imports at run time. An
	# empty package of that name, held, stands in for it. A plugin that
	# really needs pythran runs `apt-mark unhold python3-pythran` and
	# installs it.
	log "installing an empty python3-pythran (scipy needs it only to be built)"
	local pythran_version
	pythran_version=$(chroot "$root" "${chroot_env[@]}" apt-cache show --no-all-versions python3-pythran |
		sed -n 's/^Version: //p')
	[[ -n $pythran_version ]] || die "python3-pythran is not in the archive"
	mkdir -p "$root/tmp/pythran/DEBIAN"
	cat >"$root/tmp/pythran/DEBIAN/control" <<EOF
Package: python3-pythran
Version: $pythran_version+orc1
Architecture: all
Maintainer: Orc <orc@localhost>
Section: python
Priority: optional
Description: empty stand-in for pythran, which scipy needs only to be built
 Installed by Orc's Python base image (deploy/images/python-base/build.sh)
 so that python3-scipy does not pull in a C++ compiler and Boost.
EOF
	chroot "$root" "${chroot_env[@]}" sh -euc '
		dpkg-deb --build /tmp/pythran /tmp/python3-pythran.deb
		dpkg -i /tmp/python3-pythran.deb
		apt-mark hold python3-pythran
		rm -rf /tmp/pythran /tmp/python3-pythran.deb' >>"$buildlog" 2>&1

	log "apt-get install ${packages[*]}"
	chroot "$root" "${chroot_env[@]}" apt-get install -y "${packages[@]}" >>"$buildlog" 2>&1

	log "checking the interpreter and the libraries"
	chroot "$root" "${chroot_env[@]}" python3 -c '
import sys, numpy, scipy, joblib, sklearn
import scipy.optimize, scipy.sparse, scipy.special, scipy.stats
import sklearn.ensemble, sklearn.linear_model, sklearn.svm, sklearn.neighbors, sklearn.datasets
print("python", sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__,
      "joblib", joblib.__version__, "scikit-learn", sklearn.__version__)' | tee -a "$buildlog" |
		sed 's/^/python-base:        /' >&2

	log "cleaning apt caches and documentation"
	chroot "$root" "${chroot_env[@]}" apt-get clean
	rm -f "$root/usr/sbin/policy-rc.d"
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
		"$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/* "$root"/root/.cache
	find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
	# /tmp is Orc's tmpfs at run time; in the image it must be writable for
	# everyone, as in any Debian system.
	chmod 1777 "$root/tmp" "$root/var/tmp"

	log "writing $tarball ($(du -sh "$root" | cut -f1) on disk)"
	tar --numeric-owner --xattrs -C "$root" -cf "$work/rootfs.tar" .
	mv "$work/rootfs.tar" "$tarball"
	trap - ERR
	rm -rf "$work"
	trap - EXIT
}

if ((force)) || [[ ! -s $tarball ]]; then
	build_rootfs
	# Older recipes' tarballs only take disk space.
	find "$cache_dir" -maxdepth 1 -name "python-base-$suite-*.tar" ! -name "$(basename "$tarball")" -delete
else
	log "using the cached root filesystem $tarball"
fi

log "docker import as $image"
import_args=()
for change in "${changes[@]}" "LABEL $label=$recipe"; do
	import_args+=(--change "$change")
done
old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
docker import "${import_args[@]}" --message "orc python base, recipe $recipe" "$tarball" "$image" >/dev/null
# The image the tag moved from goes unless plugin images still build on it.
new=$(docker image inspect -f '{{.Id}}' "$image")
if [[ -n $old && $old != "$new" ]]; then
	docker image rm "$old" >/dev/null 2>&1 || true
fi

size=$(docker image inspect -f '{{.Size}}' "$image")
log "built $image: $((size / 1000000)) MB, recipe $recipe"
