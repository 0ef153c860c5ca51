# qcow2 version 2 (compat=0.10) images through a tcm_loop LUN (the proof of
# qcow.bash: same data as qemu before writing; fio verify; UNMAP; qemu-img
# check clean, compare identical to a raw copy of the LUN, the LUN
# unchanged where nothing was written), made from data.  It stays
# version 2.
# timeout: 200
source "$(dirname "${BASH_SOURCE[0]}")/qcow.bash"
qcow_setup
D=$CASE_DATA
make_pattern "$D/pattern.raw" 32M

qemu-img convert -O qcow2 -o compat=0.10 "$D/pattern.raw" "$D/v2.qcow2"
qcow_roundtrip v2 "$D/v2.qcow2" 0
qemu-img info "$D/v2.qcow2" | grep -q 'compat: 0.10' || fail "v2.qcow2 is no longer version 2"
tcmud_alive
