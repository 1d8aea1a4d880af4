// douyu_server — the Douyu barrage server simulator (douyu/douyu_server.h) as a program: point
// douyu_danmaku (or any Douyu client) at it instead of the real, long-dead endpoint.
//
//   douyu_server [--host 127.0.0.1] [--port 0] [--rate 20 | --flood N | --replay FILE]
//                [--drop-after N] [--malformed-after N] [--silent] [--seed 1]
//
// Prints "listening on HOST:PORT" as its first line on stdout (flushed, so a test or script can
// read the port of --port 0); every client request is logged to stderr (glog). Stops cleanly on
// SIGINT/SIGTERM and prints the session counters.
#include "douyu/douyu_server.h"

#include <glog/logging.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "samples/sample_flags.h"
#include "samples/sample_util.h"

namespace {

constexpr const char* kUsage =
    "usage: douyu_server [flags]\n"
    "  --host H             address to listen on (default 127.0.0.1)\n"
    "  --port P             port; 0 picks a free one (default 0)\n"
    "  --rate R             room messages per second per joined connection (default 20)\n"
    "  --flood N            after joingroup send exactly N messages as fast as possible\n"
    "  --replay FILE        stream the STT bodies of FILE (one per line) instead of synthetic\n"
    "  --drop-after N       fault: close each connection after N room messages (default 0: off)\n"
    "  --malformed-after N  fault: send one malformed frame after N room messages (default 0)\n"
    "  --silent             fault: after loginres send nothing at all\n"
    "  --seed N             seed of the synthetic stream (default 1)\n"
    "  --help               this text\n"
    "Flags take --name=value or --name value.\n";

uint64_t to_u64(const samples::Flags& flags, const char* name, uint64_t fallback) {
  const std::string text = flags.get(name, std::to_string(fallback));
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-') {
    std::fprintf(stderr, "--%s: not a non-negative integer: '%s'\n", name, text.c_str());
    flags.fail(2);
  }
  return v;
}

double to_double(const samples::Flags& flags, const char* name, double fallback) {
  const std::string text = flags.get(name, std::to_string(fallback));
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= 0)) {
    std::fprintf(stderr, "--%s: not a non-negative number: '%s'\n", name, text.c_str());
    flags.fail(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;

  // samples::Flags knows only valued flags: take the one boolean flag out first.
  bool silent = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 &&
        (std::strcmp(argv[i], "--silent") == 0 || std::strcmp(argv[i], "--silent=true") == 0 ||
         std::strcmp(argv[i], "--silent=1") == 0)) {
      silent = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  samples::Flags flags(
      static_cast<int>(args.size()), args.data(),
      {"host", "port", "rate", "flood", "replay", "drop-after", "malformed-after", "seed"}, kUsage);
  if (!flags.positional().empty()) {
    std::fprintf(stderr, "unexpected argument '%s'\n", flags.positional().front().c_str());
    flags.fail(2);
  }

  asyncore::douyu::SimulatorOptions options;
  options.rate = to_double(flags, "rate", options.rate);
  options.flood = to_u64(flags, "flood", 0);
  options.replay_file = flags.get("replay", "");
  options.drop_after = to_u64(flags, "drop-after", 0);
  options.malformed_after = to_u64(flags, "malformed-after", 0);
  options.silent = silent;
  options.seed = to_u64(flags, "seed", options.seed);

  samples::raise_fd_limit();
  asyncore::Loop loop;
  samples::StopOnSignals stop(loop);
  std::shared_ptr<asyncore::douyu::DouyuServer> server;
  try {
    const auto addr = asyncore::Address::ip(flags.get("host", "127.0.0.1"), flags.port("port", 0));
    server = asyncore::make_dispatcher<asyncore::douyu::DouyuServer>(loop, addr, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "douyu_server: %s\n", e.what());
    return 1;
  }
  std::printf("listening on %s\n", server->address().to_string().c_str());
  std::fflush(stdout);

  loop.loop();

  const auto& s = server->stats();
  LOG(INFO) << "douyu_server: stopping; connections " << s.connections << ", logins " << s.logins
            << ", joins " << s.joins << ", heartbeats " << s.heartbeats << ", logouts " << s.logouts
            << ", room messages sent " << s.room_messages_sent << ", bad frames " << s.bad_frames;
  return 0;
}
