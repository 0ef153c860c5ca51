# bench/guest-lib.sh — what the in-guest bench scripts (vm-guest*.sh) share;
# sourced after tests/vm/lib.sh, with BENCH_ROOT set.

# sys_ticks: busy ticks of the whole guest (all CPUs).
sys_ticks() {
	local cpu u n s i w irq sirq st _
	read -r cpu u n s i w irq sirq st _ </proc/stat
	echo $((u + n + s + irq + sirq + st))
}

# fio_result TARGET JOB FIO.JSON [DCPU_TICKS SYS_TICKS HZ [EXTRA]]: prints
# the RESULT line of one fio job (bench/fio-result.py).
fio_result() {
	/usr/bin/python3 "$BENCH_ROOT/bench/fio-result.py" "$@"
}
