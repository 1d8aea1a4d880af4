// Tutorial step 3 (docs/tutorial.md): the send queue ("实现发送数据包"): packets wait in a
// container; writable() says whether there is something to send; handle_write() sends it.
//
//   tutorial_step3_send_queue --port PORT [--host 127.0.0.1] [--room 9999]
//
// Prints
//   queued: type@=loginreq/roomid@=9999/ (41 bytes; 1 packet(s) waiting)
//   connected
//   sent 41 bytes: type@=loginreq/roomid@=9999/
//   server answered: N bytes
#include <gflags/gflags.h>

#include <cstdio>
#include <deque>
#include <exception>
#include <string>

#include "core/dispatcher.h"
#include "core/loop.h"
#include "douyu/protocol/packet.h"
#include "samples/flags.h"

DEFINE_string(host, "127.0.0.1", "server to connect to");
DEFINE_int32(port, 0, "its port (required; douyu_server prints it)");
DEFINE_string(room, "9999", "room id to log in to");

using asyncore::douyu::Packet;  // step 2's DataPacket, from the library from now on

class DouyuSender : public asyncore::Dispatcher {
 public:
  DouyuSender(asyncore::Loop& loop, const std::string& host, uint16_t port) : Dispatcher(loop) {
    create_socket();
    connect(host, port);
  }

  // The seed's login_room_id(): build the login packet and put it in the send queue. Nothing is
  // sent here; the loop sends it when the socket can take it (after the connect, here).
  void login(const std::string& room) {
    send_queue_.push_back(Packet("type@=loginreq/roomid@=" + room + "/"));
    std::printf("queued: %.*s (%zu bytes; %zu packet(s) waiting)\n",
                static_cast<int>(send_queue_.back().body().size()),
                send_queue_.back().body().data(), send_queue_.back().bytes().size(),
                send_queue_.size());
  }

  void handle_connect() override { std::printf("connected\n"); }

  // Asked on every turn of the loop: "is there data to send?" Only a true answer makes the loop
  // watch the socket for writability (watching an idle socket would wake the loop for nothing).
  bool writable() override { return !send_queue_.empty(); }

  void handle_write() override {
    Packet& front = send_queue_.front();
    // send() may take fewer bytes than asked when the kernel's buffer is full. The seed ignores
    // that; here the rest stays at the front of the queue and goes on the next handle_write().
    const size_t sent = send(front.bytes().data() + sent_, front.bytes().size() - sent_);
    sent_ += sent;
    if (sent_ < front.bytes().size()) return;
    std::printf("sent %zu bytes: %.*s\n", front.bytes().size(),
                static_cast<int>(front.body().size()), front.body().data());
    send_queue_.pop_front();
    sent_ = 0;
  }

  void handle_read() override {
    char buffer[4096];
    const ssize_t n = recv(buffer, sizeof buffer);
    if (n <= 0) return;
    // Frames are taken apart in step 4; here we only see that the login got an answer.
    std::printf("server answered: %zd bytes\n", n);
    answered_ = true;
    close();
  }

  void handle_close() override {
    std::printf("connection closed\n");
    close();
  }
  void handle_error() override {
    try {
      throw;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
    close();
  }
  bool answered() const { return answered_; }

 private:
  // Loop thread only, so no lock: in this step nothing else queues packets. The seed uses a
  // thread-safe queue.Queue because its heartbeat thread puts packets too; step 4 adds the lock.
  // A real client also bounds it (DouyuClient refuses past send_queue_limit bytes), so a server
  // that stops reading cannot make it grow for ever.
  std::deque<Packet> send_queue_;
  size_t sent_ = 0;  // bytes of the front packet already sent
  bool answered_ = false;
};

int main(int argc, char** argv) {
  const std::string usage =
      "usage: tutorial_step3_send_queue --port PORT [flags]\n" + samples::describe_flags(__FILE__);
  samples::init_sample(argc, argv, usage);
  if (FLAGS_port <= 0 || FLAGS_port > 65535) samples::usage_error("give --port", usage);

  asyncore::Loop loop;
  auto client =
      asyncore::make_dispatcher<DouyuSender>(loop, FLAGS_host, static_cast<uint16_t>(FLAGS_port));
  client->login(FLAGS_room);  // queued before the connect completed: that is fine
  loop.loop(5.0);
  return client->answered() ? 0 : 1;
}
