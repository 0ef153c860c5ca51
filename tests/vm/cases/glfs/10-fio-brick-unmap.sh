# user:glfs against the host's GlusterFS (tests/vmcluster, reached over
# vm-run -n): fio verify through the LUN; the file read back through gfapi
# (tests/glfs/glfs_cat) and the file on the host's brick (seen through the
# guest's 9p root) equal what the LUN reads; UNMAP punches holes (the range
# reads back zero and the file's allocation, glfs_stat's st_blocks,
# shrinks).
# timeout: 150
[[ -n ${GLUSTER_BRICK_DIR:-} && -d $GLUSTER_BRICK_DIR ]] ||
	skip "no cluster: run through tests/vmcluster (GLUSTER_BRICK_DIR)"
need_tcmud glfs
GLFS_CAT=$VM_BUILD/tests/glfs/glfs_cat
[[ -x $GLFS_CAT ]] || skip "tests/glfs/glfs_cat is not built"
# GlusterFS leaks by design (handlers/glfs/README.md)
export LSAN_OPTIONS=suppressions=$VMCL_SRC/tests/glfs/lsan.supp
export TCMU_LOG_DIR=$CASE_DIR
name=vm-$(printf '%04x%04x' $RANDOM $RANDOM).img
brick=$GLUSTER_BRICK_DIR/$name
tcmud_start
user_dev_add g1 "glfs/$GLUSTER_VOLUME@127.0.0.1:${GLUSTER_PORT:-24007}/$name" 8M
d=$(loop_lun_add 0 "user_$USER_HBA/g1")

# (small: through slirp under TCG a 4k write takes tens of milliseconds)
log "random 4k writes + verify ($d)"
fio_run randwrite "${FIO_VERIFY[@]}" --filename="$d" --rw=randwrite --bs=4k \
	--iodepth=16 --size=1M
log "sequential 64k writes + verify ($d)"
fio_run seqwrite "${FIO_VERIFY[@]}" --filename="$d" --rw=write --bs=64k \
	--iodepth=4 --offset=1M --size=2M

log "UNMAP 2 MiB in the middle of 4 MiB of data (7 MiB written in all)"
dd if=/dev/urandom of="$d" bs=1M seek=4 count=4 oflag=direct status=none
blkdiscard -o $((5 << 20)) -l $((2 << 20)) "$d" || fail "blkdiscard on $d"
cmp <(dd if="$d" bs=1M skip=5 count=2 iflag=direct status=none) <(head -c 2M /dev/zero) ||
	fail "the unmapped range does not read back zero"
dd if="$d" of="$CASE_DATA/lun" bs=1M iflag=direct status=none

log "the file read through gfapi equals the LUN's data"
"$GLFS_CAT" "$GLUSTER_VOLUME" 127.0.0.1 "${GLUSTER_PORT:-24007}" "$name" >"$CASE_DATA/gfapi" ||
	fail "glfs_cat $name"
cmp "$CASE_DATA/lun" "$CASE_DATA/gfapi" || fail "the file read through gfapi differs from the LUN's data"
cmp -s <(head -c 3M "$CASE_DATA/gfapi") <(head -c 3M /dev/zero) && fail "the file is all zero"
read -r size blocks < <("$GLFS_CAT" -s "$GLUSTER_VOLUME" 127.0.0.1 "${GLUSTER_PORT:-24007}" "$name") ||
	fail "glfs_cat -s $name"
alloc=$((blocks * 512))
log "glfs_stat: $size bytes, $alloc allocated"
((alloc <= (7 << 20) - (1 << 20))) || fail "UNMAP punched no hole: $alloc bytes allocated for 7 MiB written, 2 MiB unmapped"

# (the brick file is looked at only now: the guest's 9p root caches what
# it has seen once)
log "the brick file on the host ($brick) equals the LUN's data too"
[[ -f $brick ]] || fail "no $brick on the brick"
cmp "$CASE_DATA/lun" "$brick" || fail "the brick file differs from the LUN's data"
tcmud_alive
