#!/bin/bash
# Builds tcmud with ASan + UBSan and runs the whole test suite with ctest:
# unit tests, the ring simulator, and the real-kernel tests in a qemu VM.
#   scripts/test.sh [ctest args...]   e.g. -L unit, -R ring, -LE vm
# TCMU_TEST_SLOW=1 also runs the tests labelled slow (vm_bugdemo: the VM suite
# against builds with injected ring bugs, tests/vm/bug-demo).
# BUILD_DIR (default build-asan) selects the build tree.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-asan}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DTCMU_SANITIZE=ON \
	-DTCMU_WERROR=ON >"$BUILD_DIR.cmake.log" 2>&1 || { cat "$BUILD_DIR.cmake.log"; exit 1; }
cmake --build "$BUILD_DIR" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
# Tests labelled "slow" (see tests/vm/CMakeLists.txt) run with TCMU_TEST_SLOW=1.
slow=(-LE slow)
[[ ${TCMU_TEST_SLOW:-0} == 1 ]] && slow=()
ctest --output-on-failure "${slow[@]}" "$@"
