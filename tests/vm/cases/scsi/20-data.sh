# sg3_utils' data commands on a tcmud user:file LUN (and user:ram, whose
# handler does COMPARE AND WRITE itself), side by side with LIO's fileio:
# WRITE SAME (10)(16) with a pattern, with UNMAP and with NDOB, UNMAP,
# GET LBA STATUS, COMPARE AND WRITE (a match, a miscompare and its offset,
# two blocks, over the limit), VERIFY (BYTCHK 0, 1 and 3; matches and
# miscompares), SYNCHRONIZE CACHE and FORMAT UNIT (waited for, and with
# IMMED).  What each command did to the data is read back with O_DIRECT
# and, on tcmud's file LUN, the provisioning with GET LBA STATUS.
# timeout: 240
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
scsi_setup ram

src=$CASE_DATA/src.bin # 64 KiB of random data, written at LBA 0
head -c 65536 /dev/urandom >"$src"
printf 'A%.0s' {1..512} >"$CASE_DATA/pat.A"
printf 'B%.0s' {1..512} >"$CASE_DATA/pat.B"

probe() { # LUN DISK
	local l=$1 d=$2 v last max line
	last=$(($(blockdev --getsz "$d") - 1))
	lba_status "$d" 0 "$l"
	kv "$l" get_lba_status.fresh "$S"
	dd if="$src" of="$d" bs=64k count=1 oflag=direct conv=fsync 2>/dev/null || fail "writing $d"
	lba_status "$d" 0 "$l"
	kv "$l" get_lba_status.written_64k "$S"

	# ---- WRITE SAME: 8 blocks of "A" (16), of "B" (10), zeroes with
	# UNMAP (16 and 10), NDOB; 0 blocks, over the limit, past the end
	sgrun "$l" ws16 sg_write_same -v -S -i "$CASE_DATA/pat.A" -l 16 -n 8 "$d"
	blocks "$d" 16 8 "$src" && v=$B
	blocks "$d" 8 8 "$src" && v+=", before $B"
	blocks "$d" 24 8 "$src"
	kvo "$l" write_same16.pattern "$v, after $B"
	sgrun "$l" ws10 sg_write_same -v -R -i "$CASE_DATA/pat.B" -l 24 -n 8 "$d"
	blocks "$d" 24 8 "$src" && v=$B
	blocks "$d" 32 8 "$src"
	kvo "$l" write_same10.pattern "$v, after $B"
	sgrun "$l" ws16-unmap sg_write_same -v -S -U -l 32 -n 16 "$d"
	blocks "$d" 32 16 "$src" && v=$B
	blocks "$d" 48 8 "$src"
	kvo "$l" write_same16.unmap "$v, after $B"
	lba_status "$d" 32 "$l"
	kv "$l" write_same16.unmap.get_lba_status "$S"
	sgrun "$l" ws10-unmap sg_write_same -v -R -U -l 48 -n 8 "$d"
	blocks "$d" 48 8 "$src" && v=$B
	blocks "$d" 56 8 "$src"
	kvo "$l" write_same10.unmap "$v, after $B"
	sgrun "$l" ws16-ndob sg_write_same -v -S -N -l 56 -n 8 "$d"
	blocks "$d" 56 8 "$src" && v=$B
	blocks "$d" 64 8 "$src"
	kvo "$l" write_same16.ndob "$v, after $B"
	sgrun "$l" ws-zero sg_write_same -v -S -i "$CASE_DATA/pat.A" -l 0 -n 0 "$d"
	blocks "$d" 0 8 "$src"
	kvo "$l" write_same16.zero_blocks "$B"
	sgrun "$l" vpd-bl sg_vpd -p bl "$d"
	grab 'Maximum write same length: *(0x[0-9a-f]+)'
	max=$R
	sgrun "$l" ws-over sg_write_same -v -S -i "$CASE_DATA/pat.A" -l 0 -n $((max + 1)) "$d"
	kvo "$l" write_same16.over_max
	sgrun "$l" ws-end sg_write_same -v -S -i "$CASE_DATA/pat.A" -l "$last" -n 2 "$d"
	kvo "$l" write_same16.past_end

	# ---- UNMAP: 8 blocks; two descriptors; past the end
	sgrun "$l" unmap sg_unmap -v -f -l 64 -n 8 "$d"
	blocks "$d" 64 8 "$src" && v=$B
	blocks "$d" 72 8 "$src"
	kvo "$l" unmap.one "$v, after $B"
	lba_status "$d" 64 "$l"
	kv "$l" unmap.one.get_lba_status "$S"
	sgrun "$l" unmap2 sg_unmap -v -f -l 80,96 -n 8,8 "$d"
	blocks "$d" 80 8 "$src" && v=$B
	blocks "$d" 96 8 "$src" && v+=" $B"
	blocks "$d" 88 8 "$src"
	kvo "$l" unmap.two_descriptors "$v, between $B"
	sgrun "$l" unmap-end sg_unmap -v -f -l "$last" -n 2 "$d"
	kvo "$l" unmap.past_end
	lba_status "$d" $((last + 1)) "$l"
	kv "$l" get_lba_status.past_end "$S"

	# ---- COMPARE AND WRITE at LBA 110 (random data): a match, then verify
	# data that differs from the medium at byte 77, then 2 blocks, then one
	# block more than the limit
	save "$d" 110 1 "$CASE_DATA/$l.old"
	head -c 1024 /dev/urandom >"$CASE_DATA/$l.new"
	cat "$CASE_DATA/$l.old" "$CASE_DATA/$l.new" >"$CASE_DATA/$l.caw"
	sgrun "$l" caw sg_compare_and_write -v -l 110 -n 1 -i "$CASE_DATA/$l.caw" -x 1024 "$d"
	blocks "$d" 110 1 "$CASE_DATA/$l.new" 0
	[[ $B == unchanged ]] && v=written || v="not written"
	kvo "$l" compare_and_write.match "$v"
	cp "$CASE_DATA/$l.new" "$CASE_DATA/$l.mis"
	read -r v < <(od -An -tu1 -j77 -N1 "$CASE_DATA/$l.new")
	printf "\\$(printf '%03o' $(((v + 1) % 256)))" |
		dd of="$CASE_DATA/$l.mis" bs=1 seek=77 conv=notrunc 2>/dev/null
	head -c 512 "$CASE_DATA/$l.mis" | cat - "$CASE_DATA/$l.old" >"$CASE_DATA/$l.caw2"
	sgrun "$l" caw-mis sg_compare_and_write -vv -l 110 -n 1 -i "$CASE_DATA/$l.caw2" -x 1024 "$d"
	blocks "$d" 110 1 "$CASE_DATA/$l.new" 0
	[[ $B == unchanged ]] && v=unchanged || v=changed
	grab 'Miscompare at byte offset: ([0-9]+)'
	kvo "$l" compare_and_write.miscompare "offset $R, $v"
	v=
	for line in "${L[@]}"; do
		[[ $line =~ ^\ +(([0-9a-f]{2}\ +)+[0-9a-f]{2})\ *$ ]] && v+=" ${BASH_REMATCH[1]}"
	done
	R=$v
	squeeze
	kv "$l" compare_and_write.miscompare.sense "$R"
	save "$d" 111 2 "$CASE_DATA/$l.caw3"
	cat "$CASE_DATA/$l.new" >>"$CASE_DATA/$l.caw3"
	sgrun "$l" caw2 sg_compare_and_write -v -l 111 -n 2 -i "$CASE_DATA/$l.caw3" -x 2048 "$d"
	blocks "$d" 111 2 "$CASE_DATA/$l.new" 0
	[[ $B == unchanged ]] && v=written || v="not written"
	kvo "$l" compare_and_write.two_blocks "$v"
	sgrun "$l" vpd-bl sg_vpd -p bl "$d"
	grab 'Maximum compare and write length: *([0-9]+) blocks'
	max=$R
	head -c $(((max + 1) * 1024)) /dev/zero >"$CASE_DATA/$l.zero"
	sgrun "$l" caw-over sg_compare_and_write -v -l 0 -n $((max + 1)) -i "$CASE_DATA/$l.zero" \
		-x $(((max + 1) * 1024)) "$d"
	kvo "$l" compare_and_write.over_max

	# ---- VERIFY: medium only; one block against data-out (BYTCHK 1),
	# matching and not; 8 (then 9) blocks against one block of "A" (BYTCHK 3)
	sgrun "$l" verify0 sg_verify -v -l 0 -c 64 "$d"
	kvo "$l" verify.bytchk0
	save "$d" 120 1 "$CASE_DATA/$l.blk"
	sgrun "$l" verify1 sg_verify -v -l 120 -c 1 -n 512 -i "$CASE_DATA/$l.blk" "$d"
	kvo "$l" verify.bytchk1.match
	sgrun "$l" verify1-mis sg_verify -v -l 120 -c 1 -n 512 -i "$CASE_DATA/pat.B" "$d"
	kvo "$l" verify.bytchk1.miscompare
	sgrun "$l" verify3 sg_verify -v -E 3 -l 16 -c 8 -n 512 -i "$CASE_DATA/pat.A" "$d"
	kvo "$l" verify.bytchk3.match
	sgrun "$l" verify3-mis sg_verify -v -E 3 -l 16 -c 9 -n 512 -i "$CASE_DATA/pat.A" "$d"
	kvo "$l" verify.bytchk3.miscompare
	sgrun "$l" verify-end sg_verify -v -l "$last" -c 2 "$d"
	kvo "$l" verify.past_end

	# ---- SYNCHRONIZE CACHE (10) all and a range, (16) a range, past the end
	sgrun "$l" sync sg_sync -v "$d"
	kvo "$l" synchronize_cache10.all
	sgrun "$l" sync-range sg_sync -v -l 100 -c 8 "$d"
	kvo "$l" synchronize_cache10.range
	sgrun "$l" sync16 sg_sync -v -S -l 100 -c 8 "$d"
	kvo "$l" synchronize_cache16.range
	sgrun "$l" sync-end sg_sync -v -l "$last" -c 2 "$d"
	kvo "$l" synchronize_cache10.past_end

	# ---- FORMAT UNIT, waited for; then with IMMED, polled with TEST UNIT
	# READY until the unit is ready again
	sgrun "$l" format sg_format -v -Q -w --format "$d"
	outcome
	v=$O
	blocks "$d" 0 2048
	lba_status "$d" 0 "$l"
	kv "$l" format_unit.wait "$v; $B, $S"
	dd if="$src" of="$d" bs=64k count=1 oflag=direct conv=fsync 2>/dev/null || fail "writing $d"
	sgrun "$l" format-immed sg_format -v -Q -e --format "$d"
	outcome
	v=$O
	retry_until 30 sg_turs "$d" || v+=", still not ready after 30 s"
	blocks "$d" 0 2048
	lba_status "$d" 0 "$l"
	kv "$l" format_unit.immed "$v; $B, $S"
	sgrun "$l" format-requests sg_requests --progress "$d"
	kvo "$l" format_unit.immed.request_sense_after "${L[1]:-no progress indication}"
}

