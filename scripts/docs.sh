#!/usr/bin/env bash
# The API reference: installs doxygen if missing (scripts/install-deps.sh --docs), then runs it
# over every public header (docs/Doxyfile; the headers' // comments reach Doxygen through
# scripts/doxygen_filter.py). Output: DIR/html/index.html, DIR defaulting to build-docs/ (git-ignored).
# Fails if doxygen fails or prints any warning (they are listed, from DIR/warnings.log).
# Usage: scripts/docs.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --docs
dir=${1:-build-docs}
mkdir -p "$dir"
rm -rf "$dir/html" "$dir/warnings.log"
export ASYNCORE_DOCS_DIR=$dir
ASYNCORE_VERSION=$(sed -n 's/^project(asyncore_cpp VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
export ASYNCORE_VERSION
start=$SECONDS
# All headers filtered in one Python process (doxygen_filter.sh then reads the copies).
rm -rf "$dir/filtered"
python3 scripts/doxygen_filter.py --cache "$dir/filtered" core/*.h client/*.h douyu/*/*.h redis/*.h web/*.h
status=0
doxygen docs/Doxyfile >"$dir/doxygen.log" 2>&1 || status=$?
warnings=0
[ -s "$dir/warnings.log" ] && warnings=$(grep -c -i 'warning:\|error:' "$dir/warnings.log" || true)
if [ $status -ne 0 ] || [ -s "$dir/warnings.log" ]; then
  echo "docs.sh: FAILED: doxygen exit status $status, $warnings warning(s):" >&2
  cat "$dir/warnings.log" "$dir/doxygen.log" 2>/dev/null | head -n 50 >&2
  exit 1
fi
echo "docs.sh: $dir/html/index.html ($(ls "$dir"/html/*.html | wc -l) pages, 0 warnings, $((SECONDS - start)) s)" >&2
