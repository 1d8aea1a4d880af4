// http_connection.h — HttpConnection: one client of the HTTP server, a BufferedDispatcher.
//
// Why BufferedDispatcher and not AsyncChat: the request framing is http_parser's (an AsyncChat
// terminator would go unused), and what a connection needs from below is an output buffer that
// never blocks and whose size it can read (pending()), for the event stream's per-browser bound.
//
// ONE CONNECTION'S LIFE
//   reading    recv → HttpRequestParser → one request at a time, in order (pipelining); while
//              more than max_pending_response_bytes wait to be sent, readable() is false and no
//              request is parsed: TCP pushes back on a client that sends faster than it reads.
//              A static resource is answered (keep-alive per the request); an event stream
//              switches to `streaming`; anything wrong gets a final response (`closing`).
//              Deadlines: the head of a request within header_timeout (408), the next request of
//              a keep-alive connection within idle_timeout (closed). While answers wait to be
//              sent (or requests wait behind them) the connection is not idle: it is closed only
//              if the client takes no byte for idle_timeout (a slow reader is never cut while
//              its response moves).
//   streaming  text/event-stream: the EventStream writes events; input is read and discarded.
//   closing    a final response with "Connection: close" is being sent (under the same
//              no-progress deadline); once sent, the write side is shut (shutdown_output()),
//              input is read and discarded until the client's end of stream or linger_timeout,
//              then the connection closes. No reset can destroy the response.
// Every close for a reason logs one line naming the peer and the reason.
//
// THREADS: loop thread only. OWNERSHIP: made by HttpServer with make_dispatcher (the loop's map
// owns it while open); the server keeps a raw pointer in its registry until close() removes it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "client/buffered_dispatcher.h"
#include "core/loop.h"
#include "web/event_stream.h"
#include "web/http_request_parser.h"
#include "web/http_server_options.h"

namespace asyncore::web {

class HttpConnection;

// What the server's connections share with it (and keep alive while they live).
struct HttpRoutes {
  struct Resource {
    std::string body;
    std::string content_type;
  };
  HttpServerOptions options;
  std::map<std::string, Resource, std::less<>> resources;                    // by path
  std::map<std::string, std::shared_ptr<EventStream>, std::less<>> streams;  // by path
  std::unordered_set<HttpConnection*> connections;                           // open ones
};

class HttpConnection : public BufferedDispatcher, public EventSubscriber {
 public:
  HttpConnection(Loop& loop, Socket sock, const Address& peer, std::shared_ptr<HttpRoutes> routes);
  ~HttpConnection() override;

  // ---- Dispatcher ----
  bool readable() override;
  void handle_read() override;
  void handle_write() override;
  void handle_close() override;
  void close() override;

  // ---- EventSubscriber ----
  size_t buffered() const override { return pending(); }
  void write(std::string_view bytes) override { queue(bytes); }
  void drop() override;
  std::string name() const override { return "browser " + peer_; }

  enum class State { kReading, kStreaming, kClosing };
  State state() const { return state_; }
  // Shuts the write side once everything queued is sent, then waits for the peer's end of stream
  // (at most linger_timeout); `why` goes in the log line. Used for final responses.
  void finish(const std::string& why);

 private:
  void process_input();  // parses and answers buffered requests
  void answer(const HttpRequest& r);
  void refuse(int status, const std::string& why, bool head_only = false);
  void start_stream(const HttpRequest& r, const std::shared_ptr<EventStream>& stream);
  // The one deadline a connection runs at a time, by what it waits for.
  enum class Deadline {
    kNone,    // streaming (the EventStream bounds a browser that does not read)
    kHead,    // a request's head (header_timeout; 408)
    kIdle,    // the next request of a keep-alive connection (idle_timeout)
    kStall,   // the client taking bytes of a response (idle_timeout without any taken)
    kLinger,  // the client's end of stream after the final response (linger_timeout)
  };
  void update_deadline();              // arms the deadline the connection's state calls for
  void queue(std::string_view bytes);  // send(), counted in queued_
  size_t unsent() const;  // response bytes not yet taken by the client (ours + the kernel's)
  // Response bytes the client has taken so far: only grows. (Not unsent(), which answering the
  // requests held back refills while the client reads.)
  uint64_t taken() const;
  void arm(Deadline d);
  void disarm();
  void on_deadline(Deadline d);
  void maybe_shutdown_output();  // closing: once everything is sent

  std::shared_ptr<HttpRoutes> routes_;
  const std::string peer_;
  HttpRequestParser parser_;
  std::string in_;  // unparsed input is in_[in_pos_, ...)
  size_t in_pos_ = 0;
  State state_ = State::kReading;
  std::shared_ptr<EventStream> stream_;  // kStreaming: where it is subscribed
  std::string close_reason_;             // kClosing: for the log line
  bool output_shut_ = false;
  Deadline deadline_ = Deadline::kNone;  // the one armed (timer_), if any
  uint64_t queued_ = 0;                  // every byte ever queued (queue())
  uint64_t stall_mark_ = 0;              // kStall: taken() when it was armed
  TimerId timer_ = 0;
  uint64_t requests_ = 0;
};

}  // namespace asyncore::web
