#include "douyu/simulator/room_stream.h"

#include <charconv>
#include <fstream>
#include <stdexcept>

#include "douyu/protocol/packet.h"

namespace asyncore::douyu {

namespace {

// The `type` field of a top-level map: at offset 0 or right after a '/'.
size_t find_type_field(std::string_view text) {
  constexpr std::string_view kKey = "type@=";
  for (size_t at = 0; at < text.size();) {
    if (text.compare(at, kKey.size(), kKey) == 0) return at;
    const size_t slash = text.find('/', at);
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return std::string_view::npos;
}

bool is_session_control(std::string_view body) {
  return body.starts_with("type@=pingreq/") || body.starts_with("type@=mrkl/") ||
         body.starts_with("type@=loginres/");
}

}  // namespace

StreamBody StreamBody::make(std::string text) {
  if (text.empty() || text.back() != '/') text.push_back('/');
  StreamBody b;
  const size_t type_at = find_type_field(text);
  b.seq_at = type_at == std::string::npos ? 0 : text.find('/', type_at) + 1;
  b.text = std::move(text);
  return b;
}

void append_seq_frame(std::string& out, const StreamBody& body, uint64_t seq) {
  char digits[24];
  const auto res = std::to_chars(digits, digits + sizeof digits, seq);
  const size_t n_digits = static_cast<size_t>(res.ptr - digits);
  constexpr std::string_view kSeq = "seq@=";
  const size_t body_size = body.text.size() + kSeq.size() + n_digits + 1;  // + '/'
  append_frame_header(out, body_size + 1, kServerToClient);                // + NUL
  const std::string_view text = body.text;
  out.append(text.substr(0, body.seq_at));
  out.append(kSeq);
  out.append(digits, n_digits);
  out.push_back('/');
  out.append(text.substr(body.seq_at));
  out.push_back('\0');
}

SharedBodies load_replay_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("replay file " + path + ": cannot open");
  auto bodies = std::make_shared<std::vector<StreamBody>>();
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    bodies->push_back(StreamBody::make(std::move(line)));
  }
  if (in.bad()) throw std::runtime_error("replay file " + path + ": read error");
  if (bodies->empty()) throw std::runtime_error("replay file " + path + ": no STT body in it");
  return bodies;
}

RoomStream::RoomStream(uint64_t seed, int64_t room_id) : generator_(std::in_place, seed, room_id) {}

RoomStream::RoomStream(SharedBodies bodies) : replay_(std::move(bodies)) {}

const StreamBody& RoomStream::body(uint64_t seq) {
  const uint64_t index = seq - 1;
  if (replay_) return (*replay_)[index % replay_->size()];
  while (pool_.size() <= index && pool_.size() < kSyntheticPoolSize) {
    std::string text = generator_->next_body();
    if (!is_session_control(text)) pool_.push_back(StreamBody::make(std::move(text)));
  }
  return pool_[index % pool_.size()];
}

}  // namespace asyncore::douyu
