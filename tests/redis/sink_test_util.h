// sink_test_util.h — helpers for the RedisStreamSink tests: drive the Loop until a condition holds
// (with a deadline), read a stream back with hiredis' sync API, build Douyu messages.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/loop.h"
#include "douyu/protocol/message.h"
#include "redis/redis_stream_sink.h"
#include "redis_server_fixture.h"

namespace asyncore::redis::testing {

using asyncore::testing::RedisReplyPtr;
using asyncore::testing::RedisServer;
using Fields = std::vector<std::pair<std::string, std::string>>;

struct StreamEntry {
  std::string id;
  Fields fields;
};

// Runs loop turns until pred() holds; false when `deadline` passes first.
inline bool run_until(Loop& loop, const std::function<bool()>& pred,
                      std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    loop.poll(0.01);
  }
  return true;
}

// Stops the loop if it still runs after `deadline`: a test that expects loop() to return fails
// instead of hanging.
class Watchdog {
 public:
  Watchdog(Loop& loop, std::chrono::milliseconds deadline)
      : thread_([this, &loop, deadline] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, deadline, [this] { return done_; })) {
            fired_ = true;
            loop.stop();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false, fired_ = false;
  std::thread thread_;
};

inline RedisSinkOptions options_for(const RedisServer& server) {
  RedisSinkOptions o;
  o.target.host = "127.0.0.1";
  o.target.port = server.port();
  o.target.password = server.password();
  o.backoff_initial = std::chrono::milliseconds(20);
  o.backoff_max = std::chrono::milliseconds(200);
  o.connect_timeout = std::chrono::seconds(3);
  return o;
}

inline std::vector<StreamEntry> read_stream(const RedisServer& server, const std::string& key) {
  std::vector<StreamEntry> out;
  RedisReplyPtr r = server.command({"XRANGE", key, "-", "+"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    StreamEntry entry{std::string(e->element[0]->str, e->element[0]->len), {}};
    const redisReply* f = e->element[1];
    for (size_t j = 0; j + 1 < f->elements; j += 2) {
      entry.fields.emplace_back(std::string(f->element[j]->str, f->element[j]->len),
                                std::string(f->element[j + 1]->str, f->element[j + 1]->len));
    }
    out.push_back(std::move(entry));
  }
  return out;
}

inline long long stream_length(const RedisServer& server, const std::string& key) {
  RedisReplyPtr r = server.command({"XLEN", key});
  return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

inline Fields fields_of(const douyu::Message& m) {
  Fields out;
  for (auto [k, v] : m.fields()) out.emplace_back(std::string(k), std::string(v));
  return out;
}

// "type@=chatmsg/rid@=<room>/txt@=<room>-<n>/": txt tells the order.
inline douyu::Message chat(int room, int n) {
  return douyu::Message("type@=chatmsg/rid@=" + std::to_string(room) +
                        "/txt@=" + std::to_string(room) + "-" + std::to_string(n) + "/");
}

// Every stream douyu:<room> holds exactly the txt values room-first..room-(last-1), once each, in
// order; returns a description of the first difference ("" when none).
inline std::string check_rooms(const RedisServer& server, int rooms, int first, int last) {
  for (int room = 0; room < rooms; ++room) {
    const auto entries = read_stream(server, "douyu:" + std::to_string(room));
    if (entries.size() != static_cast<size_t>(last - first)) {
      return "room " + std::to_string(room) + ": " + std::to_string(entries.size()) +
             " entries, want " + std::to_string(last - first);
    }
    for (int n = first; n < last; ++n) {
      const Fields want = fields_of(chat(room, n));
      if (entries[n - first].fields != want) {
        return "room " + std::to_string(room) + " entry " + std::to_string(n - first) +
               " is not message " + std::to_string(n);
      }
    }
  }
  return "";
}

}  // namespace asyncore::redis::testing
