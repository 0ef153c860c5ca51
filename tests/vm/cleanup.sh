# tests/vm/cleanup.sh: what run-cases does after every case (sourced by
# run-cases after lib.sh; after_case runs in a subshell with the case's
# CASE_DIR/CASE_DATA).  Prints only problems, one per line, and returns 1
# if there was one (the case then fails).

# _comm PID: the process's command name (empty if it is gone).
_comm() {
	local c=
	read -r c 2>/dev/null <"/proc/$1/comm"
	echo "$c"
}

# _pgrp_pids PGID: the live processes of a process group (from
# /proc/*/stat: after the ")" that ends the command name come state, ppid,
# pgrp).
_pgrp_pids() {
	local f st
	for f in /proc/[0-9]*/stat; do
		read -r st 2>/dev/null <"$f" || continue
		st=${st##*) }
		[[ ${st:0:1} != Z ]] || continue # (a zombie is gone already)
		st=${st#* }
		st=${st#* }
		[[ ${st%% *} == "$1" ]] || continue
		f=${f#/proc/}
		echo "${f%/stat}"
	done
}

# _tcmud_pids: the tcmud processes this case started that still run.
_tcmud_pids() {
	local p c
	[[ -e $CASE_DIR/tcmud.pids ]] || return 0
	while read -r p; do
		c=$(_comm "$p")
		[[ $c == tcmud || $c == tcmu-runner ]] && echo "$p"
	done <"$CASE_DIR/tcmud.pids"
}

# _kill_leftovers [all]: SIGKILLs what the case left running (fio, dd,
# ...), but not tcmud, which must still answer while the LUNs go away, nor
# a bus it may use (unless "all").
_kill_leftovers() {
	local p keep left i pgid
	pgid=$(<"$CASE_DIR/pgid") || return 0
	keep=" $(_tcmud_pids) "
	keep=${keep//$'\n'/ }
	for ((i = 0; i < 100; i++)); do
		left=0
		for p in $(_pgrp_pids "$pgid"); do
			[[ $keep == *" $p "* ]] && continue
			[[ ${1:-} != all && $(_comm "$p") == dbus-daemon ]] && continue
			kill -KILL "$p" 2>/dev/null
			left=1
		done
		((left)) || return 0
		nap 0.1
	done
	echo "processes of the case survive SIGKILL: $(_pgrp_pids "$pgid")"
}

# _umount_disks: unmounts file systems on SCSI disks and in $CASE_DATA,
# innermost first.
_umount_disks() {
	local src mnt _ mounts=() i
	while read -r src mnt _; do
		[[ $src == /dev/sd* || $mnt == "$CASE_DATA"* ]] && mounts+=("$mnt")
	done </proc/mounts
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		bb umount "${mounts[i]}" 2>/dev/null || bb umount -l "${mounts[i]}"
	done
}

# _offline_disks: with no tcmud left to answer, the LUN removal would wait
# for commands to time out (SYNCHRONIZE CACHE: 30 s per try): offline the
# SCSI devices so that the initiator sends nothing more.
_offline_disks() {
	local s v
	[[ -z $(_tcmud_pids) ]] || return 0
	for s in /sys/class/scsi_host/host*/device/target*/*/state; do
		[[ -e $s ]] || continue
		read -r v 2>/dev/null <"${s%/state}/vendor"
		[[ $v == LIO-ORG* ]] && echo offline >"$s" 2>/dev/null
	done
}

# _stop_tcmuds: SIGTERM each tcmud still running; it must be gone within
# 30 s.
_stop_tcmuds() {
	local p bad=0
	for p in $(_tcmud_pids); do
		kill -TERM "$p"
		if ! wait_gone 30 "$p"; then
			echo "tcmud (pid $p) ignored SIGTERM for 30 s at clean-up; killed"
			kill -KILL "$p"
			bad=1
		fi
	done
	# (not our children: their exit status is in their log if anywhere;
	# cases that care use tcmud_stop, which checks it)
	return $bad
}

after_case() {
	local bad=0 f
	_kill_leftovers
	_umount_disks
	_offline_disks
	if ! cleanup_configfs >"$CASE_DIR/cleanup.log" 2>&1; then
		echo "could not remove the case's LUNs/backstores: $(bb tail -n 3 "$CASE_DIR/cleanup.log" | bb tr '\n' ' ')"
		bad=1
	fi
	_stop_tcmuds || bad=1
	_kill_leftovers all
	for f in $(sanitizer_reports); do
		echo "sanitizer report in ${f##*/}: $(bb grep -m1 -E 'ERROR: |runtime error:' "$f")"
		bad=1
	done
	return $bad
}
