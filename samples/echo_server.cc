// echo_server — asyncore's classic echo server: one BufferedDispatcher per accepted connection
// sends back every byte it receives.
//
//   echo_server [--host 127.0.0.1] [--port 0]
//
// Prints "listening on HOST:PORT" as its first line on stdout; stops cleanly on SIGINT/SIGTERM.
// Back-pressure: a connection stops reading while more than 256 KiB wait to be echoed, so a peer
// that sends but never reads is slowed by TCP rather than filling memory; the 1 MiB high-water
// mark is only a safety net.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>

#include "client/buffered_dispatcher.h"
#include "samples/flags.h"
#include "samples/sample_util.h"

DEFINE_string(host, "127.0.0.1", "address to listen on");
DEFINE_int32(port, 0, "port; 0 picks a free one");

namespace {

using asyncore::Address;
using asyncore::Loop;
using asyncore::Socket;

constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kStopReadingAbove = 256 * 1024;
constexpr size_t kHighWaterMark = 1024 * 1024;

class EchoHandler : public asyncore::BufferedDispatcher {
 public:
  EchoHandler(Loop& loop, Socket sock) : BufferedDispatcher(loop, std::move(sock)) {
    set_high_water_mark(kHighWaterMark);
  }
  bool readable() override { return pending() < kStopReadingAbove; }
  void handle_read() override {
    static char buffer[kReadSize];  // one loop thread: one buffer for every connection
    ssize_t n = recv(buffer, sizeof buffer);
    if (n > 0) send(buffer, static_cast<size_t>(n));
  }
  void handle_close() override { close(); }
};

class EchoServer : public asyncore::Dispatcher {
 public:
  EchoServer(Loop& loop, const Address& addr) : Dispatcher(loop) {
    create_socket(addr.family());
    set_reuse_addr();
    bind(addr);
    listen(4096);
  }
  void handle_accepted(Socket sock, const Address&) override {
    asyncore::make_dispatcher<EchoHandler>(loop(), std::move(sock));
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: echo_server [flags]\n" + samples::describe_flags(__FILE__) +
                            "  --help             this text\n\n" + samples::glog_flags_help();
  if (!samples::init_sample(argc, argv, usage).empty()) samples::usage_error("no arguments", usage);
  if (FLAGS_port < 0 || FLAGS_port > 65535) {
    samples::usage_error("--port: not a port number: " + std::to_string(FLAGS_port), usage);
  }
  samples::raise_fd_limit();
  Loop loop;
  samples::StopOnSignals stop(loop);
  try {
    Address addr = Address::ip(FLAGS_host, static_cast<uint16_t>(FLAGS_port));
    auto server = asyncore::make_dispatcher<EchoServer>(loop, addr);
    std::printf("listening on %s\n", Address::local_of(server->fileno()).to_string().c_str());
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
  loop.loop();
  return 0;
}
