#!/bin/bash
# bench/run-vm.sh — real kernel, one boot: tcmud (user:file) against Debian's
# tcmu-runner (user:qcow on a raw image) and LIO's in-kernel fileio, all on
# the same tmpfs backing file, exported with tcm_loop, measured with fio.
# Prints the tables (bench/vm-table.py) and keeps them with the raw log in
# bench/results/<date>-vm-<host>.{md,log}.
#
#   bench/run-vm.sh [-b BUILD_DIR] [-t SECONDS_PER_JOB] [-r ROUNDS] [-o OUT_BASENAME]
#
# Env passed to the guest (see bench/vm-guest.sh): BENCH_TARGETS, BENCH_JOBS,
# BENCH_SIZE, BENCH_MAX_SECTORS, BENCH_DATA_AREA_MB, BENCH_PAGES_PER_BLK,
# BENCH_FILE_OPTS, BENCH_WCE; for the qcow2 targets (bench/run-vm-qcow.sh)
# BENCH_QCOW_OPTS, BENCH_QCOW_PREALLOC, BENCH_SPARSE_JOBS, BENCH_SPARSE_MB.
# Needs root, qemu and the packages of scripts/setup.sh (tcmu-runner, fio,
# sg3-utils, dbus).  The build must be a release build (it is configured and
# built here when BUILD_DIR has none).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD=$ROOT/build-bench
RUNTIME=${BENCH_RUNTIME:-10}
ROUNDS=${BENCH_ROUNDS:-1}
OUT=

while getopts b:t:r:o:h opt; do
	case $opt in
	b) BUILD=$(readlink -f "$OPTARG") ;;
	t) RUNTIME=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	o) OUT=$OPTARG ;;
	h) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) exit 2 ;;
	esac
done

# shellcheck source=host-lib.sh
source "$ROOT/bench/host-lib.sh"
bench_release_build run-vm handler_file
bench_outputs vm

{
	bench_header run-vm
	bench_tree
	echo "command: bench/run-vm.sh -t $RUNTIME -r $ROUNDS${BENCH_FILE_OPTS:+ BENCH_FILE_OPTS='$BENCH_FILE_OPTS'}${BENCH_PAGES_PER_BLK:+ BENCH_PAGES_PER_BLK=$BENCH_PAGES_PER_BLK}${BENCH_MAX_SECTORS:+ BENCH_MAX_SECTORS=$BENCH_MAX_SECTORS}${BENCH_DATA_AREA_MB:+ BENCH_DATA_AREA_MB=$BENCH_DATA_AREA_MB}${BENCH_WCE:+ BENCH_WCE=$BENCH_WCE}${BENCH_JOBS:+ BENCH_JOBS='$BENCH_JOBS'}${BENCH_TARGETS:+ BENCH_TARGETS='$BENCH_TARGETS'}${BENCH_INTERLEAVE:+ BENCH_INTERLEAVE=$BENCH_INTERLEAVE}${BENCH_QCOW_OPTS:+ BENCH_QCOW_OPTS=$BENCH_QCOW_OPTS}${BENCH_QCOW_PREALLOC:+ BENCH_QCOW_PREALLOC=$BENCH_QCOW_PREALLOC}${BENCH_SPARSE_JOBS:+ BENCH_SPARSE_JOBS='$BENCH_SPARSE_JOBS'}"
} >"$log"
cat "$log"

envs=(-e "VM_BUILD=$BUILD" -e "BENCH_ROOT=$ROOT" -e "BENCH_RUNTIME=$RUNTIME" -e "BENCH_ROUNDS=$ROUNDS")
for v in BENCH_TARGETS BENCH_JOBS BENCH_SIZE BENCH_MAX_SECTORS BENCH_DATA_AREA_MB \
	BENCH_PAGES_PER_BLK BENCH_FILE_OPTS BENCH_WCE BENCH_PERF_DIR BENCH_DIAG BENCH_INTERLEAVE \
	BENCH_QCOW_OPTS BENCH_QCOW_PREALLOC BENCH_SPARSE_JOBS BENCH_SPARSE_MB; do
	[[ -n ${!v:-} ]] && envs+=(-e "$v=${!v}")
done
if [[ -n ${BENCH_PERF_DIR:-} ]]; then
	mkdir -p "$BENCH_PERF_DIR"
	envs+=(-w "$BENCH_PERF_DIR")
fi
rc=0
"$ROOT/tests/vm/vm-run" -t 3600 -c 2 -m 4G "${envs[@]}" -- \
	"/bin/bash $(printf '%q' "$ROOT/bench/vm-guest.sh")" 2>&1 | tee -a "$log" || rc=$?
((rc == 0)) || { echo "run-vm: the guest failed (exit $rc); log: $log" >&2; exit 1; }

{
	sed -n '1,/^command:/p' "$log"
	grep '^INFO' "$log" | sed 's/^INFO /- /'
	echo
	python3 "$ROOT/bench/vm-table.py" "$log"
} >"$md"
echo
cat "$md"
echo "run-vm: results in $md (raw log: $log)"
