#include "client/websocket.h"

#include <errno.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace asyncore {

namespace {

// Decoded payload waiting for read() beyond which the layer stops reading the stream below: a
// fast peer cannot make it buffer without bound (a message being reassembled is bounded by
// max_message_size, in wslay).
constexpr size_t kReadAhead = 256 * 1024;
// Room for control frames (pongs, a close) beyond max_queued_bytes before reading pauses.
constexpr size_t kControlSlack = 64 * 1024;
// Consumed prefix of the read buffers past which they are compacted.
constexpr size_t kCompactThreshold = 64 * 1024;

std::string peer_name(const LayerPeer& peer) {
  bool v6 = peer.host.find(':') != std::string::npos;
  return (v6 ? "[" + peer.host + "]" : peer.host) + ":" + std::to_string(peer.port);
}

// The Host header: the port only when it is not the scheme's default.
std::string host_header(const LayerPeer& peer) {
  bool v6 = peer.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + peer.host + "]" : peer.host;
  uint16_t default_port = peer.tls ? 443 : 80;
  if (peer.port != default_port && peer.port != 0) host += ":" + std::to_string(peer.port);
  return host;
}

// Copies from `buffer` at `*pos` into out; compacts or clears the buffer as it drains.
size_t take(std::string& buffer, size_t* pos, void* out, size_t size) {
  size_t n = std::min(size, buffer.size() - *pos);
  std::memcpy(out, buffer.data() + *pos, n);
  *pos += n;
  if (*pos == buffer.size()) {
    buffer.clear();
    *pos = 0;
  } else if (*pos > kCompactThreshold && *pos >= buffer.size() / 2) {
    buffer.erase(0, *pos);
    *pos = 0;
  }
  return n;
}

}  // namespace

// wslay's callbacks. While wslay_event_recv/send run, below_ is the stream to use.
struct WebSocketLayer::Callbacks {
  static ssize_t recv(wslay_event_context* ctx, uint8_t* buf, size_t len, int, void* user) {
    auto* self = static_cast<WebSocketLayer*>(user);
    if (self->in_pos_ < self->in_.size()) return take(self->in_, &self->in_pos_, buf, len);
    size_t waiting = self->stream_.size() - self->stream_pos_;
    for (const auto& m : self->messages_) waiting += m.data.size();
    if (self->below_ == nullptr || self->below_ended_ || waiting >= kReadAhead ||
        self->read_paused()) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    int err = 0;
    ssize_t n = self->below_->read(buf, len, &err);
    if (n > 0) return n;
    if (n == 0) {  // ended or broke: read() reports it once the payload before it is taken
      self->below_ended_ = true;
      self->below_err_ = err;
    }
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }

  static ssize_t send(wslay_event_context* ctx, const uint8_t* data, size_t len, int, void* user) {
    auto* self = static_cast<WebSocketLayer*>(user);
    if (self->discard_output_) return static_cast<ssize_t>(len);
    if (self->below_ == nullptr) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    int err = 0;
    size_t n = self->below_->write(data, len, &err);
    if (n > 0) return static_cast<ssize_t>(n);
    if (err != 0) {
      self->below_ended_ = true;
      self->below_err_ = err;
      wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    } else {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    }
    return -1;
  }

  static int genmask(wslay_event_context*, uint8_t* buf, size_t len, void*) {
    return RAND_bytes(buf, static_cast<int>(len)) == 1 ? 0 : -1;
  }

  static void on_msg(wslay_event_context*, const wslay_event_on_msg_recv_arg* arg, void* user) {
    auto* self = static_cast<WebSocketLayer*>(user);
    const char* msg = reinterpret_cast<const char*>(arg->msg);
    switch (arg->opcode) {
      case WSLAY_TEXT_FRAME:
      case WSLAY_BINARY_FRAME:
        if (self->options_.on_message) {
          self->messages_.push_back({arg->opcode == WSLAY_TEXT_FRAME
                                         ? WebSocketMessageType::kText
                                         : WebSocketMessageType::kBinary,
                                     std::string(msg, arg->msg_length)});
        } else {
          self->stream_.append(msg, arg->msg_length);
        }
        break;
      case WSLAY_CONNECTION_CLOSE:
        self->close_code_ =
            arg->status_code != 0 ? arg->status_code : uint16_t{WSLAY_CODE_NO_STATUS_RCVD};
        if (arg->msg_length > 2) self->close_reason_.assign(msg + 2, arg->msg_length - 2);
        break;
      default:  // ping (wslay queued the pong), pong
        break;
    }
  }
};

