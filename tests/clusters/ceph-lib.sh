# tests/clusters/ceph-lib.sh — helpers shared by ceph-up, ceph-down and
# ceph-osd (sourced, not run). Everything acts only on processes whose pid
# file lives in the cluster directory and whose command line names that
# directory's ceph.conf, so a test never touches another cluster.

# The binaries a cluster needs; prints the missing ones (nothing: all there).
ceph_missing_tools() {
	local t
	for t in ceph-mon ceph-osd ceph-authtool monmaptool ceph rbd uuidgen ss; do
		command -v "$t" >/dev/null || printf '%s ' "$t"
	done
}

# ceph_running PID: alive and not a zombie (killed daemons are reaped by
# PID 1, which can take a second or two on machines without systemd).
ceph_running() {
	[[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != [ZX] ]]
}

# ceph_ours PID DIR: the process was started with DIR/ceph.conf.
ceph_ours() {
	[[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2/ceph.conf"
}

# ceph_stop DIR SIGNAL PIDFILE...: signal each daemon of DIR, wait up to
# 10 s for it to go, then SIGKILL what is left.
ceph_stop() {
	local dir=$1 sig=$2 f p i pids=() alive=()
	shift 2
	for f in "$@"; do
		[[ -s $f ]] || continue
		p=$(cat "$f")
		ceph_ours "$p" "$dir" && kill "-$sig" "$p" 2>/dev/null && pids+=("$p")
	done
	for ((i = 0; i < 100; i++)); do
		alive=()
		for p in ${pids[@]+"${pids[@]}"}; do ceph_running "$p" && alive+=("$p"); done
		((${#alive[@]})) || return 0
		sleep 0.1
	done
	for p in "${alive[@]}"; do
		echo "ceph: pid $p still alive after 10 s, SIGKILL" >&2
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}
