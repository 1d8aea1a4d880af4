#!/usr/bin/env bash
# A/B two (or more) builds of douyu_danmaku against the same producer in the same minutes:
# for ROUNDS rounds, each binary in turn reads N messages from a fresh bench/flood_server.
# Prints one line per run: wall s (the client's own clock), msg/s, user and sys CPU s, peak RSS.
# Alternating is what makes two binaries comparable on a machine whose speed drifts
# (docs/PERFORMANCE.md, "Noise").
# Usage: bench/ab_clients.sh N BIN_A BIN_B...   Env: BUILD=build (for flood_server), ROUNDS=3,
#        EXTRA="--output=none" (the clients' output flags, e.g. "--output=none --decode=typed").
# Keep a "before" binary with: cp build/bin/douyu_danmaku /tmp/before (then rebuild, and pass both).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: bench/ab_clients.sh N BIN_A BIN_B...}
shift
build=${BUILD:-build}
read -r -a extra <<<"${EXTRA:---output=none}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "${ROUNDS:-3}"); do
  for bin in "$@"; do
    "$build/bin/flood_server" --flood="$n" --port=0 >"$tmp/server.out" 2>/dev/null &
    server=$!
    for _ in $(seq 200); do grep -q "listening on" "$tmp/server.out" && break; sleep 0.01; done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/server.out" | head -1)
    /usr/bin/time -f "TIME %U %S %M" -o "$tmp/time" "$bin" --host=127.0.0.1 --port="$port" \
      --room=9999 --max-messages="$n" --noreconnect "${extra[@]}" >/dev/null 2>"$tmp/err"
    summary=$(grep "msg/s" "$tmp/err" | tail -1)
    read -r _ user sys rss <"$tmp/time"
    echo "$bin $(sed -n 's/.* in \([0-9.]*\) s (\([0-9]*\) msg\/s).*/wall \1 msg\/s \2/p' <<<"$summary") user $user sys $sys rss ${rss}KB"
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  done
done
