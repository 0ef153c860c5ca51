#!/bin/bash
# test-install.sh SOURCE_DIR BUILD_DIR — `cmake --install` the build into a
# temporary DESTDIR, check that library, headers, tcmu.pc, tcmu.conf, the
# daemon and the handlers land, then build consumer.c with nothing but
# `pkg-config tcmu` from that tree and run it.
set -euo pipefail
src=$1 build=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

DESTDIR=$dest cmake --install "$build" >/dev/null
pc=$(find "$dest" -name tcmu.pc | head -n1)
for f in "$pc" "$dest/etc/tcmu/tcmu.conf"; do
	[[ -f $f ]] || { echo "FAIL: missing $f"; exit 1; }
done
for h in libtcmu.h handler.h scsi.h version.h; do
	[[ -n $(find "$dest" -path "*/include/tcmu/$h") ]] || { echo "FAIL: header $h not installed"; exit 1; }
done
[[ -n $(find "$dest" -name 'libtcmu.so.0') ]] || { echo "FAIL: no libtcmu.so.0 (SONAME link)"; exit 1; }
[[ -n $(find "$dest" -name tcmud -type f) ]] || { echo "FAIL: no tcmud"; exit 1; }
[[ -n $(find "$dest" -name 'handler_file.so') ]] || { echo "FAIL: no handler_file.so"; exit 1; }

export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags tcmu) libs=$(pkg-config --libs tcmu)
[[ $cflags == *"$dest"* && $libs == *"$dest"* ]] || { echo "FAIL: pkg-config gave '$cflags' '$libs'"; exit 1; }
san=()
grep -q '^TCMU_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Werror "${san[@]}" -o "$dest/consumer" "$(dirname "$0")/consumer.c" $cflags $libs
libdir=$(pkg-config --variable=libdir tcmu) # pkgconf prefixes the sysroot
LD_LIBRARY_PATH=$libdir "$dest/consumer"
readelf -d "$(find "$dest" -name 'libtcmu.so.0.*' | head -n1)" | grep -q 'SONAME.*libtcmu.so.0' ||
	{ echo "FAIL: SONAME"; exit 1; }
echo "install: OK"
