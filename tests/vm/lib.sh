# tests/vm/lib.sh: helpers for the real-kernel tests, sourced INSIDE the guest
# (by run-cases for every case, or by hand:
#   tests/vm/vm-run 'source tests/vm/lib.sh; user_dev_add d1 file//tmp/d1.img 1M').
#
# Conventions: helpers return 0 or call fail(), which ends the case.  A case
# that cannot run calls skip "reason".  Everything a case creates lives in
# $CASE_DIR (logs) and $CASE_DATA (backing files); run-cases cleans up after
# each case (cleanup_all) and checks tcmud's logs for sanitizer reports.
#
# Environment (set by run-cases, defaults for hand use):
#   VM_BUILD   the build tree (tcmud, handlers/)     CASE_DIR   per-case logs
#   CASE_DATA  per-case backing files (tmpfs)        TCMUD_DEBUG=1  tcmud --debug

CFS=/sys/kernel/config/target
VM_BUILD=${VM_BUILD:-}
CASE_DIR=${CASE_DIR:-/run/vmtest/manual}
CASE_DATA=${CASE_DATA:-/run/vmtest/manual-data}
USER_HBA=${USER_HBA:-1}        # core/user_<USER_HBA>/ holds the user devices
LOOP_WWN=${LOOP_WWN:-naa.5001405c0de00001}
LOOP_INITIATOR=${LOOP_INITIATOR:-naa.5001405c0de0f001}
TCMUD=${TCMUD:-${VM_BUILD:+$VM_BUILD/tcmud}}
TCMUD_HANDLERS=${TCMUD_HANDLERS:-${VM_BUILD:+$VM_BUILD/handlers}}
# TCMUD_REFERENCE=1: run the cases against Debian's tcmu-runner instead, to
# check the cases themselves ("file/" configs become its raw "qcow/"; no
# ram handler, no tcmud-only options).
if [[ ${TCMUD_REFERENCE:-0} == 1 ]]; then
	TCMUD=/usr/bin/tcmu-runner
	TCMUD_HANDLERS=/usr/lib/x86_64-linux-gnu/tcmu-runner
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ------------------------------------------------------------- basics ---
# Under TCG an exec of a dynamically linked host binary (over 9p) costs
# 0.1-0.7 s, of the guest's static busybox ~30 ms, a bash fork ~0.1 s: the
# helpers stick to builtins and busybox where they can.

# bb APPLET ARGS...: busybox's APPLET (the host's tool outside vm-run).
BB=${BB:-/run/vm/busybox}
bb() {
	if [[ -x $BB ]]; then "$BB" "$@"; else command "$@"; fi
}

[[ -d $CASE_DIR && -d $CASE_DATA ]] || bb mkdir -p "$CASE_DIR" "$CASE_DATA"

# log MSG: a timestamped progress line (guest uptime) on stdout.
log() {
	local up _
	read -r up _ </proc/uptime
	printf '[%7s] %s\n' "$up" "$*"
}

# trace MSG: like log, on stderr (helpers whose stdout is their result use
# it); both end up in the case's output.
trace() { log "$@" >&2; }

# nap SECONDS: sleep without an exec (a read that times out on a pipe that
# nobody writes to).
nap() {
	[[ -n ${_NAP_FD:-} ]] || exec {_NAP_FD}<> <(:)
	read -r -t "$1" -u "$_NAP_FD" _ || true
}

# now_ms: wall clock in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# fail MSG: ends the case as failed.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# skip REASON: ends the case as skipped (run-cases prints the reason).
skip() {
	echo "$*" >"$CASE_DIR/skip-reason"
	exit 77
}

# retry_until SECONDS CMD...: runs CMD until it succeeds, first every 20 ms,
# then every 100 ms; returns 1 if it did not succeed in time.
retry_until() {
	local secs=$1 end n=0 t
	shift
	t=${EPOCHREALTIME/./}
	end=$((t + secs * 1000000))
	until "$@"; do
		t=${EPOCHREALTIME/./}
		((t < end)) || return 1
		if ((n++ < 10)); then nap 0.02; else nap 0.1; fi
	done
}

