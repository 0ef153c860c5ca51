# user:rbd against the host's Ceph cluster (tests/vmcluster, reached over
# vm-run -n): fio verify through the LUN; `rbd export` of the image equals
# what the LUN reads; UNMAP of whole objects shows as freed space in
# `rbd du`; COMPARE AND WRITE writes on a match and reports a miscompare
# (sense MISCOMPARE, data unchanged) otherwise.  Small on purpose (slirp
# under TCG moves 3-5 MiB/s): an 8 MiB image of 1 MiB objects.
# timeout: 240
[[ -n ${CEPH_CONF:-} && -r $CEPH_CONF ]] || skip "no cluster: run through tests/vmcluster (CEPH_CONF)"
command -v rbd >/dev/null || skip "no rbd CLI"
need_tcmud rbd
export CEPH_CONF
img=vm-$(printf '%04x%04x' $RANDOM $RANDOM)
log "rbd create rbd/$img"
rbd create --size 8M --object-size 1M "rbd/$img" || fail "rbd create rbd/$img"
tcmud_start
user_dev_add r1 "rbd/rbd/$img;conf=$CEPH_CONF;osd_op_timeout=20" 8M
d=$(loop_lun_add 0 "user_$USER_HBA/r1")

log "random 4k writes + verify ($d)"
fio_run randwrite "${FIO_VERIFY[@]}" --filename="$d" --rw=randwrite --bs=4k \
	--iodepth=16 --size=1M
fio_run seqwrite "${FIO_VERIFY[@]}" --filename="$d" --rw=write --bs=64k \
	--iodepth=4 --offset=2M --size=2M

log "rbd export equals what the LUN reads"
rbd export --no-progress "rbd/$img" "$CASE_DATA/export" >"$CASE_DIR/export.log" 2>&1 ||
	fail "rbd export: $(tail -n3 "$CASE_DIR/export.log")"
dd if="$d" of="$CASE_DATA/lun" bs=1M iflag=direct status=none
cmp "$CASE_DATA/lun" "$CASE_DATA/export" || fail "rbd export differs from the LUN's data"
# and the written part is not zero (fio's data really went to the image)
cmp -s <(head -c 4M "$CASE_DATA/export") <(head -c 4M /dev/zero) && fail "the image is all zero"
rm -f "$CASE_DATA/lun" "$CASE_DATA/export"

used() {
	rbd du --format json "rbd/$img" 2>>"$CASE_DIR/du.log" |
		sed -n 's/.*"used_size":\([0-9]*\).*/\1/p'
}
log "UNMAP frees whole objects (rbd du)"
dd if=/dev/urandom of="$d" bs=1M count=6 oflag=direct status=none
u1=$(used)
[[ $u1 =~ ^[0-9]+$ ]] || fail "rbd du: no used_size ($(tail -n3 "$CASE_DIR/du.log"))"
((u1 >= 6 << 20)) || fail "rbd du: $u1 bytes used after writing 6 MiB"
sg_vpd -p lbpv "$d" >"$CASE_DIR/lbpv" 2>&1 || true
blkdiscard -o $((2 << 20)) -l $((2 << 20)) "$d" || fail "blkdiscard on $d"
u2=$(used)
log "rbd du: $u1 -> $u2 bytes"
((u1 - u2 == 2 << 20)) || fail "rbd du after UNMAP of 2 MiB (2 objects): $u1 -> $u2"
cmp <(dd if="$d" bs=1M skip=2 count=2 iflag=direct status=none) <(head -c 2M /dev/zero) ||
	fail "the unmapped objects do not read back zero"

log "COMPARE AND WRITE"
# (librbd 16 compares natively only within one 512-byte sector: LBA 7 is
# inside the first, written object)
lba=7
dd if="$d" of="$CASE_DATA/old" bs=512 skip=$lba count=1 iflag=direct status=none
head -c 512 /dev/urandom >"$CASE_DATA/new"
cat "$CASE_DATA/old" "$CASE_DATA/new" >"$CASE_DATA/caw"
sg_compare_and_write --in="$CASE_DATA/caw" --lba=$lba --num=1 --xferlen=1024 "$d" \
	>"$CASE_DIR/caw1.log" 2>&1 || fail "CAW with matching data failed: $(cat "$CASE_DIR/caw1.log")"
cmp <(dd if="$d" bs=512 skip=$lba count=1 iflag=direct status=none) "$CASE_DATA/new" ||
	fail "CAW (match) did not write"
rc=0
sg_compare_and_write --in="$CASE_DATA/caw" --lba=$lba --num=1 --xferlen=1024 "$d" \
	>"$CASE_DIR/caw2.log" 2>&1 || rc=$?
((rc == 14)) || fail "CAW miscompare: exit $rc, want 14 (MISCOMPARE): $(cat "$CASE_DIR/caw2.log")"
grep -qi miscompare "$CASE_DIR/caw2.log" || fail "no miscompare sense: $(cat "$CASE_DIR/caw2.log")"
cmp <(dd if="$d" bs=512 skip=$lba count=1 iflag=direct status=none) "$CASE_DATA/new" ||
	fail "CAW (miscompare) changed the data"
cmp <(rbd export --no-progress "rbd/$img" - 2>/dev/null | head -c $(((lba + 1) * 512)) | tail -c 512) \
	"$CASE_DATA/new" || fail "the image does not hold the CAW data"
tcmud_alive
