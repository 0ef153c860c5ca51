#!/bin/bash
# bench/vm-guest.sh — the real-kernel benchmark, run INSIDE the test VM by
# bench/run-vm.sh (one boot for everything).  For each target, one after the
# other, on the SAME backing file on tmpfs, exported through tcm_loop:
#
#   tcmud    tcmud + user:file             (user backstore, our daemon)
#   runner   tcmu-runner + user:qcow (raw)  (Debian's reference daemon; it
#                                            ships no file handler, and qcow
#                                            serves a raw image as raw)
#   fileio   LIO's in-kernel fileio backstore
#   tcmud-ram  tcmud + user:ram: no file I/O at all, the floor of what any
#               user backstore costs here (wake-ups, ring, the kernel's
#               completion work done in the daemon's notify write)
#   tcmud+OPT[+OPT][@KEY=VAL[@KEY=VAL]]  a variant of tcmud, reported under
#               that name: ";OPT" appended to the file config for each OPT
#               (e.g. "tcmud+inline=off"), and KEY=VAL given to the kernel
#               at creation instead of the defaults below (e.g.
#               "tcmud@hw_max_sectors=128@data_pages_per_blk=8")
#   tcmud-pollN  the tcmud target with busy_poll_us = N in a tcmu.conf of
#               its own (--config), e.g. "tcmud-poll20": the ring thread
#               spins up to N µs for the next command (docs/tuning.md)
#
#   tcmud-qcow runner-qcow tcmud-file tcmud-qcow-sparse runner-qcow-sparse
#   tcmud-file-sparse   the qcow2 handler against tcmu-runner's and against
#               user:file, each on its own fresh image (bench/run-vm-qcow.sh;
#               see "qcow2" below; env BENCH_QCOW_OPTS, BENCH_QCOW_PREALLOC,
#               BENCH_SPARSE_JOBS, BENCH_SPARSE_MB)
#
# both user backstores are created with the same hw_max_sectors and
# max_data_area_mb.  For every fio job it prints one line
#   RESULT <target> <job> iops=.. bw_kib=.. p50_us=.. p99_us=.. ios=..
#          dcpu_ticks=.. sys_ticks=.. hz=..
# where dcpu_ticks is the daemon's utime+stime (/proc/<pid>/stat, all its
# threads, io_uring workers included) and sys_ticks the busy time of the
# whole guest (/proc/stat) over the fio run; for a daemon the line goes on
# with utime_ticks= stime_ticks= (the split of dcpu_ticks), minflt= majflt=
# (page faults) and vcsw= nvcsw= (voluntary = wake-ups after sleeping, and
# involuntary context switches of its live threads).  bench/vm-table.py turns those
# lines into the table.
#
# Env (set by run-vm.sh): VM_BUILD (release build tree), BENCH_ROOT (the
# source tree), BENCH_TARGETS ("tcmud runner fileio"), BENCH_JOBS
# ("rw:bs:qd ..."), BENCH_RUNTIME (s per job), BENCH_SIZE (LUN size),
# BENCH_ROUNDS, BENCH_MAX_SECTORS (hw_max_sectors of the user backstores),
# BENCH_DATA_AREA_MB (their max_data_area_mb), BENCH_PAGES_PER_BLK (their
# data_pages_per_blk; empty: kernel default), BENCH_FILE_OPTS (appended to
# tcmud's file config, e.g. ";engine=threads"), BENCH_WCE (emulate_write_cache
# of all three, empty: default), BENCH_PERF_DIR (a host directory shared
# read-write: a system-wide `perf record -g` of every job lands there as a
# text report, perf.<target>.<job>.txt), BENCH_DIAG=1 (per job: the
# daemon's CPU by thread, and a second run of the job under strace -c -f for
# the system calls per I/O; diagnostics, not for the table),
# BENCH_INTERLEAVE=1 (only tcmud targets and variants: one tcmud serves a
# LUN per variant, all at once, and every job runs on each LUN in turn, so
# that the host's changing load hits the variants alike: for tuning).
set -uo pipefail

