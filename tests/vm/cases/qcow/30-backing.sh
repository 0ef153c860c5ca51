# A backing chain: raw base <- qcow2 mid (with its own data, written by
# qemu-io) <- qcow2 top (empty).  The LUN on top first reads exactly what
# qemu reads through the chain; fio writes partial clusters (copied up
# from mid and base); UNMAP; qemu-img check clean on top and mid, compare
# identical to a raw copy of the LUN; base and mid are left untouched.
# timeout: 200
source "$(dirname "${BASH_SOURCE[0]}")/qcow.bash"
qcow_setup
D=$CASE_DATA
make_pattern "$D/base.raw" 32M
qemu-img create -q -f qcow2 -b "$D/base.raw" -F raw "$D/mid.qcow2"
qemu-io -f qcow2 -c 'write -P 0xab 10M 3M' -c 'write -P 0xcd 30M 64k' -c 'write -z 1M 512k' \
	"$D/mid.qcow2" >"$CASE_DIR/qemu-io.out" || fail "qemu-io on mid.qcow2"
qemu-img create -q -f qcow2 -b "$D/mid.qcow2" -F qcow2 "$D/top.qcow2"
sums=$(md5sum "$D/base.raw" "$D/mid.qcow2")

qcow_roundtrip top "$D/top.qcow2" 0
qimg_check "$D/mid.qcow2" mid
[[ $(md5sum "$D/base.raw" "$D/mid.qcow2") == "$sums" ]] || fail "the backing files changed"
qemu-img info --backing-chain "$D/top.qcow2" >"$CASE_DIR/chain" || fail "backing chain broken"
[[ $(grep -c '^image:' "$CASE_DIR/chain") == 3 ]] || fail "backing chain is not 3 deep: $(cat "$CASE_DIR/chain")"
tcmud_alive