std::unique_ptr<WebSocketLayer> WebSocketLayer::client(WebSocketOptions options) {
  return std::unique_ptr<WebSocketLayer>(new WebSocketLayer(false, std::move(options)));
}

std::unique_ptr<WebSocketLayer> WebSocketLayer::server(WebSocketOptions options) {
  return std::unique_ptr<WebSocketLayer>(new WebSocketLayer(true, std::move(options)));
}

WebSocketLayer::WebSocketLayer(bool server, WebSocketOptions options)
    : server_(server), options_(std::move(options)) {}

WebSocketLayer::~WebSocketLayer() { reset(); }

void WebSocketLayer::reset() {
  if (ctx_ != nullptr) wslay_event_context_free(ctx_);
  ctx_ = nullptr;
  upgrade_client_.reset();
  upgrade_server_.reset();
  handshake_out_.clear();
  handshake_out_pos_ = 0;
  upgrade_head_ = HttpHead{};
  subprotocol_.clear();
  established_ = false;
  in_.clear();
  in_pos_ = 0;
  stream_.clear();
  stream_pos_ = 0;
  messages_.clear();
  below_ended_ = false;
  below_err_ = 0;
  end_reported_ = false;
  failure_.clear();
  close_pending_ = false;
  close_queued_ = false;
  close_code_ = 0;
  close_reason_.clear();
}

void WebSocketLayer::start(const LayerPeer& peer) {
  reset();
  peer_ = peer_name(peer);
  if (server_) {
    upgrade_server_.emplace(peer_, options_.subprotocols, options_.extra_headers);
    return;
  }
  UpgradeRequest request;
  request.host = options_.host.empty() ? host_header(peer) : options_.host;
  request.path = options_.path;
  request.origin = options_.origin;
  request.subprotocols = options_.subprotocols;
  request.extra_headers = options_.extra_headers;
  upgrade_client_.emplace(peer_, request);
  handshake_out_ = upgrade_client_->request();
}

bool WebSocketLayer::write_handshake(ByteStream& below) {
  while (handshake_out_pos_ < handshake_out_.size()) {
    int err = 0;
    size_t n = below.write(handshake_out_.data() + handshake_out_pos_,
                           handshake_out_.size() - handshake_out_pos_, &err);
    if (n == 0) {
      if (err != 0)
        throw std::system_error(err, std::generic_category(), "WebSocket upgrade with " + peer_);
      return false;
    }
    handshake_out_pos_ += n;
  }
  return true;
}

bool WebSocketLayer::handshake(ByteStream& below) {
  if (established_) return true;
  if (!upgrade_client_ && !upgrade_server_)
    throw std::logic_error("WebSocketLayer: handshake() before start()");
  if (!write_handshake(below)) return false;
  auto done = [this] {
    return upgrade_client_ ? upgrade_client_->done() : upgrade_server_->done();
  };
  char buf[4096];
  while (!done()) {
    int err = 0;
    ssize_t n = below.read(buf, sizeof buf, &err);
    if (n < 0) return false;
    if (n == 0) {
      if (err != 0)
        throw std::system_error(err, std::generic_category(), "WebSocket upgrade with " + peer_);
      throw std::runtime_error("WebSocket upgrade with " + peer_ +
                               " failed: connection closed during the upgrade");
    }
    std::string_view got(buf, static_cast<size_t>(n));
    if (upgrade_client_) {
      upgrade_client_->feed(got);
    } else if (upgrade_server_->feed(got)) {
      handshake_out_ = upgrade_server_->response();
      handshake_out_pos_ = 0;
    }
  }
  if (upgrade_server_) {
    // The 101, or the error response, goes out before anything else.
    if (!write_handshake(below)) return false;
    if (!upgrade_server_->accepted()) throw std::runtime_error(upgrade_server_->error());
    upgrade_head_ = upgrade_server_->request();
    subprotocol_ = upgrade_server_->subprotocol();
    in_ = upgrade_server_->take_leftover();
  } else {
    upgrade_head_ = upgrade_client_->response();
    subprotocol_ = upgrade_client_->subprotocol();
    in_ = upgrade_client_->take_leftover();
  }
  upgrade_client_.reset();
  upgrade_server_.reset();
  open_session();
  established_ = true;
  return true;
}

