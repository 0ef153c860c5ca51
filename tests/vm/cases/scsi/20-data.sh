# sg3_utils' data commands on a tcmud user:file LUN (and user:ram, whose
# handler does COMPARE AND WRITE itself), side by side with LIO's fileio:
# WRITE SAME (10)(16) with a pattern, UNMAP and NDOB, UNMAP, GET LBA
# STATUS, COMPARE AND WRITE (a match, a miscompare and its offset, two
# blocks, over the limit), VERIFY (BYTCHK 0, 1 and 3, matches and
# miscompares), SYNCHRONIZE CACHE and FORMAT UNIT (waited for, and with
# IMMED).  What each command did to the data is read back with O_DIRECT
# and, on tcmud, the provisioning state with GET LBA STATUS.
# timeout: 150
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
scsi_setup ram

src=$CASE_DATA/src.bin # 64 KiB of random data written at LBA 0
head -c 65536 /dev/urandom >"$src"
printf 'A%.0s' {1..512} >"$CASE_DATA/pat.A"
printf 'B%.0s' {1..512} >"$CASE_DATA/pat.B"

# as_written DISK LBA COUNT: do the blocks still hold what $src put there?
as_written() {
	cmp -s <(dd if="$1" bs=512 skip="$2" count="$3" iflag=direct 2>/dev/null) \
		<(dd if="$src" bs=512 skip="$2" count="$3" 2>/dev/null) && echo unchanged || echo changed
}

# last LUN: the last LBA of the LUN.
last_lba() { echo $(($(blockdev --getsz "$1") - 1)); }

