#!/bin/bash
# bench/run-sim.sh — the simulated-ring benchmark on the host (no kernel, no
# root): tcmu-simbench over queue depths and transfer sizes with the ram
# handler, then instructions per command under callgrind. Prints the tables
# and keeps them in bench/results/<date>-sim-<host>.md.
#
#   bench/run-sim.sh [-b BUILD_DIR] [-t SECONDS] [-q QDS] [-s SIZES] [-n] [-c] [-o OUT]
#     -t  seconds per point (default 2)     -q  queue depths (default 1,8,32,128,256)
#     -s  transfer sizes (default 4k,64k,1m) -n  no timing matrix (callgrind only)
#     -c  no callgrind                        -o  output file (default bench/results/...)
#
# Reading it: "daemon ns/c" is the CPU time of libtcmu's ring thread per
# command (the whole daemon side: ring parsing, SCSI core, ram handler with
# its memcpy, write-back, notify), so 1e9 / it is what one core could
# serve ("daemon kc/s/c"). The wall-clock columns include the producer (the
# simulator plays the kernel in another thread) and the wake-ups between
# the two threads, and they suffer from whatever else the machine runs.
# Callgrind counts are repeatable: they are the numbers to compare commits.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD=$ROOT/build-bench
SECS=2
QDS=1,8,32,128,256
SIZES=4k,64k,1m
MATRIX=1
CALLGRIND=1
OUT=

while getopts b:t:q:s:nco:h opt; do
	case $opt in
	b) BUILD=$(readlink -f "$OPTARG") ;;
	t) SECS=$OPTARG ;;
	q) QDS=$OPTARG ;;
	s) SIZES=$OPTARG ;;
	n) MATRIX=0 ;;
	c) CALLGRIND=0 ;;
	o) OUT=$OPTARG ;;
	h) sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) exit 2 ;;
	esac
done

BIN=$BUILD/bench/tcmu-simbench
if [[ ! -x $BIN || ! -e $BUILD/handlers/handler_ram.so ]]; then
	# -O3 raises warnings in a few files: numbers need a release build, not -Werror.
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTCMU_SANITIZE=OFF \
		-DTCMU_WERROR=OFF -DCMAKE_C_FLAGS=-g >/dev/null
	cmake --build "$BUILD" -j2 --target tcmu-simbench handler_ram >/dev/null
fi
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
	echo "run-sim: warning: $BUILD is not a Release build" >&2

host=$(hostname -s 2>/dev/null || hostname)
mkdir -p "$ROOT/bench/results"
[[ -n $OUT ]] || OUT=$ROOT/bench/results/$(date -u +%Y-%m-%d)-sim-$host.md
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{
	echo "# run-sim: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "host: $host, $(nproc) CPUs ($cpu), kernel $(uname -r), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ local changes)'), build: $BUILD"
	echo "command: bench/run-sim.sh -t $SECS -q $QDS -s $SIZES$( ((MATRIX)) || echo ' -n')$( ((CALLGRIND)) || echo ' -c')"
	echo
} | tee "$OUT"

if ((MATRIX)); then
	{
		echo "## Throughput (ram handler, random LBAs, 64 MiB LUN, data_pages_per_blk 8)"
		echo
		echo '```'
		"$BIN" -q "$QDS" -b "$SIZES" -w read,write -t "$SECS"
		echo '```'
		echo
	} | tee -a "$OUT"
fi

if ((CALLGRIND)); then
	command -v valgrind >/dev/null || { echo "run-sim: valgrind not installed: no instruction counts" >&2; exit 0; }
	{
		echo "## Instructions per command (callgrind; (run of 5N - run of N) / 4N commands, N = 5000 for 4k, fewer for larger transfers)"
		echo
		echo "| workload | thread | Ir/cmd | Ir/cmd without payload memcpy | syscalls/cmd | Ir/cmd by part |"
		echo "|---|---|---:|---:|---:|---|"
	} | tee -a "$OUT"
	for point in read:4k:1 read:4k:32 write:4k:32 read:4k:256 write:4k:256 read:64k:32 write:1m:8; do
		IFS=: read -r rw bs qd <<<"$point"
		# N commands of 4 KiB, or fewer of a larger size (the copies dominate)
		case $bs in
		*k) n1=$((5000 * 4 / ${bs%k})) ;;
		*m) n1=$((5000 * 4 / (${bs%m} * 1024))) ;;
		*) n1=5000 ;;
		esac
		((n1 >= 100)) || n1=100
		n2=$((n1 * 5))
		for n in $n1 $n2; do
			valgrind --tool=callgrind --separate-threads=yes --collect-systime=yes \
				--callgrind-out-file="$tmp/cg.$n" "$BIN" -q "$qd" -b "$bs" -w "$rw" \
				-n "$n" -s 16m >"$tmp/out.$n" 2>"$tmp/err.$n" ||
				{ cat "$tmp/err.$n" >&2; exit 1; }
		done
		python3 "$ROOT/bench/cg-summary.py" "$rw $bs qd$qd" $n1 "$tmp/cg.$n1" $n2 "$tmp/cg.$n2" |
			tee -a "$OUT"
		rm -f "$tmp"/cg.*
	done
	echo | tee -a "$OUT"
fi
echo "run-sim: results in $OUT"
