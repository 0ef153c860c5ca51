# Ring pressure: a device with a 1 MiB data area and a 1 MiB command ring
# gets far more outstanding data than fits (4 jobs x iodepth 32 x 64 KiB =
# 8 MiB): the kernel must queue, tcmud must keep completing, and
# everything still completes and verifies, without command time-outs.
# timeout: 180
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
dmesg | grep -iE 'tcmu.*(timed out|time out)' && fail "commands timed out under ring pressure"
tcmud_alive
