// The tutorial's eight programs (samples/tutorial/, docs/tutorial.md), each run as a child process
// against the Douyu simulator: a DouyuServer on a free loopback port, embedded in the test so
// that the test sees every request the program sends (on_request, stats()). One test runs the
// douyu_server binary instead, as a learner does. Every wait has a deadline; none is a sleep.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/loop.h"
#include "core/socket.h"
#include "douyu/protocol/message.h"
#include "douyu/simulator/douyu_server.h"
#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

using client_test::Child;
using douyu::DouyuServer;
using douyu::SimulatorOptions;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr double kDeadlineSeconds = 120;
#else
constexpr double kDeadlineSeconds = 60;
#endif

// One request the simulator received, with when it arrived.
struct Request {
  std::string body;
  std::string type;
  Clock::time_point at;
};

// The simulator on a free loopback port, on this thread's loop; records every request.
struct Simulator {
  explicit Simulator(SimulatorOptions options) {
    server = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), options);
    server->on_request = [this](const douyu::Message& m, const Address&) {
      requests.push_back({m.encode(), std::string(m.type()), Clock::now()});
    };
  }
  ~Simulator() { server->close(); }
  std::string port() const { return std::to_string(server->address().port()); }
  std::vector<std::string> types() const {
    std::vector<std::string> t;
    for (const auto& r : requests) t.push_back(r.type);
    return t;
  }

  Loop loop;
  std::shared_ptr<DouyuServer> server;
  std::vector<Request> requests;
};

struct StepRun {
  std::optional<int> status;  // the wait status; nullopt: it did not exit before the deadline
  std::string out;            // its stdout
  int exit_code() const { return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1; }
};

// Runs `tutorial_<step> --port=PORT args...`, turning the simulator's loop and reading the
// child's stdout (so a long output never blocks it) until it exits or the deadline passes.
StepRun run_step(Simulator* sim, const std::string& port, const std::string& step,
                 std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {client_test::bin_path("tutorial_" + step), "--port=" + port};
  argv.insert(argv.end(), args.begin(), args.end());
  Child child(argv);
  StepRun run;
  const auto deadline = client_test::deadline_in(kDeadlineSeconds);
  while (!child.try_wait() && Clock::now() < deadline) {
    if (sim != nullptr) sim->loop.poll(0.005);
    run.out += child.read_all(0.005);
  }
  run.status = child.try_wait();
  if (run.status) run.out += child.read_all(10);  // what is left, up to end of file
  return run;
}
StepRun run_step(Simulator& sim, const std::string& step, std::vector<std::string> args = {}) {
  return run_step(&sim, sim.port(), step, std::move(args));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// The lines that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (auto& line : lines_of(text))
    if (starts_with(line, prefix)) out.push_back(line);
  return out;
}

// ---------------------------------------------------------------- step 1

TEST(TutorialStep1, HelloWorldIsNotAFrameSoTheSimulatorCloses) {
  Simulator sim(SimulatorOptions{.rate = 0});
  StepRun r = run_step(sim, "step1_socket_client");
  ASSERT_TRUE(r.status) << "did not exit; output so far:\n" << r.out;
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_EQ(r.out, "connected\nsent: hello world\nconnection closed\n");
  // The server decoded "hell" as a length field and rejected it: one bad frame, no request.
  EXPECT_EQ(sim.server->stats().bad_frames, 1u);
  EXPECT_TRUE(sim.requests.empty());
}

TEST(TutorialStep1, ConnectionRefusedGoesToHandleErrorAndExitsOne) {
  Socket probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));  // bound, not listening
  const Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(probe.fd(), any.sockaddr_ptr(), any.length()), 0);
  const auto port = std::to_string(Address::local_of(probe.fd()).port());
  StepRun r = run_step(nullptr, port, "step1_socket_client");
  ASSERT_TRUE(r.status);
  EXPECT_EQ(r.exit_code(), 1);
  EXPECT_EQ(r.out, "");  // never connected; the error went to stderr
}

// ---------------------------------------------------------------- step 2

