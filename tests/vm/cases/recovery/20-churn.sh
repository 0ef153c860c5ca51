# Churn: 100 user devices are added and removed (every 10th also exported
# as a LUN and read) while two other LUNs serve verified I/O.  No configfs
# write may hang, I/O stays correct, and tcmud ends with the fds, UIO
# mappings and threads it had before (and no leaks at exit: LSan).
# timeout: 600
need_tcmud file
N=${CHURN_COUNT:-100}
# a small ASan quarantine, so that RSS says something about leaks
ASAN_OPTIONS+=:quarantine_size_mb=4:thread_local_quarantine_size_kb=64
tcmud_start
user_dev_add s1 "file/$CASE_DATA/s1.img" 32M
user_dev_add s2 "file/$CASE_DATA/s2.img" 32M
d1=$(loop_lun_add 0 "user_$USER_HBA/s1")
d2=$(loop_lun_add 1 "user_$USER_HBA/s2")

uio_maps() { grep -c '/dev/uio' "/proc/$TCMUD_PID/maps" || true; }
# (io_uring's iou-wrk-* workers come and go on their own: not counted)
threads() {
	local t c n=0
	for t in "/proc/$TCMUD_PID/task/"*; do
		read -r c <"$t/comm" || continue
		[[ $c == iou-* ]] || n=$((n + 1))
	done
	echo "$n"
}
thread_names() { cat "/proc/$TCMUD_PID/task/"*/comm | sort | uniq -c | tr -s ' \n' ' '; }
snapshot() { echo "fds=$(tcmud_fds) uio_maps=$(uio_maps) threads=$(threads)"; }

# a snapshot once two taken a second apart agree (threads of a removed
# device may take a moment to end)
stable_snapshot() {
	local a b i
	b=$(snapshot)
	for ((i = 0; i < 10; i++)); do
		nap 1
		a=$b b=$(snapshot)
		[[ $a == "$b" ]] && break
	done
	echo "$b"
}

# warm up (first-use allocations, handler load), then take the baseline
user_dev_add w0 "file/$CASE_DATA/w0.img" 8M
user_dev_del w0
base=$(stable_snapshot) base_rss=$(tcmud_rss_kb)
log "baseline: $base rss=${base_rss}k"

# background I/O until the churn is over
touch "$CASE_DIR/io.run"
(
	i=0
	while [[ -e $CASE_DIR/io.run ]]; do
		i=$((i + 1))
		fio_run "bg$i" "${FIO_VERIFY[@]}" --rw=randwrite --bs=4k --iodepth=4 --size=2M --rate_iops=100 \
			--name=a --filename="$d1" --name=b --filename="$d2"
	done
	echo "$i" >"$CASE_DIR/io.rounds"
) &
io=$!

for ((i = 1; i <= N; i++)); do
	user_dev_add "c$i" "file/$CASE_DATA/c.img" 8M
	if ((i % 10 == 0)); then
		d=$(loop_lun_add 5 "user_$USER_HBA/c$i")
		dd if="$d" of=/dev/null bs=64k count=16 iflag=direct status=none || fail "reading $d (c$i)"
		loop_lun_del 5
		retry_until 10 test ! -b "$d" || fail "$d still there after removing its LUN"
	fi
	user_dev_del "c$i"
	((i % 25 == 0)) && log "$i devices added and removed; $(snapshot) rss=$(tcmud_rss_kb)k"
	((i == 25)) && rss25=$(tcmud_rss_kb)
	pid_alive "$io" || fail "background fio stopped (failed) during the churn"
	tcmud_alive
done
rm -f "$CASE_DIR/io.run"
fio_wait "$io"
log "background fio: $(cat "$CASE_DIR/io.rounds") verified rounds"

# (after the last removal settles: fewer threads than the baseline is
# no leak, but more of anything is)
after=$(stable_snapshot)
_no_more() {
	local k b a
	for k in fds uio_maps threads; do
		b=${base#*$k=} a=${after#*$k=}
		((${a%% *} <= ${b%% *})) || return 1
	done
}
_no_more || fail "tcmud leaks: before $base, after $after (threads: $(thread_names))"
rss=$(tcmud_rss_kb)
log "after: $(snapshot) rss=${rss}k (baseline ${base_rss}k, after 25 devices ${rss25}k)"
((rss - rss25 < 16 * 1024)) ||
	fail "tcmud's RSS grew by $(((rss - rss25) / 1024)) MiB over the last $((N - 25)) devices"
