#!/usr/bin/env bash
# Runs clang-format (check only; --fix rewrites) and clang-tidy over the project's C++ sources.
# clang-tidy needs build/compile_commands.json (scripts/build.sh makes it).
# Usage: scripts/lint.sh [--fix] [--no-tidy]
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0; tidy=1
for a in "$@"; do
  case "$a" in --fix) fix=1 ;; --no-tidy) tidy=0 ;; *) echo "lint.sh: unknown option $a" >&2; exit 2 ;; esac
done
mapfile -t files < <(git ls-files '*.h' '*.cc' | grep -v '^fuzz/corpus')
if [ $fix -eq 1 ]; then
  clang-format -i "${files[@]}"
else
  clang-format --dry-run --Werror "${files[@]}"
fi
if [ $tidy -eq 1 ]; then
  [ -f build/compile_commands.json ] || bash scripts/build.sh build >/dev/null
  mapfile -t sources < <(git ls-files 'core/*.cc' 'client/*.cc' 'douyu/*.cc' 'redis/*.cc' 'samples/*.cc')
  clang-tidy -p build --quiet "${sources[@]}"
fi