# to_bytes SIZE: 64M -> 67108864 (K, M, G: powers of 1024; plain bytes).
to_bytes() {
	[[ $1 =~ ^([0-9]+)([KMG]?)i?B?$ ]] || return 1
	case ${BASH_REMATCH[2]} in
	K) echo $((BASH_REMATCH[1] << 10)) ;;
	M) echo $((BASH_REMATCH[1] << 20)) ;;
	G) echo $((BASH_REMATCH[1] << 30)) ;;
	*) echo "${BASH_REMATCH[1]}" ;;
	esac
}

# pid_alive PID: does PID run?  (Not "kill -0": bash may leave an exited
# child unreaped for a while, and kill -0 succeeds on a zombie.)
pid_alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[[ ${st:0:1} != Z ]]
}

# wait_gone SECONDS PID: waits until PID (a child or not) has exited.
wait_gone() {
	_pid_gone() { ! pid_alive "$1"; }
	retry_until "$1" _pid_gone "$2"
}

# hang_report PID WHAT: records a writer stuck in the kernel: its kernel
# stack, the kernel stacks of every tcmud thread and the kernel's list of
# blocked tasks (sysrq w, in the kernel log), in $CASE_DIR/hung.txt.
hang_report() {
	local pid=$1 what=$2 t p c
	echo "$what" >>"$CASE_DIR/hung"
	{
		echo "=== $what: pid $pid, kernel stack:"
		echo "$(<"/proc/$pid/stack")"
		for p in /proc/[0-9]*; do
			read -r c 2>/dev/null <"$p/comm" || continue
			[[ $c == tcmud || $c == tcmu-runner ]] || continue
			for t in "$p"/task/*; do
				read -r c 2>/dev/null <"$t/comm"
				echo "=== ${p#/proc/} thread ${t##*/} ($c):"
				echo "$(<"$t/stack")"
			done
		done
	} >>"$CASE_DIR/hung.txt" 2>&1
	echo w >/proc/sysrq-trigger 2>/dev/null || true
	cat "$CASE_DIR/hung.txt" >&2
}

# write_timeout SECONDS FILE VALUE: writes VALUE to FILE (configfs/sysfs)
# from a background process; fails if the write fails, and says "hung" if
# it did not return in time (a writer stuck in the kernel cannot be killed:
# run-cases then stops running cases in this guest).
write_timeout() {
	local secs=$1 file=$2 value=$3 pid rc=0
	(printf '%s' "$value" >"$file") 2>"$CASE_DIR/write.err" &
	pid=$!
	if ! wait_gone "$secs" "$pid"; then
		hang_report "$pid" "'$value' > $file"
		fail "configfs writer hung for ${secs}s: '$value' > $file"
	fi
	wait "$pid" || rc=$?
	((rc == 0)) || fail "'$value' > $file: $(cat "$CASE_DIR/write.err")"
}

# ------------------------------------------------ user (TCMU) backstores ---

