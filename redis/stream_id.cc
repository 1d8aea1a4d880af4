#include "redis/stream_id.h"

#include <charconv>

namespace asyncore::redis {

std::optional<StreamId> StreamId::parse(std::string_view text) {
  StreamId id;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, id.ms);
  if (text.empty() || ec != std::errc()) return std::nullopt;
  if (p == end) return id;
  if (*p != '-') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, end, id.seq);
  if (ec2 != std::errc() || q != end || q == p + 1) return std::nullopt;
  return id;
}

}  // namespace asyncore::redis
