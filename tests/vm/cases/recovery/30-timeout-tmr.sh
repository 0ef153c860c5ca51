# Time-outs and TMRs, with the ram handler's stall options.
# 1. stall_ms: every command completes 6 s late, cmd_time_out is 1 s: the
#    kernel times the command out (the initiator sees an error well before
#    the 6 s), tcmud survives the late completion, a second LUN keeps
#    serving verified I/O meanwhile, and the slow device itself works again
#    once cmd_time_out is longer than its stall.
# 2. stall=1 + tmr_notification=1: a command never completes until aborted.
#    The initiator's time-out makes the SCSI error handler send ABORT TASK;
#    LIO waits for the backend, so the abort only finishes when tcmud has
#    passed the TMR to the handler and completed the command.  It must
#    finish long before cmd_time_out (30 s) would expire the command.
# timeout: 240
need_tcmud file ram
tcmud_start
user_dev_add ok1 "file/$CASE_DATA/ok1.img" 32M
user_dev_add slow "ram/slow;stall_ms=6000" 16M
user_dev_attr slow cmd_time_out 1
dok=$(loop_lun_add 0 "user_$USER_HBA/ok1")
# (no disk driver on the stalling LUNs: the partition scan would stall too;
# TEST UNIT READY is answered by the SCSI core, not the handler)
dslow=$(loop_lun_add_sg 1 "user_$USER_HBA/slow")

log "part 1: READ on $dslow (handler stalls 6 s, cmd_time_out 1 s)"
fio_bg okio "${FIO_VERIFY[@]}" --filename="$dok" --rw=randwrite --bs=4k --iodepth=8 --size=8M
t0=$(date +%s%N)
rc=0
sg_raw -r 4096 -t 20 "$dslow" 28 00 00 00 00 00 00 00 08 00 >"$CASE_DIR/sg_raw.1" 2>&1 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
log "sg_raw returned $rc after ${ms} ms: $(grep -m1 -iE 'status|sense|error' "$CASE_DIR/sg_raw.1")"
((rc != 0)) || fail "the stalled READ succeeded: cmd_time_out did not fire"
((ms < 5000)) || fail "the stalled READ took ${ms} ms: it was not timed out by the kernel"
sleep 6 # the handler's late completion arrives now
tcmud_alive
fio_wait "$FIO_PID"
fio_run okio2 "${FIO_VERIFY[@]}" --filename="$dok" --rw=randrw --bs=4k --iodepth=8 --size=4M
log "part 1b: the slow device still works once its commands may take their time"
loop_lun_del 1
user_dev_attr slow cmd_time_out 30 # (only while it is not exported)
dslow=$(loop_lun_add_sg 1 "user_$USER_HBA/slow")
t0=$(now_ms)
sg_raw -r 4096 -t 30 "$dslow" 28 00 00 00 00 00 00 00 08 00 >"$CASE_DIR/sg_raw.1b" 2>&1 ||
	fail "READ on $dslow after the time-outs: $(grep -m1 -iE 'status|sense|error' "$CASE_DIR/sg_raw.1b")"
ms=$(($(now_ms) - t0))
log "READ completed after ${ms} ms"
((ms >= 5000)) || fail "the READ took only ${ms} ms: the stall did not apply?"
loop_lun_del 1
user_dev_del slow

log "part 2: stall=1, tmr_notification=1, initiator time-out 3 s"
user_dev_add stuck "ram/stuck;stall=1" 16M
user_dev_attr stuck tmr_notification 1 ||
	fail "cannot set tmr_notification"
dstuck=$(loop_lun_add_sg 2 "user_$USER_HBA/stuck")
t0=$(date +%s%N)
rc=0
timeout 60 sg_raw -r 4096 -t 3 "$dstuck" 28 00 00 00 00 00 00 00 08 00 >"$CASE_DIR/sg_raw.2" 2>&1 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
log "sg_raw returned $rc after ${ms} ms"
((rc != 0)) || fail "a READ on a stall=1 device succeeded"
((rc != 124)) || fail "the abort never finished (60 s)"
((ms < 20000)) || fail "the abort took ${ms} ms: the TMR did not reach the handler (only cmd_time_out ended it)"
dmesg | grep -iE 'abort|tmr|reset' | tail -n 5 >"$CASE_DIR/dmesg.tmr" || true
log "kernel: $(tr '\n' ' ' <"$CASE_DIR/dmesg.tmr")"
t0=$(date +%s%N)
loop_lun_del 2
user_dev_del stuck
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 10000)) || fail "removing the stuck device took ${ms} ms: a command was still in the ring"
tcmud_alive
