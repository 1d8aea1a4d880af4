#!/usr/bin/env bash
# Checks that the project's includes point one way (docs/architecture.md):
#   core/ -> (nothing of ours)      client/ -> core/
#   douyu/protocol/ -> (nothing of ours: no I/O)
#   douyu/client/ -> douyu/protocol/, client/, core/
#   douyu/simulator/ -> douyu/client/, douyu/protocol/, client/, core/
#   redis/ -> douyu/protocol/, core/
#   web/ -> client/, core/
# Prints every include that breaks the rule and exits 1; run by ctest (Layers.IncludesPointOneWay).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
check() {  # check FOLDER ALLOWED-PREFIX...
  local folder=$1; shift
  local allowed="$folder"
  for a in "$@"; do allowed="$allowed|$a"; done
  while IFS= read -r hit; do
    echo "check_layers.sh: $folder may include only ${allowed//|/, }: $hit" >&2
    status=1
  done < <(grep -HnE '^#include "(core|client|douyu|redis|web|samples|tests|bench|fuzz)/' \
             "$folder"/*.h "$folder"/*.cc 2>/dev/null |
           grep -vE "#include \"($allowed)/" || true)
}
check core
check client core
check douyu/protocol
check douyu/client douyu/protocol client core
check douyu/simulator douyu/client douyu/protocol client core
check redis douyu/protocol core
check web client core
[ $status -eq 0 ] && echo "check_layers.sh: every include points one way"
exit $status