# user_dev_add NAME CONFIG SIZE [KEY=VALUE...]: creates and enables
# core/user_$USER_HBA/NAME with dev_config=CONFIG (e.g. file//path),
# dev_size=SIZE and the optional control keys (hw_block_size, hw_max_sectors,
# max_data_area_mb, cmd_ring_size_mb, data_pages_per_blk, nl_reply_supported).
# Enabling blocks until the daemon answers the netlink ADDED event, if one
# is listening.  Env: ENABLE_TIMEOUT (default 60 s).
user_dev_add() {
	local name=$1 cfg=$2 size dir kv
	size=$(to_bytes "$3") || fail "bad size $3"
	shift 3
	dir=$CFS/core/user_$USER_HBA/$name
	if [[ ${TCMUD_REFERENCE:-0} == 1 && $cfg == file/* ]]; then
		cfg=qcow/${cfg#file/}
		cfg=${cfg%%;*}
		[[ -e ${cfg#qcow/} ]] || bb truncate -s "$size" "${cfg#qcow/}"
	fi
	bb mkdir -p "$dir" || fail "mkdir $dir"
	# (control writes only parse: they never wait for the daemon)
	printf 'dev_config=%s' "$cfg" >"$dir/control" || fail "dev_config=$cfg > $dir/control"
	kv=dev_size=$size
	(($#)) && kv+=$(printf ',%s' "$@")
	printf '%s' "$kv" >"$dir/control" || fail "$kv > $dir/control"
	write_timeout "${ENABLE_TIMEOUT:-60}" "$dir/enable" 1
	trace "user device $name enabled ($cfg, $size bytes${*:+, $*})"
}

# user_dev_attr NAME ATTR [VALUE]: reads (or writes) attrib/ATTR of a user device.
user_dev_attr() {
	local f=$CFS/core/user_$USER_HBA/$1/attrib/$2
	if (($# > 2)); then write_timeout 10 "$f" "$3"; else printf '%s\n' "$(<"$f")"; fi
}

# user_dev_uio NAME: prints /dev/uioN of the user device NAME (its UIO name
# is tcm-user/<hba>/<name>/<config>); fails if there is none.
user_dev_uio() {
	local u n
	for u in /sys/class/uio/uio*; do
		[[ -e $u/name ]] || continue
		n=$(<"$u/name")
		[[ $n == "tcm-user/$USER_HBA/$1/"* ]] && { echo "/dev/${u##*/}"; return 0; }
	done
	fail "no UIO device for user device $1"
}

# user_dev_del NAME: disables and removes the user device (the daemon gets
# the netlink REMOVED event).  Env: REMOVE_TIMEOUT (default 60 s).
user_dev_del() {
	local dir=$CFS/core/user_$USER_HBA/$1 pid
	[[ -d $dir ]] || return 0
	bb rmdir "$dir" 2>"$CASE_DIR/rmdir.err" &
	pid=$!
	if ! wait_gone "${REMOVE_TIMEOUT:-60}" "$pid"; then
		hang_report "$pid" "rmdir $dir"
		fail "rmdir $dir hung"
	fi
	wait "$pid" || fail "rmdir $dir: $(cat "$CASE_DIR/rmdir.err")"
}

# -------------------------------------------------- in-kernel backstores ---

# fileio_dev_add NAME FILE SIZE: an in-kernel fileio device core/fileio_1/NAME
# (used to check the loopback helpers without tcmud).
fileio_dev_add() {
	local dir=$CFS/core/fileio_1/$1 size
	size=$(to_bytes "$3")
	bb truncate -s "$size" "$2"
	bb mkdir -p "$dir" || fail "mkdir $dir"
	write_timeout 10 "$dir/control" "fd_dev_name=$2,fd_dev_size=$size"
	write_timeout 10 "$dir/enable" 1
}

# ------------------------------------------------------------ tcm_loop ---

# loop_setup: the tcm_loop target $LOOP_WWN with its I_T nexus.  The nexus
# must exist before LUNs are added: tcm_loop only scans a LUN when it is
# linked.
loop_setup() {
	local tpg=$CFS/loopback/$LOOP_WWN/tpgt_1
	[[ -e $tpg/nexus && -n $(<"$tpg/nexus") ]] 2>/dev/null && return 0
	bb mkdir -p "$tpg" || fail "mkdir $tpg"
	write_timeout 10 "$tpg/nexus" "$LOOP_INITIATOR"
}

# loop_host: the SCSI host number of the tcm_loop target.
loop_host() {
	local a
	a=$(<"$CFS/loopback/$LOOP_WWN/tpgt_1/address") || fail "no tcm_loop address"
	echo "${a%%:*}"
}

# loop_disk LUN: prints /dev/sdX of LUN (empty if it is not there yet).
loop_disk() {
	local h b
	h=$(loop_host)
	for b in /sys/class/scsi_device/"$h":0:1:"$1"/device/block/*; do
		[[ -e $b ]] && echo "/dev/${b##*/}"
	done
	return 0
}

