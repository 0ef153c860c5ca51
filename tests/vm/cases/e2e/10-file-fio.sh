# user:file LUNs created through configfs and exported with tcm_loop: the
# disks have the configured size and block size, and fio verifies random
# writes, mixed read/write, block sizes up to each disk's maximum transfer,
# and all LUNs at once.  What the initiator wrote is in the backing files.
# timeout: 240
need_tcmud file
tcmud_start

# f1: defaults (512-byte blocks, 64 KiB max transfer), io_uring engine if any
# f2: 4 KiB blocks, 1 MiB max transfer
# f3: the worker-pool engine, 512 KiB max transfer
user_dev_add f1 "file/$CASE_DATA/f1.img" 64M
user_dev_add f2 "file/$CASE_DATA/f2.img" 64M hw_block_size=4096 hw_max_sectors=256
user_dev_add f3 "file/$CASE_DATA/f3.img;engine=threads" 32M hw_max_sectors=1024
d1=$(loop_lun_add 0 "user_$USER_HBA/f1")
d2=$(loop_lun_add 1 "user_$USER_HBA/f2")
d3=$(loop_lun_add 2 "user_$USER_HBA/f3")
log "LUNs: f1=$d1 f2=$d2 f3=$d3"

check_geometry() { # DISK BYTES BLOCK
	local got_sz got_bs
	got_sz=$(blockdev --getsize64 "$1") got_bs=$(blockdev --getss "$1")
	((got_sz == $2)) || fail "$1: $got_sz bytes, want $2"
	((got_bs == $3)) || fail "$1: logical block $got_bs, want $3"
	sg_readcap "$1" >"$CASE_DIR/readcap.${1#/dev/}" || fail "READ CAPACITY on $1"
}
check_geometry "$d1" $((64 << 20)) 512
check_geometry "$d2" $((64 << 20)) 4096
check_geometry "$d3" $((32 << 20)) 512
sg_inq "$d1" >"$CASE_DIR/inquiry" || fail "INQUIRY on $d1"
for d in "$d1" "$d2" "$d3"; do log "$d: max transfer $(max_io_bytes "$d") bytes"; done

log "random 4k writes + verify ($d1)"
fio_run randwrite "${FIO_VERIFY[@]}" --filename="$d1" --rw=randwrite --bs=4k \
	--iodepth=16 --size=8M

log "mixed random read/write + verify ($d2)"
fio_run randrw "${FIO_VERIFY[@]}" --filename="$d2" --rw=randrw --rwmixread=50 \
	--bs=4k --iodepth=16 --size=8M

for d in "$d1" "$d2" "$d3"; do
	max=$(max_io_bytes "$d")
	min=$(blockdev --getss "$d")
	((min < 4096)) && min=4096
	log "block sizes $min..$max + verify, then $max sequential ($d)"
	fio_run "bsrange-${d#/dev/}" "${FIO_VERIFY[@]}" --filename="$d" --rw=randwrite \
		--bsrange="$min-$max" --iodepth=8 --size=8M
	fio_run "maxbs-${d#/dev/}" "${FIO_VERIFY[@]}" --filename="$d" --rw=write \
		--bs="$max" --iodepth=4 --size=8M
done

log "all LUNs at once + verify"
fio_run all "${FIO_VERIFY[@]}" --rw=randwrite --bs=8k --iodepth=16 --size=8M \
	--name=j1 --filename="$d1" --name=j2 --filename="$d2" --name=j3 --filename="$d3"

log "the data is in the backing files"
for pair in "$d1 f1" "$d2 f2" "$d3 f3"; do
	set -- $pair
	cmp <(dd if="$1" bs=1M count=16 iflag=direct status=none) \
		<(dd if="$CASE_DATA/$2.img" bs=1M count=16 status=none) ||
		fail "$1 and $CASE_DATA/$2.img differ"
done
[[ $(stat -c %s "$CASE_DATA/f1.img") == $((64 << 20)) ]] ||
	fail "f1.img was not sized from dev_size"
tcmud_alive
