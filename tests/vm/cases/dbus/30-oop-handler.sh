# The out-of-process example handler (examples/oop_handler) registers
# with tcmud over D-Bus (its RegisterHandler activates tcmud); targetcli
# lists user:oopmem with the program's ConfigDesc; the CheckConfig that
# tcmud forwards to the program refuses fill=300 with the program's
# reason; a created backstore serves I/O (the fill byte, fio verify)
# through a tcm_loop LUN, from the program, not from tcmud.  tcmud stops:
# the device keeps serving; tcmud is activated again, leaves the device
# alone and the program registers again.  clearconfig; the program exits 0
# on SIGTERM and user:oopmem disappears with it.
# timeout: 240
source "$(dirname "${BASH_SOURCE[0]}")/dbus.bash"
dbus_setup file
OOP=$VM_BUILD/examples/oop_handler/tcmud-oop-example
[[ -x $OOP ]] || skip "the example handler is not built ($OOP)"

oop_registered() { dcall "$BUS_PATH/oopmem" org.freedesktop.DBus.Properties.Get "$BUS_NAME" ConfigDesc >/dev/null; }
"$OOP" </dev/null >"$CASE_DIR/oop.log" 2>&1 &
oop=$!
retry_until 30 bus_owned || fail "the program's RegisterHandler did not activate tcmud"
retry_until 30 oop_registered || fail "user:oopmem never registered: $(tail -n 5 "$CASE_DIR/oop.log")"
pid=$(tcmud_pid)
log "the example (pid $oop) registered; tcmud (pid $pid) activated"
desc=$(config_desc oopmem)
[[ $desc == oopmem/* ]] || fail "ConfigDesc of oopmem: '$desc'"

log "targetcli: ls, help, bad and good create, LUN"
tcli oop <<TC || fail "targetcli exited with $?"
ls /backstores
/backstores/user:oopmem help create
/backstores/user:oopmem create name=bad size=32M cfgstring=fill=300
/backstores/user:oopmem create name=m1 size=32M cfgstring=fill=0x5a
/loopback create wwn=$LOOP_WWN
/loopback/$LOOP_WWN/luns create /backstores/user:oopmem/m1 lun=0
TC
grep -qE 'o- user:oopmem \.+ \[Storage Objects: 0\]' <<<"$TCLI_OUT" || fail "targetcli ls does not list user:oopmem"
grep -qE 'o- user:file \.+' <<<"$TCLI_OUT" || fail "targetcli ls lost user:file"
grep -qxF "$desc" <<<"$TCLI_OUT" || fail "help create does not print the program's ConfigDesc"
grep -qF 'cfgstring invalid: oopmem: the config must be empty or fill=<byte> (0..255)' <<<"$TCLI_OUT" ||
	fail "fill=300 not refused with the program's reason"
errs=$(grep -iE 'error|failed|invalid|No such path|Traceback' <<<"$TCLI_OUT" | grep -vF 'fill=<byte> (0..255)') &&
	fail "targetcli: $errs"
[[ -z $(ls -d "$CFS"/core/user_*/bad 2>/dev/null) ]] || fail "the refused backstore was created"
disk=$(lun_wait 0)
uio=$(uio_of m1)
log "m1 on $disk ($uio)"
[[ $(blockdev --getsize64 "$disk") == $((32 << 20)) ]] || fail "$disk is not 32 MiB"
[[ $(dd if="$disk" bs=4k count=1 iflag=direct status=none | od -An -tx1 -v | tr -d ' \n') == \
	$(printf '5a%.0s' {1..4096}) ]] || fail "$disk does not read the fill byte 0x5a"
_has_open "$oop" "$uio" || fail "the program has not opened $uio"
! _has_open "$pid" "$uio" || fail "tcmud opened $uio too"
JOB=("${FIO_VERIFY[@]}" --filename="$disk" --rw=randwrite --bs=4k --iodepth=16 --size=8M --randseed=3030)
fio_run m1 "${JOB[@]}"

log "tcmud stops: the program keeps serving"
tcmud_term
fio_run m1-alone "${JOB[@]/--do_verify=1/--verify_only=1}"
pid_alive "$oop" || fail "the program died with tcmud"
log "tcmud activated again; the program registers again"
out=$(dcall "$BUS_PATH" org.freedesktop.DBus.Peer.Ping) || fail "activation by a Ping: $out"
pid2=$(tcmud_pid)
[[ $pid2 != "$pid" ]] || fail "the old tcmud still runs"
retry_until 30 oop_registered || fail "user:oopmem did not register again"
! _has_open "$pid2" "$uio" || fail "the new tcmud took $uio"
fio_run m1-again "${JOB[@]/--do_verify=1/--verify_only=1}"
fio_run m1-more "${FIO_VERIFY[@]}" --filename="$disk" --rw=randrw --bs=16k --iodepth=8 --size=8M --offset=16M

log "targetcli: clearconfig; the program exits"
tcli_ok clear clearconfig confirm=True
[[ $(user_uio_count) == 0 ]] || fail "clearconfig left $(user_uio_count) TCMU devices"
kernel_clean >"$CASE_DIR/left" || fail "clearconfig left $(cat "$CASE_DIR/left")"
[[ $(tcmud_pid) == "$pid2" ]] || fail "tcmud did not survive clearconfig"
kill -TERM "$oop"
rc=0
wait "$oop" || rc=$?
((rc == 0)) || fail "the program exited with $rc on SIGTERM: $(tail -n 5 "$CASE_DIR/oop.log")"
! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$CASE_DIR/oop.log" ||
	fail "sanitizer report in the program's log"
_gone() { ! oop_registered; }
retry_until 10 _gone || fail "user:oopmem still there after the program exited"
out=$(dcall "$BUS_PATH" org.freedesktop.DBus.ObjectManager.GetManagedObjects)
! grep -q oopmem <<<"$out" || fail "GetManagedObjects still lists oopmem: $out"
[[ $(tcmud_pid) == "$pid2" ]] || fail "tcmud did not survive the program's exit"
