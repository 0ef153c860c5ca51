# Linux's sd driver on a tcmud user:file LUN, side by side with LIO's
# fileio: what it made of the VPD pages and mode pages (queue/discard_*,
# write_zeroes/write_same limits, transfer sizes, write cache and FUA,
# scsi_disk/*/provisioning_mode, zeroing_mode, cache_type...), then
# blkdiscard, blkdiscard --zeroout, mkfs.ext4 -E discard and fstrim, with
# the data read back and the backing file's allocation (tmpfs holes)
# before and after.  user:ram (write cache off) shows write-through.
# timeout: 150
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
scsi_setup ram

src=$CASE_DATA/src.bin
head -c 4M /dev/urandom >"$src"

# alloc_kib FILE: KiB the backing file occupies.
alloc_kib() { echo $(($(stat -c '%b * %B' "$1") / 1024)); }

probe_sysfs() { # LUN DISK
	local l=$1 b=${2#/dev/} f
	for f in discard_max_bytes discard_max_hw_bytes discard_granularity write_same_max_bytes \
		write_zeroes_max_bytes max_sectors_kb max_hw_sectors_kb optimal_io_size minimum_io_size \
		physical_block_size logical_block_size rotational write_cache fua; do
		kv "$l" "queue.$f" "$(<"/sys/block/$b/queue/$f")"
	done
	for f in /sys/block/"$b"/device/scsi_disk/*/{cache_type,FUA,provisioning_mode,thin_provisioning,zeroing_mode,max_write_same_blocks,protection_type,app_tag_own}; do
		kv "$l" "scsi_disk.${f##*/}" "$(<"$f")"
	done
}

probe_io() { # LUN DISK IMAGE
	local l=$1 d=$2 img=$3 mnt=$CASE_DATA/mnt.$1 v
	dd if="$src" of="$d" bs=1M oflag=direct conv=fsync 2>/dev/null || fail "writing $d"
	kv "$l" alloc.written_4m "$(alloc_kib "$img") KiB"
	sgrun "$l" blkdiscard blkdiscard -o 0 -l 1M "$d"
	v=$(cmp -s <(dd if="$d" bs=1M skip=1 count=3 iflag=direct 2>/dev/null) \
		<(dd if="$src" bs=1M skip=1 count=3 2>/dev/null) && echo unchanged || echo changed)
	kv "$l" blkdiscard "$(outcome); $(blocks_desc "$d" 0 2048); rest $v; $(alloc_kib "$img") KiB"
	sgrun "$l" blkzero blkdiscard -z -o 1M -l 1M "$d"
	v=$(cmp -s <(dd if="$d" bs=1M skip=2 count=2 iflag=direct 2>/dev/null) \
		<(dd if="$src" bs=1M skip=2 count=2 2>/dev/null) && echo unchanged || echo changed)
	kv "$l" blkdiscard_zeroout "$(outcome); $(blocks_desc "$d" 2048 2048); rest $v; $(alloc_kib "$img") KiB"
	kv "$l" blkdiscard.lba_status "$(lba_status "$d" 0 "$l")"

	# a file system made with discard, filled, emptied and trimmed
	sgrun "$l" mkfs mkfs.ext4 -q -F -E discard,lazy_itable_init=0,lazy_journal_init=0 "$d"
	kv "$l" mkfs_discard "$(outcome)"
	mkdir -p "$mnt"
	mount "$d" "$mnt" || fail "mount $d"
	cp "$src" "$mnt/a" && cp "$src" "$mnt/b" && sync || fail "writing files on $d"
	kv "$l" alloc.fs_with_8m "$(alloc_kib "$img") KiB"
	rm "$mnt/a" "$mnt/b" && sync
	sgrun "$l" fstrim fstrim -v "$mnt"
	v=$(alloc_kib "$img")
	kv "$l" fstrim "$(outcome); $(field "$OUT" '.*(\([0-9]* bytes\)) trimmed.*') trimmed"
	kv "$l" alloc.after_fstrim "$v KiB"
	umount "$mnt" || fail "umount $d"
	sgrun "$l" fsck fsck.ext4 -fn "$d"
	kv "$l" fsck "$(outcome)"
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
# the data: discards leave holes in the file and read back as zeroes
expect T alloc.written_4m "4096 KiB"
expect T blkdiscard "ok; zero; rest unchanged; 3072 KiB"
expect T blkdiscard_zeroout "ok; zero; rest unchanged; 2048 KiB"
expect T blkdiscard.lba_status "0+4096:d,4096+4096:m,8192+122880:d"
expect T mkfs_discard ok
expect_match T fstrim "^ok; [1-9][0-9]* bytes trimmed$"
expect T fsck ok
t_fs=$(kv_get T alloc.fs_with_8m) t_trim=$(kv_get T alloc.after_fstrim)
((${t_trim% KiB} + 8192 <= ${t_fs% KiB})) ||
	echo "T: fstrim freed less than the 8 MiB of deleted files ($t_fs -> $t_trim)" >>"$CASE_DIR/expect.failed"
expect_done

side_by_side T K
