# bench/host-lib.sh — what the host sides of the VM benches (run-vm*.sh)
# share; sourced with ROOT (the source tree) and BUILD (the build tree) set.

# bench_release_build TAG HANDLER [TARGET...]: when BUILD lacks tcmud or
# handlers/HANDLER.so, configures it as a Release build without sanitizers
# and builds the TARGETs (everything without any); warns (as TAG) when BUILD
# is not such a build. Always returns 0.
bench_release_build() {
	local tag=$1 so=$BUILD/handlers/$2.so
	shift 2
	if [[ ! -x $BUILD/tcmud || ! -e $so ]]; then
		# -O3 raises warnings in a few files: numbers need a release build, not -Werror.
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTCMU_SANITIZE=OFF \
			-DTCMU_WERROR=OFF >/dev/null
		if (($#)); then
			cmake --build "$BUILD" -j2 --target "$@" >/dev/null
		else
			cmake --build "$BUILD" -j2 >/dev/null
		fi
	fi
	grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" ||
		echo "$tag: warning: $BUILD is not a Release build" >&2
	grep -q 'TCMU_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" &&
		echo "$tag: warning: $BUILD has sanitizers on: the numbers mean nothing" >&2
	return 0
}

# bench_outputs KIND: sets host, OUT (unless given: bench/results/<date>-KIND-<host>),
# log=OUT.log and md=OUT.md.
bench_outputs() {
	host=$(hostname -s 2>/dev/null || hostname)
	mkdir -p "$ROOT/bench/results"
	[[ -n $OUT ]] || OUT=$ROOT/bench/results/$(date -u +%Y-%m-%d)-$1-$host
	log=$OUT.log
	md=$OUT.md
}

# bench_header TAG [GUEST_NOTE]: the first lines of a results log: the
# script and the time, the host (CPUs, memory, kernel, load) and the guest
# (qemu, accelerator; GUEST_NOTE appended after "; ").
bench_header() {
	local cpu accel=tcg
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	[[ -e /sys/module/kvm_pvm ]] || [[ ! -w /dev/kvm ]] || accel="kvm (fallback tcg)"
	echo "# $1: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host: $host, $(nproc) CPUs ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "guest: qemu $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}'), accel $accel, cpu ${TCMUD_VM_TCG_CPU:-max,-erms}, 2 vCPUs, 4 GiB${2:+; $2}"
}

# bench_tree: the "tree:" line (commit, local changes, build tree).
bench_tree() {
	echo "tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ local changes)'), build: $BUILD"
}