# loop_lun_add LUN BACKSTORE: exports core/BACKSTORE (e.g. user_1/d1) as
# LUN, waits for its disk and clears the unit attentions a new LUN raises
# (REPORTED LUNS DATA HAS CHANGED, power on/reset).  Prints /dev/sdX.
loop_lun_add() {
	local lun=$1 bs=$2 dir dev=
	loop_setup
	dir=$CFS/loopback/$LOOP_WWN/tpgt_1/lun/lun_$lun
	bb mkdir -p "$dir" || fail "mkdir $dir"
	bb ln -s "$CFS/core/$bs" "$dir/${bs//\//_}" || fail "cannot link $bs to LUN $lun"
	_found_disk() { dev=$(loop_disk "$lun"); [[ -n $dev && -b $dev ]]; }
	retry_until 60 _found_disk || fail "no disk for LUN $lun ($bs) after 60 s"
	loop_clear_ua
	trace "LUN $lun ($bs) is $dev"
	echo "$dev"
}

# loop_clear_ua: a new LUN raises unit attentions (power on/reset on it,
# REPORTED LUNS DATA HAS CHANGED on the others); the kernel's own I/O
# retries them, but sg_* tools would see them.  Eats them on every LUN.
loop_clear_ua() {
	local h d
	h=$(loop_host)
	for d in /sys/class/scsi_device/"$h":0:1:*/device/scsi_generic/sg*; do
		[[ -e $d ]] || continue
		retry_until 30 sg_turs "/dev/${d##*/}" >/dev/null 2>&1 ||
			fail "TEST UNIT READY keeps failing on /dev/${d##*/} ($(basename "$(dirname "$(dirname "$d")")"))"
	done
}

