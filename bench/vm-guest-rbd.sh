#!/bin/bash
# bench/vm-guest-rbd.sh — the rbd benchmark, run INSIDE the test VM by
# bench/run-vm-rbd.sh (one boot for all targets), against the Ceph cluster
# that script started on the host (reached over vm-run -n).  One image, the
# same for every target, one target after the other:
#
#   tcmud     tcmud + user:rbd, exported with tcm_loop (/dev/sdX)
#   fio-rbd   fio --ioengine=rbd: librbd straight from fio, no SCSI, no
#             kernel: the ceiling for any librbd-based target
#   runner    Debian's tcmu-runner + its handler_rbd.so, tcm_loop
#
# For every fio job one line (the format of bench/vm-guest.sh, read by
# bench/vm-rbd-table.py):
#   RESULT <target> <job> iops=.. bw_kib=.. p50_us=.. p99_us=.. ios=..
#          dcpu_ticks=.. sys_ticks=.. hz=..
# dcpu_ticks: the daemon's utime+stime over the job ("-" for fio-rbd, where
# librbd runs inside fio); sys_ticks: busy ticks of the whole guest.
#
# Env (set by run-vm-rbd.sh): BENCH_ROOT (source tree), VM_BUILD (release
# build), CEPH_CONF (the bench conf: the cluster's, plus rbd_cache = false
# for every client), BENCH_POOL, BENCH_IMAGE, BENCH_SIZE (image = LUN
# size), BENCH_TARGETS ("tcmud fio-rbd runner"), BENCH_JOBS ("rw:bs:qd
# ..."), BENCH_RUNTIME (s per job), BENCH_ROUNDS (rounds; even ones run
# the targets in reverse order), BENCH_OSD_TIMEOUT (osd_op_timeout of
# both daemons' LUNs), BENCH_MAX_SECTORS, BENCH_DATA_AREA_MB.
set -uo pipefail

: "${BENCH_ROOT:?}" "${VM_BUILD:?}" "${CEPH_CONF:?}"
BENCH_POOL=${BENCH_POOL:-rbd}
BENCH_IMAGE=${BENCH_IMAGE:-bench}
BENCH_SIZE=${BENCH_SIZE:-256M}
BENCH_TARGETS=${BENCH_TARGETS:-tcmud fio-rbd runner}
BENCH_JOBS=${BENCH_JOBS:-randread:4k:1 randread:4k:32 randwrite:4k:1 randwrite:4k:32 read:1M:4 write:1M:4}
BENCH_RUNTIME=${BENCH_RUNTIME:-8}
BENCH_ROUNDS=${BENCH_ROUNDS:-1}
BENCH_OSD_TIMEOUT=${BENCH_OSD_TIMEOUT:-30}
BENCH_MAX_SECTORS=${BENCH_MAX_SECTORS:-2048}
BENCH_DATA_AREA_MB=${BENCH_DATA_AREA_MB:-256}
RUNNER_BIN=/usr/bin/tcmu-runner
RUNNER_HANDLERS=/usr/lib/x86_64-linux-gnu/tcmu-runner

CASE_DIR=/run/bench
CASE_DATA=/run/bench-data
mkdir -p "$CASE_DIR" "$CASE_DATA"
export CASE_DIR CASE_DATA VM_BUILD CEPH_CONF
# shellcheck source=../tests/vm/lib.sh
source "$BENCH_ROOT/tests/vm/lib.sh"
# shellcheck source=guest-lib.sh
source "$BENCH_ROOT/bench/guest-lib.sh"
HZ=$(getconf CLK_TCK)
CFG="$BENCH_POOL/$BENCH_IMAGE;conf=$CEPH_CONF;osd_op_timeout=$BENCH_OSD_TIMEOUT"