TEST(TutorialStep2, HandMadeLoginPacketMatchesTheProtocolVectorAndGetsALoginres) {
  Simulator sim(SimulatorOptions{.rate = 0});
  StepRun r = run_step(sim, "step2_packet");
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 6u) << r.out;
  // PROTOCOL.md §1's vector for type@=loginreq/roomid@=9999/.
  EXPECT_EQ(lines[0],
            "packet: 25 00 00 00 25 00 00 00 b1 02 00 00 74 79 70 65 40 3d 6c 6f 67 69 6e 72 "
            "65 71 2f 72 6f 6f 6d 69 64 40 3d 39 39 39 39 2f 00");
  EXPECT_EQ(lines[1],
            "length 37 = 8 header bytes + 29 body bytes (28 of text + the NUL); 41 bytes on the "
            "wire");
  EXPECT_EQ(lines[2], "same bytes as douyu::Packet: yes");
  EXPECT_EQ(lines[3], "connected");
  // The answer's header taken apart by hand: both lengths equal, type 690, zero flags.
  unsigned length = 0, twice = 0, type = 0, encrypt = 9, reserved = 9;
  ASSERT_EQ(std::sscanf(lines[4].c_str(),
                        "received: length %u (twice: %u) type %u encrypt %u reserved %u", &length,
                        &twice, &type, &encrypt, &reserved),
            5)
      << lines[4];
  EXPECT_EQ(length, twice);
  EXPECT_EQ(type, 690u);
  EXPECT_EQ(encrypt, 0u);
  EXPECT_EQ(reserved, 0u);
  EXPECT_TRUE(starts_with(lines[5], "body: type@=loginres/")) << lines[5];
  EXPECT_EQ(length, lines[5].size() - 6 + 9) << "length = 8 + body bytes + the NUL";
  ASSERT_EQ(sim.requests.size(), 1u);
  EXPECT_EQ(sim.requests[0].body, "type@=loginreq/roomid@=9999/");
}

// ---------------------------------------------------------------- step 3

TEST(TutorialStep3, TheQueuedLoginLeavesOnceConnectedAndIsAnswered) {
  Simulator sim(SimulatorOptions{.rate = 0});
  StepRun r = run_step(sim, "step3_send_queue", {"--room=288016"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0], "queued: type@=loginreq/roomid@=288016/ (43 bytes; 1 packet(s) waiting)");
  EXPECT_EQ(lines[1], "connected");
  EXPECT_EQ(lines[2], "sent 43 bytes: type@=loginreq/roomid@=288016/");
  EXPECT_TRUE(starts_with(lines[3], "server answered: ")) << lines[3];
  EXPECT_EQ(sim.types(), std::vector<std::string>{"loginreq"});
  EXPECT_EQ(sim.server->stats().logins, 1u);
}

// ---------------------------------------------------------------- step 4

// The seq numbers of step 4's "message N: type@=T/seq@=S/..." lines, checking N counts from 1.
std::vector<uint64_t> step4_seqs(const std::string& out) {
  std::vector<uint64_t> seqs;
  for (const auto& line : lines_starting(out, "message ")) {
    const auto colon = line.find(": ");
    EXPECT_EQ(line.substr(8, colon - 8), std::to_string(seqs.size() + 1)) << line;
    const auto at = line.find("/seq@=");
    if (at == std::string::npos) {
      ADD_FAILURE() << "no seq in " << line;
      continue;
    }
    seqs.push_back(std::stoull(line.substr(at + 6)));
  }
  return seqs;
}

bool one_to_n(const std::vector<uint64_t>& seqs, uint64_t n) {
  if (seqs.size() != n) return false;
  for (uint64_t i = 0; i < n; ++i)
    if (seqs[i] != i + 1) return false;
  return true;
}

