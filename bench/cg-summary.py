#!/usr/bin/env python3
# bench/cg-summary.py — instructions (and system calls) per command from two
# callgrind runs of tcmu-simbench that differ only in the number of measured
# commands: (long - short) / (n_long - n_short) cancels start-up, warm-up and
# tear-down. Threads are split with --separate-threads=yes; the daemon is
# the thread that ran ring_thread_main, the producer is thread 1 (counted
# only in the measured phase, see thread_files()).
#
#   cg-summary.py LABEL N_SHORT PREFIX_SHORT N_LONG PREFIX_LONG
#
# PREFIX is the --callgrind-out-file given to valgrind (files PREFIX-NN).
# Prints one markdown row per thread: Ir/cmd, by part, syscalls/cmd.
import glob
import re
import subprocess
import sys

GROUPS = [
    ("payload copy", lambda f, fn, obj: re.search(r"mem(move|cpy)", fn or "")),
    ("memset", lambda f, fn, obj: re.search(r"memset", fn or "")),
    ("libtcmu ring/runner", lambda f, fn, obj: re.search(r"libtcmu/(ring|runner|device|uio|spine)", f or "")),
    ("libtcmu SCSI core", lambda f, fn, obj: re.search(r"libtcmu/scsi/", f or "")),
    ("handler", lambda f, fn, obj: re.search(r"handlers/|handler_", (f or "") + (obj or ""))),
    ("simulator", lambda f, fn, obj: re.search(r"tests/sim/|sim_bench", f or "")),
]


def annotate(path):
    """{(file, fn, obj): (Ir, sys)} self cost from callgrind_annotate."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", "--auto=no", path],
                         capture_output=True, text=True, check=True).stdout
    events = None
    rows = {}
    total = None
    for line in out.splitlines():
        m = re.match(r"^Events shown:\s+(.*)$", line)
        if m:
            events = m.group(1).split()
            continue
        if events is None:
            continue
        m = re.match(r"^\s*([\d,]+)(?: \([ \d.]+%\))?((?:\s+(?:[\d,]+|\.)(?: \([ \d.]+%\))?)*)\s+(\S.*?)(?: \[(.+)\])?$", line)
        if not m:
            continue
        if "PROGRAM TOTALS" in line:
            total = m.group(1)
            continue
        if m.group(1) == total:
            continue  # a frame active at a client-request dump: inclusive, not self
        ir = int(m.group(1).replace(",", ""))
        rest = re.findall(r"([\d,]+|\.)(?: \([ \d.]+%\))?", m.group(2))
        sysc = 0
        if "sysCount" in events and len(rest) >= 1:
            v = rest[events.index("sysCount") - 1]
            sysc = 0 if v == "." else int(v.replace(",", ""))
        name = m.group(3)
        f, _, fn = name.rpartition(":")
        rows[(f, fn, m.group(4))] = (ir, sysc)
    return rows


def thread_files(prefix):
    """The daemon's file (the thread that ran ring_thread_main, whole run)
    and the producer's (thread 1, dumped by tcmu-simbench at the end of the
    measured phase, zeroed at its start)."""
    daemon = producer = None
    for p in sorted(glob.glob(prefix + "-*")):
        with open(p, errors="replace") as fh:
            txt = fh.read()
        if re.search(r"^c?fn=\(\d+\) ring_thread_main$", txt, re.M):
            daemon = p
    dumps = sorted(glob.glob(prefix + ".*-01"))
    if dumps:
        producer = dumps[0]
    return daemon, producer


def groups(rows):
    g = {name: [0, 0] for name, _ in GROUPS}
    g["other"] = [0, 0]
    tot = [0, 0]
    for (f, fn, obj), (ir, sc) in rows.items():
        tot[0] += ir
        tot[1] += sc
        for name, match in GROUPS:
            if match(f, fn, obj):
                g[name][0] += ir
                g[name][1] += sc
                break
        else:
            g["other"][0] += ir
            g["other"][1] += sc
    return tot, g


def main():
    label, n1, p1, n2, p2 = sys.argv[1:6]
    n = int(n2) - int(n1)
    d1, r1 = thread_files(p1)
    d2, r2 = thread_files(p2)
    for who, a, b in (("daemon (ring thread)", d1, d2), ("producer (sim)", r1, r2)):
        if not a or not b:
            print(f"| {label} | {who} | (no data) |")
            continue
        t1, g1 = groups(annotate(a))
        t2, g2 = groups(annotate(b))
        ir = (t2[0] - t1[0]) / n
        sc = (t2[1] - t1[1]) / n
        parts = ", ".join(f"{k} {(g2[k][0] - g1[k][0]) / n:.0f}" for k in g2
                          if abs(g2[k][0] - g1[k][0]) / n >= 1)
        nocopy = ir - (g2["payload copy"][0] - g1["payload copy"][0]) / n
        print(f"| {label} | {who} | {ir:,.0f} | {nocopy:,.0f} | {sc:.3f} | {parts} |")


if __name__ == "__main__":
    main()
