#!/usr/bin/env python3
# bench/vm-table.py — turns the RESULT lines of bench/vm-guest.sh (read from
# the files given, or stdin) into markdown tables: per job and target the
# measurements, then tcmud's ratios to tcmu-runner and to fileio, then the
# issue's targets with MET / MISSED. With several rounds, each cell is the
# median over the rounds. Standard library only.
import sys

from result_lines import med, read_results

TARGETS = ["tcmud", "runner", "fileio"]
NAMES = {"tcmud": "tcmud user:file", "runner": "tcmu-runner user:qcow(raw)",
         "fileio": "LIO fileio (in-kernel)", "tcmud-ram": "tcmud user:ram (no file I/O)",
         # bench/run-vm-qcow.sh
         "tcmud-qcow": "tcmud user:qcow (qcow2, allocated)",
         "runner-qcow": "tcmu-runner user:qcow (qcow2, allocated)",
         "tcmud-file": "tcmud user:file (raw)",
         "tcmud-qcow-sparse": "tcmud user:qcow (qcow2, sparse, ext4)",
         "runner-qcow-sparse": "tcmu-runner user:qcow (qcow2, sparse, ext4)",
         "tcmud-file-sparse": "tcmud user:file (raw, sparse, ext4)"}
# ratio tables of the qcow2 bench: (title, [(column, numerator, denominator)])
QCOW_RATIOS = [
    ("qcow2 images allocated (tmpfs)",
     [("tcmud-qcow / tcmu-runner-qcow", "tcmud-qcow", "runner-qcow"),
      ("tcmud-qcow / tcmud-file", "tcmud-qcow", "tcmud-file")]),
    ("fresh sparse images, writes allocate clusters (ext4 on a RAM disk)",
     [("tcmud-qcow / tcmu-runner-qcow", "tcmud-qcow-sparse", "runner-qcow-sparse"),
      ("tcmud-qcow / tcmud-file", "tcmud-qcow-sparse", "tcmud-file-sparse")]),
]


def parse(lines):
    """read_results() plus this table's columns: ios, scpu (guest CPU µs
    per I/O), dticks, and the optional user/sys split, page faults and
    context switches per I/O of newer vm-guest.sh lines."""
    res, order, targets = read_results(lines)
    for rs in res.values():
        for r in rs:
            kv = r["kv"]
            hz = float(kv["hz"])
            r["ios"] = int(kv["ios"])
            ios = max(r["ios"], 1)
            r["scpu"] = float(kv["sys_ticks"]) / hz / ios * 1e6
            r["dticks"] = None if kv["dcpu_ticks"] == "-" else float(kv["dcpu_ticks"])
            for key, scale in (("utime_ticks", 1e6 / hz), ("stime_ticks", 1e6 / hz),
                               ("minflt", 1.0), ("vcsw", 1.0), ("nvcsw", 1.0)):
                r[key] = float(kv[key]) * scale / ios if key in kv else None
    return res, order, targets


def fmt(v, nd=0):
    if v is None:
        return "-"
    return f"{v:,.{nd}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fr(v):
    return "-" if v is None else f"{v:.2f}x"


