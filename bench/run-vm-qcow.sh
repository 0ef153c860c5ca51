#!/bin/bash
# bench/run-vm-qcow.sh — the qcow2 handler in the real-kernel benchmark, one
# boot: tcmud user:qcow against Debian's tcmu-runner user:qcow on the same
# kind of qcow2 image (v3, 64k clusters, qemu-img, preallocated), and against
# tcmud user:file on a raw image; then the write jobs again on fresh sparse
# images, where every first write to a cluster allocates it.  Each target
# gets its own fresh image; each qcow2 image goes through `qemu-img check`
# afterwards.  Same fio jobs and device settings as bench/run-vm.sh, which
# does the work (bench/vm-guest.sh, targets tcmud-qcow, runner-qcow, ...).
# Results: bench/results/<date>-vm-qcow-<host>.{md,log}.
#
#   bench/run-vm-qcow.sh [-b BUILD_DIR] [-t SECONDS_PER_JOB] [-r ROUNDS] [-o OUT_BASENAME]
#
# Env: BENCH_TARGETS (default below), BENCH_QCOW_OPTS (qemu-img -o, default
# compat=1.1,cluster_size=64k), BENCH_QCOW_PREALLOC (falloc | metadata | ...,
# default falloc), BENCH_SPARSE_JOBS (the jobs on sparse images), and all of
# bench/run-vm.sh's.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
export BENCH_TARGETS=${BENCH_TARGETS:-tcmud-qcow runner-qcow tcmud-file tcmud-qcow-sparse runner-qcow-sparse tcmud-file-sparse}
args=("$@")
have_o=0
for a in "$@"; do [[ $a == -o* ]] && have_o=1; done
if ((!have_o)); then
	host=$(hostname -s 2>/dev/null || hostname)
	args+=(-o "$ROOT/bench/results/$(date -u +%Y-%m-%d)-vm-qcow-$host")
fi
[[ " $* " == *" -h "* ]] && { sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0; }
exec "$ROOT/bench/run-vm.sh" "${args[@]}"
