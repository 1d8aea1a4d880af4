// The README's DouyuClient example, compiled here; a test checks the README's second ```cpp block
// equals the text between the SNIPPET markers, and the Printer runs against the simulator.
#include <glog/logging.h>  // before the snippet: its own #includes are then no-ops
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "douyu/client/douyu_client.h"  // first: the snippet's own #includes are then no-ops
#include "tests/douyu_session/client_test_util.h"

namespace snippet {
// BEGIN SNIPPET
#include <glog/logging.h>

#include <iostream>

#include "douyu/client/douyu_client.h"
using namespace asyncore::douyu;

struct Printer : DouyuHandler {  // runs on the client's worker thread
  void on_chat(const ChatMsg& chat, const Message&) override {
    std::cout << chat.nn << ": " << chat.txt << "\n";
  }
};

int main(int, char** argv) {
  google::InitGoogleLogging(argv[0]);  // the client logs connects and reconnects to stderr
  asyncore::Loop loop;
  Printer printer;
  DouyuClientOptions options{.room_id = "9999"};
  options.set_endpoint(douyu_default_endpoint());  // today's Douyu, over wss://
  DouyuClient client(loop, options, printer);
  client.start();
  loop.loop();
  return 0;
}
// END SNIPPET
}  // namespace snippet

namespace asyncore::douyu::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The text of the n-th (0-based) block that starts with `begin` and ends with `end`.
std::string nth_between(const std::string& text, const std::string& begin, const std::string& end,
                        int n) {
  size_t at = 0;
  for (int i = 0; i <= n; ++i) {
    at = text.find(begin, at);
    if (at == std::string::npos) return "<missing block>";
    at += begin.size();
  }
  const size_t stop = text.find(end, at);
  return stop == std::string::npos ? "<unterminated block>" : text.substr(at, stop - at);
}

TEST(ReadmeSnippet, MatchesTheReadme) {
  const std::string code = nth_between(
      read_file(std::string(ASYNCORE_SOURCE_DIR) + "/tests/douyu_session/readme_snippet_test.cc"),
      "// BEGIN SNIPPET\n", "// END SNIPPET\n", 0);
  const std::string readme = nth_between(read_file(std::string(ASYNCORE_SOURCE_DIR) + "/README.md"),
                                         "```cpp\n", "```\n", 1);
  EXPECT_EQ(readme, code) << "README.md's second ```cpp block differs from the compiled snippet";
}

TEST(ReadmeSnippet, PrinterReceivesChat) {
  Loop loop;
  auto server = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0),
                                             SimulatorOptions{.rate = 0, .flood = 200});
  struct CountingPrinter : snippet::Printer {
    std::atomic<int> chats{0};
    void on_chat(const ChatMsg& chat, const Message& m) override {
      snippet::Printer::on_chat(chat, m);
      ++chats;
    }
  } printer;
  DouyuClient client(loop, options_for(*server), printer);
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return printer.chats > 0 && client.delivered() >= 201; }, 20));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
}

}  // namespace
}  // namespace asyncore::douyu::test