# ticks PID: utime + stime of every thread of PID (0: none).
ticks() {
	local line rest
	(($1)) && read -r line <"/proc/$1/stat" 2>/dev/null || { echo 0; return; }
	rest=${line##*) }
	set -- $rest
	echo $((${12} + ${13}))
}


# run_jobs TARGET PID FIO-ARGS...: every job of BENCH_JOBS with the
# target's fio arguments (a disk, or the rbd engine); PID: its daemon (0:
# none).
run_jobs() {
	local target=$1 pid=$2 spec rw bs qd job d0 d1 s0 s1
	shift 2
	for spec in $BENCH_JOBS; do
		IFS=: read -r rw bs qd <<<"$spec"
		job=$rw-$bs-qd$qd
		d0=$(ticks "$pid")
		s0=$(sys_ticks)
		fio --name="$job" "$@" --rw="$rw" --bs="$bs" --iodepth="$qd" \
			--size="$BENCH_SIZE" --runtime="$BENCH_RUNTIME" --time_based \
			--numjobs=1 --randrepeat=0 --norandommap \
			--output-format=json --output="$CASE_DIR/fio.json" 2>"$CASE_DIR/fio.err" ||
			{ cat "$CASE_DIR/fio.err" >&2; fail "fio $target $job"; }
		s1=$(sys_ticks)
		d1=$(ticks "$pid")
		((pid)) && ! pid_alive "$pid" && fail "the daemon of $target died during $job"
		fio_result "$target" "$job" "$CASE_DIR/fio.json" \
			"$( ((pid)) && echo $((d1 - d0)) || echo -)" $((s1 - s0)) "$HZ"
	done
}

# bench_lun TARGET: the image as a tcm_loop LUN of tcmud or tcmu-runner.
bench_lun() {
	local target=$1 disk
	log "$target: start"
	if [[ $target == runner ]]; then
		[[ -x $RUNNER_BIN && -e $RUNNER_HANDLERS/handler_rbd.so ]] ||
			fail "no $RUNNER_BIN or its handler_rbd.so (apt-get install tcmu-runner)"
		TCMUD=$RUNNER_BIN TCMUD_HANDLERS=$RUNNER_HANDLERS TCMUD_REFERENCE=1 tcmud_start
	else
		tcmud_start
	fi
	user_dev_add bench "rbd/$CFG" "$BENCH_SIZE" hw_max_sectors=$BENCH_MAX_SECTORS \
		max_data_area_mb=$BENCH_DATA_AREA_MB
	disk=$(loop_lun_add 0 "user_$USER_HBA/bench")
	echo "INFO $target disk=$disk cache_type='$(cat /sys/block/${disk#/dev/}/device/scsi_disk/*/cache_type 2>/dev/null)' max_sectors_kb=$(<"/sys/block/${disk#/dev/}/queue/max_sectors_kb")"
	run_jobs "$target" "$TCMUD_PID" --filename="$disk" --ioengine=libaio --direct=1
	loop_lun_del 0
	user_dev_del bench
	if [[ $target == runner ]]; then
		kill -TERM "$TCMUD_PID"
		wait_gone 60 "$TCMUD_PID" || fail "tcmu-runner did not exit"
	else
		tcmud_stop
	fi
}

echo "INFO guest kernel=$(uname -r) cpus=$(nproc) mem=$(awk '/MemTotal/ {print $2}' /proc/meminfo)kB"
echo "INFO tcmud=$("$VM_BUILD/tcmud" --version 2>&1 | head -n1) tcmu-runner=$(dpkg-query -W -f '${Version}' tcmu-runner 2>/dev/null) fio=$(fio --version) librbd=$(dpkg-query -W -f '${Version}' librbd1 2>/dev/null)"
echo "INFO jobs='$BENCH_JOBS' runtime=${BENCH_RUNTIME}s rounds=$BENCH_ROUNDS image=$BENCH_POOL/$BENCH_IMAGE size=$BENCH_SIZE osd_op_timeout=$BENCH_OSD_TIMEOUT"
# rounds alternate the order of the targets (the host's load drifts)
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
	order=$BENCH_TARGETS
	((round % 2)) || order=$(printf '%s\n' $BENCH_TARGETS | tac | tr '\n' ' ')
	log "round $round: $order"
	for t in $order; do
		case $t in
		tcmud | runner) bench_lun "$t" ;;
		fio-rbd)
			log "fio-rbd: start"
			run_jobs fio-rbd 0 --ioengine=rbd --clientname=admin --pool="$BENCH_POOL" \
				--rbdname="$BENCH_IMAGE"
			;;
		*) fail "unknown target $t" ;;
		esac
	done
done
echo "BENCH DONE"
