// Interop with CPython's asynchat, both ways: a C++ AsyncChat client against a Python asynchat
// server, and a Python asynchat client against a C++ AsyncChat server. The scripts live in
// tests/client/interop/; each is bounded in time, and so is every wait here. Skipped when python3
// has no asynchat (removed in Python 3.12).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "client/async_chat.h"
#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

using client_test::Child;
using client_test::run_until;

bool python_has_asynchat() {
  static const bool has = [] {
    Child probe({"python3", "-W", "ignore", "-c", "import asynchat; print('yes')"});
    auto line = probe.read_line(30);
    probe.wait(30);
    return line && *line == "yes";
  }();
  return has;
}

std::string script(const std::string& name) {
  return client_test::source_path("tests/client/interop/" + name);
}

class LineClient : public AsyncChat {
 public:
  LineClient(Loop& loop, uint16_t port) : AsyncChat(loop) {
    create_socket();
    connect(Address::ipv4_loopback(port));
    set_terminator("\n");
  }
  void found_terminator() override { lines.push_back(get_data()); }
  std::vector<std::string> lines;
};

TEST(AsynchatInterop, CppClientPythonServer) {
  if (!python_has_asynchat()) GTEST_SKIP() << "python3 has no asynchat module";
  Child server({"python3", "-W", "ignore::DeprecationWarning", script("asynchat_line_server.py")});
  auto first = server.read_line(30);
  ASSERT_TRUE(first.has_value());
  uint16_t port = client_test::port_of_listening_line(*first);
  ASSERT_NE(port, 0) << *first;

  Loop loop;
  auto c = make_dispatcher<LineClient>(loop, port);
  std::string big(150000, 'z');
  c->push("hello\n");
  c->push(big + "\n");
  c->push("LEN 7\nab\ncd\nxx\n");  // 7 raw bytes "ab\ncd\nx", then the line "x"
  c->push_with_producer(std::make_unique<SimpleProducer>("via producer\nQUIT\n", 3));
  ASSERT_TRUE(run_until(
      loop, [&] { return !c->is_open(); }, 30));
  EXPECT_EQ(c->lines, (std::vector<std::string>{"echo: hello", "echo: " + big, "raw: ab", "cd", "x",
                                                "echo: x", "echo: via producer", "bye"}));
  auto status = server.wait(30);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

// The C++ side: "echo: " + line; "QUIT" -> "bye" and close_when_done().
class EchoLine : public AsyncChat {
 public:
  EchoLine(Loop& loop, Socket s) : AsyncChat(loop, std::move(s)) { set_terminator("\n"); }
  void found_terminator() override {
    std::string line = get_data();
    if (line == "QUIT") {
      push("bye\n");
      close_when_done();
    } else {
      push("echo: " + line + "\n");
    }
  }
};
class EchoLineServer : public Dispatcher {
 public:
  explicit EchoLineServer(Loop& loop) : Dispatcher(loop) {
    create_socket();
    bind(Address::ipv4_loopback(0));
    listen(5);
  }
  void handle_accepted(Socket s, const Address&) override {
    make_dispatcher<EchoLine>(loop(), std::move(s));
  }
};

TEST(AsynchatInterop, PythonClientCppServer) {
  if (!python_has_asynchat()) GTEST_SKIP() << "python3 has no asynchat module";
  Loop loop;
  auto server = make_dispatcher<EchoLineServer>(loop);
  uint16_t port = Address::local_of(server->fileno()).port();
  Child client({"python3", "-W", "ignore::DeprecationWarning", script("asynchat_client.py"),
                "127.0.0.1", std::to_string(port)});
  ASSERT_TRUE(run_until(
      loop, [&] { return client.try_wait().has_value(); }, 30));
  std::string out = client.read_all(5);
  EXPECT_EQ(out, "OK\n");
  EXPECT_EQ(WEXITSTATUS(*client.try_wait()), 0);
  server->close();
}

}  // namespace
}  // namespace asyncore
