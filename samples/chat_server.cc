// chat_server — a line-based chat room on AsyncChat: every line a client sends is broadcast to all
// other clients, prefixed with the sender's address ("127.0.0.1:40312: hello"). Joins and leaves
// are announced as "* 127.0.0.1:40312 joined" / "* ... left".
//
//   chat_server [--host 127.0.0.1] [--port 0]
//
// Prints "listening on HOST:PORT" as its first line on stdout; stops cleanly on SIGINT/SIGTERM.
// A client that stops reading is disconnected once 1 MiB waits for it (AsyncChat's high-water
// mark); a line longer than 64 KiB closes its sender.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "client/async_chat.h"
#include "samples/flags.h"
#include "samples/sample_util.h"

DEFINE_string(host, "127.0.0.1", "address to listen on");
DEFINE_int32(port, 0, "port; 0 picks a free one");

namespace {

using asyncore::Address;
using asyncore::Loop;
using asyncore::Socket;

constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kHighWaterMark = 1024 * 1024;

class ChatSession;

// The room: weak references, so a session closed by any path (peer, high-water mark, shutdown)
// is simply skipped and pruned.
class Room {
 public:
  void join(const std::shared_ptr<ChatSession>& s);
  void broadcast(const ChatSession* from, std::string_view line);

 private:
  std::vector<std::weak_ptr<ChatSession>> sessions_;
};

class ChatSession : public asyncore::AsyncChat {
 public:
  ChatSession(Loop& loop, Socket sock, Room& room)
      : AsyncChat(loop, std::move(sock)), room_(room), name_(addr().to_string()) {
    set_terminator("\n");
    set_high_water_mark(kHighWaterMark);
  }
  const std::string& name() const { return name_; }

  void collect_incoming_data(std::string_view data) override {
    if (line_.size() + data.size() > kMaxLine) {
      LOG(WARNING) << name_ << ": line longer than " << kMaxLine << " bytes, closing";
      handle_close();  // AsyncChat then drops the rest of the input: no found_terminator()
      return;
    }
    line_.append(data);
  }
  void found_terminator() override {
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    room_.broadcast(this, name_ + ": " + line_ + "\n");
    line_.clear();
  }
  void handle_close() override {
    bool was_open = is_open();
    close();
    if (was_open) room_.broadcast(this, "* " + name_ + " left\n");
  }

 private:
  Room& room_;
  std::string name_;
  std::string line_;
};

void Room::join(const std::shared_ptr<ChatSession>& s) {
  broadcast(s.get(), "* " + s->name() + " joined\n");
  sessions_.push_back(s);
}

void Room::broadcast(const ChatSession* from, std::string_view line) {
  std::erase_if(sessions_, [](const std::weak_ptr<ChatSession>& w) {
    auto s = w.lock();
    return !s || !s->is_open();
  });
  // push() may close a session (high-water mark): iterate over a snapshot.
  std::vector<std::shared_ptr<ChatSession>> snapshot;
  snapshot.reserve(sessions_.size());
  for (auto& w : sessions_) snapshot.push_back(w.lock());
  for (auto& s : snapshot) {
    if (s && s.get() != from && s->is_open()) s->push(line);
  }
}

class ChatServer : public asyncore::Dispatcher {
 public:
  ChatServer(Loop& loop, const Address& addr) : Dispatcher(loop) {
    create_socket(addr.family());
    set_reuse_addr();
    bind(addr);
    listen(4096);
  }
  void handle_accepted(Socket sock, const Address&) override {
    room_.join(asyncore::make_dispatcher<ChatSession>(loop(), std::move(sock), room_));
  }

 private:
  Room room_;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: chat_server [flags]\n" + samples::describe_flags(__FILE__) +
                            "  --help             this text\n\n" + samples::glog_flags_help();
  if (!samples::init_sample(argc, argv, usage).empty()) samples::usage_error("no arguments", usage);
  if (FLAGS_port < 0 || FLAGS_port > 65535) {
    samples::usage_error("--port: not a port number: " + std::to_string(FLAGS_port), usage);
  }
  samples::raise_fd_limit();
  Loop loop;
  samples::StopOnSignals stop(loop);
  try {
    Address addr = Address::ip(FLAGS_host, static_cast<uint16_t>(FLAGS_port));
    auto server = asyncore::make_dispatcher<ChatServer>(loop, addr);
    std::printf("listening on %s\n", Address::local_of(server->fileno()).to_string().c_str());
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat_server: %s\n", e.what());
    return 1;
  }
  loop.loop();
  return 0;
}
