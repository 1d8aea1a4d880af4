// Tutorial step 2 (docs/tutorial.md): the Douyu packet ("数据包的封装"), written by hand.
//
//   tutorial_step2_packet --port PORT [--host 127.0.0.1] [--room 9999]
//
// Builds the loginreq frame byte by byte, prints it in hex, checks it against the library's
// douyu::Packet, sends it, reads ONE frame back and takes its header apart:
//   packet: 25 00 00 00 25 00 00 00 b1 02 00 00 74 79 ... 2f 00
//   length 37 = 8 header bytes + 29 body bytes (28 of text + the NUL); 41 bytes on the wire
//   same bytes as douyu::Packet: yes
//   connected
//   received: length 200 (twice: 200) type 690 encrypt 0 reserved 0
//   body: type@=loginres/...
#include <gflags/gflags.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "core/dispatcher.h"
#include "core/loop.h"
#include "douyu/protocol/packet.h"
#include "samples/flags.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");
DEFINE_string(room, "9999", "room id to log in to");

// The seed's DataPacket: the frame as an object, and its wire image.
struct DataPacket {
  static constexpr uint16_t kSend = 689;     // client → server
  static constexpr uint16_t kReceive = 690;  // server → client
  uint16_t type = kSend;
  std::string content;  // STT text (step 5), without the NUL

  // The length field counts everything after the first length field: the second length (4),
  // type (2), encrypt (1), reserved (1), the content's BYTES (UTF-8, not characters) and the NUL.
  uint32_t length() const { return 4 + 2 + 1 + 1 + static_cast<uint32_t>(content.size()) + 1; }

  std::string bytes() const {
    std::string out;
    append_le(out, length(), 4);  // length ...
    append_le(out, length(), 4);  // ... twice: the second copy is part of what `length` counts
    append_le(out, type, 2);      // 689 is b1 02 in little-endian
    out += '\0';                  // encrypt: unused, 0
    out += '\0';                  // reserved: unused, 0
    out += content;
    out += '\0';  // the body ends with one NUL
    return out;
  }

  // Little-endian whatever the CPU: the lowest byte first, by arithmetic, not by memcpy.
  static void append_le(std::string& out, uint32_t value, int size) {
    for (int i = 0; i < size; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  }
};

std::string hex(std::string_view bytes) {
  std::string out;
  char two[4];
  for (unsigned char c : bytes) {
    std::snprintf(two, sizeof two, "%02x ", c);
    out += two;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

uint32_t read_le(std::string_view bytes, size_t at, int size) {
  uint32_t value = 0;
  for (int i = 0; i < size; ++i)
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return value;
}

// Sends one packet, reads one frame, closes.
class OneFrameClient : public asyncore::Dispatcher {
 public:
  OneFrameClient(asyncore::Loop& loop, const std::string& host, uint16_t port, std::string frame)
      : Dispatcher(loop), out_(std::move(frame)) {
    create_socket();
    connect(host, port);
  }

  void handle_connect() override { std::printf("connected\n"); }
  bool writable() override { return !out_.empty(); }
  void handle_write() override { out_.erase(0, send(out_)); }  // keep what was not taken

  void handle_read() override {
    char buffer[4096];
    const ssize_t n = recv(buffer, sizeof buffer);
    if (n <= 0) return;  // 0: closed (handle_close() ran); -1: nothing now
    in_.append(buffer, static_cast<size_t>(n));
    // TCP is a byte stream: a read may hold part of the frame. Wait for all of it:
    // the length field, then `length` more bytes.
    if (in_.size() < 4 || in_.size() < read_le(in_, 0, 4) + 4) return;
    const uint32_t length = read_le(in_, 0, 4);
    std::printf("received: length %u (twice: %u) type %u encrypt %u reserved %u\n", length,
                read_le(in_, 4, 4), read_le(in_, 8, 2), read_le(in_, 10, 1), read_le(in_, 11, 1));
    // The body: after the 12 header bytes, without its final NUL.
    std::printf("body: %s\n", in_.substr(12, length - 9).c_str());
    got_frame_ = true;
    close();  // one frame is all this step wants
  }

  void handle_close() override {
    std::printf("connection closed before a whole frame arrived\n");
    close();
  }
  void handle_error() override {
    try {
      throw;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
    close();
  }
  bool got_frame() const { return got_frame_; }

 private:
  std::string out_, in_;
  bool got_frame_ = false;
};

int main(int argc, char** argv) {
  const std::string usage =
      "usage: tutorial_step2_packet --port PORT [flags]\n" + samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);

  const DataPacket login{DataPacket::kSend, "type@=loginreq/roomid@=" + FLAGS_room + "/"};
  const std::string wire = login.bytes();
  std::printf("packet: %s\n", hex(wire).c_str());
  std::printf(
      "length %u = 8 header bytes + %zu body bytes (%zu of text + the NUL); %zu bytes on "
      "the wire\n",
      login.length(), login.content.size() + 1, login.content.size(), wire.size());
  // From now on the library builds frames: asyncore::douyu::Packet makes the same bytes.
  const bool same = wire == asyncore::douyu::Packet(login.content).bytes();
  std::printf("same bytes as douyu::Packet: %s\n", same ? "yes" : "NO");

  asyncore::Loop loop;
  auto client = asyncore::make_dispatcher<OneFrameClient>(loop, FLAGS_host,
                                                          static_cast<uint16_t>(FLAGS_port), wire);
  loop.loop(5.0);
  return same && client->got_frame() ? 0 : 1;
}
