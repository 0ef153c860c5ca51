# A file system on a user:file LUN: mkfs.ext4, mount, write files, unmount,
# drop caches, mount again and compare, then fsck finds nothing to fix.
# timeout: 180
need_tcmud file
tcmud_start
user_dev_add fs1 "file/$CASE_DATA/fs1.img" 128M
disk=$(loop_lun_add 0 "user_$USER_HBA/fs1")
mnt=$CASE_DATA/mnt
mkdir -p "$mnt" "$CASE_DATA/src"

log "mkfs.ext4 $disk"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$disk" >"$CASE_DIR/mkfs.log" 2>&1 ||
	{ cat "$CASE_DIR/mkfs.log"; fail "mkfs.ext4 $disk"; }
mount "$disk" "$mnt" || fail "mount $disk"

log "writing files"
head -c 20M /dev/urandom >"$CASE_DATA/src/big"
head -c 2M /dev/urandom | (cd "$CASE_DATA/src" && split -b 7777 - small.) # 270 files
cp -r "$CASE_DATA/src" "$mnt/tree"
mkdir -p "$mnt/deep/a/b/c/d" && cp "$CASE_DATA/src/small.aa" "$mnt/deep/a/b/c/d/" ||
	fail "writing to the file system"
sync
(cd "$CASE_DATA/src" && md5sum * | sort -k2) >"$CASE_DIR/md5.src"
umount "$mnt" || fail "umount"

log "mount again (cold cache) and compare"
blockdev --flushbufs "$disk"
echo 3 >/proc/sys/vm/drop_caches
mount "$disk" "$mnt" || fail "second mount"
(cd "$mnt/tree" && md5sum * | sort -k2) >"$CASE_DIR/md5.lun"
diff "$CASE_DIR/md5.src" "$CASE_DIR/md5.lun" || fail "files differ after remount"
cmp "$CASE_DATA/src/small.aa" "$mnt/deep/a/b/c/d/small.aa" || fail "deep file differs"
umount "$mnt" || fail "second umount"

log "fsck.ext4 -fn"
fsck.ext4 -fn "$disk" >"$CASE_DIR/fsck.log" 2>&1 || { cat "$CASE_DIR/fsck.log"; fail "fsck found errors"; }
tcmud_alive
