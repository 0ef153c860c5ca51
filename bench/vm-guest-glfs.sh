#!/bin/bash
# bench/vm-guest-glfs.sh — the GlusterFS benchmark, run INSIDE the test VM by
# bench/run-vm-glfs.sh (one boot), against the host's single-brick volume
# that the guest reaches at its own 127.0.0.1 (vm-run -n).  On ONE file of
# the volume, one target after the other:
#
#   tcmud-glfs    tcmud + user:glfs, exported with tcm_loop (/dev/sdX), fio
#                 libaio O_DIRECT on the disk
#   gfapi-async   fio's gfapi_async engine straight on the volume (the same
#                 file, O_DIRECT): the ceiling for any gfapi client here
#   gfapi         fio's gfapi engine (synchronous; QD1 jobs only)
#
# For every fio job one line
#   RESULT <target> <job> iops=.. bw_kib=.. p50_us=.. p99_us=.. ios=..
# (bench/vm-table-glfs.py makes the tables).
#
# Env (set by run-vm-glfs.sh): VM_BUILD (release build tree), BENCH_ROOT
# (source tree), GLUSTER_VOLUME, GLUSTER_PORT, BENCH_RUNTIME (s per job),
# BENCH_SIZE (file/LUN size, MiB), BENCH_JOBS ("rw:bs:qd ..."),
# BENCH_TARGETS ("tcmud-glfs gfapi-async gfapi"), BENCH_ROUNDS (every
# target once per round, in turn, so that the host's changing load hits
# them alike; the tables take medians).
set -uo pipefail

: "${BENCH_ROOT:?}" "${VM_BUILD:?}" "${GLUSTER_VOLUME:?}"
GLUSTER_PORT=${GLUSTER_PORT:-24007}
BENCH_RUNTIME=${BENCH_RUNTIME:-8}
BENCH_SIZE=${BENCH_SIZE:-64}
BENCH_JOBS=${BENCH_JOBS:-randread:4k:1 randread:4k:32 randwrite:4k:1 randwrite:4k:32 read:1M:4 write:1M:4}
BENCH_TARGETS=${BENCH_TARGETS:-tcmud-glfs gfapi-async gfapi}
BENCH_ROUNDS=${BENCH_ROUNDS:-1}
FILE=bench-$(printf '%04x%04x' $RANDOM $RANDOM).img

CASE_DIR=/run/bench
CASE_DATA=/run/bench/data
mkdir -p "$CASE_DIR" "$CASE_DATA"
export CASE_DIR CASE_DATA VM_BUILD
# shellcheck source=../tests/vm/lib.sh
source "$BENCH_ROOT/tests/vm/lib.sh"
# shellcheck source=guest-lib.sh
source "$BENCH_ROOT/bench/guest-lib.sh"
export TCMU_LOG_DIR=$CASE_DIR


# run_jobs TARGET FIO-ARGS...: every job of BENCH_JOBS with the target's
# own fio arguments (engine, file); QD>1 jobs are skipped for "gfapi".
run_jobs() {
	local target=$1 spec rw bs qd job
	shift
	for spec in $BENCH_JOBS; do
		IFS=: read -r rw bs qd <<<"$spec"
		[[ $target == gfapi && $qd != 1 ]] && continue
		job=$rw-$bs-qd$qd
		log "$target: $job"
		fio --name="$job" "$@" --rw="$rw" --bs="$bs" --iodepth="$qd" --direct=1 \
			--size="${BENCH_SIZE}M" --runtime="$BENCH_RUNTIME" --time_based \
			--randrepeat=0 --norandommap --output-format=json \
			--output="$CASE_DIR/fio.json" 2>"$CASE_DIR/fio.err" ||
			{ cat "$CASE_DIR/fio.err" >&2; fail "fio $target $job"; }
		fio_result "$target" "$job" "$CASE_DIR/fio.json"
	done
}

log "glfs bench: volume $GLUSTER_VOLUME at 127.0.0.1:$GLUSTER_PORT, file $FILE, ${BENCH_SIZE} MiB, ${BENCH_RUNTIME} s per job"
echo "INFO file $FILE on $GLUSTER_VOLUME, ${BENCH_SIZE} MiB; jobs: $BENCH_JOBS; ${BENCH_RUNTIME} s each; $BENCH_ROUNDS round(s); fio $(fio --version)"
filled=0
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
for target in $BENCH_TARGETS; do
	case $target in
	tcmud-glfs)
		need_tcmud glfs
		tcmud_start
		user_dev_add bench "glfs/$GLUSTER_VOLUME@127.0.0.1:$GLUSTER_PORT/$FILE" "${BENCH_SIZE}M"
		disk=$(loop_lun_add 0 "user_$USER_HBA/bench")
		q=/sys/block/${disk#/dev/}/queue
		((round > 1)) ||
			echo "INFO tcmud-glfs disk=$disk max_sectors_kb=$(<"$q/max_sectors_kb") write_cache=$(<"$q/write_cache")"
		# write the whole file first: every target reads allocated data
		if ((!filled)); then
			log "filling $disk"
			dd if=/dev/zero of="$disk" bs=1M count="$BENCH_SIZE" oflag=direct status=none ||
				fail "filling $disk"
			filled=1
		fi
		run_jobs tcmud-glfs --filename="$disk" --ioengine=libaio
		loop_lun_del 0
		user_dev_del bench
		tcmud_stop
		;;
	gfapi-async | gfapi)
		run_jobs "$target" --ioengine="${target/-/_}" --volume="$GLUSTER_VOLUME" \
			--brick=127.0.0.1 --filename="$FILE"
		;;
	*) fail "unknown target $target" ;;
	esac
done
done
log "glfs bench: done"
