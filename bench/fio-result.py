#!/usr/bin/python3
"""fio-result.py TARGET JOB FIO.JSON [DCPU_TICKS SYS_TICKS HZ [EXTRA]]

Prints the RESULT line the bench tables read (vm-table*.py, vm-rbd-table.py)
for the first job of a fio JSON output: IOPS, KiB/s and the worst p50/p99
completion latency of its read and write sides; with the CPU tick counts
(the daemon's, or "-" when there is none, and the whole guest's) and the
clock rate when given, and EXTRA (" key=value ...") appended as it is.
"""
import json
import sys


def main(argv):
    target, job, path = argv[1:4]
    j = json.load(open(path))["jobs"][0]
    ios = iops = bw = 0
    p50 = p99 = 0.0
    for d in (j["read"], j["write"]):
        if not d["total_ios"]:
            continue
        ios += d["total_ios"]
        iops += d["iops"]
        bw += d["bw"]
        pc = d.get("clat_ns", {}).get("percentile", {})
        p50 = max(p50, pc.get("50.000000", 0) / 1000.0)
        p99 = max(p99, pc.get("99.000000", 0) / 1000.0)
    line = ("RESULT %s %s iops=%.1f bw_kib=%d p50_us=%.1f p99_us=%.1f ios=%d"
            % (target, job, iops, bw, p50, p99, ios))
    if len(argv) > 4:
        dt, st, hz = argv[4:7]
        line += " dcpu_ticks=%s sys_ticks=%s hz=%s" % (dt, st, hz)
    if len(argv) > 7:
        line += argv[7]
    print(line)


if __name__ == "__main__":
    main(sys.argv)