probe T "$DISK_T"
probe K "$DISK_K"
probe R "$DISK_R"

# What tcmud must answer.  T: a 64 MiB file on tmpfs (holes of 4 KiB
# pages); unmapped blocks read as zeroes; provisioning from the file's holes.
expect T get_lba_status.fresh "0+131072:d"
expect T get_lba_status.written_64k "0+128:m,128+130944:d"
expect T write_same16.pattern "ok; pattern A, before unchanged, after unchanged"
expect T write_same10.pattern "ok; pattern B, after unchanged"
expect T write_same16.unmap "ok; zero, after unchanged"
expect T write_same16.unmap.get_lba_status "32+16:d,48+80:m,128+130944:d"
expect T write_same10.unmap "ok; zero, after unchanged"
expect T write_same16.ndob "ok; zero, after unchanged"
expect T write_same16.zero_blocks "illegal request: Invalid field in cdb; unchanged"
expect T write_same16.over_max "illegal request: Invalid field in cdb"
expect T write_same16.past_end "illegal request: Logical block address out of range"
expect T unmap.one "ok; zero, after unchanged"
expect_match T unmap.one.get_lba_status "^64\+8:d,72\+[0-9]+:m,"
expect T unmap.two_descriptors "ok; zero zero, between unchanged"
expect T unmap.past_end "illegal request: Logical block address out of range"
expect T get_lba_status.past_end "illegal request: Logical block address out of range"
for l in T R; do
	expect "$l" compare_and_write.match "ok; written"
	expect "$l" compare_and_write.miscompare "miscompare: Miscompare during verify operation; offset 77, unchanged"
	# fixed sense: VALID, MISCOMPARE, INFORMATION 77 (4Dh), ASC 1Dh
	expect "$l" compare_and_write.miscompare.sense "f0 00 0e 00 00 00 4d 0a 00 00 00 00 1d 00 00 00 00 00"
	expect "$l" compare_and_write.two_blocks "ok; written"
	expect "$l" compare_and_write.over_max "illegal request: Invalid field in cdb"
	expect "$l" verify.bytchk0 ok
	expect "$l" verify.bytchk1.match ok
	expect "$l" verify.bytchk1.miscompare "miscompare: Miscompare during verify operation"
	expect "$l" verify.bytchk3.match ok
	expect "$l" verify.bytchk3.miscompare "miscompare: Miscompare during verify operation"
	expect "$l" verify.past_end "illegal request: Logical block address out of range"
	expect "$l" synchronize_cache10.all ok
	expect "$l" synchronize_cache10.range ok
	expect "$l" synchronize_cache16.range ok
	expect "$l" synchronize_cache10.past_end "illegal request: Logical block address out of range"
	expect "$l" format_unit.immed.request_sense_after "ok; no progress indication"
done
expect T format_unit.wait "ok; zero, 0+131072:d"
expect T format_unit.immed "ok; zero, 0+131072:d"
# R: memory, no GET LBA STATUS in the handler: one "mapped" extent
expect R get_lba_status.fresh "0+32768:m"
expect R write_same16.unmap "ok; zero, after unchanged"
expect R unmap.one "ok; zero, after unchanged"
expect R format_unit.wait "ok; zero, 0+32768:m"

scsi_finish T K
