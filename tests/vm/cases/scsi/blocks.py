#!/usr/bin/python3
"""blocks.py: the block reader of the "scsi" cases, run once per case as a
coprocess (common.bash: blocks, save_blocks, alloc), so that checking what
a command did to the data costs no exec (each costs ~0.1 s under TCG).

Reads one request per line on stdin and answers one line on stdout:

  blocks DISK LBA COUNT [FILE [FILE_LBA]]
      COUNT 512-byte blocks of DISK from LBA, read with O_DIRECT (the page
      cache of a disk that SG_IO writes to can be stale): "unchanged" if
      they equal FILE from FILE_LBA (default LBA), else "zero", "pattern X"
      (every byte X, a letter), or "data".
  save DISK LBA COUNT FILE
      writes those blocks to FILE; answers "ok".
  alloc FILE
      the KiB FILE occupies (st_blocks), e.g. "2048".
Errors are answered as "error: ...".
"""
import mmap
import os
import sys

BS = 512


def read_direct(disk, lba, count):
    size = count * BS
    buf = mmap.mmap(-1, (size + 4095) // 4096 * 4096)
    fd = os.open(disk, os.O_RDONLY | os.O_DIRECT)
    try:
        got = os.preadv(fd, [buf], lba * BS)
    finally:
        os.close(fd)
    if got < size:
        raise OSError("short read: %d of %d bytes" % (got, size))
    return bytes(buf[:size])


def describe(data, ref):
    if ref is not None and data == ref:
        return "unchanged"
    if data.count(data[:1]) == len(data):
        if data[:1] == b"\0":
            return "zero"
        if data[:1].isalpha():
            return "pattern " + data[:1].decode()
    return "data"


def answer(words):
    cmd = words[0]
    if cmd == "blocks":
        disk, lba, count = words[1], int(words[2]), int(words[3])
        data = read_direct(disk, lba, count)
        ref = None
        if len(words) > 4:
            at = int(words[5]) if len(words) > 5 else lba
            with open(words[4], "rb") as f:
                f.seek(at * BS)
                ref = f.read(count * BS)
        return describe(data, ref)
    if cmd == "save":
        data = read_direct(words[1], int(words[2]), int(words[3]))
        with open(words[4], "wb") as f:
            f.write(data)
        return "ok"
    if cmd == "alloc":
        return str(os.stat(words[1]).st_blocks * 512 // 1024)
    return "error: unknown request " + cmd


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            reply = answer(words)
        except (OSError, ValueError, IndexError) as e:
            reply = "error: %s" % e
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
