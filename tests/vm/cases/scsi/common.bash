# tests/vm/cases/scsi/common.bash: helpers of the "scsi" cases (sourced by
# them; not a case itself: run-cases only runs *.sh).
#
# Every case asks the same questions of a tcmud LUN (user:file, "T") and of
# LIO's in-kernel fileio backstore on the same kind of tmpfs file ("K"),
# both behind tcm_loop in this guest, and records each answer with kv.
# The case checks the concrete values tcmud must give (expect), then
# scsi_finish compares the two LUNs key by key: every difference must be
# listed with its reason in fileio-differences.txt (explained in
# docs/scsi-conformance.md), or the case fails.  The table goes to
# $CASE_DIR/side-by-side.txt and to the case's output; each command's
# output is in $CASE_DIR/<LUN>.<tag>.
#
# Under TCG every exec costs ~0.1 s: parsing uses bash builtins only, and
# helpers return results in variables (a $(...) forks).

SCSI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCSI_DIFFS=$SCSI_DIR/fileio-differences.txt

# Unit serials (set as targetcli does; LIO reports no VPD pages without
# one).  The NAA designator takes the first 25 hex digits: they differ.
SERIAL_T=5c5100a1-0c0d-4e00-8a00-0000000000a1
SERIAL_K=5c5100b2-0c0d-4e00-8a00-0000000000b2
SERIAL_R=5c5100c3-0c0d-4e00-8a00-0000000000c3

declare -A KV=()     # KV[LUN.key] = answer
declare -A KV_SEEN=()
KV_KEYS=()           # keys in the order first recorded
: >"$CASE_DIR/expect.failed"

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
	for a in "$@"; do # (attributes of a disabled device: no waiting)
		printf '%s' "${a#*=}" >"$dir/attrib/${a%%=*}" || fail "$a"
	done
	write_timeout "${ENABLE_TIMEOUT:-60}" "$dir/enable" 1
	printf '%s' "$serial" >"$dir/wwn/vpd_unit_serial" || fail "vpd_unit_serial"
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
	printf 1 >"$dir/attrib/emulate_tpu" || fail "emulate_tpu"
	printf 1 >"$dir/attrib/emulate_tpws" || fail "emulate_tpws"
	printf '%s' "$4" >"$dir/wwn/vpd_unit_serial" || fail "vpd_unit_serial"
}

# scsi_setup [ram]: tcmud, the LUNs T (user:file f1, 64 MiB, write cache
# on) and K (fileio k1, 64 MiB), with "ram" also R (user:ram r1, 16 MiB,
# write cache off: write-through, and COMPARE AND WRITE done by the
# handler).  Sets DISK_T/K/R, BS_T/K/R (configfs core/ paths), IMG_T/K.
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

