#!/bin/bash
# bench/run-vm-rbd.sh — rbd in a real kernel, one guest boot: tcmud's
# user:rbd (tcm_loop LUN) against fio's own rbd engine (librbd without any
# SCSI: the ceiling) and Debian's tcmu-runner with its handler_rbd.so, all
# on the same image of a throw-away single-node Ceph cluster that this
# script starts on the host (tests/clusters/ceph-up: 1 mon, 1 memstore OSD)
# and stops afterwards.  The guest reaches the cluster over vm-run -n.
# Prints the tables (bench/vm-rbd-table.py) and keeps them with the raw log
# in bench/results/<date>-vm-rbd-<host>.{md,log}.
#
#   bench/run-vm-rbd.sh [-b BUILD_DIR] [-t SECONDS_PER_JOB] [-r ROUNDS] [-s SIZE] [-o OUT_BASENAME]
#
# Rounds alternate the order of the targets; the tables take medians.
#
# Env passed to the guest (see bench/vm-guest-rbd.sh): BENCH_TARGETS,
# BENCH_JOBS, BENCH_OSD_TIMEOUT, BENCH_MAX_SECTORS, BENCH_DATA_AREA_MB.
# Needs root, qemu, socat, Ceph (scripts/setup.sh), tcmu-runner and fio with
# its rbd engine.  The build must be a release build (configured and built
# here when BUILD_DIR has none).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD=$ROOT/build-bench
RUNTIME=${BENCH_RUNTIME:-8}
ROUNDS=${BENCH_ROUNDS:-1}
SIZE=256M
OUT=

while getopts b:t:r:s:o:h opt; do
	case $opt in
	b) BUILD=$(readlink -f "$OPTARG") ;;
	t) RUNTIME=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	s) SIZE=$OPTARG ;;
	o) OUT=$OPTARG ;;
	h) sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) exit 2 ;;
	esac
done

# shellcheck source=host-lib.sh
source "$ROOT/bench/host-lib.sh"
bench_release_build run-vm-rbd handler_rbd
[[ -e $BUILD/handlers/handler_rbd.so ]] || { echo "run-vm-rbd: no handler_rbd.so in $BUILD (librbd-dev?)" >&2; exit 1; }
bench_outputs vm-rbd

# the cluster: memstore (RAM; nothing here restarts the OSD), image "bench"
TOP=$(mktemp -d /tmp/bench-rbd.XXXXXX)
CL=$TOP/c
# ceph-down stops only the daemons of this cluster (by its pid files)
trap '[[ -e $CL/ceph.conf ]] && "$ROOT/tests/clusters/ceph-down" "$CL" >/dev/null 2>&1; rm -rf "$TOP"' EXIT
"$ROOT/tests/clusters/ceph-up" -i bench -S "$SIZE" "$CL" >"$TOP/up.log" 2>&1 ||
	{ cat "$TOP/up.log" >&2; exit 1; }
. "$CL/env"
# every client uncached, as tcmud always is (see handlers/rbd/README.md):
# the same conditions for fio's engine and tcmu-runner
cp "$CEPH_CONF" "$CL/bench.conf"
printf '\n[client]\nrbd_cache = false\n' >>"$CL/bench.conf"
# allocate the whole image (reads of never-written objects would not
# reach the OSD's data)
rbd -c "$CEPH_CONF" bench --io-type write --io-pattern seq --io-size 4M --io-threads 4 \
	--io-total "$SIZE" rbd/bench >"$TOP/fill.log" 2>&1 || { cat "$TOP/fill.log" >&2; exit 1; }

{
	bench_header run-vm-rbd "cluster on the host: 1 mon + 1 memstore OSD on 127.0.0.1 ($CEPH_CLIENT_PORTS), reached through slirp (vm-run -n)"
	bench_tree
	echo "command: bench/run-vm-rbd.sh -t $RUNTIME -r $ROUNDS -s $SIZE${BENCH_JOBS:+ BENCH_JOBS='$BENCH_JOBS'}${BENCH_TARGETS:+ BENCH_TARGETS='$BENCH_TARGETS'}"
} >"$log"
cat "$log"

envs=(-e "VM_BUILD=$BUILD" -e "BENCH_ROOT=$ROOT" -e "BENCH_RUNTIME=$RUNTIME" -e "BENCH_ROUNDS=$ROUNDS"
	-e "BENCH_SIZE=$SIZE" -e "CEPH_CONF=$CL/bench.conf" -e BENCH_IMAGE=bench -e BENCH_POOL=rbd)
for v in BENCH_TARGETS BENCH_JOBS BENCH_OSD_TIMEOUT BENCH_MAX_SECTORS BENCH_DATA_AREA_MB; do
	[[ -n ${!v:-} ]] && envs+=(-e "$v=${!v}")
done
rc=0
"$ROOT/tests/vm/vm-run" -t 1800 -c 2 -m 4G -n "$CEPH_CLIENT_PORTS" "${envs[@]}" -- \
	"/bin/bash $(printf '%q' "$ROOT/bench/vm-guest-rbd.sh")" 2>&1 | tee -a "$log" || rc=$?
((rc == 0)) || { echo "run-vm-rbd: the guest failed (exit $rc); log: $log" >&2; exit 1; }

{
	sed -n '1,/^command:/p' "$log"
	grep '^INFO' "$log" | sed 's/^INFO /- /'
	echo
	python3 "$ROOT/bench/vm-rbd-table.py" "$log"
} >"$md"
echo
cat "$md"
echo "run-vm-rbd: results in $md (raw log: $log)"