# loop_lun_add_sg LUN BACKSTORE: like loop_lun_add, but with no driver
# bound (drivers_autoprobe off meanwhile), so the kernel itself sends the
# LUN no I/O (no partition scan): for LUNs whose handler stalls.  Prints
# /dev/sgN.
loop_lun_add_sg() {
	local lun=$1 bs=$2 dir sg= h rc=0
	loop_setup
	h=$(loop_host)
	dir=$CFS/loopback/$LOOP_WWN/tpgt_1/lun/lun_$lun
	echo 0 >/sys/bus/scsi/drivers_autoprobe
	bb mkdir -p "$dir" && bb ln -s "$CFS/core/$bs" "$dir/${bs//\//_}" || rc=1
	_found_sg() {
		local s
		for s in /sys/class/scsi_device/"$h":0:1:"$lun"/device/scsi_generic/sg*; do
			[[ -e $s ]] && sg=/dev/${s##*/}
		done
		[[ -n $sg && -c $sg ]]
	}
	((rc == 0)) && { retry_until 60 _found_sg || rc=2; }
	echo 1 >/sys/bus/scsi/drivers_autoprobe
	((rc != 1)) || fail "cannot link $bs to LUN $lun"
	((rc != 2)) || fail "no sg device for LUN $lun ($bs) after 60 s"
	loop_clear_ua
	trace "LUN $lun ($bs) is $sg (no disk driver)"
	echo "$sg"
}

# loop_lun_del LUN: unexports LUN (its disk goes away).
loop_lun_del() {
	local dir=$CFS/loopback/$LOOP_WWN/tpgt_1/lun/lun_$1 l
	[[ -d $dir ]] || return 0
	for l in "$dir"/*; do
		[[ -L $l ]] && { bb rm "$l" || fail "unlink $l"; }
	done
	bb rmdir "$dir" || fail "rmdir $dir"
}

# ---------------------------------------------------------------- tcmud ---

# need_tcmud [HANDLER...]: skips the case unless tcmud is built, runs, and
# the named handlers (default: file) are built; tcmud_start then loads
# only those.
need_tcmud() {
	local h
	[[ -n $TCMUD && -x $TCMUD ]] || skip "tcmud is not built ($TCMUD)"
	"$TCMUD" --version >"$CASE_DIR/version" 2>&1 || [[ ${TCMUD_REFERENCE:-0} == 1 ]] ||
		skip "tcmud --version fails: $(head -n1 "$CASE_DIR/version")"
	for h in "${@:-file}"; do
		[[ ${TCMUD_REFERENCE:-0} == 1 && $h == file ]] && h=qcow
		[[ -e $TCMUD_HANDLERS/handler_$h.so ]] || skip "handler_$h.so is not built"
	done
	# Only the handlers the case needs: loading all of them (librbd, gfapi)
	# costs seconds per start under TCG.  TCMUD_ALL_HANDLERS=1 loads all.
	if [[ ${TCMUD_ALL_HANDLERS:-0} != 1 && ${TCMUD_REFERENCE:-0} != 1 ]]; then
		bb mkdir -p "$CASE_DIR/handlers"
		for h in "${@:-file}"; do
			bb cp "$TCMUD_HANDLERS/handler_$h.so" "$CASE_DIR/handlers/"
		done
		TCMUD_HANDLERS=$CASE_DIR/handlers
	fi
}

# system_bus: starts a D-Bus system bus unless there is one (tcmu-runner
# needs one; the targetcli case too).
system_bus() {
	[[ -S /run/dbus/system_bus_socket ]] && pgrep -x dbus-daemon >/dev/null && return 0
	mkdir -p /run/dbus
	rm -f /run/dbus/system_bus_socket
	dbus-daemon --system --nofork --nopidfile >"$CASE_DIR/dbus.log" 2>&1 &
	retry_until 20 test -S /run/dbus/system_bus_socket || fail "no system bus"
}

# tcmud_start [ARGS...]: starts tcmud in the background (logs to
# $CASE_DIR/tcmud.<n>.log), waits until it is ready; sets TCMUD_PID.
tcmud_start() {
	local n=1 args=()
	while [[ -e $CASE_DIR/tcmud.$n.log ]]; do n=$((n + 1)); done
	TCMUD_LOG=$CASE_DIR/tcmud.$n.log
	[[ ${TCMUD_DEBUG:-0} == 1 ]] && args+=(--debug)
	if [[ ${TCMUD_REFERENCE:-0} == 1 ]]; then
		system_bus
		args+=(--tcmu-log-dir "$CASE_DIR")
	else
		args+=(--log-dir "$CASE_DIR")
	fi
	"$TCMUD" --handler-path "$TCMUD_HANDLERS" ${args[@]+"${args[@]}"} \
		"$@" </dev/null >>"$TCMUD_LOG" 2>&1 &
	TCMUD_PID=$!
	echo "$TCMUD_PID" >>"$CASE_DIR/tcmud.pids"
	tcmud_wait_ready "$TCMUD_PID"
	trace "tcmud (pid $TCMUD_PID) is ready"
}

# tcm_user_group: the id of the TCM-USER netlink multicast group "config"
# (cached in TCM_USER_GROUP).
tcm_user_group() {
	local line
	if [[ -z ${TCM_USER_GROUP:-} ]]; then
		while read -r line; do
			[[ $line =~ ID-(0x[0-9a-f]+)\ +name:\ config ]] && TCM_USER_GROUP=${BASH_REMATCH[1]}
		done < <(genl ctrl get name TCM-USER 2>/dev/null)
	fi
	echo "${TCM_USER_GROUP:-}"
}

# _nl_subscribed PID GROUP: does PID hold a generic netlink socket that
# listens to GROUP (bit GROUP-1 of the Groups mask in /proc/net/netlink)?
_nl_subscribed() {
	local pid=$1 grp=$2 inodes _sk eth _port groups _r _w _d _l _dr inode
	inodes=" $(bb stat -L -c %i "/proc/$pid/fd/"* 2>/dev/null) "
	inodes=${inodes//$'\n'/ }
	while read -r _sk eth _port groups _r _w _d _l _dr inode; do
		[[ $eth == 16 && $inodes == *" $inode "* ]] || continue
		(((16#$groups >> (grp - 1)) & 1)) && return 0
	done </proc/net/netlink
	return 1
}

# _has_open PID FILE: has PID an fd open on FILE?
_has_open() {
	local f
	for f in "/proc/$1/fd/"*; do
		[[ $f -ef $2 ]] && return 0
	done 2>/dev/null
	return 1
}

# _serves_all PID: has PID opened the UIO device of every enabled user device?
_serves_all() {
	local pid=$1 u
	for u in /sys/class/uio/uio*; do
		[[ -e $u/name && $(<"$u/name") == tcm-user/* ]] || continue
		_has_open "$pid" "/dev/${u##*/}" || return 1
	done
}

