#!/usr/bin/env bash
# README command 1: install what is missing, build, run the barrage client against the embedded
# simulator. Extra arguments go to douyu_danmaku (e.g. --max-messages=50, --output=jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_TARGETS=douyu_danmaku bash scripts/build.sh build -DASYNCORE_BUILD_BENCH=OFF
exec build/bin/douyu_danmaku --demo "$@"
