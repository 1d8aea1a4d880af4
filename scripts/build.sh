#!/usr/bin/env bash
# Configures and builds one build folder. Usage: scripts/build.sh [DIR] [extra cmake args...]
# DIR defaults to build/ (the folder the README's commands use; executables land in DIR/bin/).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
jobs=$(nproc)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j "$jobs"
