# The tcm_loop helpers with an in-kernel fileio backstore (no tcmud): LUNs
# show up as SCSI disks of the right size that pass a verified fio run, and
# go away again.  If this fails, the e2e cases cannot be trusted.
# timeout: 120
fileio_dev_add k1 "$CASE_DATA/k1.img" 32M
fileio_dev_add k2 "$CASE_DATA/k2.img" 16M
d1=$(loop_lun_add 0 fileio_1/k1)
d2=$(loop_lun_add 1 fileio_1/k2)
[[ $d1 != "$d2" ]] || fail "both LUNs map to $d1"
for pair in "$d1 32M" "$d2 16M"; do
	set -- $pair
	sz=$(blockdev --getsize64 "$1")
	((sz == $(to_bytes "$2"))) || fail "$1 has $sz bytes, want $2"
done
log "LUN 0 = $d1, LUN 1 = $d2"
fio_run both "${FIO_VERIFY[@]}" --rw=randwrite --bs=4k --iodepth=8 --size=8M \
	--filename="$d1:$d2"
loop_lun_del 1
retry_until 10 test ! -b "$d2" || fail "$d2 still there after removing LUN 1"
[[ -b $d1 ]] || fail "$d1 vanished with LUN 1"
log "LUN 1 removed, $d1 still there"
