#!/usr/bin/env python3
# bench/vm-rbd-table.py — turns the RESULT lines of bench/vm-guest-rbd.sh
# (read from the files given, or stdin) into markdown tables: per job and
# target IOPS, bandwidth, p50/p99 latency and the daemon's CPU per I/O,
# then tcmud's ratios to fio's rbd engine (the ceiling) and to tcmu-runner.
# Several RESULT lines for one (target, job): the median. Standard library
# only.
import fileinput

from result_lines import med, read_results

NAMES = {"tcmud": "tcmud user:rbd (tcm_loop)",
         "fio-rbd": "fio --ioengine=rbd (librbd, no SCSI)",
         "runner": "tcmu-runner rbd (tcm_loop)"}


def fmt(v, nd=0):
    if v is None:
        return "-"
    return f"{v:.{nd}f}" if nd else f"{v:,.0f}"


def main():
    res, jobs, targets = read_results(fileinput.input())
    print("| job | target | IOPS | MiB/s | p50 µs | p99 µs | daemon CPU µs/IO |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for job in jobs:
        for t in targets:
            rs = res.get((t, job))
            if not rs:
                continue
            print(f"| {job} | {NAMES.get(t, t)} | {fmt(med(rs, 'iops'))} | "
                  f"{fmt(med(rs, 'bw'), 1)} | {fmt(med(rs, 'p50'))} | "
                  f"{fmt(med(rs, 'p99'))} | {fmt(med(rs, 'dcpu'))} |")
    print()
    pairs = [(d, f"tcmud / {d}") for d in ("fio-rbd", "runner") if d in targets]
    if "tcmud" not in targets or not pairs:
        return
    print("tcmud's ratios (IOPS: higher is better; p99: lower is better)")
    print()
    print("| job | " + " | ".join(f"{n} IOPS | {n} p99" for _, n in pairs) + " |")
    print("|---|" + "---:|---:|" * len(pairs))
    for job in jobs:
        a = res.get(("tcmud", job))
        if not a:
            continue
        cells = []
        for d, _ in pairs:
            b = res.get((d, job))
            if not b or not med(b, "iops") or not med(b, "p99"):
                cells += ["-", "-"]
                continue
            cells.append(f"{med(a, 'iops') / med(b, 'iops'):.2f}")
            cells.append(f"{med(a, 'p99') / med(b, 'p99'):.2f}")
        print(f"| {job} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