: "${BENCH_ROOT:?}" "${VM_BUILD:?}"
BENCH_TARGETS=${BENCH_TARGETS:-tcmud runner fileio}
BENCH_JOBS=${BENCH_JOBS:-randread:4k:1 randread:4k:32 randwrite:4k:1 randwrite:4k:32 read:64k:32 write:64k:32 read:1M:32 write:1M:32}
BENCH_RUNTIME=${BENCH_RUNTIME:-10}
BENCH_SIZE=${BENCH_SIZE:-1G}
BENCH_ROUNDS=${BENCH_ROUNDS:-1}
BENCH_MAX_SECTORS=${BENCH_MAX_SECTORS:-2048}
BENCH_DATA_AREA_MB=${BENCH_DATA_AREA_MB:-256}
BENCH_PAGES_PER_BLK=${BENCH_PAGES_PER_BLK:-}
BENCH_FILE_OPTS=${BENCH_FILE_OPTS:-}
BENCH_WCE=${BENCH_WCE:-}
BENCH_PERF_DIR=${BENCH_PERF_DIR:-}
BENCH_DIAG=${BENCH_DIAG:-0}
BENCH_INTERLEAVE=${BENCH_INTERLEAVE:-0}
RUNNER_BIN=/usr/bin/tcmu-runner
RUNNER_HANDLERS=/usr/lib/x86_64-linux-gnu/tcmu-runner
PY=/usr/bin/python3

CASE_DIR=/run/bench
CASE_DATA=/mnt/bench
export CASE_DIR CASE_DATA VM_BUILD
# shellcheck source=../tests/vm/lib.sh
source "$BENCH_ROOT/tests/vm/lib.sh"
# shellcheck source=guest-lib.sh
source "$BENCH_ROOT/bench/guest-lib.sh"
IMG=$CASE_DATA/disk.img
HZ=$(getconf CLK_TCK)

mountpoint -q "$CASE_DATA" || mount -t tmpfs -o size=3G bench "$CASE_DATA" || fail "tmpfs $CASE_DATA"

