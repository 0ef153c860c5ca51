# Restart: tcmud is killed with SIGKILL while fio writes and verifies on two
# LUNs, and started again.  The new tcmud must find both devices (it opens
# their UIO devices again and resets the rings), the initiator's retries
# must succeed and fio's verification must pass.  Three cycles in one run,
# then one more kill and restart with no I/O, and a read-only verification
# of the last cycle's data: no acknowledged write is lost.
# timeout: 400
need_tcmud file
CYCLES=${RESTART_CYCLES:-3}
tcmud_start
user_dev_add r1 "file/$CASE_DATA/r1.img" 64M
user_dev_add r2 "file/$CASE_DATA/r2.img;engine=threads" 64M hw_block_size=4096
d1=$(loop_lun_add 0 "user_$USER_HBA/r1")
d2=$(loop_lun_add 1 "user_$USER_HBA/r2")
# (sd's own command time-out stays at 30 s; the kernel's TCMU time-out too:
# a restarted daemon must make the stuck commands retryable long before)
# (rate-limited so that the write phase lasts >2.5 s even with KVM: the
# kill must land in it; slower machines only make it longer)
JOB=("${FIO_VERIFY[@]}" --rw=randwrite --bs=16k --iodepth=16 --size=16M --randseed=4242
	--rate_iops=400,400
	--name=a --filename="$d1" --name=b --filename="$d2")

for ((c = 1; c <= CYCLES; c++)); do
	log "cycle $c: fio (write + verify) on $d1 $d2, then kill -9 tcmud"
	fio_bg "cycle$c" "${JOB[@]}"
	sleep 1
	pid_alive "$FIO_PID" || fail "fio finished before the kill: make it longer"
	tcmud_kill9
	sleep 1
	tcmud_start # waits until both /dev/uio* are open again
	log "cycle $c: tcmud restarted (pid $TCMUD_PID), waiting for fio"
	fio_wait "$FIO_PID"
	grep -q 'err= 0' "$CASE_DIR/fio.cycle$c.out" || fail "fio reported errors in cycle $c"
done

log "kill -9 with no I/O, restart, verify the last cycle's data read-only"
tcmud_kill9
tcmud_start
fio_run reverify "${JOB[@]/--do_verify=1/--verify_only=1}"
tcmud_alive
