// websocket_test_util.h — for the WebSocket tests: an in-memory ByteStream (bytes in, bytes out,
// a capacity for back-pressure, an end), and an independent, deliberately naive frame codec
// (RFC 6455 section 5.2) so that the peer side of a test does not trust wslay.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "client/http_upgrade.h"
#include "core/layer.h"

namespace asyncore::ws_test {

// A ByteStream over strings: read() takes from `in` (at most read_chunk bytes per call), write()
// appends to `out` up to `capacity` bytes in total (then 0: would block).
class MemoryStream : public ByteStream {
 public:
  ssize_t read(void* buffer, size_t size, int* err) override {
    *err = 0;
    if (in_pos < in.size()) {
      size_t n = std::min({size, in.size() - in_pos, read_chunk});
      std::memcpy(buffer, in.data() + in_pos, n);
      in_pos += n;
      return static_cast<ssize_t>(n);
    }
    if (ended) {
      *err = read_errno;
      return 0;
    }
    return -1;
  }
  size_t write(const void* data, size_t size, int* err) override {
    *err = write_errno;
    if (write_errno != 0) return 0;
    size_t n = std::min(size, capacity - std::min(capacity, out.size()));
    out.append(static_cast<const char*>(data), n);
    return n;
  }
  // Takes what was written so far.
  std::string take_out() { return std::exchange(out, {}); }
  bool all_read() const { return in_pos == in.size(); }

  std::string in;
  size_t in_pos = 0;
  size_t read_chunk = SIZE_MAX;
  bool ended = false;
  int read_errno = 0;
  std::string out;
  size_t capacity = SIZE_MAX;
  int write_errno = 0;
};

inline constexpr uint8_t kCont = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9,
                         kPong = 0xA;

// One frame; masked with `mask_key` when given (client to server).
inline std::string frame(uint8_t opcode, const std::string& payload, bool fin = true,
                         std::optional<uint32_t> mask_key = std::nullopt) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | opcode);
  uint8_t mask_bit = mask_key ? 0x80 : 0;
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() < 65536) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i)
      f += static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xff);
  }
  if (!mask_key) return f + payload;
  uint8_t key[4];
  for (int i = 0; i < 4; ++i) key[i] = static_cast<uint8_t>(*mask_key >> (24 - 8 * i));
  f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

inline std::string close_payload(uint16_t code, const std::string& reason = {}) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xff);
  return p + reason;
}

struct Frame {
  bool fin = false;
  uint8_t opcode = 0;
  bool masked = false;
  std::string payload;  // unmasked
  uint16_t close_code() const {
    return payload.size() >= 2
               ? static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]))
               : 0;
  }
};

// Takes one whole frame off the front of `buffer`; nullopt while it is incomplete.
inline std::optional<Frame> next_frame(std::string& buffer) {
  if (buffer.size() < 2) return std::nullopt;
  const auto* b = reinterpret_cast<const uint8_t*>(buffer.data());
  Frame f;
  f.fin = b[0] & 0x80;
  f.opcode = b[0] & 0x0f;
  f.masked = b[1] & 0x80;
  uint64_t len = b[1] & 0x7f;
  size_t pos = 2;
  if (len == 126 || len == 127) {
    size_t ext = len == 126 ? 2 : 8;
    if (buffer.size() < pos + ext) return std::nullopt;
    len = 0;
    for (size_t i = 0; i < ext; ++i) len = (len << 8) | b[pos + i];
    pos += ext;
  }
  uint8_t key[4] = {0, 0, 0, 0};
  if (f.masked) {
    if (buffer.size() < pos + 4) return std::nullopt;
    std::memcpy(key, b + pos, 4);
    pos += 4;
  }
  if (buffer.size() < pos + len) return std::nullopt;
  f.payload = buffer.substr(pos, len);
  if (f.masked) {
    for (size_t i = 0; i < f.payload.size(); ++i)
      f.payload[i] = static_cast<char>(f.payload[i] ^ key[i % 4]);
  }
  buffer.erase(0, pos + len);
  return f;
}

// The Sec-WebSocket-Key of a client's upgrade request ("" when there is none).
inline std::string key_of(const std::string& request) {
  auto at = request.find("Sec-WebSocket-Key: ");
  if (at == std::string::npos) return "";
  at += 19;
  return request.substr(at, request.find("\r\n", at) - at);
}

// The 101 a server answers to `request` (the accept value is checked against RFC 6455's example
// in http_upgrade_test.cc).
inline std::string response_for(const std::string& request) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         websocket_accept_value(key_of(request)) + "\r\n\r\n";
}

}  // namespace asyncore::ws_test
