#include "web/http_connection.h"

#include <glog/logging.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <sstream>
#include <utility>

#include "web/http_response.h"

namespace asyncore::web {

namespace {
constexpr size_t kReadSize = size_t{16} * 1024;
}

HttpConnection::HttpConnection(Loop& loop, Socket sock, const Address& peer,
                               std::shared_ptr<HttpRoutes> routes)
    : BufferedDispatcher(loop, std::move(sock)),
      routes_(std::move(routes)),
      peer_(peer.to_string()),
      parser_(routes_->options.max_header_bytes) {
  routes_->connections.insert(this);
  arm(Deadline::kHead);  // the first request's head is due within header_timeout of the connection
}

HttpConnection::~HttpConnection() {
  disarm();
  routes_->connections.erase(this);
}

bool HttpConnection::readable() {
  // Reading requests pauses while their answers wait to be sent; a stream's or a closing
  // connection's input is read only to be discarded (and to see the peer's end of stream).
  return state_ != State::kReading || pending() < routes_->options.max_pending_response_bytes;
}

void HttpConnection::handle_read() {
  char buffer[kReadSize];
  const ssize_t n = recv(buffer, sizeof buffer);
  if (n <= 0 || state_ != State::kReading) return;  // end of stream: handle_close() ran
  in_.append(buffer, static_cast<size_t>(n));
  process_input();
}

void HttpConnection::handle_write() {
  initiate_send();
  if (state_ == State::kClosing) {
    maybe_shutdown_output();
  } else if (state_ == State::kReading && in_pos_ < in_.size() &&
             pending() < routes_->options.max_pending_response_bytes) {
    process_input();  // requests that waited for their predecessors' answers to leave
  }
  update_deadline();
}

void HttpConnection::process_input() {
  const HttpServerOptions& o = routes_->options;
  while (state_ == State::kReading && is_open() && in_pos_ < in_.size() &&
         pending() < o.max_pending_response_bytes) {
    const auto r = parser_.parse(std::string_view(in_).substr(in_pos_));
    in_pos_ += r.consumed;
    if (r.status == HttpRequestParser::Status::kRequest) {
      answer(parser_.request());
    } else if (r.status == HttpRequestParser::Status::kError) {
      refuse(parser_.error().status, parser_.error().reason);
    } else {
      break;
    }
  }
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > 0) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  update_deadline();
}

void HttpConnection::update_deadline() {
  if (!is_open()) return;
  Deadline want = Deadline::kNone;
  switch (state_) {
    case State::kStreaming:
      break;
    case State::kClosing:
      want = pending() > 0 ? Deadline::kStall : Deadline::kLinger;
      break;
    case State::kReading:
      if (parser_.in_request()) {
        // A request has begun: its head is due within header_timeout of its first byte, however
        // slowly the rest trickles in.
        want = Deadline::kHead;
      } else if (pending() > 0 || in_pos_ < in_.size()) {
        want = Deadline::kStall;  // answering, or requests held back behind the answers
      } else {
        want = Deadline::kIdle;  // waiting for the next request
      }
      break;
  }
  if (want == Deadline::kNone) {
    disarm();
  } else if (want != deadline_) {
    arm(want);
  }
}

void HttpConnection::answer(const HttpRequest& r) {
  ++requests_;
  disarm();  // the next deadline follows from what answering leaves (update_deadline())
  const bool head_only = r.method == "HEAD";
  if (r.method != "GET" && !head_only) {
    refuse(405, "method " + r.method + " on " + r.path);
    return;
  }
  if (auto it = routes_->resources.find(r.path); it != routes_->resources.end()) {
    ResponseHead head;
    head.content_type = it->second.content_type;
    head.content_length = it->second.body.size();
    head.keep_alive = r.keep_alive;
    head.no_cache = true;
    queue(format_head(head));
    if (!head_only) queue(it->second.body);
    if (!r.keep_alive && is_open()) {
      VLOG(1) << "http: " << peer_ << ": " << r.method << " " << r.path
              << " without keep-alive; closing after the response";
      finish("the request did not ask for keep-alive");
    }
    return;
  }
  if (auto it = routes_->streams.find(r.path); it != routes_->streams.end()) {
    start_stream(r, it->second);
    return;
  }
  refuse(404, "no such path: " + r.path.substr(0, 200), head_only);
}

void HttpConnection::start_stream(const HttpRequest& r, const std::shared_ptr<EventStream>& s) {
  ResponseHead head;
  head.content_type = "text/event-stream";
  head.no_cache = true;
  head.extra.emplace_back("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  if (r.method == "HEAD") {
    head.keep_alive = false;  // no length: the (empty) body would end at the close
    queue(format_head(head));
    if (is_open()) finish("HEAD of an event stream");
    return;
  }
  // No Content-Length: the body is the stream, ended by a close (so "keep-alive" only echoes
  // the request; a client that asked to close is told so). Last-Event-ID is ignored: the stream
  // has no ids and no replay (docs/WEB.md).
  head.keep_alive = r.keep_alive;
  queue(format_head(head));
  if (!is_open()) return;
  state_ = State::kStreaming;
  in_.clear();
  in_pos_ = 0;
  stream_ = s;
  const std::string* last_id = r.header("last-event-id");
  LOG(INFO) << "http: " << name() << " subscribed to " << r.path
            << (last_id ? " (Last-Event-ID " + last_id->substr(0, 32) + " ignored: no replay)"
                        : std::string());
  s->add(this);
}

