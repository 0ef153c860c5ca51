# bench/result_lines.py — what the table scripts of the VM benches
# (vm-table.py, vm-rbd-table.py, vm-table-glfs.py) share: reading the
# "RESULT <target> <job> key=value ..." lines their guest scripts print, and
# the median of a cell. Standard library only.
import re
import statistics


def read_results(lines):
    """RESULT lines -> (res, jobs, targets).

    res maps (target, job) to the list of its records (one per round), each
    with iops, bw (MiB/s), p50 and p99 (µs), dcpu (the daemon's CPU µs per
    I/O; None when the line has no daemon or no dcpu_ticks) and kv (every
    key=value of the line, for script-specific columns). jobs and targets
    are in order of first appearance."""
    res, jobs, targets = {}, [], []
    for line in lines:
        m = re.match(r"^RESULT (\S+) (\S+) (.*)$", line.strip())
        if not m:
            continue
        target, job, rest = m.groups()
        kv = dict(x.split("=", 1) for x in rest.split())
        r = {"iops": float(kv["iops"]), "bw": float(kv["bw_kib"]) / 1024.0,
             "p50": float(kv["p50_us"]), "p99": float(kv["p99_us"]),
             "dcpu": None, "kv": kv}
        if kv.get("dcpu_ticks", "-") != "-":
            r["dcpu"] = float(kv["dcpu_ticks"]) / float(kv["hz"]) / \
                max(int(kv["ios"]), 1) * 1e6
        res.setdefault((target, job), []).append(r)
        if job not in jobs:
            jobs.append(job)
        if target not in targets:
            targets.append(target)
    return res, jobs, targets


def med(rs, key):
    """Median of @key over the records @rs, ignoring None; None if none."""
    vals = [r[key] for r in rs if r[key] is not None]
    return statistics.median(vals) if vals else None
