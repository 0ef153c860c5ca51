# An image with two internal snapshots (snap1: the data, snap2: after a
# qemu-io write).  Through the LUN: the current state reads as qemu reads
# it; fio writes (the handler copies clusters shared with the snapshots);
# UNMAP; then qemu-img check clean, compare identical to a raw copy of the
# LUN, and both snapshots still listed and intact (their contents as
# before, byte for byte).
# timeout: 200
source "$(dirname "${BASH_SOURCE[0]}")/qcow.bash"
qcow_setup
D=$CASE_DATA
make_pattern "$D/pattern.raw" 32M
qemu-img convert -O qcow2 "$D/pattern.raw" "$D/snap.qcow2"
qemu-img snapshot -c snap1 "$D/snap.qcow2"
qemu-io -f qcow2 -c 'write -P 0x33 2M 1M' -c 'write -P 0x44 28M 96k' "$D/snap.qcow2" \
	>"$CASE_DIR/qemu-io.out" || fail "qemu-io on snap.qcow2"
qemu-img snapshot -c snap2 "$D/snap.qcow2"
qemu-io -f qcow2 -c 'write -P 0x55 18M 4M' "$D/snap.qcow2" >>"$CASE_DIR/qemu-io.out" ||
	fail "qemu-io on snap.qcow2"
for s in snap1 snap2; do
	qemu-img convert -l "snapshot.name=$s" -O raw "$D/snap.qcow2" "$D/$s.before.raw"
done
cmp "$D/snap1.before.raw" "$D/pattern.raw" || fail "snap1 is not the data it was taken of"

qcow_roundtrip snap "$D/snap.qcow2" 0
qemu-img snapshot -l "$D/snap.qcow2" >"$CASE_DIR/snapshots"
for s in snap1 snap2; do
	grep -qw "$s" "$CASE_DIR/snapshots" || fail "snapshot $s is gone: $(cat "$CASE_DIR/snapshots")"
	qemu-img convert -l "snapshot.name=$s" -O raw "$D/snap.qcow2" "$D/$s.after.raw"
	cmp "$D/$s.before.raw" "$D/$s.after.raw" || fail "snapshot $s changed"
done
tcmud_alive
