# Compressed images (qemu-img convert -c: zlib, and zstd when qemu-img
# can): the LUN first reads what qemu decompresses; fio overwrites parts of
# compressed clusters (the handler rewrites them uncompressed); UNMAP;
# qemu-img check clean, compare identical to a raw copy of the LUN.
# timeout: 200
source "$(dirname "${BASH_SOURCE[0]}")/qcow.bash"
qcow_setup
D=$CASE_DATA
make_pattern "$D/pattern.raw" 32M
types=(zlib)
qemu-img create -q -f qcow2 -o compression_type=zstd "$D/probe.qcow2" 1M 2>/dev/null && types+=(zstd)
for t in "${types[@]}"; do
	qemu-img convert -c -O qcow2 -o compression_type=$t "$D/pattern.raw" "$D/$t.qcow2"
	qemu-img check "$D/$t.qcow2" >"$CASE_DIR/check.$t.before" || fail "qemu-img check $t.qcow2 before"
	pct=$(sed -n 's/.* \([0-9.]*\)% compressed clusters.*/\1/p' "$CASE_DIR/check.$t.before")
	[[ -n $pct && ${pct%%.*} -ge 90 ]] || fail "$t.qcow2: only ${pct:-no}% of its clusters are compressed"
	qcow_roundtrip "$t" "$D/$t.qcow2" 0
done
tcmud_alive
