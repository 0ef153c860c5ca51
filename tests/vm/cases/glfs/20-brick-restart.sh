# user:glfs while the volume's only brick is killed (SIGKILL, on the host,
# through tests/clusters/gluster-listen) in the middle of fio and restarted
# ("volume start force": it may come back on another port of the window):
# the handler completes the commands of the outage with BUSY (retried by sd,
# never a MEDIUM ERROR), logs the outage and the recovery once each, gfapi
# reconnects by itself; fio verifies every block written (no acknowledged
# write is lost) and the file read through gfapi equals what the LUN reads.
# timeout: 180
[[ -n ${GLUSTER_BRICK_DIR:-} && -d $GLUSTER_BRICK_DIR ]] ||
	skip "no cluster: run through tests/vmcluster (GLUSTER_BRICK_DIR)"
[[ -n ${VMCL_GLUSTER_CTL:-} ]] || skip "no brick control port (VMCL_GLUSTER_CTL)"
need_tcmud glfs
GLFS_CAT=$VM_BUILD/tests/glfs/glfs_cat
[[ -x $GLFS_CAT ]] || skip "tests/glfs/glfs_cat is not built"
export LSAN_OPTIONS=suppressions=$VMCL_SRC/tests/glfs/lsan.supp
export TCMU_LOG_DIR=$CASE_DIR
# brick ACTION: tests/glfs/gluster-fault DIR ACTION on the host
brick() {
	local r=
	exec 3<>"/dev/tcp/127.0.0.1/$VMCL_GLUSTER_CTL" || fail "cannot reach the brick control port"
	echo "$1 $GLUSTER_VOLUME" >&3
	read -r -t 100 r <&3 || true
	exec 3<&-
	[[ $r == ok* ]] || fail "brick $1: '$r'"
	log "brick: $1 done${r#ok}"
}
name=vm-$(printf '%04x%04x' $RANDOM $RANDOM).img
tcmud_start
user_dev_add g2 "glfs/$GLUSTER_VOLUME@127.0.0.1:${GLUSTER_PORT:-24007}/$name" 4M
d=$(loop_lun_add 0 "user_$USER_HBA/g2")
k0=$(bb dmesg | bb wc -l)

# (writes rate-limited: >= 8 s of them even on a fast host, so that the
# kill lands in the write phase; under TCG they are slower anyway)
log "fio (write + verify) with the brick killed after 2 s, restarted after 3 s more"
fio_bg kill "${FIO_VERIFY[@]}" --filename="$d" --rw=randwrite --bs=4k --iodepth=8 \
	--size=1M --rate_iops=,30
nap 2
pid_alive "$FIO_PID" || fail "fio finished before the brick was killed"
brick brick-kill
nap 3
brick brick-start
t0=$(now_ms)
fio_wait "$FIO_PID"
log "fio done $((($(now_ms) - t0) / 1000)) s after the brick restart"
grep -q 'err= 0' "$CASE_DIR/fio.kill.out" || fail "fio reported errors"

# retryable, logged once: one "BUSY" warning and one recovery line per
# outage (gfapi may see the old brick's connection fail twice: <= 2)
busy=$(grep -c 'commands get BUSY' "$TCMUD_LOG" || true)
back=$(grep -c 'I/O works again' "$TCMUD_LOG" || true)
log "tcmud log: $busy outage line(s), $back recovery line(s)"
((busy >= 1 && busy <= 2)) || fail "expected 1-2 outage lines in $TCMUD_LOG, found $busy"
((back >= 1 && back <= 2)) || fail "expected 1-2 recovery lines in $TCMUD_LOG, found $back"
bb dmesg | bb tail -n +"$((k0 + 1))" >"$CASE_DIR/kernel.log"
! grep -E 'Medium Error|I/O error' "$CASE_DIR/kernel.log" ||
	fail "the kernel saw a medium or I/O error"

log "the file read through gfapi equals what the LUN reads"
dd if="$d" of="$CASE_DATA/lun" bs=1M iflag=direct status=none
"$GLFS_CAT" "$GLUSTER_VOLUME" 127.0.0.1 "${GLUSTER_PORT:-24007}" "$name" >"$CASE_DATA/gfapi" ||
	fail "glfs_cat $name"
cmp "$CASE_DATA/lun" "$CASE_DATA/gfapi" || fail "the file read through gfapi differs from the LUN's data"
tcmud_alive
