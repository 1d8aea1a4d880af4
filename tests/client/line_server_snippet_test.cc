// The README's "a line protocol server in under 30 lines" (docs/CLIENT.md), compiled and run here.
// The text between the SNIPPET markers must equal the first ```cpp block of docs/CLIENT.md; a
// test below checks that, so the documentation cannot drift from code that compiles.
#include <glog/logging.h>  // before the snippet: its own #includes are then no-ops
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "client/async_chat.h"
#include "tests/client/client_test_util.h"

namespace snippet {
// BEGIN SNIPPET
#include <glog/logging.h>

#include "client/async_chat.h"
using namespace asyncore;
class Reply : public AsyncChat {  // answers every line with "you said: " + line
 public:
  Reply(Loop& loop, Socket sock) : AsyncChat(loop, std::move(sock)) { set_terminator("\n"); }
  void found_terminator() override { push("you said: " + get_data() + "\n"); }
};
class LineServer : public Dispatcher {  // one Reply per connection, kept alive by the loop
 public:
  LineServer(Loop& loop, uint16_t port) : Dispatcher(loop) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(port));
    listen(128);
  }
  void handle_accepted(Socket sock, const Address&) override {
    make_dispatcher<Reply>(loop(), std::move(sock));
  }
};

int main(int, char** argv) {
  google::InitGoogleLogging(argv[0]);  // glog: handlers' errors are logged to stderr
  Loop loop;
  make_dispatcher<LineServer>(loop, 8000);
  loop.loop();
  return 0;
}
// END SNIPPET
}  // namespace snippet

namespace asyncore {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string between(const std::string& text, const std::string& begin, const std::string& end) {
  auto b = text.find(begin);
  if (b == std::string::npos) return "<no " + begin + ">";
  b += begin.size();
  auto e = text.find(end, b);
  if (e == std::string::npos) return "<no " + end + ">";
  return text.substr(b, e - b);
}

TEST(LineServerSnippet, MatchesDocsAndIsShort) {
  std::string code =
      between(read_file(client_test::source_path("tests/client/line_server_snippet_test.cc")),
              "// BEGIN SNIPPET\n", "// END SNIPPET\n");
  std::string doc =
      between(read_file(client_test::source_path("docs/CLIENT.md")), "```cpp\n", "```\n");
  EXPECT_EQ(doc, code) << "docs/CLIENT.md's first ```cpp block differs from the compiled snippet";
  std::string readme =
      between(read_file(client_test::source_path("README.md")), "```cpp\n", "```\n");
  EXPECT_EQ(readme, code) << "README.md's first ```cpp block differs from the compiled snippet";
  size_t lines = std::count(code.begin(), code.end(), '\n');
  EXPECT_LT(lines, 30u);
}

TEST(LineServerSnippet, Serves) {
  Loop loop;
  auto server = make_dispatcher<snippet::LineServer>(loop, 0);
  uint16_t port = Address::local_of(server->fileno()).port();
  struct Client : AsyncChat {
    Client(Loop& l, uint16_t p) : AsyncChat(l) {
      create_socket();
      connect(Address::ipv4_loopback(p));
      set_terminator("\n");
    }
    void found_terminator() override { lines.push_back(get_data()); }
    std::vector<std::string> lines;
  };
  auto c = make_dispatcher<Client>(loop, port);
  c->push("hi\nthere\n");
  ASSERT_TRUE(client_test::run_until(loop, [&] { return c->lines.size() == 2; }));
  EXPECT_EQ(c->lines, (std::vector<std::string>{"you said: hi", "you said: there"}));
  c->close();
  server->close();
}

}  // namespace
}  // namespace asyncore
