# Clean shutdown: SIGTERM while two LUNs are exported and fio writes and
# verifies on them.  tcmud exits with 0 (and no sanitizer report); a new
# tcmud takes the devices over and fio completes with its verification.
# timeout: 240
need_tcmud file
tcmud_start
user_dev_add t1 "file/$CASE_DATA/t1.img" 64M
user_dev_add t2 "file/$CASE_DATA/t2.img" 64M
d1=$(loop_lun_add 0 "user_$USER_HBA/t1")
d2=$(loop_lun_add 1 "user_$USER_HBA/t2")
# (rate-limited: the write phase lasts >3 s even with KVM)
fio_bg busy "${FIO_VERIFY[@]}" --rw=randwrite --bs=16k --iodepth=16 --size=24M --rate_iops=500,500 \
	--name=a --filename="$d1" --name=b --filename="$d2"
sleep 1
pid_alive "$FIO_PID" || fail "fio finished before SIGTERM: make it longer"
old=$TCMUD_PID
log "SIGTERM tcmud (pid $old) with I/O running"
tcmud_stop "$old"
[[ -z $(sanitizer_reports) ]] || fail "sanitizer report from the stopped tcmud"
pid_alive "$FIO_PID" || log "(fio finished during the shutdown)"
tcmud_start
log "new tcmud (pid $TCMUD_PID) serves both devices"
fio_wait "$FIO_PID"
fio_run after "${FIO_VERIFY[@]}" --rw=randrw --bs=4k --iodepth=8 --size=4M \
	--name=a --filename="$d1" --name=b --filename="$d2"
tcmud_stop
