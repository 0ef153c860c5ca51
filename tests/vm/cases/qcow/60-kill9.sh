# Crash safety: tcmud is killed with SIGKILL while fio writes (allocating
# writes, verified) to two qcow2 LUNs: an empty v3 image with 64k clusters
# and one with lazy_refcounts (marked dirty, repaired when opened again).
# After each kill, with tcmud dead, qemu-img check must find no corruption
# in the first image (leaked clusters are allowed: "a crash leaks clusters
# at worst").  tcmud restarts, the initiator's retries succeed and fio's
# verification passes.  Three cycles; then the data read back verifies, and
# after the devices are closed both images check without corruption and
# compare identical to raw copies of the LUNs.
# timeout: 300
source "$(dirname "${BASH_SOURCE[0]}")/qcow.bash"
qcow_setup
D=$CASE_DATA
CYCLES=${KILL_CYCLES:-3}
qemu-img create -q -f qcow2 -o compat=1.1,cluster_size=64k "$D/k1.qcow2" 64M
qemu-img create -q -f qcow2 -o compat=1.1,cluster_size=64k,lazy_refcounts=on "$D/k2.qcow2" 64M
d1=$(qcow_attach k1 "$D/k1.qcow2" 0)
d2=$(qcow_attach k2 "$D/k2.qcow2" 1)
# cycle_job N [FIO-ARGS...]: the fio job of cycle N (its own 20M region of
# each LUN) in JOB.
cycle_job() {
	JOB=("${FIO_VERIFY[@]}" --rw=randwrite --bs=8k --iodepth=16 --offset=$((($1 - 1) * 20))M
		--size=20M --io_size=8M --randseed=$((6060 + $1)) "${@:2}"
		--name=a --filename="$d1" --name=b --filename="$d2")
}

for ((c = 1; c <= CYCLES; c++)); do
	log "cycle $c: fio (write + verify) on $d1 $d2, then kill -9 tcmud"
	cycle_job "$c"
	size0=$(bb stat -c %s "$D/k1.qcow2")
	fio_bg "cycle$c" "${JOB[@]}"
	# (kill once writes allocate: the image file grows)
	_grew() { (($(bb stat -c %s "$D/k1.qcow2") > size0 + (4 << 16))); }
	retry_until 60 _grew || fail "cycle $c: k1.qcow2 does not grow under fio"
	nap 0.5
	pid_alive "$FIO_PID" || fail "fio finished before the kill: make it longer"
	tcmud_kill9
	qimg_check "$D/k1.qcow2" "k1 after kill $c" 1
	tcmud_start # waits until both /dev/uio* are open again
	log "cycle $c: tcmud restarted (pid $TCMUD_PID), waiting for fio"
	fio_wait "$FIO_PID"
	grep -q 'err= 0' "$CASE_DIR/fio.cycle$c.out" || fail "fio reported errors in cycle $c"
done

log "read back and verify every cycle's data"
for ((c = 1; c <= CYCLES; c++)); do
	cycle_job "$c"
	fio_run "reverify$c" "${JOB[@]/--do_verify=1/--verify_only=1}"
done
dd if="$d1" of="$D/k1.raw" bs=1M iflag=direct status=none
dd if="$d2" of="$D/k2.raw" bs=1M iflag=direct status=none
qcow_detach k1 0
qcow_detach k2 1
for i in k1 k2; do
	qimg_check "$D/$i.qcow2" "$i at the end" 1
	qemu-img compare -f raw "$D/$i.raw" "$D/$i.qcow2" >"$CASE_DIR/compare.$i" 2>&1 ||
		fail "$i.qcow2 differs from what the initiator read: $(head -n 3 "$CASE_DIR/compare.$i")"
done
tcmud_alive