probe() { # LUN DISK
	local l=$1 d=$2 v last max
	last=$(last_lba "$d")
	kv "$l" lba_status.fresh "$(lba_status "$d" 0 "$l")"
	dd if="$src" of="$d" bs=64k count=1 oflag=direct conv=fsync 2>/dev/null || fail "writing $d"
	kv "$l" lba_status.written "$(lba_status "$d" 0 "$l")"

	# ---- WRITE SAME
	sgrun "$l" ws16 sg_write_same -S -i "$CASE_DATA/pat.A" -l 16 -n 8 "$d"
	kv "$l" ws16.pattern "$(outcome); $(blocks_desc "$d" 16 8); around: $(as_written "$d" 8 8) $(as_written "$d" 24 8)"
	sgrun "$l" ws10 sg_write_same -R -i "$CASE_DATA/pat.B" -l 24 -n 8 "$d"
	kv "$l" ws10.pattern "$(outcome); $(blocks_desc "$d" 24 8); around: $(as_written "$d" 32 8)"
	sgrun "$l" ws16-unmap sg_write_same -S -U -l 32 -n 16 "$d"
	kv "$l" ws16.unmap "$(outcome); $(blocks_desc "$d" 32 16); around: $(as_written "$d" 48 8)"
	kv "$l" ws16.unmap.lba_status "$(lba_status "$d" 32 "$l")"
	sgrun "$l" ws10-unmap sg_write_same -R -U -l 48 -n 8 "$d"
	kv "$l" ws10.unmap "$(outcome); $(blocks_desc "$d" 48 8); around: $(as_written "$d" 56 8)"
	sgrun "$l" ws16-ndob sg_write_same -S -N -l 56 -n 8 "$d"
	kv "$l" ws16.ndob "$(outcome); $(blocks_desc "$d" 56 8); around: $(as_written "$d" 64 8)"
	sgrun "$l" ws-zero sg_write_same -S -i "$CASE_DATA/pat.A" -l 0 -n 0 "$d"
	kv "$l" ws16.zero_blocks "$(outcome); $(as_written "$d" 0 8)"
	max=$(sg_vpd -p bl "$d" | sed -n 's/.*Maximum write same length: *\(0x[0-9a-f]*\) blocks.*/\1/p')
	sgrun "$l" ws-over sg_write_same -S -i "$CASE_DATA/pat.A" -l 0 -n $((max + 1)) "$d"
	kv "$l" ws16.over_max "$(outcome)"
	sgrun "$l" ws-end sg_write_same -S -i "$CASE_DATA/pat.A" -l "$last" -n 2 "$d"
	kv "$l" ws16.past_end "$(outcome)"

	# ---- UNMAP (64 KiB at 32 KiB of the first MiB are ours)
	sgrun "$l" unmap sg_unmap -f -l 64 -n 8 "$d"
	kv "$l" unmap.one "$(outcome); $(blocks_desc "$d" 64 8); around: $(as_written "$d" 72 8)"
	kv "$l" unmap.one.lba_status "$(lba_status "$d" 64 "$l")"
	sgrun "$l" unmap2 sg_unmap -f -l 80,96 -n 8,8 "$d"
	kv "$l" unmap.two_descriptors "$(outcome); $(blocks_desc "$d" 80 8) $(blocks_desc "$d" 96 8); between: $(as_written "$d" 88 8)"
	sgrun "$l" unmap-end sg_unmap -f -l "$last" -n 2 "$d"
	kv "$l" unmap.past_end "$(outcome)"
	kv "$l" lba_status.past_end "$(lba_status "$d" $((last + 1)) "$l")"

	# ---- COMPARE AND WRITE at LBA 110 (random data)
	dd if="$d" of="$CASE_DATA/$l.old" bs=512 skip=110 count=2 iflag=direct 2>/dev/null
	head -c 1024 /dev/urandom >"$CASE_DATA/$l.new"
	cat <(head -c 512 "$CASE_DATA/$l.old") <(head -c 512 "$CASE_DATA/$l.new") >"$CASE_DATA/$l.caw"
	sgrun "$l" caw sg_compare_and_write -l 110 -n 1 -i "$CASE_DATA/$l.caw" -x 1024 "$d"
	v=$(cmp -s <(dd if="$d" bs=512 skip=110 count=1 iflag=direct 2>/dev/null) \
		<(head -c 512 "$CASE_DATA/$l.new") && echo written || echo "not written")
	kv "$l" caw.match "$(outcome); $v"
	# verify data that differs from the medium at byte 77
	cp "$CASE_DATA/$l.new" "$CASE_DATA/$l.mis"
	v=$(od -An -tu1 -j77 -N1 "$CASE_DATA/$l.new" | tr -d ' ')
	printf "\\$(printf '%03o' $(((v + 1) % 256)))" |
		dd of="$CASE_DATA/$l.mis" bs=1 seek=77 conv=notrunc 2>/dev/null
	cat <(head -c 512 "$CASE_DATA/$l.mis") <(head -c 512 "$CASE_DATA/$l.old") >"$CASE_DATA/$l.caw2"
	sgrun "$l" caw-mis sg_compare_and_write -v -l 110 -n 1 -i "$CASE_DATA/$l.caw2" -x 1024 "$d"
	v=$(cmp -s <(dd if="$d" bs=512 skip=110 count=1 iflag=direct 2>/dev/null) \
		<(head -c 512 "$CASE_DATA/$l.new") && echo unchanged || echo changed)
	kv "$l" caw.miscompare "$(outcome); offset $(field "$OUT" '.*Miscompare at byte offset: \([0-9]*\).*'); $v"
	kv "$l" caw.miscompare.sense "$(grep -A2 'Raw sense data' "$OUT" | tail -n2 | tr -s ' ' | sed 's/^ //' | tr '\n' ' ')"
	cat <(dd if="$d" bs=512 skip=111 count=2 iflag=direct 2>/dev/null) "$CASE_DATA/$l.new" >"$CASE_DATA/$l.caw3"
	sgrun "$l" caw2 sg_compare_and_write -l 111 -n 2 -i "$CASE_DATA/$l.caw3" -x 2048 "$d"
	v=$(cmp -s <(dd if="$d" bs=512 skip=111 count=2 iflag=direct 2>/dev/null) "$CASE_DATA/$l.new" &&
		echo written || echo "not written")
	kv "$l" caw.two_blocks "$(outcome); $v"
	max=$(sg_vpd -p bl "$d" | sed -n 's/.*Maximum compare and write length: *\([0-9]*\) blocks.*/\1/p')
	head -c $(((max + 1) * 1024)) /dev/zero >"$CASE_DATA/$l.caw4"
	sgrun "$l" caw-over sg_compare_and_write -l 0 -n $((max + 1)) -i "$CASE_DATA/$l.caw4" -x $(((max + 1) * 1024)) "$d"
	kv "$l" caw.over_max "$(outcome)"

	# ---- VERIFY
	sgrun "$l" verify0 sg_verify -l 0 -c 64 "$d"
	kv "$l" verify.bytchk0 "$(outcome)"
	dd if="$d" of="$CASE_DATA/$l.blk" bs=512 skip=120 count=1 iflag=direct 2>/dev/null
	sgrun "$l" verify1 sg_verify -l 120 -c 1 -n 512 -i "$CASE_DATA/$l.blk" "$d"
	kv "$l" verify.bytchk1.match "$(outcome)"
	sgrun "$l" verify1-mis sg_verify -l 120 -c 1 -n 512 -i "$CASE_DATA/pat.B" "$d"
	kv "$l" verify.bytchk1.miscompare "$(outcome)"
	sgrun "$l" verify3 sg_verify -E 3 -l 16 -c 8 -n 512 -i "$CASE_DATA/pat.A" "$d"
	kv "$l" verify.bytchk3.match "$(outcome)"
	sgrun "$l" verify3-mis sg_verify -E 3 -l 16 -c 9 -n 512 -i "$CASE_DATA/pat.A" "$d"
	kv "$l" verify.bytchk3.miscompare "$(outcome)"
	sgrun "$l" verify-end sg_verify -l "$last" -c 2 "$d"
	kv "$l" verify.past_end "$(outcome)"

	# ---- SYNCHRONIZE CACHE
	sgrun "$l" sync sg_sync "$d"
	kv "$l" sync.all "$(outcome)"
	sgrun "$l" sync-range sg_sync -l 100 -c 8 "$d"
	kv "$l" sync.range "$(outcome)"
	sgrun "$l" sync16 sg_sync -S -l 100 -c 8 "$d"
	kv "$l" sync16.range "$(outcome)"
	sgrun "$l" sync-end sg_sync -l "$last" -c 2 "$d"
	kv "$l" sync.past_end "$(outcome)"

	# ---- FORMAT UNIT: waited for, then with IMMED (polled with TEST UNIT READY)
	sgrun "$l" format sg_format -Q -w --format "$d"
	kv "$l" format.wait "$(outcome); $(blocks_desc "$d" 0 2048); $(lba_status "$d" 0 "$l")"
	dd if="$src" of="$d" bs=64k count=1 oflag=direct conv=fsync 2>/dev/null || fail "writing $d"
	sgrun "$l" format-immed sg_format -Q -e --format "$d"
	v=$(outcome)
	retry_until 30 sg_turs "$d" || v+="; still not ready after 30 s"
	sgrun "$l" format-requests sg_requests --progress "$d"
	kv "$l" format.immed "$v; $(blocks_desc "$d" 0 2048); $(lba_status "$d" 0 "$l")"
	kv "$l" format.after "$(outcome) $(sed 1d "$OUT" | tr '\n' ' ' | sed 's/ *$//')"
}

