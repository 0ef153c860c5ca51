# tests/vm/cleanup.sh: what run-cases does after every case (sourced after
# lib.sh, in a fresh bash).  Prints only problems, one per line, and
# returns 1 if there was one (the case then fails).

# _tcmud_pids: the tcmud processes this case started that still run.
_tcmud_pids() {
	local p
	[[ -e $CASE_DIR/tcmud.pids ]] || return 0
	while read -r p; do
		kill -0 "$p" 2>/dev/null && [[ $(readlink "/proc/$p/exe" 2>/dev/null) == */tcmu* ]] && echo "$p"
	done <"$CASE_DIR/tcmud.pids"
}

# _kill_leftovers [all]: SIGKILLs what the case left running (fio, dd,
# ...), but not tcmud, which must still answer while the LUNs go away, nor
# a bus it may use (unless "all").
_kill_leftovers() {
	local pgid p keep left i
	pgid=$(cat "$CASE_DIR/pgid" 2>/dev/null) || return 0
	keep=" $(_tcmud_pids | tr '\n' ' ') "
	[[ ${1:-} == all ]] || keep+="$(pgrep -g "$pgid" -x dbus-daemon | tr '\n' ' ') "
	for ((i = 0; i < 100; i++)); do
		left=0
		for p in $(pgrep -g "$pgid" 2>/dev/null); do
			[[ $keep == *" $p "* ]] && continue
			kill -KILL "$p" 2>/dev/null
			left=1
		done
		((left)) || return 0
		sleep 0.1
	done
	echo "processes of the case survive SIGKILL: $(pgrep -g "$pgid" | tr '\n' ' ')"
}

# _umount_disks: unmounts file systems on SCSI disks and in $CASE_DATA.
_umount_disks() {
	local src mnt _
	while read -r src mnt _; do
		[[ $src == /dev/sd* || $mnt == "$CASE_DATA"* ]] || continue
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
	done < <(tac /proc/mounts)
}

# _offline_disks: with no tcmud left to answer, the LUN removal would wait
# for commands to time out (SYNCHRONIZE CACHE: 30 s per try): offline the
# SCSI devices so that the initiator sends nothing more.
_offline_disks() {
	local s
	[[ -z $(_tcmud_pids) ]] || return 0
	for s in /sys/class/scsi_host/host*/device/target*/*/state; do
		[[ -e $s && $(cat "${s%/state}/vendor" 2>/dev/null) == LIO-ORG* ]] || continue
		echo offline >"$s" 2>/dev/null
	done
}

# _stop_tcmuds: SIGTERM each tcmud still running; it must exit with 0.
_stop_tcmuds() {
	local p bad=0 i
	for p in $(_tcmud_pids); do
		kill -TERM "$p"
		for ((i = 0; i < 300; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$p" 2>/dev/null; then
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
		echo "could not remove the case's LUNs/backstores: $(tail -n 3 "$CASE_DIR/cleanup.log" | tr '\n' ' ')"
		bad=1
	fi
	_stop_tcmuds || bad=1
	_kill_leftovers all
	for f in $(sanitizer_reports); do
		echo "sanitizer report in ${f##*/}: $(grep -m1 -E 'ERROR: |runtime error:' "$f")"
		bad=1
	done
	return $bad
}
