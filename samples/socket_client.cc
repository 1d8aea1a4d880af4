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

#include "samples/sample_flags.h"
#include "samples/sample_util.h"

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  samples::Flags flags(argc, argv, {}, "usage: socket_client HOST PORT\n");
  if (flags.positional().size() != 2) flags.fail(2);
  const std::string& host = flags.positional()[0];
  char* end = nullptr;
  long port = std::strtol(flags.positional()[1].c_str(), &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) flags.fail(2);

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
