// Tutorial step 4 (docs/tutorial.md): the receive queue, the worker thread and the external
// callback ("实现接收数据" / "实现外部传入回调函数"). The client is in tutorial_client.h: its
// handle_read() cuts frames out of the byte stream (partial frames too) into a bounded queue,
// and its worker thread calls the callback given here, in order.
//
//   tutorial_step4_receive_queue --port PORT [--host 127.0.0.1] [--room 9999]
//                                [--max-messages 20] [--queue-capacity 1024] [--slow-ms 0]
//
// Prints one line per room message (the simulator numbers them: seq@=1, 2, ...):
//   message 1: type@=chatmsg/seq@=1/rid@=9999/...
// then "reader paused N time(s)" and "received M room messages". --slow-ms makes the callback
// slow, --queue-capacity small: the reader then pauses (back-pressure) and nothing is lost.
#include <gflags/gflags.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/loop.h"
#include "douyu/protocol/packet.h"
#include "samples/flags.h"
#include "samples/tutorial/tutorial_client.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");
DEFINE_string(room, "9999", "room id");
DEFINE_int32(max_messages, 20, "close after this many room messages");
DEFINE_int32(queue_capacity, 1024, "receive queue capacity (messages) before reading pauses");
DEFINE_int32(slow_ms, 0, "the callback takes this long per message (to see back-pressure)");

using asyncore::douyu::Packet;
using tutorial::TutorialClient;

int main(int argc, char** argv) {
  const std::string usage = "usage: tutorial_step4_receive_queue --port PORT [flags]\n" +
                            samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);

  // Written by the worker thread, read by main after the worker ended: atomic anyway, so the
  // rule is simple ("shared between threads: atomic or under a lock").
  std::atomic<int> received{0};

  // The external callback. It runs on the worker thread: it must not touch the socket, and it
  // can be as slow as it likes — the loop thread goes on (and pauses reading when the queue is
  // full). Whatever it asks of the socket it hands to the loop thread (call_on_loop).
  auto callback = [&](TutorialClient& client, const std::string& body) {
    if (body.find("/seq@=") == std::string::npos) return;  // only the room's messages
    if (FLAGS_slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(FLAGS_slow_ms));
    const int n = ++received;
    if (n > FLAGS_max_messages) return;  // already closing; these were read before the close
    // The raw STT text (step 5 decodes it): its first three fields are enough to see the order.
    size_t end = 0;
    for (int slashes = 0; slashes < 3 && end != std::string::npos; ++slashes)
      end = body.find('/', end + 1);
    std::printf("message %d: %s...\n", n, body.substr(0, end + 1).c_str());
    if (n == FLAGS_max_messages) client.call_on_loop([](TutorialClient& c) { c.close(); });
  };

  asyncore::Loop loop;
  auto client = asyncore::make_dispatcher<TutorialClient>(
      loop, FLAGS_host, static_cast<uint16_t>(FLAGS_port), callback,
      static_cast<size_t>(FLAGS_queue_capacity));
  // Login and join group -9999 (step 6 explains them): without them the server sends nothing.
  client->send_packet(Packet("type@=loginreq/roomid@=" + FLAGS_room + "/"));
  client->send_packet(Packet("type@=joingroup/rid@=" + FLAGS_room + "/gid@=-9999/"));
  loop.loop(5.0);  // returns once the client closed

  const uint64_t pauses = client->reader_pauses();
  client.reset();  // ~TutorialClient: the worker delivers what is queued and is joined
  std::printf("reader paused %llu time(s)\n", static_cast<unsigned long long>(pauses));
  std::printf("received %d room messages\n", std::min(received.load(), FLAGS_max_messages));
  return received >= FLAGS_max_messages ? 0 : 1;
}
