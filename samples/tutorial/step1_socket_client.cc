// Tutorial step 1 (docs/tutorial.md): the seed's first program, "客户端 Socket 开发基本使用" —
// subclass the dispatcher, connect, and answer the loop's questions and events.
//
//   tutorial_step1_socket_client --port PORT [--host 127.0.0.1]
//
// Pointed at the Douyu simulator (`douyu_server --port 0` prints its port) it prints
//   connected
//   sent: hello world
//   connection closed
// because "hello world" is not a Douyu frame: the server closes on it. Step 2 builds real frames.
// Exit status 0 when the server closed the connection, 1 on an error (e.g. connection refused).
#include <gflags/gflags.h>

#include <cstdio>
#include <exception>
#include <string>

#include "core/dispatcher.h"
#include "core/loop.h"
#include "samples/flags.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");

// class scoket_client(asyncore.dispatcher): — the same shape, under the same names.
class SocketClient : public asyncore::Dispatcher {
 public:
  SocketClient(asyncore::Loop& loop, const std::string& host, uint16_t port)
      : Dispatcher(loop) {  // asyncore.dispatcher.__init__(self)
    create_socket();        // 创建 Socket
    connect(host, port);  // 连接地址: starts the connect, handle_connect() comes from the loop
  }

  void handle_connect() override { std::printf("connected\n"); }  // 连接成功

  // The seed answers False here, so its handle_write() never runs. We answer True until we have
  // said hello once, to see what the server makes of it.
  bool writable() override { return !said_hello_; }

  void handle_write() override {
    const std::string hello = "hello world";
    // send() returns how many bytes the kernel took: maybe fewer than asked (a full buffer).
    // 11 bytes on a fresh connection always fit; step 3 handles the general case.
    const size_t sent = send(hello);
    std::printf("sent: %s\n", hello.substr(0, sent).c_str());
    said_hello_ = true;
  }

  bool readable() override { return true; }

  void handle_read() override {
    // The seed's recv(1024). It returns "" both when nothing is there now and at the end of the
    // stream; in the second case handle_close() has already run.
    const std::string data = recv(1024);
    if (!data.empty()) std::printf("received: %s\n", data.c_str());
  }

  // Runs inside the catch block of the failed handler (Python: sys.exc_info()). A refused
  // connect comes here too.
  void handle_error() override {
    try {
      throw;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
    failed_ = true;
    close();
  }

  void handle_close() override {
    std::printf("connection closed\n");  // 连接关闭
    close();
  }

  bool failed() const { return failed_; }

 private:
  bool said_hello_ = false;
  bool failed_ = false;
};

int main(int argc, char** argv) {
  const std::string usage = "usage: tutorial_step1_socket_client --port PORT [flags]\n" +
                            samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);

  asyncore::Loop loop;
  // make_dispatcher: the loop's map keeps the client alive while its socket is open, as Python's
  // socket map held a reference. We keep a shared_ptr too, to ask it failed() afterwards.
  auto client =
      asyncore::make_dispatcher<SocketClient>(loop, FLAGS_host, static_cast<uint16_t>(FLAGS_port));
  loop.loop(5.0);  // asyncore.loop(timeout=5): returns when the map is empty (the client closed)
  return client->failed() ? 1 : 0;
}
