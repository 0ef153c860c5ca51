#!/bin/bash
# bench/ab-sim.sh — A/B of two builds of libtcmu + a handler on the simulated
# ring, interleaved (A B A B ...) so that the machine's noise hits both:
# prints the median daemon CPU ns per command of each, and B/A.
#
#   bench/ab-sim.sh A_DIR B_DIR [ROUNDS] [tcmu-simbench options]
#
# A_DIR and B_DIR each hold libtcmu.so.0 and handler_<name>.so (copies from
# two builds); the tcmu-simbench binary of build-bench is used for both
# (LD_LIBRARY_PATH wins over its RUNPATH).
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BIN=${SIMBENCH:-$ROOT/build-bench/bench/tcmu-simbench}
A=$(readlink -f "$1") B=$(readlink -f "$2") ROUNDS=${3:-5}
shift 3 || shift $#
(($#)) || set -- -q 32,256 -b 4k -w read,write -t 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$ROUNDS"); do
	for side in A B; do
		dir=$A
		[[ $side == B ]] && dir=$B
		LD_LIBRARY_PATH=$dir "$BIN" -D "$dir" -C "$@" | tail -n +2 |
			sed "s/^/$side,/" >>"$tmp/all.csv"
	done
done
python3 - "$tmp/all.csv" <<'PY'
import csv, statistics, sys
rows = {}
for r in csv.reader(open(sys.argv[1])):
    side, key = r[0], (r[1], r[2], r[3])
    rows.setdefault(key, {}).setdefault(side, []).append(float(r[9]))
print(f"{'workload':<18} {'A daemon ns/cmd':>16} {'B daemon ns/cmd':>16} {'B/A':>6}   (medians; all A: / all B:)")
for key, d in rows.items():
    a, b = statistics.median(d["A"]), statistics.median(d["B"])
    print(f"{' '.join(key):<18} {a:16.0f} {b:16.0f} {b / a:6.2f}   A {' '.join('%.0f' % x for x in d['A'])} / B {' '.join('%.0f' % x for x in d['B'])}")
PY
