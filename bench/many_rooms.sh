#!/usr/bin/env bash
# Many rooms in one process: douyu_danmaku --rooms-file with N rooms against the simulator
# (the douyu_server binary, a separate process: N sockets on each side), measured from /proc:
#   threads        the client's thread count once every room has joined
#   RSS/room       (RSS with N rooms - RSS with 1 room) / (N - 1), both idle (simulator --rate=0:
#                  only its pingreq), read 3 s after the last join
#   connect all    from the start of the process to the first --stats line with N/N joined
#                  (--connect-rate, default here 2000/s; --stats-interval=0.1)
#   msg/s, CPU     a second run with the simulator at RATE messages/s per room: messages the client
#                  delivered per second and its CPU seconds per million messages, over 5 s
#   stop           SIGINT to exit (every room sends logout and waits for the server's close)
# Usage: bash bench/many_rooms.sh [N...]   (default: 1000 10000)
# Env: BUILD=build, SKIP_BUILD=1, RATE=5 (per room, the loaded run), CONNECT_RATE=2000,
#      THREADS= (douyu_danmaku --threads; empty: auto, one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RATE=${RATE:-5}
CONNECT_RATE=${CONNECT_RATE:-2000}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(1000 10000)
[ "${SKIP_BUILD:-0}" = 1 ] || bash scripts/build.sh "$BUILD" >/dev/null
BIN=$BUILD/bin
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

# start_server RATE -> sets server_pid, port
start_server() {
  "$BIN/douyu_server" --port=0 --rate="$1" --minloglevel=1 >"$tmp/server.out" 2>/dev/null &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 600); do
    grep -q '^listening on' "$tmp/server.out" 2>/dev/null && break
    sleep 0.05
  done
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/server.out")
  [ -n "$port" ] || { echo "many_rooms: douyu_server did not start" >&2; cat "$tmp/server.out" >&2; exit 1; }
}
stop_server() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
threads_of() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

# run_client N -> starts the client on $port with N rooms, waits for all joined; sets cli_pid,
# connect_s. The client's stderr is $tmp/cli.err.
run_client() {
  local n=$1
  seq 100001 $((100000 + n)) >"$tmp/rooms.txt"
  local t0; t0=$(now)
  "$BIN/douyu_danmaku" --host=127.0.0.1 --port="$port" --rooms-file="$tmp/rooms.txt" \
    --output=none --stats --stats-interval=0.1 --connect-rate="$CONNECT_RATE" \
    ${THREADS:+--threads=$THREADS} --minloglevel=1 2>"$tmp/cli.err" &
  cli_pid=$!
  pids+=("$cli_pid")
  local deadline=$((SECONDS + 300))
  until grep -q " $n/$n rooms joined" "$tmp/cli.err" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "many_rooms: $n rooms did not all join" >&2; tail "$tmp/cli.err" >&2; exit 1; }
    kill -0 "$cli_pid" 2>/dev/null || { echo "many_rooms: client exited" >&2; tail "$tmp/cli.err" >&2; exit 1; }
    sleep 0.05
  done
  connect_s=$(echo "$(now) - $t0" | bc)
}
stop_client() {
  local t0; t0=$(now)
  kill -INT "$cli_pid"
  wait "$cli_pid" 2>/dev/null || true
  stop_s=$(echo "$(now) - $t0" | bc)
}
delivered() { grep -o 'stats: [0-9]* msg/s, [0-9]* messages' "$tmp/cli.err" | tail -1 | awk '{print $4}'; }

hz=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
# The 1-room baseline for RSS.
start_server 0
run_client 1
sleep 3
base_rss=$(rss_kib "$cli_pid")
stop_client
stop_server
printf '%-7s %-8s %-12s %-14s %-12s %-11s %-14s %-8s\n' rooms threads "RSS MiB" "RSS/room KiB" "connect s" "msg/s" "CPU s/M msg" "stop s"
for n in "${SIZES[@]}"; do
  start_server 0
  run_client "$n"
  sleep 3
  rss=$(rss_kib "$cli_pid")
  thr=$(threads_of "$cli_pid")
  cs=$connect_s
  stop_client
  stop_server
  # Loaded: RATE messages/s per room.
  start_server "$RATE"
  run_client "$n"
  sleep 2
  m0=$(delivered); c0=$(cpu_ticks "$cli_pid"); t0=$(now)
  sleep 5
  m1=$(delivered); c1=$(cpu_ticks "$cli_pid"); t1=$(now)
  stop_client
  stop_server
  msgs=$((m1 - m0))
  secs=$(echo "$t1 - $t0" | bc -l)
  printf '%-7s %-8s %-12s %-14s %-12s %-11s %-14s %-8s\n' "$n" "$thr" \
    "$(echo "scale=1; $rss / 1024" | bc)" \
    "$(echo "scale=1; ($rss - $base_rss) / ($n - 1)" | bc)" \
    "$(printf '%.2f' "$cs")" \
    "$(printf '%.0f' "$(echo "$msgs / $secs" | bc -l)")" \
    "$(printf '%.2f' "$(echo "($c1 - $c0) / $hz / ($msgs / 1000000)" | bc -l)")" \
    "$(printf '%.2f' "$stop_s")"
done
echo "(1-room baseline RSS: $((base_rss / 1024)) MiB; loaded runs: simulator --rate=$RATE per room)"
