# tests/vm/cases/qcow/qcow.bash: helpers of the "qcow" case group (sourced
# by its cases after lib.sh; not a case itself: run-cases runs *.sh only).
#
# The cases make images with Debian's qemu-img in the guest, serve them
# with tcmud's qcow handler through tcm_loop LUNs, write with fio (verify),
# and then let qemu-img judge the result: "check" must find the image
# clean, and "compare" must find it identical to a raw copy of what the
# initiator read from the LUN.

# qcow_setup: skips unless the qcow handler and qemu-img are there; starts tcmud.
qcow_setup() {
	need_tcmud qcow
	command -v qemu-img >/dev/null || skip "qemu-img is not installed (qemu-utils)"
	tcmud_start
}

# vsize IMAGE: the virtual size of IMAGE in bytes.
vsize() {
	qemu-img info -U --output=json "$1" | sed -n 's/^ *"virtual-size": \([0-9]*\).*/\1/p' | head -n1
}

# make_pattern FILE SIZE: a raw file of SIZE with data in its first 3/8
# and at 5/8..6/8 (holes elsewhere): numbered 16-byte lines, so that every
# 4k block differs from every other (a misplaced block shows) and qemu-img
# can compress it.
make_pattern() {
	local f=$1 sz
	sz=$(to_bytes "$2")
	truncate -s "$sz" "$f"
	seq -f '%015.0f' 0 $((sz * 3 / 8 / 16 - 1)) | dd of="$f" bs=1M iflag=fullblock conv=notrunc status=none
	seq -f 'x%014.0f' $((sz * 5 / 8 / 16)) $((sz * 6 / 8 / 16 - 1)) |
		dd of="$f" bs=1M iflag=fullblock oflag=seek_bytes seek=$((sz * 5 / 8)) conv=notrunc status=none
}

# qcow_attach NAME IMAGE LUN: user device NAME for qcow/IMAGE (LUN size =
# the image's virtual size), exported as LUN; prints its /dev/sdX.
qcow_attach() {
	local size
	size=$(vsize "$2")
	[[ -n $size ]] || fail "cannot read the virtual size of $2"
	user_dev_add "$1" "qcow/$2" "$size"
	loop_lun_add "$3" "user_$USER_HBA/$1"
}

# qcow_detach NAME LUN: removes the LUN and the device (tcmud closes the
# image: final flush); afterwards nobody has the image open.
qcow_detach() {
	loop_lun_del "$2"
	user_dev_del "$1"
}

# same_as_image DISK IMAGE NAME: the whole DISK, read through the LUN,
# equals qemu's own reading of IMAGE (open in tcmud, so qemu-img -U).  The
# copy stays in $CASE_DATA/NAME.raw.
same_as_image() {
	local raw=$CASE_DATA/$3.raw rc=0
	dd if="$1" of="$raw" bs=1M iflag=direct status=none || fail "cannot read $1"
	qemu-img compare -U -f raw "$raw" "$2" >"$CASE_DIR/compare.$3" 2>&1 || rc=$?
	((rc == 0)) || fail "$3: $1 differs from qemu's view of $2: $(head -n 3 "$CASE_DIR/compare.$3")"
}

# unchanged_outside BEFORE AFTER IOLOG TRIMS: every 4k block of the raw
# file AFTER that no write or trim in fio's IOLOG and no "OFFSET LENGTH"
# line of TRIMS touched is as in BEFORE (fio verifies what it wrote; this
# catches what a write did to its neighbours: copy-on-write from backing
# files, snapshots, compressed clusters, partial clusters).  Prints a
# summary or what differs; returns 1 if something does.
unchanged_outside() {
	/usr/bin/python3 - "$@" <<-'PY'
		import sys
		before, after, iolog, trims = sys.argv[1:5]
		B = 4096
		a, b = open(before, 'rb').read(), open(after, 'rb').read()
		if len(a) != len(b):
		    sys.exit(print(f'sizes differ: {len(a)} {len(b)}') or 1)
		touched = bytearray(len(a) // B + 1)
		def mark(off, n):
		    touched[off // B:(off + n + B - 1) // B] = b'\1' * ((off + n + B - 1) // B - off // B)
		n_io = 0
		for line in open(iolog):  # v2: FILE ACTION OFF LEN; v3: TIME FILE ...
		    f = line.split()
		    if len(f) >= 4 and f[-3] in ('write', 'trim'):
		        mark(int(f[-2]), int(f[-1]))
		        n_io += 1
		if n_io == 0:
		    sys.exit(print(f'no write in {iolog}') or 1)
		for line in open(trims):
		    off, n = map(int, line.split())
		    mark(off, n)
		bad, C = [], 1 << 20
		for c in range(0, len(a), C):
		    if a[c:c + C] == b[c:c + C]:
		        continue
		    for o in range(c, min(c + C, len(a)), B):
		        if not touched[o // B] and a[o:o + B] != b[o:o + B]:
		            bad.append(o)
		n = len(a) // B
		if bad:
		    sys.exit(print(f'{len(bad)} unwritten 4k blocks differ, first at {bad[:8]}') or 1)
		print(f'{sum(touched[:n])} of {n} blocks written or trimmed, the others unchanged')
	PY
}

# qimg_check IMAGE WHAT [LEAKS_OK]: qemu-img check must find no error in
# IMAGE (with LEAKS_OK=1 leaked clusters are tolerated: the crash rule is
# "a crash leaks clusters at worst").  The image must not be open
# read-write by anybody.
qimg_check() {
	local img=$1 what=$2 leaks_ok=${3:-0} rc=0 out=$CASE_DIR/check.${2// /_}
	qemu-img check "$img" >"$out" 2>&1 || rc=$?
	case $rc in
	0) grep -q 'No errors were found on the image' "$out" || fail "$what: qemu-img check: $(cat "$out")" ;;
	3) ((leaks_ok)) || fail "$what: qemu-img check finds leaked clusters: $(cat "$out")"
	   log "$what: qemu-img check: $(grep -m1 'leaked clusters' "$out")" ;;
	2) fail "$what: qemu-img check finds CORRUPTION in $img: $(grep -m5 -E 'ERROR|corrupt' "$out")" ;;
	*) fail "$what: qemu-img check $img exited with $rc: $(head -n 5 "$out")" ;;
	esac
}

