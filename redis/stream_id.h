// stream_id.h — StreamId: a Redis stream entry id "<ms>-<seq>", and the per-stream generator the
// sink uses to give every message an explicit id when it is queued (see redis_stream_sink.h).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::redis {

struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  auto operator<=>(const StreamId&) const = default;
  std::string to_string() const { return std::to_string(ms) + "-" + std::to_string(seq); }
  // "1700000000000-3" (also "5", seq 0); nullopt when malformed.
  static std::optional<StreamId> parse(std::string_view text);
};

// The next id of a stream whose last id is `last` (nullopt: none yet), at wall time now_ms:
// ms = max(now_ms, last.ms); seq = 0 for a new ms, last.seq + 1 otherwise. Strictly increasing
// whatever the clock does (a clock that goes back keeps the last ms and counts seq up).
inline StreamId next_stream_id(const std::optional<StreamId>& last, uint64_t now_ms) {
  if (!last || now_ms > last->ms) return {now_ms, 0};
  return {last->ms, last->seq + 1};
}

}  // namespace asyncore::redis
