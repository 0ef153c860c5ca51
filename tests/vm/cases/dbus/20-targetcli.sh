# targetcli end to end, tcmud started by D-Bus activation.  A user:file
# backstore of 1G and a user:ram one get tcm_loop LUNs; an invalid
# cfgstring is refused with the handler's own reason and creates nothing;
# fio verifies on the file LUN; Device1 shows the device and its counters
# (to nobody too); changemedium grows the LUN; "delete" removes one device
# and its LUN, "clearconfig" the rest, cleanly (no UIO device, nothing in
# configfs, tcmud alive).  Then the reboot path: saveconfig, clearconfig,
# tcmud stops, is activated again, "targetctl restore" brings the LUN
# back, and what fio wrote before reads back.
# timeout: 240
source "$(dirname "${BASH_SOURCE[0]}")/dbus.bash"
dbus_setup file ram
IMG=$CASE_DATA/d1.img
SAVED=$CASE_DATA/saved.json
BAD=/nonexistent/dir/x.img

log "targetcli: bad cfgstring, user:file d1 (1G), user:ram r1, LUNs 0 and 1"
tcli create <<EOF || fail "targetcli create exited with $?"
/backstores/user:file create name=bad size=1M cfgstring=$BAD
/backstores/user:file create name=d1 size=1G cfgstring=$IMG
/backstores/user:ram create name=r1 size=64M cfgstring=scratch
/loopback create wwn=$LOOP_WWN
/loopback/$LOOP_WWN/luns create /backstores/user:file/d1 lun=0
/loopback/$LOOP_WWN/luns create /backstores/user:ram/r1 lun=1
EOF
tcmud_pid >/dev/null
# (the reason is exactly what the handler's check_config says)
reason=$(dcall "$BUS_PATH/file" "$BUS_NAME.CheckConfig" "file/$BAD")
[[ $reason == "(false, 'file: directory '/nonexistent/dir' does not exist')" ||
	$reason == "(false, \"file: directory '/nonexistent/dir' does not exist\")" ]] ||
	fail "CheckConfig of $BAD: $reason"
grep -qF "cfgstring invalid: file: directory '/nonexistent/dir' does not exist" <<<"$TCLI_OUT" ||
	fail "targetcli did not refuse the bad cfgstring with the handler's reason: $TCLI_OUT"
errs=$(grep -iE 'error|failed|invalid|No such path|Traceback' <<<"$TCLI_OUT" | grep -vF "$BAD" | grep -vF '/nonexistent/dir') &&
	fail "targetcli create: $errs"
[[ -z $(ls -d "$CFS"/core/user_*/bad 2>/dev/null) ]] ||
	fail "the refused backstore was created"
[[ $(user_uio_count) == 2 ]] || fail "$(user_uio_count) TCMU devices, want 2"

d0=$(lun_wait 0)
d1=$(lun_wait 1)
log "LUNs: d1=$d0 r1=$d1"
[[ $(blockdev --getsize64 "$d0") == $((1 << 30)) ]] || fail "$d0 is not 1 GiB"
[[ $(blockdev --getsize64 "$d1") == $((64 << 20)) ]] || fail "$d1 is not 64 MiB"
JOB=("${FIO_VERIFY[@]}" --rw=randwrite --bs=8k --iodepth=16 --size=16M --randseed=2024)
REVERIFY=("${JOB[@]/--do_verify=1/--verify_only=1}")
fio_run d1 "${JOB[@]}" --filename="$d0"
fio_run r1 "${FIO_VERIFY[@]}" --filename="$d1" --rw=randwrite --bs=4k --iodepth=8 --size=4M

log "Device1 of d1"
props=$(dcall "$BUS_PATH/Devices/d1" org.freedesktop.DBus.Properties.GetAll "$BUS_NAME.Device1") ||
	fail "Device1 of d1: $props"
