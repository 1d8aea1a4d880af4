// douyu_server — the Douyu barrage server simulator (douyu/simulator/douyu_server.h) as a program:
// point douyu_danmaku (or any Douyu client) at it instead of the real, long-dead endpoint.
//
//   douyu_server [--host 127.0.0.1] [--port 0] [--rate 20 | --flood N | --replay FILE]
//                [--drop-after N] [--malformed-after N] [--silent] [--seed 1]
//                [--transport tcp|ws|wss [--cert-file PEM --key-file PEM]]
//
// --transport: what the connections speak (douyu/client/transport.h): tcp (default, the frames on
// the socket), ws (WebSocket, frames in binary messages) or wss (WebSocket over TLS; --cert-file
// and
// --key-file are then required, and refused for tcp/ws).
//
// Prints "listening on HOST:PORT" as its first line on stdout, then "url SCHEME://HOST:PORT/"
// (e.g. "url wss://127.0.0.1:40123/"), both flushed, so a test or script can read the port of
// --port 0; every client request is logged to stderr (glog). Stops cleanly on SIGINT/SIGTERM and
// prints the session counters.
#include "douyu/simulator/douyu_server.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>
#include <string>

#include "samples/flags.h"
#include "samples/sample_util.h"

DEFINE_string(host, "127.0.0.1", "address to listen on");
DEFINE_int32(port, 0, "port; 0 picks a free one");
DEFINE_double(rate, 20, "room messages per second per joined connection");
DEFINE_uint64(flood, 0, "after joingroup send exactly N messages as fast as possible");
DEFINE_string(replay, "", "stream the STT bodies of FILE (one per line) instead of synthetic");
DEFINE_uint64(drop_after, 0, "fault: close each connection after N room messages (0: off)");
DEFINE_uint64(malformed_after, 0, "fault: send one malformed frame after N room messages (0: off)");
DEFINE_bool(silent, false, "fault: after loginres send nothing at all");
DEFINE_uint64(seed, 1, "seed of the synthetic stream");
DEFINE_string(transport, "tcp", "tcp, ws (WebSocket) or wss (WebSocket over TLS)");
DEFINE_string(cert_file, "", "wss: PEM certificate (chain) the server presents");
DEFINE_string(key_file, "", "wss: PEM private key of --cert-file");

int main(int argc, char** argv) {
  const std::string usage = "usage: douyu_server [flags]\n" + samples::describe_flags(__FILE__) +
                            "  --help             this text\n\n" + samples::glog_flags_help();
  const std::vector<std::string> args = samples::init_sample(argc, argv, usage);
  if (!args.empty()) samples::usage_error("unexpected argument '" + args[0] + "'", usage);
  if (FLAGS_port < 0 || FLAGS_port > 65535)
    samples::usage_error("--port: not a port number: " + std::to_string(FLAGS_port), usage);
  if (!(FLAGS_rate >= 0))
    samples::usage_error("--rate: not a non-negative number: " + std::to_string(FLAGS_rate), usage);
  asyncore::douyu::Transport transport = asyncore::douyu::Transport::kTcp;
  if (FLAGS_transport == "ws") {
    transport = asyncore::douyu::Transport::kWs;
  } else if (FLAGS_transport == "wss") {
    transport = asyncore::douyu::Transport::kWss;
  } else if (FLAGS_transport != "tcp") {
    samples::usage_error("--transport: expected tcp, ws or wss, got '" + FLAGS_transport + "'",
                         usage);
  }
  if (transport == asyncore::douyu::Transport::kWss) {
    if (FLAGS_cert_file.empty() || FLAGS_key_file.empty())
      samples::usage_error("--transport=wss needs --cert-file and --key-file (PEM files)", usage);
  } else if (!FLAGS_cert_file.empty() || !FLAGS_key_file.empty()) {
    samples::usage_error("--cert-file/--key-file: only with --transport=wss", usage);
  }

  asyncore::douyu::SimulatorOptions options;
  options.rate = FLAGS_rate;
  options.flood = FLAGS_flood;
  options.replay_file = FLAGS_replay;
  options.drop_after = FLAGS_drop_after;
  options.malformed_after = FLAGS_malformed_after;
  options.silent = FLAGS_silent;
  options.seed = FLAGS_seed;
  options.transport = transport;

  samples::raise_fd_limit();
  asyncore::Loop loop;
  samples::StopOnSignals stop(loop);
  std::shared_ptr<asyncore::douyu::DouyuServer> server;
  try {
    if (transport == asyncore::douyu::Transport::kWss) {
      asyncore::TlsOptions tls;
      tls.cert_file = FLAGS_cert_file;
      tls.key_file = FLAGS_key_file;
      options.tls = asyncore::TlsContext::server(tls);  // throws: a file it cannot use
    }
    const auto addr = asyncore::Address::ip(FLAGS_host, static_cast<uint16_t>(FLAGS_port));
    server = asyncore::make_dispatcher<asyncore::douyu::DouyuServer>(loop, addr, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "douyu_server: %s\n", e.what());
    return 1;
  }
  const asyncore::douyu::Endpoint url{transport, FLAGS_host, server->address().port(), "/"};
  std::printf("listening on %s\nurl %s\n", server->address().to_string().c_str(),
              url.to_string().c_str());
  std::fflush(stdout);

  loop.loop();

  const auto& s = server->stats();
  LOG(INFO) << "douyu_server: stopping; connections " << s.connections << ", logins " << s.logins
            << ", joins " << s.joins << ", heartbeats " << s.heartbeats << ", logouts " << s.logouts
            << ", room messages sent " << s.room_messages_sent << ", bad frames " << s.bad_frames;
  return 0;
}