def main():
    lines = []
    if len(sys.argv) > 1:
        for p in sys.argv[1:]:
            with open(p) as f:
                lines += f.readlines()
    else:
        lines = sys.stdin.readlines()
    res, order, seen = parse(lines)
    # the three of the issue first, then variants (e.g. "tcmud+;inline=off")
    all_targets = [t for t in TARGETS if t in seen] + [t for t in seen if t not in TARGETS]
    if not res:
        print("no RESULT lines")
        return 1
    rounds = max(len(v) for v in res.values())
    out = []
    out.append(f"Measurements (median of {rounds} round(s); CPU = CPU time per I/O; "
               "daemon = the daemon process, all threads; guest = all CPUs of the VM)\n")
    out.append("| job | target | IOPS | MiB/s | p50 µs | p99 µs | daemon CPU µs/IO | guest CPU µs/IO |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for job in order:
        for t in all_targets:
            rs = res.get((t, job))
            if not rs:
                continue
            out.append(f"| {job} | {NAMES.get(t, t)} | {fmt(med(rs, 'iops'))} | {fmt(med(rs, 'bw'), 1)} | "
                       f"{fmt(med(rs, 'p50'))} | {fmt(med(rs, 'p99'))} | {fmt(med(rs, 'dcpu'), 1)} | "
                       f"{fmt(med(rs, 'scpu'), 1)} |")
    out.append("")
    split = [(job, t, res[(t, job)]) for job in order for t in all_targets
             if res.get((t, job)) and med(res[(t, job)], "utime_ticks") is not None]
    if split:
        out.append("Daemon CPU split and events per I/O (user = utime, sys = stime: system "
                   "calls, faults and the kernel work they do; wake-ups = voluntary context "
                   "switches, preempted = involuntary ones)\n")
        out.append("| job | target | user µs/IO | sys µs/IO | wake-ups/IO | preempted/IO | page faults/IO |")
        out.append("|---|---|---:|---:|---:|---:|---:|")
        for job, t, rs in split:
            out.append(f"| {job} | {NAMES.get(t, t)} | {fmt(med(rs, 'utime_ticks'), 1)} | "
                       f"{fmt(med(rs, 'stime_ticks'), 1)} | {fmt(med(rs, 'vcsw'), 2)} | "
                       f"{fmt(med(rs, 'nvcsw'), 2)} | {fmt(med(rs, 'minflt'), 2)} |")
        out.append("")
    g = lambda rs, key: med(rs, key) if rs else None
    for title, cols in QCOW_RATIOS:
        cols = [c for c in cols if any(t in seen for t in c[1:])]
        if not cols:
            continue
        out.append(f"Ratios, {title} (IOPS: higher is better; daemon CPU per I/O: lower is better)\n")
        head = "| job |"
        for name, _, _ in cols:
            head += f" IOPS {name} | daemon CPU/IO {name} |"
        out.append(head)
        out.append("|---|" + "---:|---:|" * len(cols))
        for job in order:
            if not any(res.get((c[1], job)) for c in cols):
                continue
            line = f"| {job} |"
            for _, a, b in cols:
                ra, rb = res.get((a, job)), res.get((b, job))
                line += (f" {fr(ratio(g(ra, 'iops'), g(rb, 'iops')))} |"
                         f" {fr(ratio(g(ra, 'dcpu'), g(rb, 'dcpu')))} |")
            out.append(line)
        out.append("")
    if not any(t in seen for t in TARGETS):
        print("\n".join(out))
        return 0
    out.append("Ratios of tcmud (higher IOPS is better, lower CPU is better)\n")
    out.append("| job | IOPS vs tcmu-runner | IOPS vs fileio | daemon CPU/IO vs tcmu-runner | guest CPU/IO vs tcmu-runner | guest CPU/IO vs fileio |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for job in order:
        t = res.get(("tcmud", job))
        r = res.get(("runner", job))
        k = res.get(("fileio", job))
        g = lambda rs, key: med(rs, key) if rs else None
        out.append(f"| {job} | {fr(ratio(g(t, 'iops'), g(r, 'iops')))} | {fr(ratio(g(t, 'iops'), g(k, 'iops')))} | "
                   f"{fr(ratio(g(t, 'dcpu'), g(r, 'dcpu')))} | {fr(ratio(g(t, 'scpu'), g(r, 'scpu')))} | "
                   f"{fr(ratio(g(t, 'scpu'), g(k, 'scpu')))} |")
    out.append("")

    # The targets.
    checks = []

    def cpu_4k(target):
        ticks = ios = 0
        for job in order:
            if "-4k-" not in job:
                continue
            rs = res.get((target, job)) or []
            for r in rs:
                if r["dticks"] is None:
                    return None
                ticks += r["dticks"]
                ios += r["ios"]
        return ticks / ios if ios else None

    c_t, c_r = cpu_4k("tcmud"), cpu_4k("runner")
    if c_t is not None and c_r:
        q = c_t / c_r
        checks.append(("daemon CPU per 4k I/O (all 4k jobs) <= 0.5x tcmu-runner",
                       f"{q:.2f}x", q <= 0.5))
    for job in order:
        t, r, k = (res.get((x, job)) for x in TARGETS)
        if not t:
            continue
        it = med(t, "iops")
        if "-4k-qd32" in job:
            if r:
                q = it / med(r, "iops")
                checks.append((f"{job} IOPS >= tcmu-runner", f"{q:.2f}x", q >= 1.0))
            if k:
                q = it / med(k, "iops")
                checks.append((f"{job} IOPS >= 95% of fileio", f"{q:.2f}x", q >= 0.95))
        if "-1M-" in job and job.split("-")[0] in ("read", "write"):
            if r:
                q = it / med(r, "iops")
                checks.append((f"{job} >= 1.5x tcmu-runner", f"{q:.2f}x", q >= 1.5))
            if k:
                q = it / med(k, "iops")
                checks.append((f"{job} >= 80% of fileio", f"{q:.2f}x", q >= 0.8))
    if checks:
        out.append("Targets (same run, same VM)\n")
        out.append("| target | measured | |")
        out.append("|---|---:|---|")
        for name, val, ok in checks:
            out.append(f"| {name} | {val} | {'MET' if ok else 'MISSED'} |")
        out.append("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