# cfg LUN PATH: sets V to the first line of core/<backstore>/PATH (trailing
# blanks removed; "T10 VPD Unit Serial Number: " dropped).
cfg() {
	local bs=BS_$1
	V=
	read -r V <"$CFS/core/${!bs}/$2" || true
	V=${V#T10 VPD Unit Serial Number: }
	V=${V%"${V##*[! ]}"}
}

# ------------------------------------------------------------- answers ---

# kv LUN KEY VALUE: records an answer (newlines become " | ").
kv() {
	KV[$1.$2]=${3//$'\n'/ | }
	[[ -n ${KV_SEEN[$2]:-} ]] || { KV_SEEN[$2]=1; KV_KEYS+=("$2"); }
}

# kv_get LUN KEY: the answer recorded (as V and on stdout).
kv_get() {
	V=${KV[$1.$2]:-}
	echo "$V"
}

# sgrun LUN TAG CMD...: runs CMD with its output in $CASE_DIR/LUN.TAG (OUT)
# and in the array L, one line each; RC is its exit status.  Never fails.
sgrun() {
	local lun=$1 tag=$2
	shift 2
	OUT=$CASE_DIR/$lun.$tag
	RC=0
	echo "# $*" >"$OUT"
	"$@" >>"$OUT" 2>&1 || RC=$?
	mapfile -t L <"$OUT"
}

# has REGEX: R is group 1 of the first line of L that matches (bash ERE);
# returns 1 (R empty) if none does.
has() {
	local line
	R=
	for line in "${L[@]}"; do
		[[ $line =~ $1 ]] && { R=${BASH_REMATCH[1]}; return 0; }
	done
	return 1
}

# grab REGEX: like has, but never fails (R is empty without a match).
grab() { has "$1" || true; }

# squeeze: R with its runs of blanks made single spaces.
squeeze() {
	local w
	read -ra w <<<"$R"
	R=${w[*]}
}

# kvg LUN KEY REGEX: kv of grab's result.
kvg() {
	grab "$3"
	kv "$1" "$2" "$R"
}

# kvtok LUN PREFIX NAME...: kv PREFIX.NAME for each "NAME=VALUE" of L.
kvtok() {
	local l=$1 p=$2 n
	shift 2
	for n; do
		if has "(^|[ [])$n=([^] ]+)"; then
			kv "$l" "$p.$n" "${BASH_REMATCH[2]}"
		else
			kv "$l" "$p.$n" ""
		fi
	done
}

# outcome: O is the result of the last sgrun: "ok", or the sg3_utils exit
# status as a name with the additional sense it printed (with -v).
outcome() {
	case $RC in
	0) O=ok; return ;;
	2) O="not ready" ;;
	3) O="medium error" ;;
	5) O="illegal request" ;;
	6) O="unit attention" ;;
	9) O="invalid opcode" ;;
	14) O=miscompare ;;
	22) O="illegal request" ;; # sg3_utils: LBA out of range
	*) O="exit $RC" ;;
	esac
	if has '^ *Additional sense: (.*)$'; then O+=": $R"; fi
}

# kvo LUN KEY [EXTRA]: kv of the outcome of the last sgrun (and EXTRA).
kvo() {
	outcome
	kv "$1" "$2" "$O${3:+; $3}"
}

# ask REQUEST...: Y is the answer of blocks.py (a coprocess started on
# first use) to a request (see there: blocks, save, alloc).
ask() {
	if [[ -z ${BLOCKS_PY_PID:-} ]]; then
		coproc BLOCKS_PY { exec /usr/bin/python3 -u "$SCSI_DIR/blocks.py"; }
		BLOCKS_PY_IN=${BLOCKS_PY[1]} BLOCKS_PY_OUT=${BLOCKS_PY[0]}
	fi
	echo "$*" >&"$BLOCKS_PY_IN"
	read -r Y <&"$BLOCKS_PY_OUT" || fail "blocks.py died"
	[[ $Y != error:* ]] || fail "blocks.py: $* -> $Y"
}

# blocks DISK LBA COUNT [FILE [FILE_LBA]]: B describes COUNT blocks read
# with O_DIRECT: "unchanged" (equal to FILE from FILE_LBA, default LBA),
# "zero", "pattern X" or "data".
blocks() {
	ask blocks "$@"
	B=$Y
}

# save DISK LBA COUNT FILE: copies the blocks (O_DIRECT) to FILE.
save() { ask save "$@"; }

# alloc FILE: A is the KiB FILE occupies.
alloc() {
	ask alloc "$1"
	A=$Y
}

