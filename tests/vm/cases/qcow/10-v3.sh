# qcow2 v3 images through a tcm_loop LUN (see qcow.bash for the proof each
# one gets: before any write the LUN reads what qemu reads; fio verify;
# UNMAP; then qemu-img check clean and qemu-img compare identical to a raw
# copy of the LUN; the LUN unchanged where nothing was written): an image
# with 64k clusters made from data, an empty 4k-cluster image with 1-bit
# refcounts, and a 128k-cluster image with subclusters (extended_l2) made
# from data.
# timeout: 240
source "$(dirname "${BASH_SOURCE[0]}")/qcow.bash"
qcow_setup
D=$CASE_DATA
make_pattern "$D/pattern.raw" 32M

qemu-img convert -O qcow2 -o compat=1.1,cluster_size=64k "$D/pattern.raw" "$D/v3.qcow2"
qcow_roundtrip v3 "$D/v3.qcow2" 0

qemu-img create -q -f qcow2 -o compat=1.1,cluster_size=4k,refcount_bits=1 "$D/c4k.qcow2" 32M
qcow_roundtrip c4k "$D/c4k.qcow2" 0

qemu-img convert -O qcow2 -o compat=1.1,cluster_size=128k,extended_l2=on "$D/pattern.raw" "$D/sub.qcow2"
qcow_roundtrip sub "$D/sub.qcow2" 0
qemu-img info "$D/sub.qcow2" | grep -q 'extended l2: true' || fail "sub.qcow2 lost extended_l2"
tcmud_alive
