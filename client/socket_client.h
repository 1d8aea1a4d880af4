// socket_client.h — SocketClient: the tutorial's first program (seed/: "客户端 Socket
// 开发基本使用") as a reusable class.
//
// The tutorial subclasses asyncore.dispatcher: the constructor creates a socket and connects,
// handle_connect() reports the connection, handle_read() receives and prints, handle_close()
// reports and closes. SocketClient does the same with callbacks instead of prints, and sends
// through BufferedDispatcher's output buffer, so it is usable as-is for simple clients:
//
//   asyncore::Loop loop;
//   auto client = asyncore::make_dispatcher<asyncore::SocketClient>(loop, "127.0.0.1", 9000);
//   client->set_on_connect([] { std::puts("connected"); });
//   client->set_on_data([](std::string_view data) { std::fwrite(data.data(), 1, data.size(),
//   stdout); }); client->set_on_close([&] { /* client->error() is non-empty if it failed */ });
//   client->send("hello world");   // buffered until connected
//   loop.loop();                   // returns when the server closes (the map is empty)
//
// `host` may be a name (resolved asynchronously by evdns) or a numeric IPv4/IPv6 address. A failed
// lookup or connect, or any other error, closes the client; error() then describes it and
// on_close runs. on_close runs exactly once per client.
//
// Callbacks run on the loop thread, from the loop; they may call send() and close().
// OWNERSHIP: create it with make_dispatcher<SocketClient>() (the loop keeps it alive while open)
// or own it yourself (then it must outlive the loop's use of it). THREADS: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "client/buffered_dispatcher.h"

namespace asyncore {

class SocketClient : public BufferedDispatcher {
 public:
  // create_socket() + connect((host, port)), as the tutorial's constructor.
  SocketClient(Loop& loop, const std::string& host, uint16_t port);

  void set_on_connect(std::function<void()> fn) { on_connect_ = std::move(fn); }
  void set_on_data(std::function<void(std::string_view)> fn) { on_data_ = std::move(fn); }
  void set_on_close(std::function<void()> fn) { on_close_ = std::move(fn); }

  // Bytes one handle_read() reads at most (the tutorial's recv(1024); default 64 KiB).
  void set_read_size(size_t n) { read_buffer_.resize(n == 0 ? 1 : n); }

  // "" unless the client was closed by an error (e.g. "connect to 127.0.0.1:9: Connection
  // refused").
  const std::string& error() const { return error_; }
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }

  void handle_connect() override;
  void handle_read() override;
  void handle_close() override;
  void handle_error() override;

 private:
  std::string host_;
  uint16_t port_;
  std::string read_buffer_;  // reused by every read
  std::string error_;
  bool closed_reported_ = false;
  std::function<void()> on_connect_;
  std::function<void(std::string_view)> on_data_;
  std::function<void()> on_close_;
};

}  // namespace asyncore
