// stats_report.cc — see stats_report.h.
#include "samples/danmaku/stats_report.h"

#include <algorithm>
#include <cmath>

namespace danmaku {

namespace {

std::string rate(uint64_t count, double seconds) {
  return std::to_string(seconds > 0 ? std::llround(static_cast<double>(count) / seconds) : 0);
}

}  // namespace

std::string StatsReport::report(double seconds, const std::vector<RoomSample>& rooms,
                                uint64_t counted, const std::optional<SinkSample>& sink) {
  last_delivered_.resize(rooms.size(), 0);
  size_t joined = 0;
  uint64_t reconnects = 0;
  std::vector<std::pair<uint64_t, size_t>> busy;  // (messages this interval, room index)
  for (size_t i = 0; i < rooms.size(); ++i) {
    const RoomSample& r = rooms[i];
    joined += r.joined ? 1 : 0;
    reconnects += r.reconnects;
    const uint64_t delta = r.delivered - std::min(r.delivered, last_delivered_[i]);
    last_delivered_[i] = r.delivered;
    if (delta > 0) busy.emplace_back(delta, i);
  }
  std::string out = "stats: " + rate(counted - std::min(counted, last_counted_), seconds) +
                    " msg/s, " + std::to_string(counted) + " messages, " + std::to_string(joined) +
                    "/" + std::to_string(rooms.size()) + " rooms joined, " +
                    std::to_string(reconnects) + " reconnects\n";
  last_counted_ = counted;
  if (sink) {
    out += "stats: redis " + sink->target + (sink->connected ? " connected" : " NOT connected") +
           ", " + std::to_string(sink->written) + " written, backlog " +
           std::to_string(sink->backlog) + ", " + std::to_string(sink->dropped) + " dropped\n";
  }
  if (!busy.empty()) {
    const size_t n = std::min(kBusiest, busy.size());
    std::partial_sort(busy.begin(), busy.begin() + static_cast<std::ptrdiff_t>(n), busy.end(),
                      [](const auto& a, const auto& b) {
                        return a.first != b.first ? a.first > b.first : a.second < b.second;
                      });
    out += "stats: busiest:";
    for (size_t k = 0; k < n; ++k) {
      out += (k == 0 ? " " : ", ") + *rooms[busy[k].second].room + " " +
             rate(busy[k].first, seconds) + "/s";
    }
    out += "\n";
  }
  return out;
}

}  // namespace danmaku
