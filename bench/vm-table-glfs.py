#!/usr/bin/env python3
# bench/vm-table-glfs.py — the RESULT lines of bench/vm-guest-glfs.sh (from
# the files given, or stdin) as markdown: per job each target's IOPS,
# bandwidth, p50/p99 completion latency, then tcmud-glfs's ratio to the
# gfapi ceiling (fio gfapi_async; for QD1 jobs also the synchronous gfapi
# engine).  With several RESULT lines per cell, the median.  Standard
# library only.
import fileinput

from result_lines import med, read_results

NAMES = {"tcmud-glfs": "tcmud user:glfs (tcm_loop, libaio)",
         "gfapi-async": "fio gfapi_async (ceiling)",
         "gfapi": "fio gfapi (sync)"}


def main():
    """Reads the RESULT lines, prints the tables."""
    res, jobs, targets = read_results(fileinput.input())

    def cell(target, job, key):
        rs = res.get((target, job))
        return med(rs, key) if rs else None

    def ms(us):
        return "" if us is None else "%.2f" % (us / 1000.0)

    print("| job | target | IOPS | MiB/s | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|")
    for job in jobs:
        for t in targets:
            if (t, job) not in res:
                continue
            print("| %s | %s | %.0f | %.2f | %s | %s |" % (
                job, NAMES.get(t, t), cell(t, job, "iops"), cell(t, job, "bw"),
                ms(cell(t, job, "p50")), ms(cell(t, job, "p99"))))
    print()
    print("Ratio of tcmud user:glfs to the gfapi ceiling (IOPS; >1: faster):")
    print()
    print("| job | / gfapi_async | / gfapi (sync) |")
    print("|---|---:|---:|")
    for job in jobs:
        mine = cell("tcmud-glfs", job, "iops")
        if mine is None:
            continue
        cols = []
        for t in ("gfapi-async", "gfapi"):
            ref = cell(t, job, "iops")
            cols.append("%.2f" % (mine / ref) if ref else "")
        print("| %s | %s | %s |" % (job, cols[0], cols[1]))


if __name__ == "__main__":
    main()
