// options.h — the douyu_danmaku command line: its flags, their defaults, and the usage text.
// Parsing is separate from main() so tests can pin every rule (exit codes included).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace danmaku {

enum class Output { kText, kJsonl, kNone };
// --decode: what the worker does with each message besides printing it (for benchmarks).
enum class Decode { kFields, kTyped };

struct Options {
  std::vector<std::string> rooms;  // --room=ID, repeatable or comma-separated; each id once
  std::string host = "openbarrage.douyutv.com";
  uint16_t port = 8601;
  bool demo = false;        // run the simulator in-process on a free loopback port
  double demo_rate = 50;    // --demo-rate: simulator messages per second per room
  uint64_t demo_flood = 0;  // --demo-flood: simulator sends N messages as fast as it can
  Output output = Output::kText;
  std::set<std::string> types;  // empty: all
  uint64_t max_messages = 0;    // 0: no limit
  double duration = 0;          // seconds; 0: no limit
  double heartbeat = 45;        // seconds, kMinHeartbeat .. kMaxHeartbeat
  double drain_timeout = 2;     // seconds a stuck stdout may hold up the end of the run
  bool reconnect = true;
  bool stats = false;
  Decode decode = Decode::kFields;  // kTyped: every message also goes through its typed view
};

// Ranges of the numeric flags: values outside them (or that no clock can hold) are usage errors.
inline constexpr double kMinHeartbeat = 0.1, kMaxHeartbeat = 86400;  // --heartbeat
inline constexpr double kMinDuration = 0.001, kMaxDuration = 1e9;    // --duration (or 0)
inline constexpr double kMaxDemoRate = 1e6;                          // --demo-rate
inline constexpr double kMaxDrainTimeout = 3600;                     // --drain-timeout

// The outcome of parsing: options, or a usage error (exit 2), or --help (exit 0).
struct ParseResult {
  std::optional<Options> options;
  std::string error;                  // non-empty: usage error
  std::vector<std::string> warnings;  // e.g. a room given twice (merged)
  bool help = false;
};

ParseResult parse_options(const std::vector<std::string>& args);
std::string usage();

}  // namespace danmaku
