#!/usr/bin/env bash
# End-to-end barrage benchmark: the simulator floods N realistic messages at one client; four
# clients receive the same stream, each against a fresh simulator, in one run:
#   raw-reader           bench/raw_reader.cc: read()+discard into a reused buffer (the pipe's limit)
#   douyu_danmaku        --output=none: decode every frame to a Message, worker thread, callback
#   douyu_danmaku typed  --output=none --decode=typed: also every message through its typed view
#   python-asyncore      bench/tutorial_asyncore_client.py: the tutorial's own design
# Usage: bash bench/e2e_barrage.sh [N] [N_PYTHON]   (defaults 3000000 and 200000; rates normalise)
# MODE=transports: instead, douyu_danmaku --output=none over tcp://, ws:// and wss:// (the
# simulator serving each; wss with a certificate made for the run), side by side.
# Env: BUILD=build (build folder), REPEAT=1 (runs per contender; the best is kept), SKIP_BUILD=1.
# Needs /usr/bin/time (installed by scripts/install-deps.sh --bench-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000000}
NPY=${2:-200000}
BUILD=${BUILD:-build}
REPEAT=${REPEAT:-1}

bash scripts/install-deps.sh --bench-tools
[ "${SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh "$BUILD" >/dev/null
BIN=$BUILD/bin
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts a fresh simulator flooding $1 messages; sets $port.
start_server() {
  : >"$tmp/server.out"
  "$BIN/douyu_server" --flood="$1" --port=0 "${SERVER_ARGS[@]}" >"$tmp/server.out" 2>/dev/null &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q "listening on" "$tmp/server.out" && break
    sleep 0.01
  done
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/server.out" | head -1)
  [ -n "$port" ] || { echo "e2e_barrage: simulator did not start" >&2; exit 1; }
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# run NAME MESSAGES CMD...: runs CMD under /usr/bin/time against a fresh simulator.
# Appends "name msgs bytes wall user sys maxrss_kb" to $tmp/results.
run() {
  local name=$1 msgs=$2
  shift 2
  local best=""
  for _ in $(seq "$REPEAT"); do
    start_server "$msgs"
    local cmd=("${@//@PORT@/$port}")
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" || {
      echo "e2e_barrage: $name failed:" >&2
      tail -5 "$tmp/err" >&2
      exit 1
    }
    stop_server
    local wall user sys rss
    read -r wall user sys rss <"$tmp/time"
    # The contender's own clock, from connect to the N-th message (process start-up excluded:
    # Python's imports take up to a second on a loaded machine); /usr/bin/time gives CPU and RSS.
    wall=$(grep -ho ' in [0-9.]* s' "$tmp/out" "$tmp/err" | head -1 | awk '{print $2}')
    local bytes
    bytes=$(grep -o '[0-9]* bytes' "$tmp/out" "$tmp/err" 2>/dev/null | head -1 | grep -o '^[^ ]*' |
            sed 's/.*://' || true)
    [ -n "$bytes" ] || bytes=0
    if [ -z "$best" ] || awk "BEGIN{exit !($wall < ${best%% *})}"; then
      best="$wall $user $sys $rss $bytes"
    fi
  done
  read -r wall user sys rss bytes <<<"$best"
  echo "$name $msgs $bytes $wall $user $sys $rss" >>"$tmp/results"
}

SERVER_ARGS=()
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${MODE:-clients}" = transports ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
  echo "# N=$N; douyu_danmaku --output=none against douyu_server --transport=T; best of $REPEAT"
  for t in tcp ws wss; do
    SERVER_ARGS=(--transport="$t")
    tls=()
    if [ "$t" = wss ]; then
      SERVER_ARGS+=(--cert-file="$tmp/cert.pem" --key-file="$tmp/key.pem")
      tls=(--ca-file="$tmp/cert.pem")
    fi
    run "douyu_danmaku-$t" "$N" "$BIN/douyu_danmaku" --url="$t://127.0.0.1:@PORT@/" "${tls[@]}" \
      --room=9999 --output=none --max-messages="$N" --noreconnect
  done
  awk '
    { name[NR] = $1; msgs[NR] = $2; wall[NR] = $4; cpu[NR] = $5 + $6; rss[NR] = $7
      rate[NR] = $2 / $4; if (NR == 1) tcp = rate[NR] }
    END {
      printf "%s\n", "(wall s: the client'"'"'s own clock from connect to the N-th message; CPU and RSS: /usr/bin/time, client only)";
      printf "%-22s %10s %8s %12s %14s %9s %8s\n", "contender", "messages", "wall s", "msg/s",
             "CPU s / M msg", "peak RSS", "vs tcp";
      for (i = 1; i <= NR; ++i)
        printf "%-22s %10d %8.2f %12.0f %14.2f %7.1fMB %7.0f%%\n", name[i], msgs[i], wall[i],
               rate[i], cpu[i] / msgs[i] * 1e6, rss[i] / 1024, 100 * rate[i] / tcp;
    }' "$tmp/results"
  exit 0
fi

echo "# N=$N (C++), N=$NPY (Python); each contender against a fresh simulator; best of $REPEAT"
run raw-reader "$N" "$BIN/raw_reader" 127.0.0.1 @PORT@ "$N"
run douyu_danmaku "$N" "$BIN/douyu_danmaku" --host=127.0.0.1 --port=@PORT@ --room=9999 \
  --output=none --max-messages="$N" --noreconnect
run douyu_danmaku-typed "$N" "$BIN/douyu_danmaku" --host=127.0.0.1 --port=@PORT@ --room=9999 \
  --output=none --decode=typed --max-messages="$N" --noreconnect
run python-asyncore "$NPY" python3 bench/tutorial_asyncore_client.py 127.0.0.1 @PORT@ "$NPY"

# Bytes per message from the raw reader (same seed, same stream): MB/s of the contenders that do
# not count bytes themselves.
awk '
  NR == 1 { bpm = $3 / $2 }
  { name[NR] = $1; msgs[NR] = $2; bytes[NR] = ($3 > 0 ? $3 : $2 * bpm); wall[NR] = $4;
    cpu[NR] = $5 + $6; rss[NR] = $7; rate[NR] = $2 / $4; mbs[NR] = bytes[NR] / $4 / 1e6
    if ($1 == "python-asyncore") py = rate[NR]
    if ($1 == "raw-reader") raw = mbs[NR] }
  END {
    printf "%s\n", "(wall s: the contender'"'"'s own clock from connect to the N-th message; CPU and RSS: /usr/bin/time)";
    printf "%-20s %10s %8s %12s %9s %14s %9s %8s %8s\n", "contender", "messages", "wall s",
           "msg/s", "MB/s", "CPU s / M msg", "peak RSS", "x python", "% raw";
    for (i = 1; i <= NR; ++i)
      printf "%-20s %10d %8.2f %12.0f %9.1f %14.2f %7.1fMB %8.1f %7.0f%%\n", name[i], msgs[i],
             wall[i], rate[i], mbs[i], cpu[i] / msgs[i] * 1e6, rss[i] / 1024, rate[i] / py,
             100 * mbs[i] / raw;
  }' "$tmp/results"
