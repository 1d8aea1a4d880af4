// Packet: one Douyu frame, built from (message type, STT body text) or parsed back from its wire
// image. The wire format (PROTOCOL.md §1), all integers little-endian:
//
//   length u32 | length u32 (again) | type u16 (689 or 690) | encrypt u8 = 0 | reserved u8 = 0 |
//   body: UTF-8 STT text + one NUL
//
// where length = 8 + body bytes (NUL included). A whole frame is length + 4 bytes. Lengths count
// BYTES of UTF-8, never characters. A Packet owns its wire image, so bytes() is free and a Packet
// is cheap to move into a send queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::douyu {

// Message types of the frame header.
inline constexpr uint16_t kClientToServer = 689;  // bytes b1 02
inline constexpr uint16_t kServerToClient = 690;  // bytes b2 02

// Size of the fixed header in front of the body (both lengths, type, encrypt, reserved).
inline constexpr size_t kHeaderSize = 12;
// The smallest legal length field: 8 header bytes after the first length + the body's NUL.
inline constexpr uint32_t kMinLength = 9;
// Default upper bound on the length field: 1 MiB. Real messages are a few hundred bytes.
inline constexpr uint32_t kDefaultMaxLength = 1u << 20;

// Appends the 12-byte header of a frame whose body (NUL included) is `body_size_with_nul` bytes.
// For writers that assemble a body in pieces after it (the simulator splices fields in).
void append_frame_header(std::string& out, size_t body_size_with_nul,
                         uint16_t type = kClientToServer);

// Appends the wire image of one frame carrying `body` (STT text, WITHOUT the trailing NUL: it is
// added here) to `out`. Use it to batch many frames into one send buffer without a Packet each.
void append_frame(std::string& out, std::string_view body, uint16_t type = kClientToServer);

// The wire image of one frame (append_frame into a fresh string).
std::string encode_frame(std::string_view body, uint16_t type = kClientToServer);

class Packet {
 public:
  // Builds the frame for `body` (STT text without its NUL). Client→server by default, as in the
  // tutorial; the simulator server passes kServerToClient.
  explicit Packet(std::string_view body, uint16_t type = kClientToServer);

  // The length field: 8 + body bytes + 1 (the NUL).
  uint32_t length() const { return static_cast<uint32_t>(wire_.size() - 4); }
  // The whole wire image (length + 4 bytes).
  const std::string& bytes() const { return wire_; }
  // Moves the wire image out (e.g. into a send buffer); the Packet is empty afterwards.
  std::string take_bytes() && { return std::move(wire_); }
  uint16_t type() const;
  // The body text, without the trailing NUL.
  std::string_view body() const {
    return std::string_view(wire_).substr(kHeaderSize, wire_.size() - kHeaderSize - 1);
  }

  // Parses exactly one complete frame (no more, no less) with the strict rules of FrameDecoder
  // (any type 689/690, max length kDefaultMaxLength). On failure returns nullopt and, if `error`
  // is given, stores the decoder's message there.
  static std::optional<Packet> parse(std::string_view wire, std::string* error = nullptr);

 private:
  struct Raw {};
  Packet(Raw, std::string wire) : wire_(std::move(wire)) {}
  std::string wire_;
};

}  // namespace asyncore::douyu
