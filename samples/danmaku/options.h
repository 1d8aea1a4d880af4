// options.h — the douyu_danmaku command line: its flags, their defaults, and the usage text.
// Parsing is separate from main() so tests can pin every rule (exit codes included). The flags
// are gflags flags (options.cc), so glog's own (--v, --logtostderr, ...) work too.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "douyu/protocol/endpoint.h"
#include "redis/redis_target.h"
#include "samples/danmaku/rooms.h"

namespace danmaku {

enum class Output { kText, kJsonl, kNone };
// --decode: what the worker does with each message besides printing it (for benchmarks):
// kLazy decodes a message's fields only when something reads them (the printer, a sink, the
// overlay; --output=none reads only the type), kFields decodes every message, kTyped also routes
// every message through its typed view.
enum class Decode { kLazy, kFields, kTyped };

// The historic TCP endpoint, which --host and --port override one part at a time.
inline constexpr const char* kHistoricHost = "openbarrage.douyutv.com";
inline constexpr uint16_t kHistoricPort = 8601;

struct Options {
  // --room=ID or room URL (repeatable, comma-separated) and --rooms-file, in that order, once
  // each, after --shard's filter.
  std::vector<std::string> rooms;
  std::string rooms_file;      // --rooms-file
  std::optional<Shard> shard;  // --shard=I/N
  size_t rooms_given = 0;      // distinct rooms before --shard
  unsigned threads = 0;        // --threads: worker pool size; 0 = auto (see pool_threads())
  double connect_rate = 500;   // --connect-rate: rooms started per second; 0 = all at once
  // Where to connect is endpoint_of(): --url, else --host/--port (tcp://HOST:PORT), else Douyu's
  // WebSocket proxy, douyu_default_endpoint().
  std::optional<asyncore::douyu::Endpoint> url;  // --url
  std::string host = kHistoricHost;              // --host; with --demo, main() sets the simulator's
  uint16_t port = kHistoricPort;                 // --port; likewise
  bool host_given = false;                       // --host or --port was given
  std::string ca_file;      // --ca-file: PEM trust anchors for wss (default: the system's)
  bool insecure = false;    // --insecure: no certificate verification (tests only)
  bool tls_compat = false;  // --tls-compat: TLS 1.2 and DEFAULT:@SECLEVEL=1, for old servers
  bool demo = false;        // run the simulator in-process on a free loopback port
  double demo_rate = 50;    // --demo-rate: simulator messages per second per room
  uint64_t demo_flood = 0;  // --demo-flood: simulator sends N messages as fast as it can
  asyncore::douyu::Transport demo_transport = asyncore::douyu::Transport::kTcp;  // --demo-...
  Output output = Output::kText;
  std::set<std::string> types;  // empty: all
  uint64_t max_messages = 0;    // 0: no limit
  double duration = 0;          // seconds; 0: no limit
  double heartbeat = 45;        // seconds, kMinHeartbeat .. kMaxHeartbeat
  double drain_timeout = 2;     // seconds a stuck stdout may hold up the end of the run
  bool reconnect = true;
  bool stats = false;
  double stats_interval = 5;  // --stats-interval, seconds
  // --redis: the Redis Streams sink (redis/redis_stream_sink.h) when set.
  std::optional<asyncore::redis::RedisTarget> redis;
  std::string redis_stream = "douyu:{rid}";  // --redis-stream
  uint64_t redis_maxlen = 0;                 // --redis-maxlen; 0: no trimming
  uint64_t redis_buffer = 300'000;           // --redis-buffer: messages
  double redis_flush_timeout = 10;           // --redis-flush-timeout, seconds
  Decode decode = Decode::kLazy;
  // --web=PORT: the browser overlay (an HTTP server on the rooms' loop, docs/WEB.md); 0 takes a
  // free port. Unset: no server.
  std::optional<uint16_t> web_port;
  std::string web_host = "127.0.0.1";  // --web-host: a numeric IPv4 or IPv6 address
};

// Ranges of the numeric flags: values outside them (or that no clock can hold) are usage errors.
inline constexpr double kMinHeartbeat = 0.1, kMaxHeartbeat = 86400;  // --heartbeat
inline constexpr double kMinDuration = 0.001, kMaxDuration = 1e9;    // --duration (or 0)
inline constexpr double kMaxDemoRate = 1e6;                          // --demo-rate
inline constexpr double kMaxDrainTimeout = 3600;                     // --drain-timeout
inline constexpr double kMaxConnectRate = 1e6;                       // --connect-rate
inline constexpr unsigned kMaxThreads = 1024;                        // --threads
// Up to this many rooms each room has its own worker and heartbeat threads (the tutorial's
// design); above it, or with --threads, the rooms share a pool (DouyuClientOptions::worker_pool).
inline constexpr size_t kOwnThreadsUpTo = 8;

// The outcome of parsing: options, or a usage error (exit 2), or --help (exit 0).
struct ParseResult {
  std::optional<Options> options;
  std::string error;                  // non-empty: usage error
  std::vector<std::string> warnings;  // e.g. a room given twice (merged), a TLS flag without wss
  bool help = false;
};

// `args`: argv without the program name. Callable again and again (tests): every flag starts from
// its default; glog's flags stay set afterwards, for main().
ParseResult parse_options(const std::vector<std::string>& args);
std::string usage();

// The endpoint the run connects to: --url; else tcp://host:port when --host/--port were given or
// with --demo (main() points host/port at the simulator first); else douyu_default_endpoint().
asyncore::douyu::Endpoint endpoint_of(const Options& options);

// The worker pool's size: 0 (each room its own threads) for --threads=0 with at most
// kOwnThreadsUpTo rooms; else --threads, or the number of cores (at least 2).
unsigned pool_threads(const Options& options);

}  // namespace danmaku
