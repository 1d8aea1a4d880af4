#!/usr/bin/env bash
# Soak test (not in CI): streams from the simulator (samples/douyu_server) at a high rate for
# MINUTES, with the server dropping the connection every DROP_AFTER messages, into the barrage
# collector (douyu_danmaku --output=jsonl). Every minute it prints the collector's RSS and fd
# count and the messages/s of that minute; at the end it checks that every message the room sent
# arrived exactly once, in order (the simulator's seq@= continues across reconnects), that RSS and
# fds did not grow after the first minute, and that the collector exited 0 after its logout.
#
# Usage: scripts/soak.sh [MINUTES] (default 10)
# Environment: BUILD (default build; needs $BUILD/bin/douyu_server and douyu_danmaku),
#              RATE (messages/s, default 20000), DROP_AFTER (default 200000: a drop every ~10 s),
#              OUT (folder for logs, default a fresh mktemp -d), INTERVAL (seconds between
#              rows, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
build=${BUILD:-build}
rate=${RATE:-20000}
drop_after=${DROP_AFTER:-200000}
interval=${INTERVAL:-60}
out=${OUT:-$(mktemp -d /tmp/asyncore-soak.XXXXXX)}
mkdir -p "$out"
for b in douyu_server douyu_danmaku; do
  [ -x "$build/bin/$b" ] || { echo "soak.sh: $build/bin/$b missing: build first" >&2; exit 2; }
done

"$build/bin/douyu_server" --port 0 --rate "$rate" --drop-after "$drop_after" \
  >"$out/server.out" 2>"$out/server.log" &
server=$!
client=""
cleanup() {
  [ -n "$client" ] && kill "$client" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q listening "$out/server.out" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out/server.out")
[ -n "$port" ] || { echo "soak.sh: the simulator did not start" >&2; exit 1; }

# The collector's jsonl goes through a seq checker (mawk-compatible): it counts every room
# message and every gap, duplicate or reordering, so "nothing lost" is checked, not assumed.
# The checker runs in a process substitution so $! is the collector itself.
duration=$((minutes * 60))
"$build/bin/douyu_danmaku" --host=127.0.0.1 --port="$port" --room=9999 --output=jsonl \
  --duration="$duration" --stats 2>"$out/client.log" \
  > >(awk -v report="$out/seq.txt" '
        match($0, /"seq":"[0-9]+"/) {
          s = substr($0, RSTART + 7, RLENGTH - 8) + 0
          if (s != last + 1) bad++
          last = s; n++
        }
        END { printf "messages %d last_seq %d out_of_order %d\n", n, last, bad + 0 > report }') &
client=$!

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
total() { sed -n 's/^stats: [0-9]* msg\/s, \([0-9]*\) messages, \([0-9]*\) reconnects$/\1 \2/p' \
            "$out/client.log" | tail -1; }

echo "soak: ${minutes} min, rate ${rate}/s, drop every ${drop_after} messages, logs in $out"
printf '%-6s %10s %5s %12s %10s %12s %5s\n' time_s rss_kib fds msg/s reconnects server_rss fds
prev=0
first_rss=0
first_fds=0
max_rss=0
max_fds=0
rows=$((duration / interval))
for m in $(seq "$rows"); do
  sleep "$interval"
  kill -0 "$client" 2>/dev/null || break
  read -r n rec < <(total) || true
  n=${n:-0}
  rec=${rec:-0}
  rss=$(rss_kib "$client")
  fd=$(fds "$client")
  printf '%-6s %10s %5s %12s %10s %12s %5s\n' $((m * interval)) "$rss" "$fd" \
    $(((n - prev) / interval)) "$rec" \
    "$(rss_kib "$server")" "$(fds "$server")"
  prev=$n
  if [ "$m" -eq 1 ]; then first_rss=$rss; first_fds=$fd; fi
  if [ "$rss" -gt "$max_rss" ]; then max_rss=$rss; fi
  if [ "$fd" -gt "$max_fds" ]; then max_fds=$fd; fi
done

status=0
wait "$client" || status=$?
client=""
sleep 1  # the checker writes its report when the collector's stdout closes
echo "collector exit status: $status"
echo "collector: $(total | awk '{print $1 " messages, " $2 " reconnects"}')"
echo "seq check: $(cat "$out/seq.txt" 2>/dev/null || echo 'no report')"
echo "rss after the first row: ${first_rss} KiB, max ${max_rss} KiB; fds after the first row: ${first_fds}, max ${max_fds}"
echo "connection losses logged: $(grep -c 'connection lost' "$out/client.log" || true)"
ok=1
[ "$status" -eq 0 ] || ok=0
grep -q "out_of_order 0" "$out/seq.txt" 2>/dev/null || ok=0
[ "$max_fds" -le "$first_fds" ] || ok=0
# RSS may settle within a few MiB after warm-up (allocator, glog buffers); more is growth.
[ "$max_rss" -le $((first_rss + 4096)) ] || ok=0
if [ "$ok" -eq 1 ]; then echo "SOAK PASSED"; else echo "SOAK FAILED"; exit 1; fi
