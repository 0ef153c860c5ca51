# Ring pressure: a device with a 1 MiB data area and a 1 MiB command ring
# gets far more outstanding data than fits (4 jobs x iodepth 32 x 64 KiB =
# 8 MiB): the kernel must queue, tcmud must keep completing, and
# everything still completes and verifies, without command time-outs.
# Then many small commands wrap the command ring several times, so the
# kernel pads its end (PAD entries) and cmd_tail wraps: still verified,
# and neither the kernel nor tcmud reports a broken ring.
# timeout: 240
need_tcmud file
tcmud_start
user_dev_add p1 "file/$CASE_DATA/p1.img" 64M max_data_area_mb=1 cmd_ring_size_mb=1
user_dev_attr p1 max_data_area_mb | grep -qx 1 || fail "max_data_area_mb=1 not applied"
disk=$(loop_lun_add 0 "user_$USER_HBA/p1")
max=$(max_io_bytes "$disk")
log "$disk: data area 1 MiB, command ring 1 MiB, max transfer $max"

log "4 writers x iodepth 32 x $max + verify"
fio_run pressure "${FIO_VERIFY[@]}" --filename="$disk" --rw=randwrite --bs="$max" \
	--iodepth=32 --numjobs=4 --size=8M --offset_increment=16M
log "mixed sizes, reads and writes at once"
fio_run mixed "${FIO_VERIFY[@]}" --filename="$disk" --rw=randrw --bsrange=4k-"$max" \
	--iodepth=64 --numjobs=2 --size=8M --offset_increment=32M
# Ring wrap: the ring is 1 MiB minus the 128-byte mailbox = 8191 x 128
# bytes, and a 4 KiB READ/WRITE(10) entry is exactly 128 bytes (a 112-byte
# entry with one iovec, 16 for the CDB): 4 KiB commands alone fit the end
# of the ring exactly and the kernel never pads it.  So each round starts
# with three TEST UNIT READYs (120-byte entries: the head moves 24 bytes
# off that grid), then 2 x 4096 4 KiB commands (8192 x 128 bytes: more than
# a lap).  Every round wraps the ring, and from round 2 on the kernel pads
# its last 24 bytes (round 1: whatever the phases above left).
for round in 1 2 3; do
	log "round $round: 3 x TEST UNIT READY, then 8192 small commands (more than a ring lap)"
	sg_turs -n 3 "$disk" || fail "TEST UNIT READY on $disk"
	fio_run "wrap$round" "${FIO_VERIFY[@]}" --filename="$disk" --rw=randwrite --bs=4k \
		--iodepth=32 --size=16M --offset=$(((round - 1) << 24)) --randseed=$round
done
dmesg | grep -iE 'tcmu.*(timed out|time out)' && fail "commands timed out under ring pressure"
msg=$(dmesg | grep -iE 'cmd_id [0-9]+ not found|ring is broken|tcmu.*(broken|corrupt)') &&
	fail "the kernel reports a broken ring: $msg"
msg=$(grep -iE 'ring (is broken|corrupt)|command ring corrupt|no ring slot|does not hold' "$TCMUD_LOG") &&
	fail "tcmud reports a broken ring: $msg"
tcmud_alive
