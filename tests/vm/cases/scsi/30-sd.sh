# Linux's sd driver on a tcmud user:file LUN, side by side with LIO's
# fileio: what it made of the VPD pages and mode pages (queue/discard_*,
# write_zeroes/write_same limits, transfer sizes, write cache and FUA,
# scsi_disk/*/provisioning_mode, zeroing_mode, cache_type...), then
# blkdiscard, blkdiscard --zeroout, fallocate --punch-hole, mkfs.ext4 -E
# discard and fstrim, with the data read back and the backing file's
# allocation (tmpfs holes) before and after.  user:ram (write cache off) shows write-through.
# timeout: 150
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
scsi_setup ram

src=$CASE_DATA/src.bin
head -c 4M /dev/urandom >"$src"

probe_sysfs() { # LUN DISK
	local l=$1 b=${2#/dev/} f v
	for f in discard_max_bytes discard_max_hw_bytes discard_granularity write_same_max_bytes \
		write_zeroes_max_bytes max_sectors_kb max_hw_sectors_kb optimal_io_size minimum_io_size \
		physical_block_size logical_block_size rotational write_cache fua; do
		read -r v <"/sys/block/$b/queue/$f"
		kv "$l" "queue.$f" "$v"
	done
	for f in /sys/block/"$b"/device/scsi_disk/*/{cache_type,FUA,provisioning_mode,thin_provisioning,zeroing_mode,max_write_same_blocks,protection_type}; do
		read -r v <"$f"
		kv "$l" "scsi_disk.${f##*/}" "$v"
	done
}

# The data: 4 MiB written, the first MiB discarded, the second zeroed
# (BLKZEROOUT: WRITE SAME without UNMAP), the third punched (fallocate:
# WRITE SAME with UNMAP where sd may), then a file system made with
# discard, filled with 8 MiB, emptied and trimmed.
probe_io() { # LUN DISK IMAGE
	local l=$1 d=$2 img=$3 mnt=$CASE_DATA/mnt.$1 v before
	dd if="$src" of="$d" bs=1M oflag=direct conv=fsync 2>/dev/null || fail "writing $d"
	alloc "$img"
	kv "$l" backing_file.after_writing_4m "$A KiB"
	sgrun "$l" blkdiscard blkdiscard -o 0 -l 1M "$d"
	blocks "$d" 0 2048 && v=$B
	blocks "$d" 2048 2048 "$src"
	alloc "$img"
	kvo "$l" blkdiscard "$v, next MiB $B; file $A KiB"
	sgrun "$l" blkzero blkdiscard -z -o 1M -l 1M "$d"
	blocks "$d" 2048 2048 && v=$B
	blocks "$d" 4096 2048 "$src"
	alloc "$img"
	kvo "$l" blkdiscard_zeroout "$v, next MiB $B; file $A KiB"
	sgrun "$l" punch fallocate -p -o 2M -l 1M "$d"
	blocks "$d" 4096 2048 && v=$B
	blocks "$d" 6144 2048 "$src"
	alloc "$img"
	kvo "$l" fallocate_punch_hole "$v, next MiB $B; file $A KiB"
	lba_status "$d" 0 "$l"
	kv "$l" get_lba_status.after_discards "$S"

	sgrun "$l" mkfs mkfs.ext4 -F -E discard,lazy_itable_init=0,lazy_journal_init=0 "$d"
	grab 'Discarding device blocks:.*(done)'
	kvo "$l" mkfs.ext4_discard "discarding device blocks $R"
	mkdir -p "$mnt"
	mount "$d" "$mnt" || fail "mount $d"
	cp "$src" "$mnt/a" && cp "$src" "$mnt/b" && sync || fail "writing files on $d"
	alloc "$img"
	before=$A
	rm "$mnt/a" "$mnt/b" && sync
	sgrun "$l" fstrim fstrim -v "$mnt"
	alloc "$img"
	((before - A >= 8192)) && v="frees the 8 MiB of deleted files" || v="frees only $((before - A)) KiB"
	kvo "$l" fstrim "$v"
	kv "$l" fstrim.bytes "${L[-1]#*: }"
	umount "$mnt" || fail "umount $d"
	sgrun "$l" fsck fsck.ext4 -fn "$d"
	kvo "$l" fsck.ext4
}

probe_sysfs T "$DISK_T"
probe_sysfs K "$DISK_K"
probe_sysfs R "$DISK_R"
probe_io T "$DISK_T" "$IMG_T"
probe_io K "$DISK_K" "$IMG_K"

# What sd must make of tcmud's answers (VPD B0h: unmap unbounded, granularity
# 8 blocks, 128-block transfers, WRITE SAME up to 0x400000 blocks; B1h
# non-rotating; B2h LBPU, LBPWS, LBPRZ; caching page WCE; DPOFUA).  sd caps
# an UNMAP at 0x7fffff blocks (SD_MAX_WS16_BLOCKS).
expect T queue.discard_max_bytes $((0x7fffff * 512))
expect T queue.discard_max_hw_bytes $((0x7fffff * 512))
expect T queue.discard_granularity 4096
expect T queue.write_zeroes_max_bytes $((0x400000 * 512))
expect T queue.write_same_max_bytes 0 # no REQ_OP_WRITE_SAME since Linux 5.18
expect T queue.max_sectors_kb 64
expect T queue.optimal_io_size 65536
expect T queue.minimum_io_size 4096
expect T queue.rotational 0
expect T queue.write_cache "write back"
expect T queue.fua 1
expect T scsi_disk.cache_type "write back"
expect T scsi_disk.FUA 1
expect T scsi_disk.provisioning_mode unmap
expect T scsi_disk.thin_provisioning 1
expect T scsi_disk.zeroing_mode writesame_16_unmap
expect T scsi_disk.max_write_same_blocks $((0x400000))
expect R queue.write_cache "write through"
expect R scsi_disk.cache_type "write through"
expect R scsi_disk.provisioning_mode unmap
# the data: discards leave holes in the file and read back as zeroes;
# BLKZEROOUT (no unmap) writes zeroes; a punched hole unmaps (LBPRZ)
expect T backing_file.after_writing_4m "4096 KiB"
expect T blkdiscard "ok; zero, next MiB unchanged; file 3072 KiB"
expect T blkdiscard_zeroout "ok; zero, next MiB unchanged; file 3072 KiB"
expect T fallocate_punch_hole "ok; zero, next MiB unchanged; file 2048 KiB"
expect T get_lba_status.after_discards "0+2048:d,2048+2048:m,4096+2048:d,6144+2048:m,8192+122880:d"
expect T mkfs.ext4_discard "ok; discarding device blocks done"
expect T fstrim "ok; frees the 8 MiB of deleted files"
expect T fsck.ext4 ok

scsi_finish T K
