#!/usr/bin/env bash
# README command 2: install what is missing, then build and run every test three ways:
# plain (build/), AddressSanitizer+UBSan (build-asan/) and ThreadSanitizer (build-tsan/).
# Usage: scripts/test.sh [plain|asan|tsan ...]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(plain asan tsan)
status=0
for mode in "${modes[@]}"; do
  case "$mode" in
    plain) dir=build; args=() ;;
    asan) dir=build-asan; args=(-DASYNCORE_SANITIZE=address -DASYNCORE_BUILD_BENCH=OFF) ;;
    tsan) dir=build-tsan; args=(-DASYNCORE_SANITIZE=thread -DASYNCORE_BUILD_BENCH=OFF) ;;
    *) echo "test.sh: unknown mode $mode (plain|asan|tsan)" >&2; exit 2 ;;
  esac
  echo "=== $mode: building in $dir/" >&2
  # A failed build is recorded and the next mode still runs: one bad build must not hide the
  # others' results.
  if ! bash scripts/build.sh "$dir" "${args[@]}"; then
    echo "=== $mode: BUILD FAILED" >&2
    status=1
    continue
  fi
  echo "=== $mode: testing" >&2
  # TSan: libevent/glog are not instrumented; suppressions name only third-party frames.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  (cd "$dir" && ctest --output-on-failure -j "$(nproc)" --timeout 300) || status=1
done
exit $status
