#!/usr/bin/env bash
# Configures and builds one build folder. Usage: scripts/build.sh [DIR] [extra cmake args...]
# DIR defaults to build/ (the folder the README's commands use; executables land in DIR/bin/).
# BUILD_TARGETS="a b" builds only those targets. Build output goes to stderr, so that a program
# run right after (scripts/demo.sh) owns stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)" "${targets[@]}" >&2
