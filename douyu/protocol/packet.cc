#include "douyu/protocol/packet.h"

#include "douyu/protocol/frame_decoder.h"

namespace asyncore::douyu {

namespace {
void put_u32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>((v >> 8) & 0xff);
  p[2] = static_cast<char>((v >> 16) & 0xff);
  p[3] = static_cast<char>((v >> 24) & 0xff);
}
}  // namespace

void append_frame_header(std::string& out, size_t body_size_with_nul, uint16_t type) {
  const auto length = static_cast<uint32_t>(8 + body_size_with_nul);
  char h[kHeaderSize];
  put_u32(h, length);
  put_u32(h + 4, length);
  h[8] = static_cast<char>(type & 0xff);
  h[9] = static_cast<char>(type >> 8);
  h[10] = 0;  // encrypt
  h[11] = 0;  // reserved
  out.append(h, kHeaderSize);
}

void append_frame(std::string& out, std::string_view body, uint16_t type) {
  append_frame_header(out, body.size() + 1, type);
  out.append(body);
  out.push_back('\0');
}

std::string encode_frame(std::string_view body, uint16_t type) {
  std::string out;
  out.reserve(kHeaderSize + body.size() + 1);
  append_frame(out, body, type);
  return out;
}

Packet::Packet(std::string_view body, uint16_t type) : wire_(encode_frame(body, type)) {}

uint16_t Packet::type() const {
  return static_cast<uint16_t>(static_cast<uint8_t>(wire_[8]) |
                               (static_cast<uint8_t>(wire_[9]) << 8));
}

std::optional<Packet> Packet::parse(std::string_view wire, std::string* error) {
  FrameDecoder decoder;
  std::optional<Packet> packet;
  int frames = 0;
  const bool ok = decoder.feed(wire, [&](const FrameView& frame) {
    if (++frames == 1) {
      packet.emplace(Packet(Raw{}, std::string(wire.substr(0, frame.size()))));
    }
  });
  std::string why;
  if (!ok) {
    why = decoder.error_message();
  } else if (frames == 0) {
    why = "incomplete frame: " + std::to_string(wire.size()) + " bytes, " +
          std::to_string(decoder.buffered()) + " buffered";
  } else if (frames > 1 || decoder.buffered() != 0) {
    why = "trailing bytes after the frame (" +
          std::to_string(wire.size() - packet->bytes().size()) + " bytes)";
  }
  if (why.empty()) {
    return packet;
  }
  if (error != nullptr) {
    *error = std::move(why);
  }
  return std::nullopt;
}

}  // namespace asyncore::douyu