void HttpConnection::refuse(int status, const std::string& why, bool head_only) {
  LOG(INFO) << "http: " << peer_ << ": " << status << " " << status_reason(status) << " (" << why
            << "); closing";
  queue(error_response(status, head_only));
  if (is_open()) finish(std::to_string(status) + " sent");
}

void HttpConnection::finish(const std::string& why) {
  state_ = State::kClosing;
  close_reason_ = why;
  in_.clear();
  in_pos_ = 0;
  maybe_shutdown_output();
  update_deadline();
}

void HttpConnection::maybe_shutdown_output() {
  if (state_ != State::kClosing || output_shut_ || pending() > 0 || !is_open()) return;
  output_shut_ = true;
  shutdown_output();  // FIN after the response; the peer's end of stream closes us
}

void HttpConnection::handle_close() {
  switch (state_) {
    case State::kClosing:
      VLOG(1) << "http: " << peer_ << " closed after the final response (" << close_reason_ << ")";
      break;
    case State::kStreaming:
      LOG(INFO) << "http: " << name() << " left the event stream";
      break;
    case State::kReading:
      if (parser_.in_request()) {
        LOG(INFO) << "http: " << peer_ << " closed the connection in the middle of a request";
      } else {
        VLOG(1) << "http: " << peer_ << " closed its connection after " << requests_
                << " request(s)";
      }
      break;
  }
  close();
}

void HttpConnection::close() {
  disarm();
  if (stream_) {
    stream_->remove(this);
    stream_.reset();
  }
  routes_->connections.erase(this);
  BufferedDispatcher::close();
}

void HttpConnection::drop() { close(); }

void HttpConnection::arm(Deadline d) {
  disarm();
  const HttpServerOptions& o = routes_->options;
  const double seconds = d == Deadline::kHead     ? o.header_timeout
                         : d == Deadline::kLinger ? o.linger_timeout
                                                  : o.idle_timeout;
  deadline_ = d;
  if (d == Deadline::kStall) stall_mark_ = taken();
  // `this` is safe: close() and the destructor cancel the timer, on the thread that runs it.
  timer_ = loop().call_later(seconds, [this, d] {
    timer_ = 0;
    deadline_ = Deadline::kNone;
    on_deadline(d);
  });
}

void HttpConnection::queue(std::string_view bytes) {
  queued_ += bytes.size();
  send(bytes);
}

uint64_t HttpConnection::taken() const { return queued_ - unsent(); }

size_t HttpConnection::unsent() const {
  // The kernel's send queue counts too: the socket becomes writable again only once a third of
  // its (autotuned, megabytes) buffer is free, so a client reading slowly but steadily may take
  // bytes for longer than the deadline without a handle_write() here to show it.
  int queued = 0;
  if (::ioctl(fileno(), SIOCOUTQ, &queued) != 0 || queued < 0) queued = 0;
  return pending() + static_cast<size_t>(queued);
}

void HttpConnection::disarm() {
  if (timer_ != 0) loop().cancel(timer_);
  timer_ = 0;
  deadline_ = Deadline::kNone;
}

void HttpConnection::on_deadline(Deadline d) {
  const HttpServerOptions& o = routes_->options;
  switch (d) {
    case Deadline::kHead: {
      std::ostringstream why;
      why << "no complete request head within " << o.header_timeout << " s";
      refuse(408, why.str());
      return;
    }
    case Deadline::kIdle:
      if (unsent() > 0) {  // the last answer is still in the kernel's queue: not idle yet
        arm(Deadline::kStall);
        return;
      }
      LOG(INFO) << "http: " << peer_ << ": idle for " << o.idle_timeout
                << " s on a keep-alive connection; closing";
      break;
    case Deadline::kStall:
      if (taken() > stall_mark_) {  // the client took bytes since: not stalled, wait on
        arm(Deadline::kStall);
        return;
      }
      if (unsent() == 0) {  // it took the last of them: the state's own deadline from now
        update_deadline();
        return;
      }
      LOG(INFO) << "http: " << peer_ << ": took no byte of its response for " << o.idle_timeout
                << " s (" << unsent() << " bytes not taken); closing";
      break;
    case Deadline::kLinger:
      LOG(INFO) << "http: " << peer_ << ": no end of stream within " << o.linger_timeout
                << " s after the final response (" << close_reason_ << "); closing";
      break;
    case Deadline::kNone:
      return;
  }
  close();
}

}  // namespace asyncore::web