# pid_ticks PID: utime + stime of every thread of PID, dead ones included.
pid_ticks() {
	local line rest
	read -r line <"/proc/$1/stat" || { echo 0; return; }
	rest=${line##*) }
	set -- $rest
	echo $((${12} + ${13}))
}

# pid_detail PID: "utime stime minflt majflt vcsw nvcsw" of PID (all its
# threads: /proc/PID/stat for the first four, the live threads' status for
# the context switches; dead threads' switches are lost, fine for deltas
# over a job where the daemon's threads live on).
pid_detail() {
	local pid=$1 line rest t v=0 nv=0 k val
	read -r line <"/proc/$pid/stat" || { echo 0 0 0 0 0 0; return; }
	rest=${line##*) }
	set -- $rest
	local ut=${12} st=${13} mi=${8} ma=${10}
	for t in /proc/"$pid"/task/*/status; do
		while read -r k val _; do
			case $k in
			voluntary_ctxt_switches:) v=$((v + val)) ;;
			nonvoluntary_ctxt_switches:) nv=$((nv + val)) ;;
			esac
		done <"$t" 2>/dev/null
	done
	echo "$ut $st $mi $ma $v $nv"
}


# thread_ticks PID: "comm:ticks" for every live thread of PID.
thread_ticks() {
	local t line rest comm
	for t in /proc/"$1"/task/*; do
		read -r line <"$t/stat" 2>/dev/null || continue
		comm=${line#*(}
		comm=${comm%%)*}
		rest=${line##*) }
		set -- $rest
		printf '%s/%s:%s ' "${t##*/}" "${comm// /_}" $((${12} + ${13}))
	done
}

# diag TARGET JOB PID FIO-ARGS...: BENCH_DIAG=1 extras for one job.
diag() {
	local target=$1 job=$2 pid=$3 sp ios
	shift 3
	((BENCH_DIAG)) && ((pid)) || return 0
	echo "DIAG $target $job threads(after): $(thread_ticks "$pid")"
	command -v strace >/dev/null || return 0
	strace -c -f -p "$pid" -o "$CASE_DIR/strace.txt" &
	sp=$!
	nap 1
	fio "$@" --output-format=json --output="$CASE_DIR/fio.diag.json" 2>/dev/null || true
	kill -INT "$sp"
	wait "$sp" 2>/dev/null || true
	ios=$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print(j["read"]["total_ios"]+j["write"]["total_ios"])' "$CASE_DIR/fio.diag.json" 2>/dev/null || echo 0)
	echo "DIAG $target $job strace (ios=$ios):"
	sed -n '1,/^-.*total/p' "$CASE_DIR/strace.txt" | sed 's/^/DIAG   /' | head -25
}

# perf_start / perf_stop NAME: a system-wide profile of one job (BENCH_PERF_DIR).
# Under TCG the guest has no PMU and its cpu-clock samples land almost all
# in the idle loop (84 % idle while /proc/stat showed the guest 70 % busy):
# use it on a KVM host.
PERF_PID=
perf_start() {
	[[ -n $BENCH_PERF_DIR ]] || return 0
	# a fixed span inside fio's run: a SIGINT-stopped `perf record -a`
	# started from this script kept only a few samples
	perf record -a -g -F 499 -o "$CASE_DIR/perf.data" -- sleep "$((BENCH_RUNTIME > 3 ? BENCH_RUNTIME - 2 : 1))" \
		>"$CASE_DIR/perf.rec.log" 2>&1 &
	PERF_PID=$!
}
perf_stop() {
	[[ -n $PERF_PID ]] || return 0
	wait "$PERF_PID" || true
	PERF_PID=
	perf report -i "$CASE_DIR/perf.data" --stdio --no-children --sort comm,dso,sym \
		--percent-limit 0.2 -g none >"$BENCH_PERF_DIR/perf.$1.txt" 2>&1 || true
	perf report -i "$CASE_DIR/perf.data" --stdio --children --sort sym \
		--percent-limit 2 -g caller,0.5,callee --max-stack 24 \
		>"$BENCH_PERF_DIR/perf.$1.callers.txt" 2>&1 || true
}

# run_jobs TARGET DISK PID [SPEC...]: the fio jobs SPEC (default: every one
# of BENCH_JOBS) on DISK; PID is the daemon (0: none).
run_jobs() {
	local target=$1 disk=$2 pid=$3 spec rw bs qd d0 d1 s0 s1 job specs x0 x1 extra
	shift 3
	specs=${*:-$BENCH_JOBS}
	for spec in $specs; do
		IFS=: read -r rw bs qd <<<"$spec"
		job=$rw-$bs-qd$qd
		d0=0 d1=0
		((pid)) && d0=$(pid_ticks "$pid") && x0=($(pid_detail "$pid"))
		s0=$(sys_ticks)
		perf_start
		fio --name="$job" --filename="$disk" --rw="$rw" --bs="$bs" --iodepth="$qd" \
			--ioengine=libaio --direct=1 --size="$BENCH_SIZE" --runtime="$BENCH_RUNTIME" \
			--time_based --numjobs=1 --randrepeat=0 --norandommap \
			--output-format=json --output="$CASE_DIR/fio.json" 2>"$CASE_DIR/fio.err" ||
			{ cat "$CASE_DIR/fio.err" >&2; fail "fio $target $job"; }
		s1=$(sys_ticks)
		((pid)) && d1=$(pid_ticks "$pid") && x1=($(pid_detail "$pid"))
		perf_stop "$target.$job"
		extra=
		((pid)) && extra=" utime_ticks=$((x1[0] - x0[0])) stime_ticks=$((x1[1] - x0[1])) minflt=$((x1[2] - x0[2])) majflt=$((x1[3] - x0[3])) vcsw=$((x1[4] - x0[4])) nvcsw=$((x1[5] - x0[5]))"
		((pid)) && ! pid_alive "$pid" && fail "the daemon of $target died during $job"
		fio_result "$target" "$job" "$CASE_DIR/fio.json" \
			"$([[ $pid == 0 ]] && echo - || echo $((d1 - d0)))" $((s1 - s0)) "$HZ" "$extra"
		diag "$target" "$job" "$pid" --name="$job" --filename="$disk" --rw="$rw" --bs="$bs" \
			--iodepth="$qd" --ioengine=libaio --direct=1 --size="$BENCH_SIZE" \
			--runtime="$BENCH_RUNTIME" --time_based --randrepeat=0 --norandommap
	done
}

# describe TARGET DISK BACKSTORE: what the kernel and the disk say.
describe() {
	local q=/sys/block/${2#/dev/}/queue so=$CFS/core/$3 a line=
	for a in hw_max_sectors hw_block_size max_data_area_mb data_pages_per_blk emulate_write_cache hw_queue_depth; do
		[[ -e $so/attrib/$a ]] && line+=" $a=$(<"$so/attrib/$a")"
	done
	# what the initiator was told about the write cache (MODE SENSE WCE):
	# "write through" makes every write FUA for a user backstore
	for a in /sys/block/${2#/dev/}/device/scsi_disk/*/cache_type; do
		[[ -e $a ]] && line+=" cache_type='$(<"$a")'"
	done
	echo "INFO $1 disk=$2 max_sectors_kb=$(<"$q/max_sectors_kb") max_hw_sectors_kb=$(<"$q/max_hw_sectors_kb")$line"
}

# user_kv [KEY=VAL...]: the control keys of a user backstore (overrides last).
user_kv() {
	local -A kv=([hw_max_sectors]=$BENCH_MAX_SECTORS [max_data_area_mb]=$BENCH_DATA_AREA_MB)
	local a out=()
	[[ -n $BENCH_PAGES_PER_BLK ]] && kv[data_pages_per_blk]=$BENCH_PAGES_PER_BLK
	for a in "$@"; do kv[${a%%=*}]=${a#*=}; done
	for a in "${!kv[@]}"; do out+=("$a=${kv[$a]}"); done
	echo "${out[@]}"
}

set_wce() {
	[[ -n $BENCH_WCE ]] || return 0
	printf '%s' "$BENCH_WCE" >"$CFS/core/$1/attrib/emulate_write_cache" ||
		fail "cannot set emulate_write_cache on $1"
}

# wait_warm LABEL PID: waits until the file handler's mapping warm-up
# threads of the daemon PID have ended (prefaulting the image's mapping,
# handlers/file/map.c), so that no job pays for it; says how long it took.
wait_warm() {
	local t0=$SECONDS busy=0
	for _ in $(seq 1200); do
		busy=0
		grep -qx tcmu-file-warm /proc/"$2"/task/*/comm 2>/dev/null && busy=1
		((busy)) || break
		sleep 0.1
	done
	((busy)) && fail "$1: the mapping warm-up did not end in 120 s"
	echo "INFO $1 mapping warm-up waited $((SECONDS - t0)) s"
}

# bench_tcmud LABEL EXTRA_OPTS [KEY=VAL...] (LABEL tcmud-ram: the ram handler;
# env BENCH_TCMUD_CONF: the tcmu.conf tcmud gets with --config)
bench_tcmud() {
	local label=$1 opts=$2 disk cfg
	shift 2
	log "$label: start"
	tcmud_start ${BENCH_TCMUD_CONF:+--config "$BENCH_TCMUD_CONF"}
	cfg="file/$IMG$BENCH_FILE_OPTS$opts"
	[[ $label == tcmud-ram ]] && cfg=ram/bench
	user_dev_add bench "$cfg" "$BENCH_SIZE" $(user_kv "$@")
	set_wce "user_$USER_HBA/bench"
	disk=$(loop_lun_add 0 "user_$USER_HBA/bench")
	describe "$label" "$disk" "user_$USER_HBA/bench"
	wait_warm "$label" "$TCMUD_PID"
	run_jobs "$label" "$disk" "$TCMUD_PID"
	loop_lun_del 0
	user_dev_del bench
	tcmud_stop
}

bench_runner() {
	local disk
	log "tcmu-runner: start"
	[[ -x $RUNNER_BIN ]] || fail "no $RUNNER_BIN (apt-get install tcmu-runner)"
	TCMUD=$RUNNER_BIN TCMUD_HANDLERS=$RUNNER_HANDLERS TCMUD_REFERENCE=1 tcmud_start
	user_dev_add bench "qcow/$IMG" "$BENCH_SIZE" $(user_kv)
	set_wce "user_$USER_HBA/bench"
	disk=$(loop_lun_add 0 "user_$USER_HBA/bench")
	grep -q 'will treat as raw' "$CASE_DIR"/tcmu-runner*.log 2>/dev/null &&
		echo "INFO runner: qcow handler treats the image as raw"
	describe runner "$disk" "user_$USER_HBA/bench"
	run_jobs runner "$disk" "$TCMUD_PID"
	loop_lun_del 0
	user_dev_del bench
	kill -TERM "$TCMUD_PID"
	wait_gone 30 "$TCMUD_PID" || fail "tcmu-runner did not exit"
}

bench_fileio() {
	local disk
	log "fileio: start"
	fileio_dev_add bench "$IMG" "$BENCH_SIZE"
	set_wce fileio_1/bench
	disk=$(loop_lun_add 0 fileio_1/bench)
	describe fileio "$disk" fileio_1/bench
	run_jobs fileio "$disk" 0
	loop_lun_del 0
	timeout 60 rmdir "$CFS/core/fileio_1/bench" || fail "cannot remove fileio_1/bench"
}

echo "INFO guest kernel=$(uname -r) cpus=$(nproc) mem=$(awk '/MemTotal/ {print $2}' /proc/meminfo)kB"
echo "INFO tcmud=$("$VM_BUILD/tcmud" --version 2>&1 | head -n1) tcmu-runner=$(dpkg-query -W -f '${Version}' tcmu-runner 2>/dev/null) fio=$(fio --version)"
echo "INFO jobs='$BENCH_JOBS' runtime=${BENCH_RUNTIME}s size=$BENCH_SIZE rounds=$BENCH_ROUNDS"
# The same backing file for all: allocated once (tmpfs pages), never sparse.
rm -f "$IMG"
fallocate -l "$BENCH_SIZE" "$IMG" || fail "fallocate $IMG"
# variant LABEL: sets V_OPTS (file options) and V_KV (backstore keys).
variant() {
	local o=${1#tcmud}
	V_KV=${o#*@}
	[[ $o == *@* ]] || V_KV=
	V_KV=${V_KV//@/ }
	o=${o%%@*}
	o=${o#+}
	V_OPTS=${o:+;${o//+/;}}
}

interleaved() {
	local t i=0 cfg labels=() disks=() spec
	log "interleaved: one tcmud, a LUN per variant"
	tcmud_start
	for t in $BENCH_TARGETS; do
		[[ $t == tcmud* ]] || fail "BENCH_INTERLEAVE takes tcmud variants only, not $t"
		[[ $t == tcmud-poll* ]] && fail "BENCH_INTERLEAVE: $t sets busy_poll_us for the whole daemon, run it without BENCH_INTERLEAVE"
		variant "$t"
		cfg="file/$IMG$BENCH_FILE_OPTS$V_OPTS"
		[[ $t == tcmud-ram ]] && cfg=ram/bench$i
		user_dev_add "bench$i" "$cfg" "$BENCH_SIZE" $(user_kv $V_KV)
		set_wce "user_$USER_HBA/bench$i"
		labels+=("$t")
		i=$((i + 1))
	done
	for i in "${!labels[@]}"; do
		disks[i]=$(loop_lun_add "$i" "user_$USER_HBA/bench$i")
		describe "${labels[i]}" "${disks[i]}" "user_$USER_HBA/bench$i"
	done
	wait_warm interleaved "$TCMUD_PID"
	for round in $(seq "$BENCH_ROUNDS"); do
		echo "INFO round $round"
		for spec in $BENCH_JOBS; do
			for i in "${!labels[@]}"; do
				run_jobs "${labels[i]}" "${disks[i]}" "$TCMUD_PID" "$spec"
			done
		done
	done
	for i in "${!labels[@]}"; do
		loop_lun_del "$i"
		user_dev_del "bench$i"
	done
	tcmud_stop
}

# ------------------------------------------------------------ qcow2 ---
# Targets for the qcow2 handler (bench/run-vm-qcow.sh), each on its OWN
# fresh image, created with the same qemu-img command every time:
#   tcmud-qcow   tcmud + user:qcow, qcow2 image, every BENCH_JOBS job
#   runner-qcow  tcmu-runner + its user:qcow, the same kind of image
#   tcmud-file   tcmud + user:file on the raw image (= target tcmud)
#   tcmud-qcow-sparse, runner-qcow-sparse, tcmud-file-sparse: the
#                BENCH_SPARSE_JOBS (writes) each on a fresh sparse image
#                (qcow2 without preallocation / a truncated raw file) on
#                ext4 over a brd RAM disk, so that the writes allocate:
#                tcmu-runner's qcow handler allocates clusters with
#                fallocate(), which fails on tmpfs.
# The qcow2 image: qemu-img create -f qcow2 -o $BENCH_QCOW_OPTS plus
# preallocation=$BENCH_QCOW_PREALLOC (default falloc: L1/L2 tables and
# refcounts written, data clusters allocated with fallocate like the raw
# image; "metadata" leaves holes).  After every target its image goes
# through `qemu-img check` (lines "INFO check ..."; a failed check fails the
# bench).  When tcmu-runner cannot serve the image, one "INFO" line says so
# and it gets the same image with compat=0.10 instead.
BENCH_QCOW_OPTS=${BENCH_QCOW_OPTS:-compat=1.1,cluster_size=64k}
BENCH_QCOW_PREALLOC=${BENCH_QCOW_PREALLOC:-falloc}
BENCH_SPARSE_JOBS=${BENCH_SPARSE_JOBS:-randwrite:4k:1 randwrite:4k:32 write:64k:32 write:1M:32}
BENCH_SPARSE_MB=${BENCH_SPARSE_MB:-1200}
SPARSE_DIR=/mnt/bench-ext4
QCOW_RUNNER_OPTS=

# sparse_fs: ext4 on a brd RAM disk at $SPARSE_DIR (once; -o discard so
# that deleted images give their pages back).
sparse_fs() {
	mountpoint -q "$SPARSE_DIR" && return 0
	[[ -e /dev/ram0 ]] || modprobe brd rd_nr=1 rd_size=$((BENCH_SPARSE_MB * 1024)) max_part=0 ||
		fail "modprobe brd"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/ram0 || fail "mkfs.ext4 /dev/ram0"
	mkdir -p "$SPARSE_DIR"
	mount -o noatime,discard /dev/ram0 "$SPARSE_DIR" || fail "mount /dev/ram0"
	echo "INFO sparse images: ext4 on brd (${BENCH_SPARSE_MB} MiB RAM disk), fresh image per job"
}

# make_img FMT PATH SPARSE [QCOW_OPTS]: a fresh image of BENCH_SIZE.
make_img() {
	local fmt=$1 path=$2 sparse=$3 opts=${4:-$BENCH_QCOW_OPTS}
	rm -f "$path"
	if [[ $fmt == file ]]; then
		if ((sparse)); then truncate -s "$BENCH_SIZE" "$path"; else fallocate -l "$BENCH_SIZE" "$path"; fi
	else
		((sparse)) || opts+=",preallocation=$BENCH_QCOW_PREALLOC"
		qemu-img create -q -f qcow2 -o "$opts" "$path" "$BENCH_SIZE" ||
			fail "qemu-img create -o $opts $path"
	fi || fail "cannot create $path"
}

# check_img TARGET WHAT PATH: qemu-img check of a qcow2 image after use.
check_img() {
	local out rc=0
	out=$(qemu-img check "$3" 2>&1) || rc=$?
	echo "$out" | sed "s/^/CHECKLOG $1 $2: /"
	echo "INFO check $1 $2: qemu-img check exit $rc: $(echo "$out" | grep -v '^$' | grep -v 'Image end offset' | tr '\n' ' ')"
	((rc == 0)) || fail "qemu-img check of $1 ($2) failed (exit $rc)"
}

# qcow_daemon_start DAEMON / qcow_daemon_stop DAEMON (tcmud | runner)
qcow_daemon_start() {
	if [[ $1 == runner ]]; then
		[[ -x $RUNNER_BIN ]] || fail "no $RUNNER_BIN (apt-get install tcmu-runner)"
		TCMUD=$RUNNER_BIN TCMUD_HANDLERS=$RUNNER_HANDLERS TCMUD_REFERENCE=1 tcmud_start
	else
		tcmud_start
	fi
}
qcow_daemon_stop() {
	if [[ $1 == runner ]]; then
		kill -TERM "$TCMUD_PID"
		wait_gone 30 "$TCMUD_PID" || fail "tcmu-runner did not exit"
	else
		tcmud_stop
	fi
}

# qcow_lun_up TARGET FMT PATH: device + LUN 0 on PATH; prints the disk.
# Returns 1 (nothing left behind) when the daemon refuses the image or a
# first 4k write (zeros at offset 4k, before the jobs) fails.
qcow_lun_up() {
	local cfg=file/$3$BENCH_FILE_OPTS disk
	[[ $2 == qcow ]] && cfg=qcow/$3
	if ! (user_dev_add bench "$cfg" "$BENCH_SIZE" $(user_kv)) >&2; then
		rmdir "$CFS/core/user_$USER_HBA/bench" 2>/dev/null
		return 1
	fi
	# tcmu-runner 1.5.4 refuses a change of emulate_write_cache (the kernel
	# asks the daemon over netlink): noted, not fatal; it announces a
	# write-back cache anyway (see cache_type in the INFO line).
	if [[ -n $BENCH_WCE ]] && ! printf '%s' "$BENCH_WCE" \
		>"$CFS/core/user_$USER_HBA/bench/attrib/emulate_write_cache" 2>/dev/null; then
		if [[ $1 != runner* ]]; then
			user_dev_del bench
			return 1
		fi
		echo "INFO $1: emulate_write_cache=$BENCH_WCE refused by tcmu-runner; left as is" >&2
	fi
	disk=$(loop_lun_add 0 "user_$USER_HBA/bench")
	if ! dd if=/dev/zero of="$disk" bs=4k count=1 seek=1 oflag=direct status=none >&2; then
		loop_lun_del 0
		user_dev_del bench
		return 1
	fi
	echo "$disk"
}

qcow_lun_down() {
	loop_lun_del 0
	user_dev_del bench
}

# bench_img TARGET: one of the targets above.
bench_img() {
	local t=$1 daemon=${1%%-*} fmt sparse=0 path disk spec opts=$BENCH_QCOW_OPTS ext
	fmt=${t#*-}
	fmt=${fmt%%-*}
	[[ $t == *-sparse ]] && sparse=1
	ext=img
	[[ $fmt == qcow ]] && ext=qcow2
	log "$t: start"
	qcow_daemon_start "$daemon"
	if ((sparse)); then
		sparse_fs
		path=$SPARSE_DIR/$t.$ext
		for spec in $BENCH_SPARSE_JOBS; do
			make_img "$fmt" "$path" 1 "$opts"
			disk=$(qcow_lun_up "$t" "$fmt" "$path") || {
				[[ $daemon == runner && $fmt == qcow && $opts != *compat=0.10* ]] ||
					fail "$t cannot serve $path"
				echo "INFO $t: tcmu-runner cannot serve a fresh -o $opts image; using compat=0.10"
				opts=${opts//compat=1.1/compat=0.10}
				[[ $opts == *compat=* ]] || opts+=",compat=0.10"
				make_img "$fmt" "$path" 1 "$opts"
				disk=$(qcow_lun_up "$t" "$fmt" "$path") || fail "$t cannot serve $path"
			}
			# (the probe write of qcow_lun_up allocated one cluster)
			[[ $spec == "${BENCH_SPARSE_JOBS%% *}" ]] && describe "$t" "$disk" "user_$USER_HBA/bench"
			run_jobs "$t" "$disk" "$TCMUD_PID" "$spec"
			qcow_lun_down
			[[ $fmt == qcow ]] && check_img "$t" "$spec" "$path"
			rm -f "$path"
		done
	else
		path=$CASE_DATA/$t.$ext
		make_img "$fmt" "$path" 0 "$opts"
		log "$t: image created (a preallocated image costs seconds under TCG)"
		disk=$(qcow_lun_up "$t" "$fmt" "$path") || {
			[[ $daemon == runner && $fmt == qcow && $opts != *compat=0.10* ]] ||
				fail "$t cannot serve $path"
			echo "INFO $t: tcmu-runner cannot serve a -o $opts image; using compat=0.10"
			opts=${opts//compat=1.1/compat=0.10}
			[[ $opts == *compat=* ]] || opts+=",compat=0.10"
			make_img "$fmt" "$path" 0 "$opts"
			disk=$(qcow_lun_up "$t" "$fmt" "$path") || fail "$t cannot serve $path"
		}
		[[ $fmt == qcow ]] && echo "INFO $t image: qcow2 -o $opts,preallocation=$BENCH_QCOW_PREALLOC"
		describe "$t" "$disk" "user_$USER_HBA/bench"
		wait_warm "$t" "$TCMUD_PID"
		run_jobs "$t" "$disk" "$TCMUD_PID"
		qcow_lun_down
		[[ $fmt == qcow ]] && check_img "$t" all "$path"
		rm -f "$path"
	fi
	qcow_daemon_stop "$daemon"
}

if ((BENCH_INTERLEAVE)); then
	interleaved
else
	for round in $(seq "$BENCH_ROUNDS"); do
		echo "INFO round $round"
		for t in $BENCH_TARGETS; do
			case $t in
			tcmud) bench_tcmud tcmud "" ;;
			tcmud-ram) bench_tcmud tcmud-ram "" ;;
			tcmud-poll*)
				[[ ${t#tcmud-poll} =~ ^[0-9]+$ ]] || fail "unknown target $t (tcmud-pollN: N in µs)"
				printf 'busy_poll_us = %s\n' "${t#tcmud-poll}" >"$CASE_DIR/tcmu.$t.conf"
				BENCH_TCMUD_CONF=$CASE_DIR/tcmu.$t.conf bench_tcmud "$t" "" ;;
			tcmud[+@]*)
				variant "$t"
				bench_tcmud "$t" "$V_OPTS" $V_KV ;;
			runner) bench_runner ;;
			tcmud-file) bench_tcmud tcmud-file "" ;;
			tcmud-qcow | runner-qcow | tcmud-qcow-sparse | runner-qcow-sparse | tcmud-file-sparse)
				bench_img "$t" ;;
			fileio) bench_fileio ;;
			*) fail "unknown target $t" ;;
			esac
		done
	done
fi
cleanup_configfs || true
log "done"