# tcmud_wait_ready PID: waits (TCMUD_READY_TIMEOUT, default 60 s) until
# tcmud listens to TCM-USER events and serves every existing user device
# (restart: "finds existing devices").  Fails if it exits or never gets there.
tcmud_wait_ready() {
	local pid=$1 grp
	tcm_user_group >/dev/null
	grp=$TCM_USER_GROUP
	[[ -n $grp ]] || fail "cannot find the TCM-USER netlink group (genl ctrl get)"
	_ready() {
		pid_alive "$pid" || return 0 # (checked below)
		_nl_subscribed "$pid" "$((grp))" && _serves_all "$pid"
	}
	retry_until "${TCMUD_READY_TIMEOUT:-60}" _ready ||
		fail "tcmud (pid $pid) not ready after ${TCMUD_READY_TIMEOUT:-60}s: not listening to TCM-USER or not serving every /dev/uio*"
	pid_alive "$pid" || {
		tail -n 30 "$TCMUD_LOG" >&2
		fail "tcmud exited during start-up"
	}
}

# tcmud_alive [PID]: fails unless tcmud (default $TCMUD_PID) still runs.
tcmud_alive() {
	pid_alive "${1:-$TCMUD_PID}" || fail "tcmud (pid ${1:-$TCMUD_PID}) died"
}

# tcmud_stop [PID]: SIGTERM, waits up to TCMUD_STOP_TIMEOUT (30 s) and
# fails unless it exited with status 0.
tcmud_stop() {
	local pid=${1:-$TCMUD_PID} rc=0
	pid_alive "$pid" || fail "tcmud (pid $pid) was already gone before SIGTERM"
	kill -TERM "$pid"
	wait_gone "${TCMUD_STOP_TIMEOUT:-30}" "$pid" ||
		fail "tcmud (pid $pid) still runs ${TCMUD_STOP_TIMEOUT:-30}s after SIGTERM"
	wait "$pid" 2>/dev/null || rc=$?
	((rc == 0 || rc == 127)) || fail "tcmud (pid $pid) exited with status $rc after SIGTERM"
}

# tcmud_kill9 [PID]: SIGKILL and reap.
tcmud_kill9() {
	local pid=${1:-$TCMUD_PID}
	kill -KILL "$pid" 2>/dev/null || fail "tcmud (pid $pid) was gone before kill -9"
	wait "$pid" 2>/dev/null || true
}

# tcmud_fds [PID]: number of open fds of tcmud.
tcmud_fds() {
	local f=("/proc/${1:-$TCMUD_PID}/fd/"*)
	echo "${#f[@]}"
}

# tcmud_rss_kb [PID]: resident set size in KiB.
tcmud_rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/${1:-$TCMUD_PID}/status"; }

# sanitizer_reports: prints the tcmud logs of this case that hold ASan,
# LSan or UBSan reports.
sanitizer_reports() {
	local logs=("$CASE_DIR"/tcmud.*.log)
	[[ -e ${logs[0]} ]] || return 0
	bb grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|UndefinedBehaviorSanitizer' \
		"${logs[@]}" 2>/dev/null || true
}

