#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan+UBSan) into build-fuzz/ and runs each for
# SECONDS (default 30) on a copy of its seed corpus (fuzz/corpus/<target>/ → fuzz/corpus-work/<target>/,
# not committed). Crash inputs land in fuzz/corpus-work/<target>-artifacts/. Exits non-zero if any
# target fails. SECONDS=0 only builds.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_frame_decoder fuzz_stt_decode fuzz_stt_nested fuzz_json fuzz_client_read_path
                                 fuzz_websocket)

bash scripts/install-deps.sh --fuzz
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DASYNCORE_BUILD_FUZZ=ON -DASYNCORE_BUILD_TESTS=OFF -DASYNCORE_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"
[ "$seconds" -eq 0 ] && exit 0

status=0
for t in "${targets[@]}"; do
  work=fuzz/corpus-work/$t
  artifacts=fuzz/corpus-work/$t-artifacts
  mkdir -p "$work" "$artifacts"
  [ -d "fuzz/corpus/$t" ] && cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  echo "=== $t: ${seconds}s on $work" >&2
  if ! build-fuzz/bin/"$t" -max_total_time="$seconds" -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "$work"; then
    echo "=== $t: FAILED — crash input in $artifacts/" >&2
    status=1
  fi
done
exit $status
