# tests/vm/cases/scsi/common.bash: helpers of the "scsi" cases (sourced by
# them; not a case itself: run-cases only runs *.sh).
#
# Every case asks the same questions of a tcmud LUN (user:file, "T") and of
# LIO's in-kernel fileio backstore on the same kind of tmpfs file ("K"),
# both behind tcm_loop in this guest, and records each answer as KEY=VALUE
# in $CASE_DIR/kv.<LUN>.  The case checks concrete values for tcmud
# (expect), then side_by_side compares the two LUNs key by key: every
# difference must be listed, with its reason, in fileio-differences.txt
# (explained in docs/scsi-conformance.md), or the case fails.  The table
# goes to $CASE_DIR/side-by-side.txt and to the case's output.

SCSI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCSI_DIFFS=$SCSI_DIR/fileio-differences.txt

# Unit serials (as targetcli would set them; LIO reports no VPD pages
# without one).  The NAA designator takes the first 25 hex digits: keep
# them distinct.
SERIAL_T=5c5100a1-0c0d-4e00-8a00-0000000000a1
SERIAL_K=5c5100b2-0c0d-4e00-8a00-0000000000b2
SERIAL_R=5c5100c3-0c0d-4e00-8a00-0000000000c3

# ---------------------------------------------------------------- LUNs ---

# scsi_user_dev NAME CONFIG SIZE SERIAL [ATTR=VALUE...]: a user backstore
# (like user_dev_add) whose attributes are set before it is enabled, then
# its unit serial.
scsi_user_dev() {
	local name=$1 cfg=$2 size serial=$4 dir a
	size=$(to_bytes "$3") || fail "bad size $3"
	shift 4
	dir=$CFS/core/user_$USER_HBA/$name
	mkdir -p "$dir" || fail "mkdir $dir"
	printf 'dev_config=%s' "$cfg" >"$dir/control" || fail "dev_config=$cfg"
	printf 'dev_size=%s' "$size" >"$dir/control" || fail "dev_size=$size"
	for a in "$@"; do
		write_timeout 10 "$dir/attrib/${a%%=*}" "${a#*=}"
	done
	write_timeout "${ENABLE_TIMEOUT:-60}" "$dir/enable" 1
	write_timeout 10 "$dir/wwn/vpd_unit_serial" "$serial"
}

# scsi_fileio_dev NAME FILE SIZE SERIAL: an in-kernel fileio backstore on a
# sparse FILE with buffered I/O (write cache enabled, like the tcmud LUN),
# thin provisioning advertised (emulate_tpu, emulate_tpws) and a serial.
scsi_fileio_dev() {
	local name=$1 file=$2 size dir
	size=$(to_bytes "$3") || fail "bad size $3"
	dir=$CFS/core/fileio_1/$name
	truncate -s "$size" "$file"
	mkdir -p "$dir" || fail "mkdir $dir"
	write_timeout 10 "$dir/control" "fd_dev_name=$file,fd_dev_size=$size,fd_buffered_io=1"
	write_timeout 10 "$dir/enable" 1
	write_timeout 10 "$dir/attrib/emulate_tpu" 1
	write_timeout 10 "$dir/attrib/emulate_tpws" 1
	write_timeout 10 "$dir/wwn/vpd_unit_serial" "$4"
}

# scsi_setup [ram]: tcmud, the LUNs T (user:file f1, 64 MiB, write cache
# on) and K (fileio k1, 64 MiB), with "ram" also R (user:ram r1, 16 MiB,
# write cache off: the write-through case, and COMPARE AND WRITE done by the
# handler).  Sets DISK_T, DISK_K, DISK_R, BS_T, BS_K, BS_R (configfs core/
# paths) and IMG_T, IMG_K (backing files).
scsi_setup() {
	need_tcmud file ${1:+ram}
	tcmud_start
	IMG_T=$CASE_DATA/f1.img IMG_K=$CASE_DATA/k1.img
	BS_T=user_$USER_HBA/f1 BS_K=fileio_1/k1 BS_R=user_$USER_HBA/r1
	scsi_user_dev f1 "file/$IMG_T" 64M "$SERIAL_T" emulate_write_cache=1
	scsi_fileio_dev k1 "$IMG_K" 64M "$SERIAL_K"
	DISK_T=$(loop_lun_add 0 "$BS_T")
	DISK_K=$(loop_lun_add 1 "$BS_K")
	DISK_R=
	if [[ ${1:-} == ram ]]; then
		scsi_user_dev r1 ram/r1 16M "$SERIAL_R"
		DISK_R=$(loop_lun_add 2 "$BS_R")
	fi
	log "T=$DISK_T (user:file) K=$DISK_K (fileio)${DISK_R:+ R=$DISK_R (user:ram)}"
}

# ------------------------------------------------------------- answers ---

