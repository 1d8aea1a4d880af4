// libFuzzer target for the WebSocket client: arbitrary bytes (a) as an upgrade response and as an
// upgrade request, fed in chunks, and (b) as what a server sends after a valid 101, read by a
// client WebSocketLayer over an in-memory ByteStream, in byte-stream or messages mode.
// Properties: no crash (ASan/UBSan); every error is a std::runtime_error with the expected
// prefix; no message over max_message_size; no more payload than bytes in; read() never spins
// (has_pending() with nothing to give) and ends once the stream below ended.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "client/http_upgrade.h"
#include "client/websocket.h"
#include "fuzz/fuzz_check.h"
#include "tests/client/websocket_test_util.h"

namespace {

using asyncore::WebSocketLayer;
using asyncore::WebSocketMessage;
using asyncore::WebSocketOptions;
using asyncore::ws_test::MemoryStream;

constexpr size_t kMaxMessage = 4096;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// (a) The upgrade parsers, `chunk` bytes at a time.
void fuzz_upgrade(std::string_view input, size_t chunk) {
  asyncore::UpgradeClient client("fuzz:80", asyncore::UpgradeRequest{.host = "fuzz"});
  try {
    for (size_t i = 0; i < input.size(); i += chunk) {
      if (client.feed(input.substr(i, chunk))) {
        FUZZ_CHECK(client.response().status == 101);
        break;
      }
    }
  } catch (const std::runtime_error& e) {
    FUZZ_CHECK(starts_with(e.what(), "WebSocket upgrade refused by fuzz:80: "));
  }
  asyncore::UpgradeServer server("fuzz:80");
  try {
    for (size_t i = 0; i < input.size(); i += chunk) {
      if (server.feed(input.substr(i, chunk))) {
        FUZZ_CHECK(
            starts_with(server.response(), server.accepted() ? "HTTP/1.1 101 " : "HTTP/1.1 4"));
        break;
      }
    }
  } catch (const std::runtime_error& e) {
    FUZZ_CHECK(starts_with(e.what(), "WebSocket upgrade from fuzz:80 refused: "));
  }
}

// (b) A client layer reading `input` after a valid 101.
void fuzz_layer(std::string_view input, uint8_t mode) {
  size_t payload = 0;
  WebSocketOptions options;
  options.max_message_size = kMaxMessage;
  if (mode & 1) {
    options.on_message = [&](WebSocketMessage&& m) {
      FUZZ_CHECK(m.data.size() <= kMaxMessage);
      payload += m.data.size();
    };
  }
  auto ws = WebSocketLayer::client(std::move(options));
  MemoryStream below;
  ws->start({"fuzz", 80, false});
  FUZZ_CHECK(!ws->handshake(below));
  below.in = asyncore::ws_test::response_for(below.take_out());
  FUZZ_CHECK(ws->handshake(below));
  below.in.append(input);
  below.read_chunk = 1 + (mode >> 4) * 61;  // 1 .. 916 bytes per read below
  if (mode & 2) below.capacity = 64;        // a peer that reads little: queued replies wait
  try {
    char buf[512];
    int err = 0;
    for (size_t turn = 0;; ++turn) {
      FUZZ_CHECK(turn < 4 * input.size() + 64);  // read() makes progress: no spinning
      if (turn == 3) {  // the other direction too: a message, a ping, a close
        ws->send_binary("x");
        ws->ping("p");
        if (mode & 8) ws->close(4000, "fuzz");
      }
      if (below.all_read() && !ws->has_pending()) {
        if (below.ended) break;
        below.ended = true;  // then read() must report the end
      }
      ssize_t n = ws->read(below, buf, sizeof buf, &err);
      if (n > 0) {
        payload += static_cast<size_t>(n);
      } else if (n == 0) {
        break;
      }
      if (below.out.size() > 64) below.take_out();
      ws->flush(below, &err);
    }
  } catch (const std::runtime_error& e) {
    FUZZ_CHECK(starts_with(e.what(), "WebSocket "));
  }
  FUZZ_CHECK(payload <= input.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  fuzz_upgrade(input, 1 + mode % 13);
  fuzz_layer(input, mode);
  return 0;
}
