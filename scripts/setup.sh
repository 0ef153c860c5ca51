#!/bin/bash
# Installs every Debian package that tcmud's build, tests, benchmarks and
# real-kernel test VM need. Idempotent: quiet and fast (no apt-get at all)
# when everything is already installed. Run as root on Debian 12.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config git
	libnl-3-dev libnl-genl-3-dev libglib2.0-dev libglib2.0-bin libkmod-dev
	liburing-dev zlib1g-dev libzstd-dev linux-libc-dev
	# unit tests, sanitizers, tooling
	libcmocka-dev valgrind
	# the real-kernel test VM (tests/vm) and what runs inside it
	qemu-system-x86 qemu-utils busybox-static kmod xz-utils cpio socat
	fio sg3-utils lsscsi e2fsprogs util-linux
	targetcli-fb python3-rtslib-fb dbus
	# reference implementation for benchmarks
	tcmu-runner
	ceph-mon ceph-osd ceph-common librbd-dev librados-dev uuid-runtime iproute2 # rbd handler, tests/rbd cluster
	glusterfs-server libglusterfs-dev # glfs handler, tests/glfs cluster
	libtirpc-dev # ASan builds load it at start-up for gfapi (see CMakeLists.txt)
)

missing=()
for p in "${PACKAGES[@]}"; do
	[[ $p == \#* ]] && continue
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
	echo "setup: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