# kv LUN KEY VALUE: records an answer (newlines become " | ").
kv() {
	local v=${3//$'\n'/ | }
	printf '%s=%s\n' "$2" "$v" >>"$CASE_DIR/kv.$1"
	[[ " ${KV_KEYS:-} " == *" $2 "* ]] || KV_KEYS+=" $2"
}

# kv_get LUN KEY: the last value recorded for KEY.
kv_get() {
	awk -v k="$2=" 'index($0, k) == 1 { v = substr($0, length(k) + 1) } END { print v }' \
		"$CASE_DIR/kv.$1" 2>/dev/null
}

# sgrun LUN TAG CMD...: runs CMD with its output in $CASE_DIR/LUN.TAG
# (OUT); RC is its exit status.  Never fails.
sgrun() {
	local lun=$1 tag=$2
	shift 2
	OUT=$CASE_DIR/$lun.$tag
	RC=0
	echo "# $*" >"$OUT"
	"$@" >>"$OUT" 2>&1 || RC=$?
}

# outcome [RC [FILE]]: the result of the last sgrun as "ok", or the sg3_utils
# exit status as a name plus the additional sense it printed.
outcome() {
	local rc=${1:-$RC} f=${2:-$OUT} n asc
	((rc == 0)) && { echo ok; return; }
	case $rc in
	2) n="not ready" ;;
	3) n="medium error" ;;
	5) n="illegal request" ;;
	6) n="unit attention" ;;
	9) n="invalid opcode" ;;
	14) n=miscompare ;;
	*) n="exit $rc" ;;
	esac
	asc=$(sed -n 's/^ *Additional sense: //p' "$f" | head -n1)
	echo "$n${asc:+: $asc}"
}

# field FILE REGEX: the first match of sed group 1 of "REGEX" in FILE.
field() {
	sed -n "s/$2/\1/p" "$1" | head -n1
}

# blocks_hex DISK LBA COUNT: the distinct 16-byte lines (od -x) of COUNT
# blocks read with O_DIRECT (one line: the blocks are uniform).
blocks_od() {
	dd if="$1" bs=512 skip="$2" count="$3" iflag=direct 2>/dev/null | od -An -tx1 -v |
		sort -u | tr -s ' ' | sed 's/^ //'
}

# blocks_desc DISK LBA COUNT: "zero" if the blocks read back (O_DIRECT) as
# zeroes, "pattern XX" if every byte is XX, else "data".
blocks_desc() {
	local u b
	u=$(dd if="$1" bs=512 skip="$2" count="$3" iflag=direct 2>/dev/null |
		od -An -tx1 -v | sort -u | tr -s ' ' | sed 's/^ //; s/ $//')
	b=${u%% *}
	if [[ $u != "$(printf "$b %.0s" {1..15})$b" ]]; then
		echo data
	elif [[ $b == 00 ]]; then
		echo zero
	else
		echo "pattern $b"
	fi
}

# lba_status DISK LBA: GET LBA STATUS from LBA as "lba+blocks:state,..."
# (m mapped, d deallocated, a anchored), or the outcome if it fails.
lba_status() {
	local l n s _ res=
	sgrun "${3:-x}" lbastatus sg_get_lba_status -b -m 1024 -l "$2" "$1"
	((RC == 0)) || { outcome; return; }
	while read -r l n s _; do
		[[ $l =~ ^(0x)?[0-9a-fA-F]+$ ]] || continue
		case $s in 0) s=m ;; 1) s=d ;; 2) s=a ;; esac
		res+="${res:+,}$((16#${l#0x}))+$((16#${n#0x})):$s"
	done <"$OUT"
	echo "$res"
}

# ---------------------------------------------------------- expectations ---

# expect LUN KEY VALUE: the recorded answer must be VALUE (a failure is
# collected; expect_done reports them all).
expect() {
	local got
	got=$(kv_get "$1" "$2")
	[[ $got == "$3" ]] && return 0
	echo "$1 $2: got '$got', want '$3'" >>"$CASE_DIR/expect.failed"
}

# expect_match LUN KEY REGEX: like expect, with an extended regex.
expect_match() {
	local got
	got=$(kv_get "$1" "$2")
	[[ $got =~ $3 ]] && return 0
	echo "$1 $2: got '$got', want /$3/" >>"$CASE_DIR/expect.failed"
}

# expect_done: fails the case if an expectation failed.
expect_done() {
	[[ -s $CASE_DIR/expect.failed ]] || return 0
	cat "$CASE_DIR/expect.failed" >&2
	fail "$(wc -l <"$CASE_DIR/expect.failed") answers of tcmud are wrong (see above)"
}

# ---------------------------------------------------------- side by side ---

# explained KEY: prints the reason fileio-differences.txt gives for a
# difference in KEY (lines "GLOB<TAB>reason"), or nothing.
explained() {
	local pat reason
	while IFS=$'\t' read -r pat reason; do
		[[ -z $pat || $pat == \#* ]] && continue
		# shellcheck disable=SC2053
		[[ $1 == $pat ]] && { echo "$reason"; return 0; }
	done <"$SCSI_DIFFS"
	return 1
}

# side_by_side A B: the table of every key of this case, A's answer
# against B's; fails if a difference is not explained.
side_by_side() {
	local a=$1 b=$2 k va vb note out=$CASE_DIR/side-by-side.txt bad=0
	{
		printf '# %s: tcmud (%s) vs LIO fileio (%s), kernel %s\n' "$CASE_NAME" "$a" "$b" "$(uname -r)"
		printf '%-34s | %-40s | %-40s | %s\n' key tcmud fileio note
	} >"$out"
	for k in $KV_KEYS; do
		va=$(kv_get "$a" "$k") vb=$(kv_get "$b" "$k")
		note=same
		if [[ $va != "$vb" ]]; then
			if ! note=$(explained "$k"); then
				note="UNEXPLAINED DIFFERENCE"
				bad=$((bad + 1))
			fi
		fi
		printf '%-34s | %-40s | %-40s | %s\n' "$k" "$va" "$vb" "$note" >>"$out"
	done
	echo "----- side by side ($out)"
	cat "$out"
	((bad == 0)) || fail "$bad differences from fileio are not explained in ${SCSI_DIFFS##*/}"
}