void WebSocketLayer::open_session() {
  wslay_event_callbacks callbacks{};
  callbacks.recv_callback = &Callbacks::recv;
  callbacks.send_callback = &Callbacks::send;
  callbacks.genmask_callback = server_ ? nullptr : &Callbacks::genmask;
  callbacks.on_msg_recv_callback = &Callbacks::on_msg;
  int rv = server_ ? wslay_event_context_server_init(&ctx_, &callbacks, this)
                   : wslay_event_context_client_init(&ctx_, &callbacks, this);
  if (rv != 0) {
    ctx_ = nullptr;
    throw std::runtime_error("WebSocket with " + peer_ + ": wslay context: out of memory");
  }
  wslay_event_config_set_max_recv_msg_length(ctx_, options_.max_message_size);
}

void WebSocketLayer::receive(ByteStream& below, int* err) {
  if (wslay_event_want_read(ctx_)) {
    below_ = &below;
    wslay_event_set_error(ctx_, 0);
    int rv = wslay_event_recv(ctx_);
    below_ = nullptr;
    if (rv == WSLAY_ERR_NOMEM)
      throw std::runtime_error("WebSocket with " + peer_ + ": out of memory");
    // Our recv callback never fails: a failure is wslay's frame parser refusing a frame (a
    // control frame fragmented or over 125 bytes, a bad length). wslay has queued a close
    // without a code and stopped reading; the payload before it is still delivered first.
    if (rv != 0 && failure_.empty()) {
      int ignored = 0;
      flush(below, &ignored);
      failure_ = "WebSocket frame from " + peer_ +
                 " malformed (a control frame fragmented or over 125 bytes, or a bad length): "
                 "connection failed";
    }
  }
  while (!messages_.empty()) {
    WebSocketMessage m = std::move(messages_.front());
    messages_.pop_front();
    options_.on_message(std::move(m));
  }
  // wslay stops reading without a close from the peer only when it failed the connection.
  if (failure_.empty() && !wslay_event_get_read_enabled(ctx_) &&
      !wslay_event_get_close_received(ctx_)) {
    failure_ = fail_protocol(below);
  }
  flush(below, err);  // pongs, the reply to a close, what on_message queued
}

std::string WebSocketLayer::fail_protocol(ByteStream& below) {
  int err = 0;
  flush(below, &err);
  if (!wslay_event_get_close_sent(ctx_)) {
    // The close wslay queued cannot go out now, and the connection ends with this error: run
    // the queue into nothing to learn its code.
    discard_output_ = true;
    wslay_event_send(ctx_);
    discard_output_ = false;
  }
  uint16_t code = wslay_event_get_status_code_sent(ctx_);
  std::string closed = ": closed with " + std::to_string(code);
  switch (code) {
    case WSLAY_CODE_MESSAGE_TOO_BIG:
      return "WebSocket message from " + peer_ + " over the " +
             std::to_string(options_.max_message_size) + "-byte limit" + closed +
             " (message too big)";
    case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
      return "WebSocket text message from " + peer_ + " not UTF-8" + closed + " (invalid payload)";
    default:
      return "WebSocket protocol error from " + peer_ + closed + " (bad frame)";
  }
}

ssize_t WebSocketLayer::read(ByteStream& below, void* buffer, size_t size, int* err) {
  *err = 0;
  if (ctx_ == nullptr || end_reported_) return end_reported_ ? 0 : -1;
  if (stream_pos_ < stream_.size())
    return static_cast<ssize_t>(take(stream_, &stream_pos_, buffer, size));
  if (failure_.empty()) receive(below, err);
  if (stream_pos_ < stream_.size())
    return static_cast<ssize_t>(take(stream_, &stream_pos_, buffer, size));
  if (!failure_.empty()) {  // after the payload that came before the violation
    end_reported_ = true;
    throw std::runtime_error(failure_);
  }
  if (*err == 0 && wslay_event_get_close_received(ctx_)) {
    if (wants_write()) return -1;  // the reply is not all out yet: has_pending() once it is
    end_reported_ = true;
    return 0;
  }
  if (*err != 0 || below_ended_) {
    if (close_code_ == 0) close_code_ = WSLAY_CODE_ABNORMAL_CLOSURE;
    if (*err == 0) *err = below_err_;
    end_reported_ = true;
    return 0;
  }
  return -1;
}

bool WebSocketLayer::closing() const {
  // wslay's own closes (the reply to the peer's, a refusal) stop its reading.
  return close_pending_ || close_queued_ || !wslay_event_get_read_enabled(ctx_) ||
         !wslay_event_get_write_enabled(ctx_);
}

