#!/bin/bash
# The main job (README): build tcmud, boot the test VM (Debian's kernel with
# the real target_core_user), serve a user:file LUN through tcm_loop, run
# fio with verification on it and print a short summary.
#
#   bash scripts/setup.sh && bash scripts/demo.sh
#
# Env: BUILD_DIR (default build-demo), DEMO_SIZE (LUN size, default 256M),
#      TCMUD_DEBUG=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build-demo}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
DEMO_SIZE=${DEMO_SIZE:-256M}

say() { printf '\n==> %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

build() {
	say "building tcmud in $BUILD_DIR"
	cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
		>"$BUILD_DIR.cmake.log" 2>&1 || { cat "$BUILD_DIR.cmake.log"; die "cmake failed"; }
	cmake --build "$BUILD_DIR" -j"$(nproc)" --target tcmud handler_file >"$BUILD_DIR.build.log" 2>&1 ||
		{ tail -n 40 "$BUILD_DIR.build.log"; die "build failed (log: $BUILD_DIR.build.log)"; }
	[[ -x $BUILD_DIR/tcmud ]] || die "no $BUILD_DIR/tcmud after the build"
	[[ -e $BUILD_DIR/handlers/handler_file.so ]] || die "no handler_file.so after the build"
	echo "tcmud: $("$BUILD_DIR/tcmud" --version 2>&1 | head -n1)"
}

# What runs inside the guest (bash, as root, with tests/vm/lib.sh).
guest_script() {
	cat <<'GUEST'
set -euo pipefail
source "$VM_LIB"
CASE_DIR=/run/demo CASE_DATA=/mnt/demo
mkdir -p "$CASE_DIR" "$CASE_DATA"
mount -t tmpfs -o size=1G demo "$CASE_DATA"
trap 'rc=$?; if ((rc)); then echo "--- tcmud log:"; tail -n 40 "$CASE_DIR"/tcmud.*.log; fi' EXIT

log "starting tcmud"
tcmud_start
log "creating user:file backstore demo ($DEMO_SIZE, $CASE_DATA/demo.img) and a tcm_loop LUN"
user_dev_add demo "file/$CASE_DATA/demo.img" "$DEMO_SIZE"
disk=$(loop_lun_add 0 "user_$USER_HBA/demo")
log "the LUN is $disk: $(cat /sys/block/${disk#/dev/}/device/vendor) $(cat /sys/block/${disk#/dev/}/device/model)"
sg_readcap "$disk" | grep -E 'Last LBA|Logical block length|Device size' | sed 's/^ */  /'

max=$(max_io_bytes "$disk")
summary=()
for job in "randwrite 4k 16M" "randrw 64k 32M" "write $max 64M"; do
	set -- $job
	log "fio $1 bs=$2 over $3, then read back and verify (crc32c)"
	fio_run "demo-$1" "${FIO_VERIFY[@]}" --filename="$disk" --rw="$1" --bs="$2" \
		--iodepth=16 --size="$3"
	rates=$(grep -E '^ +(read|write): IOPS' "$CASE_DIR/fio.demo-$1.out" |
		sed -E 's/^ *(read|write): IOPS=([^,]*), BW=([^ ]*).*/\1 \2 IOPS \3/' |
		paste -sd';' | sed 's/;/; /g')
	echo "  $rates"
	summary+=("$(printf '%-9s bs=%-6s %-4s %s' "$1" "$2" "$3" "$rates")")
done

log "clean shutdown"
loop_lun_del 0
user_dev_del demo
tcmud_stop
[[ -z $(sanitizer_reports) ]] || { cat $(sanitizer_reports); fail "sanitizer reports"; }
echo
echo "=== summary: every block written was read back and verified"
echo "    (the reads include fio's verify pass; TCG emulation: compare relatively)"
printf '  %s\n' "${summary[@]}"
echo "DEMO OK: tcmud served a user:file LUN through tcm_loop; fio verify passed"
GUEST
}

main() {
	build
	say "booting the test VM (first run: downloads Debian's kernel package, ~70 MB)"
	"$ROOT/tests/vm/vm-run" -t 900 -e "VM_BUILD=$BUILD_DIR" -e "VM_LIB=$ROOT/tests/vm/lib.sh" \
		-e "DEMO_SIZE=$DEMO_SIZE" \
		${TCMUD_DEBUG:+-e TCMUD_DEBUG=$TCMUD_DEBUG} -- "$(guest_script)"
}

main "$@"
