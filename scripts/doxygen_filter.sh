#!/bin/sh
# Doxygen's filter for the headers (docs/Doxyfile): the copy scripts/docs.sh filtered in advance
# into $ASYNCORE_DOCS_DIR/filtered/ when there is one at least as new as the header, else
# scripts/doxygen_filter.py on the header (what the copies were made with).
cached=${ASYNCORE_DOCS_DIR:-build-docs}/filtered/${1#"$PWD"/}
if [ -f "$cached" ] && [ ! "$1" -nt "$cached" ]; then
  exec cat "$cached"
fi
exec python3 "$(dirname "$0")/doxygen_filter.py" "$1"
