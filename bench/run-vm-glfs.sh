#!/bin/bash
# bench/run-vm-glfs.sh — user:glfs against its ceiling, in one guest boot:
# starts a private single-brick GlusterFS volume on the host
# (tests/clusters/gluster-up, brick on the host's disk), boots the test VM
# with the volume's ports forwarded (vm-run -n), runs bench/vm-guest-glfs.sh
# there (tcmud + user:glfs + tcm_loop, then fio's gfapi engines on the same
# file), stops the volume, and keeps the tables (bench/vm-table-glfs.py)
# with the raw log in bench/results/<date>-vm-glfs-<host>.{md,log}.
#
#   bench/run-vm-glfs.sh [-b BUILD_DIR] [-t SECONDS_PER_JOB] [-r ROUNDS] [-s SIZE_MIB] [-o OUT_BASENAME]
#
# BUILD_DIR (default build-bench) must be a release build; it is configured
# and built here when it has no tcmud.  GLFS_BENCH_STRICT=off leaves the
# volume's performance.strict-o-direct at its default (see below).  Env for
# the guest: BENCH_JOBS,
# BENCH_TARGETS (see bench/vm-guest-glfs.sh); GLFS_BENCH_DIR: where the
# volume's state and brick go (default a new /tmp/glfs-bench.XXXXXX: it
# must be ext4/xfs, not tmpfs).  Only one glusterd per machine: this fails
# when another one holds port 24007 (e.g. a ctest glfs_cluster fixture).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD=$ROOT/build-bench
RUNTIME=${BENCH_RUNTIME:-8}
SIZE=${BENCH_SIZE:-64}
ROUNDS=${BENCH_ROUNDS:-1}
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
bench_release_build run-vm-glfs handler_glfs tcmud handler_glfs
[[ -e $BUILD/handlers/handler_glfs.so ]] ||
	{ echo "run-vm-glfs: no handler_glfs.so in $BUILD (libglusterfs-dev missing?)" >&2; exit 1; }
bench_outputs vm-glfs

GDIR=${GLFS_BENCH_DIR:-$(mktemp -d /tmp/glfs-bench.XXXXXX)}
trap '"$ROOT/tests/clusters/gluster-down" "$GDIR" >/dev/null 2>&1 || true' EXIT
"$ROOT/tests/clusters/gluster-up" -v gvbench "$GDIR" 2>&1 | tail -n1
. "$GDIR/env"
# O_DIRECT means the same for every client: user:glfs sets write-behind's
# strict-O_DIRECT itself (a write is acknowledged once the brick has it);
# fio's gfapi engines get it from the volume (GLFS_BENCH_STRICT=off: the
# volume's default, write-behind then acknowledges O_DIRECT writes early)
STRICT=${GLFS_BENCH_STRICT:-on}
$GLUSTER_CLI volume set "$GLUSTER_VOLUME" performance.strict-o-direct "$STRICT" >/dev/null

{
	bench_header run-vm-glfs "volume reached through vm-run -n (slirp + socat)"
	echo "volume: GlusterFS $(glusterfsd --version | head -n1 | awk '{print $2}'), single brick $GLUSTER_BRICK_DIR ($(findmnt -no FSTYPE -T "$GLUSTER_BRICK_DIR") on the host), strict-o-direct $STRICT, ports $GLUSTER_CLIENT_PORTS"
	bench_tree
	echo "command: bench/run-vm-glfs.sh -t $RUNTIME -r $ROUNDS -s $SIZE${GLFS_BENCH_STRICT:+ GLFS_BENCH_STRICT=$GLFS_BENCH_STRICT}${BENCH_JOBS:+ BENCH_JOBS='$BENCH_JOBS'}${BENCH_TARGETS:+ BENCH_TARGETS='$BENCH_TARGETS'}"
} >"$log"
cat "$log"

envs=(-e "VM_BUILD=$BUILD" -e "BENCH_ROOT=$ROOT" -e "BENCH_RUNTIME=$RUNTIME" -e "BENCH_SIZE=$SIZE" -e "BENCH_ROUNDS=$ROUNDS"
	-e "GLUSTER_VOLUME=$GLUSTER_VOLUME" -e "GLUSTER_PORT=$GLUSTER_PORT")
for v in BENCH_JOBS BENCH_TARGETS; do
	[[ -n ${!v:-} ]] && envs+=(-e "$v=${!v}")
done
rc=0
"$ROOT/tests/vm/vm-run" -t 1800 -c 2 -m 4G -n "$GLUSTER_CLIENT_PORTS" "${envs[@]}" -- \
	"/bin/bash $(printf '%q' "$ROOT/bench/vm-guest-glfs.sh")" 2>&1 | tee -a "$log" || rc=$?
((rc == 0)) || { echo "run-vm-glfs: the guest failed (exit $rc); log: $log" >&2; exit 1; }

{
	sed -n '1,/^command:/p' "$log"
	grep '^INFO' "$log" | sed 's/^INFO /- /'
	echo
	python3 "$ROOT/bench/vm-table-glfs.py" "$log"
} >"$md"
echo
cat "$md"
echo "run-vm-glfs: results in $md (raw log: $log)"