probe T "$DISK_T"
probe K "$DISK_K"
probe R "$DISK_R"

# What tcmud must answer.  T: 64 MiB file on tmpfs (holes of 4 KiB pages),
# LBPRZ, GET LBA STATUS from the file's holes.
expect T lba_status.fresh "0+131072:d"
expect T lba_status.written "0+128:m,128+130944:d"
expect T ws16.pattern "ok; pattern 41; around: unchanged unchanged"
expect T ws10.pattern "ok; pattern 42; around: unchanged"
expect T ws16.unmap "ok; zero; around: unchanged"
expect T ws16.unmap.lba_status "32+16:d,48+80:m,128+130944:d"
expect T ws10.unmap "ok; zero; around: unchanged"
expect T ws16.ndob "ok; zero; around: unchanged"
expect T ws16.zero_blocks "illegal request: Invalid field in cdb; unchanged"
expect T ws16.over_max "illegal request: Invalid field in cdb"
expect T ws16.past_end "illegal request: Logical block address out of range"
expect T unmap.one "ok; zero; around: unchanged"
expect_match T unmap.one.lba_status "^64\+8:d,72\+"
expect T unmap.two_descriptors "ok; zero zero; between: unchanged"
expect T unmap.past_end "illegal request: Logical block address out of range"
expect T lba_status.past_end "illegal request: Logical block address out of range"
for l in T R; do
	expect "$l" caw.match "ok; written"
	expect "$l" caw.miscompare "miscompare: Miscompare during verify operation; offset 77; unchanged"
	expect "$l" caw.miscompare.sense "f0 00 0e 00 00 00 4d 0a 00 00 00 00 1d 00 00 00 00 00 "
	expect "$l" caw.two_blocks "ok; written"
	expect "$l" caw.over_max "illegal request: Invalid field in cdb"
	expect "$l" verify.bytchk0 ok
	expect "$l" verify.bytchk1.match ok
	expect "$l" verify.bytchk1.miscompare "miscompare: Miscompare during verify operation"
	expect "$l" verify.bytchk3.match ok
	expect "$l" verify.bytchk3.miscompare "miscompare: Miscompare during verify operation"
	expect "$l" verify.past_end "illegal request: Logical block address out of range"
	expect "$l" sync.all ok
	expect "$l" sync.range ok
	expect "$l" sync16.range ok
	expect "$l" sync.past_end "illegal request: Logical block address out of range"
done
expect T format.wait "ok; zero; 0+131072:d"
expect T format.immed "ok; zero; 0+131072:d"
expect_match T format.after "^ok "
# R: memory, no GET LBA STATUS in the handler: one "mapped" extent
expect R lba_status.fresh "0+32768:m"
expect R ws16.unmap "ok; zero; around: unchanged"
expect R unmap.one "ok; zero; around: unchanged"
expect R format.wait "ok; zero; 0+32768:m"
expect_done

side_by_side T K