TEST(TutorialStep4, TheCallbackGetsEveryRoomMessageInOrder) {
  Simulator sim(SimulatorOptions{.rate = 0, .flood = 100});
  StepRun r = run_step(sim, "step4_receive_queue", {"--max-messages=60"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  EXPECT_TRUE(one_to_n(step4_seqs(r.out), 60)) << r.out;
  EXPECT_NE(r.out.find("\nreceived 60 room messages\n"), std::string::npos) << r.out;
  EXPECT_EQ(sim.types(), (std::vector<std::string>{"loginreq", "joingroup"}));
}

// A slow callback and a queue of 4: the reader pauses instead of queueing without bound, and
// still nothing is lost or reordered.
TEST(TutorialStep4, ASlowCallbackPausesTheReaderAndLosesNothing) {
  Simulator sim(SimulatorOptions{.rate = 0, .flood = 400});
  StepRun r = run_step(sim, "step4_receive_queue",
                       {"--max-messages=300", "--queue-capacity=4", "--slow-ms=1"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_TRUE(one_to_n(step4_seqs(r.out), 300));
  const auto paused = lines_starting(r.out, "reader paused ");
  ASSERT_EQ(paused.size(), 1u) << r.out;
  EXPECT_GT(std::stoul(paused[0].substr(14)), 0u) << paused[0];
}

// ---------------------------------------------------------------- step 5

TEST(TutorialStep5, HandWrittenSttMatchesTheLibraryOnExamplesAndLiveMessages) {
  Simulator sim(SimulatorOptions{.rate = 0, .flood = 200});
  StepRun r = run_step(sim, "step5_stt", {"--max-messages=8"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], "encode {type: loginreq, roomid}    -> type@=loginreq/roomid@=9999/");
  EXPECT_EQ(lines[1], "escape \"a/b@c\"                     -> a@Sb@Ac");
  EXPECT_EQ(lines[2],
            "nested noble_num_info              -> "
            "type@=noble_num_info/sum@=1/list@=lev@AA=7@ASnum@AA=1@AS@S/");
  EXPECT_EQ(lines[3], "unescape \"@AS\" (one pass)          -> @S");
  EXPECT_EQ(lines[4], "unescape \"@AS\" (replace @A first)  -> /   (wrong: the text was \"@S\")");
  EXPECT_EQ(r.out.find("LIBRARY DIFFERS"), std::string::npos);
  EXPECT_EQ(lines_starting(r.out, "chat ").size(), 8u) << r.out;
  EXPECT_NE(r.out.find("\nhand-written decoder agreed with douyu::Message on 8 of 8 messages\n"),
            std::string::npos)
      << r.out;
  // The requests were encoded by the hand-written encoder.
  ASSERT_EQ(sim.requests.size(), 2u);
  EXPECT_EQ(sim.requests[0].body, "type@=loginreq/roomid@=9999/");
  EXPECT_EQ(sim.requests[1].body, "type@=joingroup/rid@=9999/gid@=-9999/");
}

// ---------------------------------------------------------------- step 6

void expect_chat_session(const StepRun& r, size_t chats) {
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3 + chats) << r.out;
  EXPECT_EQ(lines[0], "connected");
  EXPECT_EQ(lines[1], "logged in (loginres)");
  EXPECT_EQ(lines[2], "joining group -9999");
  for (size_t i = 3; i < lines.size(); ++i)
    EXPECT_TRUE(starts_with(lines[i], "[9999] ")) << lines[i];
}

TEST(TutorialStep6, LoginThenJoinGroupMinus9999ThenTheBarrage) {
  Simulator sim(SimulatorOptions{.rate = 0, .flood = 200});
  StepRun r = run_step(sim, "step6_login_join", {"--max-messages=5"});
  expect_chat_session(r, 5);
  ASSERT_EQ(sim.requests.size(), 2u);
  EXPECT_EQ(sim.requests[0].body, "type@=loginreq/roomid@=9999/");
  EXPECT_EQ(sim.requests[1].body, "type@=joingroup/rid@=9999/gid@=-9999/");
  EXPECT_EQ(sim.server->stats().joins, 1u);
}

TEST(TutorialStep6, ARoomIdThatIsNotANumberGetsServerError204) {
  Simulator sim(SimulatorOptions{.rate = 0, .flood = 200});
  StepRun r = run_step(sim, "step6_login_join", {"--room=abc"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 1);
  EXPECT_EQ(r.out, "connected\nserver error 204\n");
  EXPECT_EQ(sim.server->stats().joins, 0u);
}

// As the tutorial tells a learner: `douyu_server --port 0` in one terminal, the step in another.
TEST(TutorialStep6, AgainstTheDouyuServerBinary) {
  Child server({client_test::bin_path("douyu_server"), "--port=0", "--rate=0", "--flood=100"});
  const auto first = server.read_line(30);
  ASSERT_TRUE(first.has_value()) << "douyu_server printed nothing";
  const uint16_t port = client_test::port_of_listening_line(*first);
  ASSERT_NE(port, 0) << *first;
  expect_chat_session(run_step(nullptr, std::to_string(port), "step6_login_join"), 5);
  server.signal(SIGTERM);
  const auto status = server.wait(30);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

// ---------------------------------------------------------------- step 7

TEST(TutorialStep7, HeartbeatsStartAfterLoginKeepTheirIntervalAndAreAnswered) {
  Simulator sim(SimulatorOptions{.rate = 0});
  const double interval = 0.1;
  StepRun r = run_step(sim, "step7_heartbeat", {"--heartbeat-seconds=0.1", "--beats=3"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  // What the program saw: triggered at login, three answers in order, paused at the close.
  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "logged in: heartbeat triggered");
  EXPECT_EQ(lines_starting(r.out, "heartbeat 1 "),
            (std::vector<std::string>{"heartbeat 1 sent", "heartbeat 1 answered"}));
  const auto answered = [&] {
    std::vector<std::string> a;
    for (auto& l : lines)
      if (l.size() > 9 && l.find(" answered") != std::string::npos) a.push_back(l);
    return a;
  }();
  EXPECT_EQ(answered, (std::vector<std::string>{"heartbeat 1 answered", "heartbeat 2 answered",
                                                "heartbeat 3 answered"}));
  EXPECT_EQ(lines.back(), "closed: heartbeat paused");
  // What the server saw: login and join first, then at least three mrkl, an interval apart.
  const auto types = sim.types();
  ASSERT_GE(types.size(), 5u);
  EXPECT_EQ(types[0], "loginreq");
  EXPECT_EQ(types[1], "joingroup");
  std::vector<Clock::time_point> beats;
  for (const auto& req : sim.requests) {
    if (req.type == "mrkl") beats.push_back(req.at);
  }
  EXPECT_EQ(beats.size(), types.size() - 2) << "only heartbeats after the join";
  EXPECT_GE(sim.server->stats().heartbeats, 3u);
  ASSERT_GE(beats.size(), 3u);
  // The thread waits a whole interval between beats (a busy loop would send them all at once).
  // The server stamps a request when this thread turns its loop, up to ~10 ms late: 50 ms slack.
  EXPECT_GE(std::chrono::duration<double>(beats[2] - beats[0]).count(), 2 * interval - 0.05);
}

// ---------------------------------------------------------------- step 8

TEST(TutorialStep8, LogoutReachesTheServerThenBothSidesClose) {
  Simulator sim(SimulatorOptions{.rate = 0, .flood = 200});
  StepRun r = run_step(sim, "step8_logout", {"--max-messages=5"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 7u) << r.out;
  for (size_t i = 0; i < 5; ++i) EXPECT_TRUE(starts_with(lines[i], "[9999] ")) << lines[i];
  EXPECT_EQ(lines[5], "logging out");
  EXPECT_EQ(lines[6], "server closed the connection");
  EXPECT_EQ(sim.server->stats().logouts, 1u);
  ASSERT_FALSE(sim.requests.empty());
  EXPECT_EQ(sim.requests.back().body, "type@=logout/");
  EXPECT_EQ(sim.server->stats().bad_frames, 0u);
}

TEST(TutorialStep8, TheSameSessionOnDouyuClient) {
  Simulator sim(SimulatorOptions{.rate = 0, .flood = 200});
  StepRun r = run_step(sim, "step8_logout", {"--max-messages=5", "--douyu-client"});
  ASSERT_TRUE(r.status) << r.out;
  EXPECT_EQ(r.exit_code(), 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  for (size_t i = 0; i < 5; ++i) EXPECT_TRUE(starts_with(lines[i], "[9999] ")) << lines[i];
  EXPECT_TRUE(starts_with(lines[5], "DouyuClient: stopped after ")) << lines[5];
  EXPECT_EQ(sim.types().front(), "loginreq");
  EXPECT_EQ(sim.requests.back().body, "type@=logout/");
  EXPECT_EQ(sim.server->stats().logouts, 1u);
}

}  // namespace
}  // namespace asyncore
