// Tutorial step 8 (docs/tutorial.md): logout ("断开连接": 客户端发送登出消息, 客户端关闭TCP连接),
// done gracefully — and then the same session in ten lines with the library's DouyuClient.
//
//   tutorial_step8_logout --port PORT [--host 127.0.0.1] [--room 9999] [--max-messages 5]
//                         [--douyu-client]
//
// Prints the chat lines ("[9999] NICKNAME: TEXT"), then "logging out" and "server closed the
// connection". With --douyu-client the same session runs on asyncore::douyu::DouyuClient
// (douyu/client/douyu_client.h), which adds heartbeats, reconnects, timeouts and statistics.
#include <gflags/gflags.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "core/loop.h"
#include "douyu/client/douyu_client.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/requests.h"
#include "samples/flags.h"
#include "samples/tutorial/tutorial_client.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");
DEFINE_string(room, "9999", "room id");
DEFINE_int32(max_messages, 5, "log out after this many chat messages");
DEFINE_bool(douyu_client, false, "run the session on the library's DouyuClient instead");

namespace dy = asyncore::douyu;
using tutorial::TutorialClient;

void print_chat(const dy::Message& m) {
  std::printf("[%s] %s: %s\n", std::string(m.get_or("rid")).c_str(),
              std::string(m.get_or("nn")).c_str(), std::string(m.get_or("txt")).c_str());
}

// Our client of steps 3 to 7 (without the heartbeat, to stay short).
int run_tutorial_client() {
  std::atomic<int> chats{0};
  auto callback = [&](TutorialClient& client, const std::string& body) {
    const dy::Message m(body);
    if (m.type() == "loginres") client.send_packet(dy::joingroup(FLAGS_room));
    if (m.type() != "chatmsg" || ++chats > FLAGS_max_messages) return;
    print_chat(m);
    if (chats == FLAGS_max_messages) {
      // Logout is queued like any packet (behind what is already queued), then the loop thread
      // half-closes once it has left. Closing at once instead could turn into an RST (we have
      // unread input) and the logout would be lost.
      std::printf("logging out\n");
      client.send_packet(dy::logout());  // type@=logout/
      client.call_on_loop([](TutorialClient& c) { c.close_when_sent(); });
    }
  };
  asyncore::Loop loop;
  auto client = asyncore::make_dispatcher<TutorialClient>(
      loop, FLAGS_host, static_cast<uint16_t>(FLAGS_port), callback);
  client->on_close = [&] { std::printf("server closed the connection\n"); };
  client->send_packet(dy::loginreq(FLAGS_room));
  loop.loop(5.0);  // ends when the server, having read our logout and FIN, closes too
  const bool ok = chats >= FLAGS_max_messages && client->error().empty();
  client.reset();  // joins the worker
  return ok ? 0 : 1;
}

// All of the above, done right: douyu/client/douyu_client.h.
int run_douyu_client() {
  asyncore::Loop loop;
  std::atomic<int> chats{0};
  dy::DouyuClient client(
      loop, {.host = FLAGS_host, .port = static_cast<uint16_t>(FLAGS_port), .room_id = FLAGS_room},
      [&](const dy::Message& m) {  // the worker thread, in order
        if (m.type() != "chatmsg" || ++chats > FLAGS_max_messages) return;
        print_chat(m);
        if (chats == FLAGS_max_messages) client.stop();  // thread-safe: logout, then close
      });
  client.start();
  loop.loop();    // returns once the client has stopped
  client.join();  // its worker and heartbeat threads have ended
  std::printf("DouyuClient: %s after %llu frames\n", dy::to_string(client.state()),
              static_cast<unsigned long long>(client.frames_received()));
  return client.failure().empty() && chats >= FLAGS_max_messages ? 0 : 1;
}

int main(int argc, char** argv) {
  const std::string usage =
      "usage: tutorial_step8_logout --port PORT [flags]\n" + samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);
  return FLAGS_douyu_client ? run_douyu_client() : run_tutorial_client();
}
