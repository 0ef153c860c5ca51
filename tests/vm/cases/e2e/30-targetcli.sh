# targetcli (through rtslib and tcmud's D-Bus service org.kernel.TCMUService1)
# creates a user:file backstore and a tcm_loop LUN; fio verifies on it;
# targetcli removes it again.
# timeout: 240
need_tcmud file
H=file
[[ ${TCMUD_REFERENCE:-0} == 1 ]] && H=qcow # (tcmu-runner has no file handler)
grep -qa org.kernel.TCMUService1 "$TCMUD" ||
	skip "tcmud has no D-Bus service yet (no org.kernel.TCMUService1 in the binary)"
command -v targetcli >/dev/null || skip "targetcli is not installed (scripts/setup.sh)"

system_bus # (a system bus, for tcmud and targetcli)
tcmud_start
owns() {
	dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.kernel.TCMUService1 2>/dev/null |
		grep -q 'boolean true'
}
retry_until 30 owns || fail "tcmud does not own org.kernel.TCMUService1 on the system bus"

# targetcli with Debian's python (whatever python3 is first on PATH); one
# python start-up per batch of commands on stdin (~5 s each under TCG)
tcli() {
	printf '%s\n' "$@" >>"$CASE_DIR/targetcli.log"
	printf '%s\n' "$@" | /usr/bin/python3 /usr/bin/targetcli >>"$CASE_DIR/targetcli.log" 2>&1 ||
		{ tail -n 20 "$CASE_DIR/targetcli.log"; fail "targetcli failed"; }
	# (targetcli's exit status does not reflect failed commands)
	! grep -qE '^(No such path|Could not|.*[Ee]rror)' "$CASE_DIR/targetcli.log" ||
		{ tail -n 20 "$CASE_DIR/targetcli.log"; fail "targetcli: a command failed"; }
}
log "targetcli: user:$H backstore tc1 and a loopback LUN"
[[ $H == qcow ]] && truncate -s 64M "$CASE_DATA/tc1.img"
tcli "/backstores/user:$H create name=tc1 size=64M cfgstring=$CASE_DATA/tc1.img" \
	"/loopback create wwn=$LOOP_WWN" \
	"/loopback/$LOOP_WWN/luns create /backstores/user:$H/tc1"
_disk() { disk=$(loop_disk 0); [[ -n $disk ]]; }
retry_until 60 _disk || fail "no disk for the targetcli LUN"
retry_until 30 sg_turs "$disk" >/dev/null 2>&1 || fail "TEST UNIT READY fails on $disk"
[[ $(blockdev --getsize64 "$disk") == $((64 << 20)) ]] || fail "$disk is not 64 MiB"
log "fio verify on $disk"
fio_run tcli "${FIO_VERIFY[@]}" --filename="$disk" --rw=randwrite --bs=4k --iodepth=16 --size=8M

log "targetcli: delete"
tcli "/loopback delete $LOOP_WWN" "/backstores/user:$H delete tc1"
[[ -z $(ls /sys/class/uio 2>/dev/null) ]] || fail "UIO devices left after targetcli delete"
tcmud_alive