bool WebSocketLayer::queue(uint8_t opcode, std::string_view data) {
  if (closing()) return false;
  wslay_event_msg msg{opcode, reinterpret_cast<const uint8_t*>(data.data()), data.size()};
  return wslay_event_queue_msg(ctx_, &msg) == 0;
}

size_t WebSocketLayer::write(ByteStream& below, const void* data, size_t size, int* err) {
  *err = 0;
  if (ctx_ == nullptr || size == 0) return 0;
  if (below_ended_ && below_err_ != 0) {
    *err = below_err_;
    return 0;
  }
  size_t queued = queued_bytes();
  if (queued >= options_.max_queued_bytes) {
    flush(below, err);
    queued = queued_bytes();
    if (*err != 0 || queued >= options_.max_queued_bytes) return 0;
  }
  size_t n = std::min(size, options_.max_queued_bytes - queued);
  if (!queue(options_.send_text ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
             std::string_view(static_cast<const char*>(data), n))) {
    *err = EPIPE;  // closing: nothing more may be sent, as after shutdown(SHUT_WR)
    return 0;
  }
  flush(below, err);
  return n;
}

void WebSocketLayer::flush(ByteStream& below, int* err) {
  *err = 0;
  if (!established_) {
    write_handshake(below);
    return;
  }
  if (ctx_ == nullptr) return;
  if (below_ended_ && below_err_ != 0) {
    *err = below_err_;
    return;
  }
  below_ = &below;
  wslay_event_set_error(ctx_, 0);
  int rv = wslay_event_send(ctx_);
  if (rv == 0 && close_pending_ && !wslay_event_want_write(ctx_)) {
    // What was queued before close() is out: now the close (wslay would send it first).
    close_pending_ = false;
    close_queued_ = wslay_event_queue_close(ctx_, close_status_,
                                            reinterpret_cast<const uint8_t*>(close_text_.data()),
                                            close_text_.size()) == 0;
    rv = wslay_event_send(ctx_);
  }
  below_ = nullptr;
  if (rv != 0) *err = below_err_ != 0 ? below_err_ : ENOMEM;
}

bool WebSocketLayer::wants_write() const {
  if (!established_) return handshake_out_pos_ < handshake_out_.size();
  return ctx_ != nullptr && (wslay_event_want_write(ctx_) != 0 ||
                             (close_pending_ && wslay_event_get_write_enabled(ctx_) != 0));
}

bool WebSocketLayer::read_paused() const {
  // Messages queued by write()/send_message() stop at max_queued_bytes; past it (and a margin),
  // the queue holds wslay's pongs for a peer that pings and does not read.
  return ctx_ != nullptr &&
         wslay_event_get_queued_msg_length(ctx_) >= options_.max_queued_bytes + kControlSlack;
}

bool WebSocketLayer::has_pending() const {
  if (ctx_ == nullptr || end_reported_) return false;
  if (stream_pos_ < stream_.size() || !failure_.empty()) return true;
  if (in_pos_ < in_.size() && wslay_event_want_read(ctx_)) return true;
  if (below_ended_) return true;  // read() reports the end
  return wslay_event_get_close_received(ctx_) && !wants_write();
}

void WebSocketLayer::shutdown(ByteStream& below) {
  if (ctx_ == nullptr) return;
  close(WSLAY_CODE_NORMAL_CLOSURE);
  int err = 0;
  flush(below, &err);
}

bool WebSocketLayer::send_message(WebSocketMessageType type, std::string_view data) {
  if (ctx_ == nullptr) return false;
  size_t queued = queued_bytes();
  if (queued > 0 && queued + data.size() > options_.max_queued_bytes) return false;
  return queue(type == WebSocketMessageType::kText ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME, data);
}

bool WebSocketLayer::ping(std::string_view payload) {
  if (ctx_ == nullptr || payload.size() > 125) return false;
  return queue(WSLAY_PING, payload);
}

bool WebSocketLayer::close(uint16_t code, std::string_view reason) {
  if (ctx_ == nullptr || closing() || reason.size() > 123) return false;
  // Queued after the messages already queued: flush() hands it to wslay once they are out.
  close_pending_ = true;
  close_status_ = code;
  close_text_ = reason;
  return true;
}

size_t WebSocketLayer::queued_bytes() const {
  return ctx_ != nullptr ? wslay_event_get_queued_msg_length(ctx_) : 0;
}

bool WebSocketLayer::close_sent() const {
  return ctx_ != nullptr && wslay_event_get_close_sent(ctx_) != 0;
}

}  // namespace asyncore