# ------------------------------------------------------------------ fio ---

# fio_run NAME FIO-ARGS...: runs fio (output in $CASE_DIR/fio.NAME.out);
# fails with fio's own error lines if it fails.  Without a --name= in ARGS,
# ARGS make one job NAME; with, ARGS before the first --name= are global.
fio_run() {
	local name=$1 rc=0 job=()
	shift
	[[ " $* " == *" --name="* ]] || job=(--name="$name")
	fio --output="$CASE_DIR/fio.$name.out" ${job[@]+"${job[@]}"} "$@" \
		>"$CASE_DIR/fio.$name.err" 2>&1 || rc=$?
	if ((rc != 0)); then
		grep -hiE 'error|verify|bad|fail' "$CASE_DIR/fio.$name.out" "$CASE_DIR/fio.$name.err" |
			head -n 20 >&2
		fail "fio $name failed (rc=$rc): see $CASE_DIR/fio.$name.out"
	fi
}

# fio_bg NAME FIO-ARGS...: fio_run in the background; sets FIO_PID.
# fio_wait PID collects it (fails the case if fio failed).
fio_bg() {
	(fio_run "$@") &
	FIO_PID=$!
}
fio_wait() {
	wait "$1" || fail "background fio (pid $1) failed"
}

# Options for a short, verified fio run on a block device.
FIO_VERIFY=(--ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1
	--do_verify=1 --verify_dump=0 --exitall_on_error=1)

# max_io_bytes DISK: the largest single I/O that reaches the device: its
# MAXIMUM TRANSFER LENGTH (VPD Block Limits) capped by the block layer's
# max_sectors_kb.  Fails if the block layer would send more than the
# device accepts.
max_io_bytes() {
	local disk=$1 bs blocks dev kb
	kb=$(<"/sys/block/${disk#/dev/}/queue/max_sectors_kb")
	bs=$(bb blockdev --getss "$disk")
	blocks=$(sg_vpd -p bl "$disk" 2>/dev/null |
		sed -n 's/^ *Maximum transfer length: *\([0-9]*\).*/\1/p')
	if [[ -z $blocks || $blocks == 0 ]]; then
		echo $((kb * 1024))
		return
	fi
	dev=$((blocks * bs))
	((kb * 1024 <= dev)) ||
		fail "$disk: max_sectors_kb $kb exceeds the device's maximum transfer length ($blocks x $bs)"
	echo $((kb * 1024))
}

# ----------------------------------------------------------- clean-up ---

# cleanup_configfs: removes every LUN, loopback target and backstore (user
# and in-kernel), in dependency order.  Returns 1 if something remains.
cleanup_configfs() {
	local t l d ok=0
	for t in "$CFS"/loopback/naa.*/tpgt_*; do
		[[ -d $t ]] || continue
		for l in "$t"/lun/lun_*; do
			[[ -d $l ]] || continue
			for d in "$l"/*; do [[ -L $d ]] && bb rm "$d"; done
			bb rmdir "$l" || ok=1
		done
		bb rmdir "$t" || ok=1
	done
	for t in "$CFS"/loopback/naa.*; do [[ -d $t ]] && { bb rmdir "$t" || ok=1; }; done
	for d in "$CFS"/core/*_*/*/; do
		d=${d%/}
		[[ -e $d/enable ]] || continue
		timeout 90 "$(command -v rmdir)" "$d" || ok=1
	done
	for d in "$CFS"/core/*_*; do
		[[ -d $d && ${d##*/} != alua ]] && { bb rmdir "$d" 2>/dev/null || ok=1; }
	done
	return $ok
}

# kernel_clean: is the target stack back to its initial state?
kernel_clean() {
	local d
	for d in "$CFS"/loopback/naa.* "$CFS"/core/user_* "$CFS"/core/fileio_* /dev/uio*; do
		[[ -e $d ]] && { echo "left over: $d"; return 1; }
	done
	return 0
}
