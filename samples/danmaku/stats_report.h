// stats_report.h — the --stats lines: the total rate, rooms joined, reconnects, the Redis sink's
// backlog and drops, and the busiest rooms. One report per interval, computed from counters the
// caller samples (so it is pure and testable):
//
//   stats: 1520 msg/s, 91234 messages, 100/100 rooms joined, 3 reconnects
//   stats: redis 127.0.0.1:6379 connected, 90110 written, backlog 1124, 0 dropped
//   stats: busiest: 9999 48/s, 288 31/s, ... (up to 10 rooms)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace danmaku {

struct RoomSample {
  const std::string* room;  // the room id
  uint64_t delivered;       // messages delivered so far (DouyuClient::delivered())
  bool joined;
  uint64_t reconnects;
};

struct SinkSample {
  std::string target;  // redacted
  bool connected;
  uint64_t written, backlog, dropped;
};

class StatsReport {
 public:
  static constexpr size_t kBusiest = 10;
  // `seconds` since the previous report (or the start); `counted`: room messages so far (the
  // run's total). Rooms must come in the same order every time.
  std::string report(double seconds, const std::vector<RoomSample>& rooms, uint64_t counted,
                     const std::optional<SinkSample>& sink);

 private:
  std::vector<uint64_t> last_delivered_;
  uint64_t last_counted_ = 0;
};

}  // namespace danmaku
