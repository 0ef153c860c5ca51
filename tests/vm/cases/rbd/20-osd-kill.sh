# user:rbd while the cluster's only OSD is killed (SIGKILL, on the host,
# through ceph-osd-listen) in the middle of fio and restarted: the I/O
# stalls, then completes (requests time out after osd_op_timeout and go
# back as BUSY, which the initiator retries), fio verifies every block, and
# `rbd export` equals what the LUN reads.
# timeout: 240
[[ -n ${CEPH_CONF:-} && -r $CEPH_CONF ]] || skip "no cluster: run through tests/vmcluster (CEPH_CONF)"
[[ -n ${VMCL_OSD_CTL:-} ]] || skip "no OSD control port (VMCL_OSD_CTL)"
need_tcmud rbd
export CEPH_CONF
# osd ACTION: ceph-osd ACTION 0 on the host (tests/clusters/ceph-osd-listen)
osd() {
	local r=
	exec 3<>"/dev/tcp/127.0.0.1/$VMCL_OSD_CTL" || fail "cannot reach the OSD control port"
	echo "$1 0" >&3
	read -r -t 90 r <&3 || true
	exec 3<&-
	[[ $r == ok ]] || fail "osd $1: '$r'"
	log "osd.0: $1 done"
}
img=vm-$(printf '%04x%04x' $RANDOM $RANDOM)
rbd create --size 8M --object-size 1M "rbd/$img" || fail "rbd create rbd/$img"
tcmud_start
user_dev_add r1 "rbd/rbd/$img;conf=$CEPH_CONF;osd_op_timeout=10" 8M
d=$(loop_lun_add 0 "user_$USER_HBA/r1")

log "fio (rate-limited, ~8 s of writes) with the OSD killed after 3 s"
fio_bg kill "${FIO_VERIFY[@]}" --filename="$d" --rw=randwrite --bs=4k --iodepth=8 \
	--size=1M --rate_iops=30
nap 3
kill -0 "$FIO_PID" 2>/dev/null || fail "fio finished before the OSD was killed"
osd kill
nap 5
osd start
t0=$(now_ms)
fio_wait "$FIO_PID"
log "fio done $((($(now_ms) - t0) / 1000)) s after the OSD restart"
grep -h 'err=' "$CASE_DIR/fio.kill.out" | head -n2
# what the daemon and the initiator saw (for the record; VM_VERBOSE=1)
{ grep -v '^[[:space:]]*$' "$TCMUD_LOG" | grep -E 'rbd|librbd' | cut -c1-200 |
	tail -n 12 | sed 's/^/  tcmud: /'; } || true
{ bb dmesg | grep -E 'Abort|abort|timing out|I/O error|FAILED|tcmu.*(time|expired)' |
	tail -n 10 | sed 's/^/  kernel: /'; } || true

log "rbd export equals what the LUN reads"
rbd export --no-progress "rbd/$img" "$CASE_DATA/export" >"$CASE_DIR/export.log" 2>&1 ||
	fail "rbd export: $(tail -n3 "$CASE_DIR/export.log")"
cmp <(dd if="$d" bs=1M iflag=direct status=none) "$CASE_DATA/export" ||
	fail "rbd export differs from the LUN's data"
tcmud_alive