# discard_some DISK LOG: UNMAPs a few ranges (cluster-aligned and not) if
# the LUN offers it, noting "OFFSET LENGTH" in LOG; with LBPRZ they must
# read back as zeroes.
discard_some() {
	local disk=$1 range off len lbprz
	: >"$2"
	(($(<"/sys/block/${disk#/dev/}/queue/discard_max_bytes") > 0)) || { log "$disk: no UNMAP"; return 0; }
	lbprz=$(sg_readcap -l "$disk" | sed -n 's/.*lbprz=\([01]\).*/\1/p')
	for range in $((8 << 20)):$((1 << 20)) $((20 << 20)):$((192 << 10)) $(((26 << 20) + 4096)):$((100 << 10)); do
		off=${range%:*} len=${range#*:}
		blkdiscard -o "$off" -l "$len" "$disk" || fail "blkdiscard -o $off -l $len $disk"
		echo "$off $len" >>"$2"
		if [[ $lbprz == 1 ]]; then
			cmp -n "$len" <(dd if="$disk" bs=4k skip=$((off / 4096)) count=$((len / 4096)) iflag=direct status=none) \
				/dev/zero >/dev/null || fail "$disk: $len bytes at $off do not read as zeroes after UNMAP (LBPRZ=1)"
		fi
	done
	log "$disk: 3 ranges unmapped (LBPRZ=${lbprz:-?})"
}

# qcow_roundtrip NAME IMAGE LUN [FIO-ARGS...]: the whole proof for one
# image.  Attach it; what the LUN reads before any write is what qemu
# reads; fio writes (random, 4k..128k, verified) all over the LUN; some
# UNMAPs; the LUN is copied to $CASE_DATA/NAME.after.raw and is unchanged
# where nothing was written; detach; then qemu-img check is clean and
# qemu-img compare finds the image identical to the copy.
qcow_roundtrip() {
	local name=$1 img=$2 lun=$3 disk rc=0 D=$CASE_DATA
	shift 3
	disk=$(qcow_attach "$name" "$img" "$lun")
	log "$name: $img on $disk ($(blockdev --getsize64 "$disk") bytes)"
	same_as_image "$disk" "$img" "$name.before"
	fio_run "$name" "${FIO_VERIFY[@]}" --filename="$disk" --rw=randwrite --bsrange=4k-128k \
		--iodepth=16 --io_size=8M --randseed=4711 --write_iolog="$D/$name.iolog" "$@"
	discard_some "$disk" "$D/$name.trims"
	dd if="$disk" of="$D/$name.after.raw" bs=1M iflag=direct status=none || fail "cannot copy $disk"
	unchanged_outside "$D/$name.before.raw" "$D/$name.after.raw" "$D/$name.iolog" "$D/$name.trims" \
		>"$CASE_DIR/unchanged.$name" 2>&1 ||
		fail "$name: the LUN changed outside what was written: $(cat "$CASE_DIR/unchanged.$name")"
	log "$name: $(cat "$CASE_DIR/unchanged.$name")"
	rm -f "$D/$name.before.raw"
	qcow_detach "$name" "$lun"
	qimg_check "$img" "$name"
	qemu-img compare -f raw "$D/$name.after.raw" "$img" >"$CASE_DIR/compare.$name" 2>&1 || rc=$?
	((rc == 0)) || fail "$name: $img differs from what the initiator read: $(head -n 3 "$CASE_DIR/compare.$name")"
	log "$name: qemu-img check clean, compare identical"
	rm -f "$D/$name.after.raw"
}
