// An out-of-tree consumer of an INSTALLED asyncore (scripts/install_test.sh builds it with CMake's
// find_package(asyncore) and with pkg-config, against a temporary prefix, never the source tree).
// It writes the README's include lines and exits 0 only if a DouyuClient logged in to a
// DouyuServer on loopback, received messages through a DouyuHandler and logged out, and an
// AsyncChat line server answered a line, and an HttpServer answered a GET (asyncore::web,
// ::douyu_simulator, ::douyu, ::client, ::core).
#include <glog/logging.h>

#include <atomic>
#include <iostream>

#include "client/async_chat.h"
#include "core/dispatcher.h"
#include "douyu/client/douyu_client.h"
#include "douyu/simulator/douyu_server.h"
#include "web/http_server.h"
using namespace asyncore;
using namespace asyncore::douyu;

struct Reply : AsyncChat {  // the README's line server: answers every line
  Reply(Loop& loop, Socket sock) : AsyncChat(loop, std::move(sock)) { set_terminator("\n"); }
  void found_terminator() override { push("you said: " + get_data() + "\n"); }
};
struct LineServer : Dispatcher {
  explicit LineServer(Loop& loop) : Dispatcher(loop) {
    create_socket();
    bind(Address::ipv4_loopback(0));
    listen(8);
  }
  void handle_accepted(Socket sock, const Address&) override {
    make_dispatcher<Reply>(loop(), std::move(sock));
  }
};
struct Asker : AsyncChat {  // sends one line, keeps the answer
  std::string answer;
  Asker(Loop& loop, const Address& to) : AsyncChat(loop) {
    set_terminator("\n");
    create_socket();
    connect(to);
    push("hello\n");
  }
  void found_terminator() override {
    answer = get_data();
    close();
  }
};
struct HttpAsker : AsyncChat {  // GET / over HTTP/1.0, keeps the status line
  std::string status_line;
  HttpAsker(Loop& loop, const Address& to) : AsyncChat(loop) {
    set_terminator("\r\n");
    create_socket();
    connect(to);
    push("GET / HTTP/1.0\r\n\r\n");
  }
  void found_terminator() override {
    if (status_line.empty()) status_line = get_data();
    get_data();
  }
};
struct Counter : DouyuHandler {  // runs on the client's worker thread
  std::atomic<int> logins{0}, chats{0};
  void on_login(const LoginResponse&, const Message&) override { ++logins; }
  void on_chat(const ChatMsg&, const Message&) override { ++chats; }
};

int main(int, char** argv) {
  google::InitGoogleLogging(argv[0]);
  Loop loop;
  auto lines = make_dispatcher<LineServer>(loop);
  auto asker = make_dispatcher<Asker>(loop, Address::local_of(lines->fileno()));
  web::HttpServer http(loop, Address::ipv4_loopback(0));
  http.add_resource("/", "installed\n", "text/plain");
  auto http_asker = make_dispatcher<HttpAsker>(loop, http.address());
  auto server = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0),
                                             SimulatorOptions{.rate = 0, .flood = 50});
  DouyuClientOptions options{
      .host = "127.0.0.1", .port = server->address().port(), .room_id = "9999"};
  Counter counter;
  DouyuClient client(loop, options, counter);
  client.start();
  loop.call_every(0.01, [&] {  // 50 room messages + loginres delivered: log out, then end
    if (client.delivered() >= 51 && client.state() == DouyuClient::State::kJoined) client.stop();
    if (client.stopped() && !http_asker->status_line.empty()) loop.stop();
  });
  loop.call_later(20.0, [&] { loop.stop(); });  // a hard deadline
  loop.loop(0.1);
  const bool ok = client.stopped() && client.failure().empty() && counter.logins == 1 &&
                  counter.chats > 0 && server->stats().logouts == 1 &&
                  asker->answer == "you said: hello" &&
                  http_asker->status_line == "HTTP/1.1 200 OK";
  std::cout << "install consumer: delivered " << client.delivered() << ", chats " << counter.chats
            << ", logouts " << server->stats().logouts << ", line answer '" << asker->answer
            << "', http '" << http_asker->status_line << "': " << (ok ? "OK" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
