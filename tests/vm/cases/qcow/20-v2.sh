# qcow2 version 2 (compat=0.10) images through a tcm_loop LUN (the proof of
# qcow.bash: same data as qemu before writing; fio verify; UNMAP; qemu-img
# check clean, compare identical to a raw copy of the LUN): an empty one
# and one made from data.  They stay version 2.
# timeout: 200
source "$(dirname "${BASH_SOURCE[0]}")/qcow.bash"
qcow_setup
D=$CASE_DATA
make_pattern "$D/pattern.raw" 64M

qemu-img create -q -f qcow2 -o compat=0.10 "$D/v2.qcow2" 64M
qcow_roundtrip v2 "$D/v2.qcow2" 0
qemu-img convert -O qcow2 -o compat=0.10 "$D/pattern.raw" "$D/v2data.qcow2"
qcow_roundtrip v2data "$D/v2data.qcow2" 0
for i in v2 v2data; do
	qemu-img info "$D/$i.qcow2" | grep -q 'compat: 0.10' || fail "$i.qcow2 is no longer version 2"
done
tcmud_alive
