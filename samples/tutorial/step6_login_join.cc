// Tutorial step 6 (docs/tutorial.md): the session ("客户端开发流程"): loginreq, wait for
// loginres, then joingroup with group -9999 ("海量弹幕模式", every message), then the barrage.
//
//   tutorial_step6_login_join --port PORT [--host 127.0.0.1] [--room 9999] [--max-messages 5]
//
// Prints
//   connected
//   logged in (loginres)
//   joining group -9999
//   [9999] NICKNAME: TEXT              (--max-messages lines)
// A server error (e.g. code 204 for a room id that is not a number) is printed, exit status 1.
#include <gflags/gflags.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "core/loop.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/requests.h"
#include "samples/flags.h"
#include "samples/tutorial/tutorial_client.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");
DEFINE_string(room, "9999", "room id");
DEFINE_int32(max_messages, 5, "close after this many chat messages");

namespace dy = asyncore::douyu;
using tutorial::TutorialClient;

int main(int argc, char** argv) {
  const std::string usage =
      "usage: tutorial_step6_login_join --port PORT [flags]\n" + samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);

  std::atomic<int> chats{0};
  std::atomic<bool> server_error{false};
  auto callback = [&](TutorialClient& client, const std::string& body) {
    const dy::Message m(body);  // step 5's decoder, from the library now
    if (m.type() == "loginres") {
      // The seed joins the group when the login is answered: the server has set up the session.
      std::printf("logged in (loginres)\njoining group -9999\n");
      // send_packet() is thread-safe: the worker queues, the loop thread sends.
      client.send_packet(dy::joingroup(FLAGS_room));  // type@=joingroup/rid@=.../gid@=-9999/
    } else if (m.type() == "error") {
      std::printf("server error %s\n", std::string(m.get_or("code", "?")).c_str());
      server_error = true;  // the server closes the connection after an error: loop() ends
    } else if (m.type() == "chatmsg") {
      const int n = ++chats;
      if (n > FLAGS_max_messages) return;
      std::printf("[%s] %s: %s\n", std::string(m.get_or("rid")).c_str(),
                  std::string(m.get_or("nn")).c_str(), std::string(m.get_or("txt")).c_str());
      if (n == FLAGS_max_messages) client.call_on_loop([](TutorialClient& c) { c.close(); });
    }
  };

  asyncore::Loop loop;
  auto client = asyncore::make_dispatcher<TutorialClient>(
      loop, FLAGS_host, static_cast<uint16_t>(FLAGS_port), callback);
  client->on_connect = [] { std::printf("connected\n"); };
  // douyu/protocol/requests.h builds the requests step 5 encoded by hand.
  client->send_packet(dy::loginreq(FLAGS_room));  // type@=loginreq/roomid@=.../
  loop.loop(5.0);
  client.reset();  // joins the worker
  return !server_error && chats >= FLAGS_max_messages ? 0 : 1;
}
