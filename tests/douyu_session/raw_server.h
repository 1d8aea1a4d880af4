// raw_server.h — RawServer: a tiny scripted Douyu server for fault tests. After it has read the
// client's loginreq it writes the bytes the test gave it for that connection, then keeps the
// connection open, closes it gracefully (FIN, reading until the client's EOF so no RST can
// destroy data in flight) or resets it (SO_LINGER {1, 0}: RST). It records every request type
// and, per connection, when it was accepted and how it ended on the client's side.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dispatcher.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/packet.h"
#include "tests/douyu_session/client_test_util.h"

namespace asyncore::douyu::test {

inline std::string server_frame(std::string_view body) {
  return encode_frame(body, kServerToClient);
}

inline const std::string kLoginRes = server_frame(
    "type@=loginres/userid@=0/roomgroup@=0/pg@=0/sessionid@=0/username@=/nickname@=/live_stat@=1/");

inline std::string chat(uint64_t seq) {
  return server_frame("type@=chatmsg/seq@=" + std::to_string(seq) +
                      "/rid@=9999/uid@=1/nn@=tester/txt@=hello/");
}

// A frame header with every field chosen by the test (little-endian, as on the wire).
inline std::string header(uint32_t length, uint32_t length_again, uint16_t type,
                          uint8_t encrypt = 0, uint8_t reserved = 0) {
  std::string h(kHeaderSize, '\0');
  for (int i = 0; i < 4; ++i) {
    h[i] = static_cast<char>(length >> (8 * i));
    h[4 + i] = static_cast<char>(length_again >> (8 * i));
  }
  h[8] = static_cast<char>(type & 0xff);
  h[9] = static_cast<char>(type >> 8);
  h[10] = static_cast<char>(encrypt);
  h[11] = static_cast<char>(reserved);
  return h;
}

// What RawServer does on one connection once the client's loginreq arrived.
struct Script {
  enum End { kKeepOpen, kClose, kReset };
  std::string bytes;
  End end = kKeepOpen;
};

// Shared by the listener and its connections (a connection may outlive the listener's turn).
struct RawState {
  std::function<Script(int connection)> script;
  int connections = 0;
  int open = 0;
  int loginreqs = 0;
  std::vector<std::string> requests;                               // types, in arrival order
  std::vector<std::chrono::steady_clock::time_point> accepted_at;  // one per connection
  int client_eofs = 0;    // connections the client ended with FIN
  int client_resets = 0;  // ... with RST
};

class RawConnection : public Dispatcher {
 public:
  RawConnection(Loop& loop, Socket sock, std::shared_ptr<RawState> state)
      : Dispatcher(loop, std::move(sock)), state_(std::move(state)), index_(state_->connections++) {
    ++state_->open;
    state_->accepted_at.push_back(std::chrono::steady_clock::now());
  }
  ~RawConnection() override { --state_->open; }

  bool writable() override { return sent_ < out_.size(); }
  void handle_read() override {
    char buf[4096];
    const ssize_t n = recv(buf, sizeof buf);
    if (n <= 0 || finishing_) return;  // after our FIN: read and discard until the client's EOF
    decoder_.feed(std::string_view(buf, static_cast<size_t>(n)), [&](const FrameView& f) {
      const Message m{std::string(f.body)};
      state_->requests.emplace_back(m.type());
      if (m.type() == "loginreq") {
        ++state_->loginreqs;
        if (!scripted_) {
          scripted_ = true;
          script_ = state_->script(index_);
          out_ = script_.bytes;
        }
      }
    });
    if (scripted_ && out_.empty()) end();
  }
  void handle_write() override {
    sent_ += send(out_.data() + sent_, out_.size() - sent_);
    if (sent_ == out_.size()) end();
  }
  void handle_close() override {
    ++(disconnect_errno() == ECONNRESET ? state_->client_resets : state_->client_eofs);
    close();
  }

 private:
  void end() {
    if (script_.end == Script::kClose && !finishing_) {
      finishing_ = true;
      ::shutdown(fileno(), SHUT_WR);
    } else if (script_.end == Script::kReset && is_open()) {
      const linger abort_on_close{1, 0};
      ::setsockopt(fileno(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
      close();
    }
  }

  std::shared_ptr<RawState> state_;
  const int index_;
  FrameDecoder decoder_{FrameDecoderOptions{65536, kClientToServer, true}};
  Script script_;
  bool scripted_ = false;
  bool finishing_ = false;
  std::string out_;
  size_t sent_ = 0;
};

class RawServer : public Dispatcher {
 public:
  RawServer(Loop& loop, std::function<Script(int)> script, uint16_t port = 0)
      : Dispatcher(loop), state(std::make_shared<RawState>()) {
    state->script = std::move(script);
    create_socket(AF_INET);
    set_reuse_addr();
    bind(Address::ipv4_loopback(port));
    listen(64);
  }
  void handle_accepted(Socket sock, const Address&) override {
    make_dispatcher<RawConnection>(loop(), std::move(sock), state);
  }
  bool writable() override { return false; }
  uint16_t port() const { return Address::local_of(fileno()).port(); }

  std::shared_ptr<RawState> state;
};

// The first connection gets `fault`; every later one a normal login and one chat (seq 1001),
// kept open: a client that recovers reaches kJoined and delivers seq 1001.
inline std::function<Script(int)> fault_then_healthy(Script fault) {
  return [fault](int connection) {
    if (connection == 0) return fault;
    return Script{kLoginRes + chat(1001), Script::kKeepOpen};
  };
}

}  // namespace asyncore::douyu::test
