// interop_test.cc — wire interop with CPython's own asyncore, both ways: a C++ client against a
// Python echo server, and a Python client against a C++ echo server. The Python side runs as a
// child process (tests/core/interop/*.py); every wait is bounded and the child is killed on
// failure.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/dispatcher.h"
#include "core/exception_text.h"
#include "core/loop.h"
#include "tests/core/test_util.h"

extern char** environ;

namespace asyncore {
namespace {

using Clock = std::chrono::steady_clock;

// A python3 child with its stdout on a pipe; killed and reaped if still running on destruction.
class PythonChild {
 public:
  explicit PythonChild(std::vector<std::string> args) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
    stdout_ = Socket(out[0]);
    Socket write_end(out[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.fd(), STDOUT_FILENO);
    std::vector<std::string> argv = {"python3", "-W", "ignore::DeprecationWarning"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw_errno(rc, "posix_spawnp(python3)");
  }
  ~PythonChild() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  // One line from the child's stdout, or nullopt after `seconds`.
  std::optional<std::string> read_line(double seconds) {
    auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    std::string line;
    while (Clock::now() < deadline) {
      pollfd p{stdout_.fd(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char c;
      ssize_t n = ::read(stdout_.fd(), &c, 1);
      if (n <= 0) return std::nullopt;
      if (c == '\n') return line;
      line += c;
    }
    return std::nullopt;
  }
  // The exit status once the child exited (non-blocking).
  std::optional<int> exit_status() {
    if (!status_) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  Socket stdout_;
  std::optional<int> status_;
};

std::string script(const char* name) {
  return std::string(ASYNCORE_SOURCE_DIR) + "/tests/core/interop/" + name;
}

std::string payload() {
  std::string p;
  for (int i = 0; i < 3000; ++i) p += "line " + std::to_string(i) + " from C++ asyncore\n";
  return p;
}

TEST(Interop, CppClientPythonServer) {
  PythonChild child({script("echo_server.py")});
  auto line = child.read_line(20);
  ASSERT_TRUE(line) << "the Python server printed no address";
  const std::string prefix = "listening on 127.0.0.1:";
  ASSERT_EQ(line->rfind(prefix, 0), 0u) << *line;
  uint16_t port = static_cast<uint16_t>(std::stoi(line->substr(prefix.size())));

  Loop loop;
  struct Client : Dispatcher {
    Client(Loop& l, std::string data) : Dispatcher(l), out(data), expected(std::move(data)) {}
    bool writable() override { return !out.empty(); }
    void handle_connect() override { connected_seen = true; }
    void handle_write() override { out.erase(0, send(out)); }
    void handle_read() override {
      got += recv(65536);
      if (got.size() >= expected.size()) close();
    }
    void handle_close() override { close(); }
    void handle_error() override {
      ADD_FAILURE() << current_exception_text();
      close();
    }
    std::string out, expected, got;
    bool connected_seen = false;
  };
  Client client(loop, payload());
  client.connect("127.0.0.1", port);
  ASSERT_TRUE(test::run_until(
      loop, [&] { return !client.is_open(); }, 20));
  EXPECT_TRUE(client.connected_seen);
  EXPECT_EQ(client.got.size(), client.expected.size());
  EXPECT_TRUE(client.got == client.expected);
  // The server exits 0 once our connection closed.
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!child.exit_status() && Clock::now() < deadline) loop.poll(0.01);
  ASSERT_TRUE(child.exit_status()) << "the Python server did not exit";
  EXPECT_EQ(*child.exit_status(), 0);
}

TEST(Interop, PythonClientCppServer) {
  Loop loop;
  struct Echo : Dispatcher {
    using Dispatcher::Dispatcher;
    bool writable() override { return !out.empty(); }
    void handle_read() override {
      std::string data = recv(65536);
      echoed += data.size();
      out += data;
    }
    void handle_write() override { out.erase(0, send(out)); }
    void handle_close() override { close(); }
    std::string out;
    size_t echoed = 0;
  };
  struct Server : Dispatcher {
    using Dispatcher::Dispatcher;
    void handle_accepted(Socket sock, const Address&) override {
      ++accepted;
      make_dispatcher<Echo>(loop(), std::move(sock));
    }
    int accepted = 0;
  };
  Server server(loop);
  server.create_socket(AF_INET);
  server.set_reuse_addr();
  server.bind(Address::ipv4_loopback(0));
  server.listen(5);
  uint16_t port = Address::local_of(server.fileno()).port();

  PythonChild child({script("echo_client.py"), "127.0.0.1", std::to_string(port)});
  ASSERT_TRUE(test::run_until(
      loop, [&] { return child.exit_status().has_value(); }, 30))
      << "the Python client did not finish";
  EXPECT_EQ(server.accepted, 1);
  EXPECT_EQ(*child.exit_status(), 0) << "the Python client saw a wrong echo (see its stderr)";
}

}  // namespace
}  // namespace asyncore
