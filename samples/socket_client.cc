// socket_client — the tutorial's first program (seed/, "客户端 Socket 开发基本使用") in C++:
// connects, prints "connected", prints what it receives, exits when the server closes.
//
//   socket_client HOST PORT
//
// Exit status: 0 when the server closed the connection, 1 on an error (e.g. connection refused),
// 2 on bad arguments; SIGINT/SIGTERM close the connection and exit 0.
#include "client/socket_client.h"

#include <glog/logging.h>

#include <cstdio>
#include <cstdlib>

#include "samples/flags.h"
#include "samples/sample_util.h"

int main(int argc, char** argv) {
  const std::string usage = "usage: socket_client [flags] HOST PORT\n  --help  this text\n\n" +
                            samples::glog_flags_help();
  const std::vector<std::string> args = samples::init_sample(argc, argv, usage);
  if (args.size() != 2) samples::usage_error("give HOST and PORT", usage);
  const std::string& host = args[0];
  char* end = nullptr;
  long port = std::strtol(args[1].c_str(), &end, 10);
  if (args[1].empty() || *end != '\0' || port <= 0 || port > 65535)
    samples::usage_error("not a port number: '" + args[1] + "'", usage);

  asyncore::Loop loop;
  samples::StopOnSignals stop(loop);
  std::shared_ptr<asyncore::SocketClient> client;
  try {
    client =
        asyncore::make_dispatcher<asyncore::SocketClient>(loop, host, static_cast<uint16_t>(port));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "socket_client: %s\n", e.what());
    return 1;
  }
  client->set_on_connect([] {
    std::printf("connected\n");
    std::fflush(stdout);
  });
  client->set_on_data([](std::string_view data) {
    std::fwrite(data.data(), 1, data.size(), stdout);
    std::fflush(stdout);
  });
  client->set_on_close([] { std::fprintf(stderr, "connection closed\n"); });
  loop.loop();
  if (!client->error().empty()) {
    std::fprintf(stderr, "socket_client: %s\n", client->error().c_str());
    return 1;
  }
  return 0;
}