# lba_status DISK LBA LUN: S is GET LBA STATUS from LBA as
# "lba+blocks:state,..." (m mapped, d deallocated, a anchored), or the
# outcome if it fails.
lba_status() {
	local line s res=
	sgrun "$3" lbastatus sg_get_lba_status -v -b -m 1024 -l "$2" "$1"
	if ((RC)); then
		outcome
		S=$O
		return
	fi
	local re='^(0x)?([0-9a-fA-F]+) +(0x)?([0-9a-fA-F]+) +([0-9]+)'
	for line in "${L[@]}"; do
		[[ $line =~ $re ]] || continue
		case ${BASH_REMATCH[5]} in 0) s=m ;; 1) s=d ;; 2) s=a ;; *) s=${BASH_REMATCH[5]} ;; esac
		res+="${res:+,}$((16#${BASH_REMATCH[2]}))+$((16#${BASH_REMATCH[4]})):$s"
	done
	S=$res
}

# ---------------------------------------------------------- expectations ---

# expect LUN KEY VALUE: the answer recorded must be VALUE (failures are
# collected; scsi_finish reports them all).
expect() {
	[[ ${KV[$1.$2]:-} == "$3" ]] && return 0
	echo "$1 $2: got '${KV[$1.$2]:-}', want '$3'" >>"$CASE_DIR/expect.failed"
}

# expect_match LUN KEY REGEX: like expect, with a bash extended regex.
expect_match() {
	[[ ${KV[$1.$2]:-} =~ $3 ]] && return 0
	echo "$1 $2: got '${KV[$1.$2]:-}', want /$3/" >>"$CASE_DIR/expect.failed"
}

# expect_that LUN WHAT CONDITION...: CONDITION (a command) must succeed.
expect_that() {
	local l=$1 what=$2
	shift 2
	"$@" && return 0
	echo "$l $what: not so" >>"$CASE_DIR/expect.failed"
}

# ---------------------------------------------------------- side by side ---

# explained KEY: E is the reason fileio-differences.txt gives for a
# difference in KEY (lines "GLOB<TAB>reason"); returns 1 if there is none.
declare -a _DIFF_PAT=() _DIFF_WHY=()
explained() {
	local pat why i
	if ((${#_DIFF_PAT[@]} == 0)); then
		while IFS=$'\t' read -r pat why; do
			[[ -z $pat || $pat == \#* ]] && continue
			_DIFF_PAT+=("$pat")
			_DIFF_WHY+=("$why")
		done <"$SCSI_DIFFS"
	fi
	for i in "${!_DIFF_PAT[@]}"; do
		# shellcheck disable=SC2053
		[[ $1 == ${_DIFF_PAT[i]} ]] && { E=${_DIFF_WHY[i]}; return 0; }
	done
	return 1
}

# scsi_finish A B: writes the side-by-side table of every key (A = tcmud,
# B = fileio) to $CASE_DIR/side-by-side.txt and prints it; fails if an
# expectation failed or a difference is not explained.
scsi_finish() {
	local a=$1 b=$2 k va vb note out=$CASE_DIR/side-by-side.txt bad=0
	{
		printf '# %s: tcmud (%s) vs LIO fileio (%s), kernel %s\n' "$CASE_NAME" "$a" "$b" "$(uname -r)"
		printf '%s\t%s\t%s\t%s\n' key tcmud fileio note
		for k in "${KV_KEYS[@]}"; do
			va=${KV[$a.$k]:-} vb=${KV[$b.$k]:-}
			note=same
			if [[ $va != "$vb" ]]; then
				if explained "$k"; then
					note=$E
				else
					note="UNEXPLAINED DIFFERENCE"
					bad=$((bad + 1))
				fi
			fi
			printf '%s\t%s\t%s\t%s\n' "$k" "${va:--}" "${vb:--}" "$note"
		done
	} >"$out"
	echo "----- side by side ($out)"
	cat "$out"
	if [[ -s $CASE_DIR/expect.failed ]]; then
		cat "$CASE_DIR/expect.failed" >&2
		bad=$((bad + 1000))
	fi
	((bad < 1000)) || fail "$(wc -l <"$CASE_DIR/expect.failed") answers of tcmud are wrong (see above)"
	((bad == 0)) || fail "$bad differences from fileio are not explained in ${SCSI_DIFFS##*/}"
}