echo "$props" >"$CASE_DIR/device1.d1"
grep -qF "'Handler': <'file'>" <<<"$props" || fail "Device1.Handler is not file: $props"
grep -qF "'Config': <'$IMG'>" <<<"$props" || fail "Device1.Config is not $IMG: $props"
grep -qF "'Size': <uint64 $((1 << 30))>" <<<"$props" || fail "Device1.Size is not 1 GiB: $props"
[[ $props =~ \'BytesWritten\':\ \<uint64\ ([0-9]+)\> ]] || fail "no BytesWritten: $props"
((BASH_REMATCH[1] >= 16 << 20)) || fail "BytesWritten ${BASH_REMATCH[1]} < the 16 MiB fio wrote"
out=$(dcall --nobody "$BUS_PATH/Devices/d1" org.freedesktop.DBus.Properties.Get \
	"$BUS_NAME.Device1" CommandsCompleted) || fail "nobody cannot read Device1: $out"

log "targetcli: changemedium d1 to 2G, delete r1, saveconfig"
tcli_ok change <<EOF
/backstores/user:file changemedium name=d1 size=2G cfgstring=$IMG
/backstores/user:ram delete r1
saveconfig savefile=$SAVED
EOF
grep -q 'Medium Changed' <<<"$TCLI_OUT" || fail "changemedium did not say 'Medium Changed': $TCLI_OUT"
retry_until 10 sg_turs "$d0" >/dev/null 2>&1 || fail "TEST UNIT READY fails on $d0 after changemedium"
sg_readcap "$d0" | grep -q "Device size: $((2 << 30)) bytes" || fail "$d0 does not report 2 GiB after changemedium"
[[ $(stat -c %s "$IMG") == $((2 << 30)) ]] || fail "$IMG not grown to 2 GiB"
_lun1_gone() { [[ -z $(loop_disk 1) ]]; }
retry_until 10 _lun1_gone || fail "the LUN of the deleted r1 is still there"
[[ $(user_uio_count) == 1 ]] || fail "delete r1 left $(user_uio_count) TCMU devices, want 1"
[[ -z $(ls -d "$CFS"/core/user_*/r1 2>/dev/null) ]] || fail "r1 still in configfs"
grep -q '"config": "file/'"$IMG"'"' "$SAVED" || fail "saveconfig did not save d1's config"
fio_run reverify1 "${REVERIFY[@]}" --filename="$d0"

log "targetcli: clearconfig"
tcli_ok clear clearconfig confirm=True
[[ $(user_uio_count) == 0 ]] || fail "clearconfig left $(user_uio_count) TCMU devices"
kernel_clean >"$CASE_DIR/left" || fail "clearconfig left $(cat "$CASE_DIR/left")"
[[ -z $(ls -d "$CFS"/core/user_* 2>/dev/null) ]] || fail "clearconfig left $(ls -d "$CFS"/core/user_*)"
pid=$(tcmud_pid)
errs=$(grep -hE '^[-0-9]+ [0-9:.]+ error ' "$CASE_DIR"/tcmud*.log) &&
	fail "tcmud logged errors: $errs"

log "reboot path: tcmud stops, is activated again, targetctl restore"
tcmud_term
out=$(dcall "$BUS_PATH" org.freedesktop.DBus.Peer.Ping) || fail "activation by a Ping: $out"
pid2=$(tcmud_pid)
[[ $pid2 != "$pid" ]] || fail "the same tcmud still runs"
timeout 120 targetctl restore "$SAVED" >"$CASE_DIR/restore.out" 2>&1 ||
	fail "targetctl restore: $(cat "$CASE_DIR/restore.out")"
[[ ! -s $CASE_DIR/restore.out ]] || fail "targetctl restore: $(cat "$CASE_DIR/restore.out")"
d0=$(lun_wait 0)
[[ $(blockdev --getsize64 "$d0") == $((2 << 30)) ]] || fail "restored $d0 is not 2 GiB"
# (Device objects follow the device table once a second, so d1 may be a moment late)
_device1_d1() {
	dcall "$BUS_PATH/Devices/d1" org.freedesktop.DBus.Properties.Get "$BUS_NAME.Device1" Handler >/dev/null
}
retry_until 10 _device1_d1 || fail "no Device1 for the restored d1"
log "restored as $d0: verify what fio wrote before"
fio_run reverify2 "${REVERIFY[@]}" --filename="$d0"
[[ $(tcmud_pid) == "$pid2" ]] || fail "tcmud changed under the restore"
