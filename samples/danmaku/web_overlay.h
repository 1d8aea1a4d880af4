// web_overlay.h — douyu_danmaku --web: the browser overlay (asyncore::web, docs/WEB.md) on the
// rooms' loop. "/" serves the page built into the binary (samples/danmaku/web/overlay.html);
// "/events" streams every room message the CLI lets through (--types) as Server-Sent Events,
// `data: <the JSON line --output=jsonl prints>`.
//
// THREADS. Construct, close() and destroy on the loop thread (or while no loop runs). add() and
// caught_up() are for the rooms' worker threads: each thread frames events into a batch of its
// own, handed to the loop in one post (one wake-up) when it has caught up or the batch is large,
// like the stdout Printer. Nothing is formatted while no browser is subscribed. A slow browser
// never slows a room: the stream drops it past its buffer (EventStream).
// LIFETIME. add()/caught_up() stay safe after close(), until the object is destroyed: destroy
// it after the worker threads have been joined.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/loop.h"
#include "douyu/protocol/message.h"
#include "web/event_stream.h"
#include "web/http_server.h"

namespace danmaku {

class WebOverlay {
 public:
  // Listens on host:port (0: a free port). Throws std::runtime_error naming the address when it
  // cannot (in use, not this host's, ...).
  WebOverlay(asyncore::Loop& loop, const std::string& host, uint16_t port,
             asyncore::web::HttpServerOptions server_options = {},
             asyncore::web::EventStreamOptions stream_options = {});
  ~WebOverlay();
  WebOverlay(const WebOverlay&) = delete;
  WebOverlay& operator=(const WebOverlay&) = delete;

  // "http://127.0.0.1:8080/", "http://[::1]:8080/".
  const std::string& url() const { return url_; }

  // Worker threads: one message for the browsers (dropped at once while none is subscribed).
  void add(const asyncore::douyu::Message& message);
  // Worker threads: this thread has caught up; its batch goes to the browsers now.
  void caught_up();

  // Loop thread: closes the server and every browser's connection (the end of the run).
  void close();

 private:
  static constexpr size_t kBatchBytes = 32 * 1024;
  struct Batch {
    std::string framed;
    size_t events = 0;
  };
  Batch& my_batch();
  void hand_over(Batch& batch);

  const uint64_t id_;  // tells this overlay's thread-local batches from an earlier one's
  std::string url_;
  std::shared_ptr<asyncore::web::EventPublisher> publisher_;
  std::unique_ptr<asyncore::web::HttpServer> server_;  // null once closed
  std::mutex batches_mutex_;
  std::vector<std::unique_ptr<Batch>> batches_;  // one per worker thread; the vector is guarded
};

}  // namespace danmaku
