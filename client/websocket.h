// websocket.h — WebSocket (RFC 6455) as a StreamLayer (core/layer.h) on wslay: any Dispatcher,
// AsyncChat or DouyuClient speaks WebSocket once the layer is installed with set_layer().
//
//   auto ws = WebSocketLayer::client({.path = "/sub"});
//   WebSocketLayer* socket_ws = ws.get();                 // for close codes, ping(), messages
//   d->set_layer(std::move(ws));                          // before or after connect()
//   d->connect("example.com", 80);                        // handle_connect() after the 101
//
// Two ways to use it:
//  * BYTE STREAM (default): recv() returns the payloads of the data messages, concatenated in
//    order (message boundaries are not kept: a protocol with its own framing, such as Douyu's,
//    works whether the peer puts several frames in one message or one frame across several);
//    each send() accepted becomes one message (binary by default, text with
//    WebSocketOptions::send_text).
//  * MESSAGES: with WebSocketOptions::on_message set, each data message goes to it whole, with
//    its type (text or binary), and recv() returns only -1 (nothing) or 0 (the end): call recv()
//    from handle_read() to drive the layer. send_message() sends one text or binary message.
//
// wslay does the framing, the client's masking (keys from RAND_bytes), reassembly of fragmented
// messages, the UTF-8 check of text messages, pong replies to pings and the reply to a close.
//
// Ending: the peer's close is answered (same code) and then recv() returns 0 (handle_close());
// close_code()/close_reason() tell what the peer said (1006 when the TCP connection ended without
// a close message). close(code, reason) starts the close handshake from this side; recv()
// returns 0 when the peer's reply arrives. shutdown() (Dispatcher::shutdown_output(), close())
// sends close 1000. A protocol violation by the peer (a bad frame, invalid UTF-8, a message over
// max_message_size) is answered with the close code RFC 6455 names (1002, 1007, 1009) and recv()
// throws std::runtime_error saying which, e.g. "WebSocket message from 127.0.0.1:8080 over the
// 16777216-byte limit: closed with 1009 (message too big)".
//
// THREADS: the loop's thread only, as the dispatcher that drives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/http_upgrade.h"
#include "core/layer.h"

struct wslay_event_context;

namespace asyncore {

enum class WebSocketMessageType { kText, kBinary };

struct WebSocketMessage {
  WebSocketMessageType type = WebSocketMessageType::kBinary;
  std::string data;
  bool is_text() const { return type == WebSocketMessageType::kText; }
};

struct WebSocketOptions {
  // ---- client ----
  std::string path = "/";  // request target, with any query: "/chat?room=1"
  // Host header; empty: the host given to connect(), plus ":port" when it is not the default
  // (80, or 443 with TLS below).
  std::string host{};
  std::string origin{};  // Origin header, when not empty
  // ---- both ----
  // Client: offered in Sec-WebSocket-Protocol. Server: the ones it speaks, by preference.
  std::vector<std::string> subprotocols{};
  HttpHeaders extra_headers{};  // client: in the request; server: in the 101 response
  // A longer incoming message is refused: close 1009 and a std::runtime_error from recv().
  size_t max_message_size = 16 * 1024 * 1024;
  // send() bytes go out as text messages (the caller sends valid UTF-8) instead of binary.
  bool send_text = false;
  // Back-pressure: while this many payload bytes wait to be written, send() returns 0 and
  // send_message() false (a message is taken whole when the queue is empty).
  size_t max_queued_bytes = 4 * 1024 * 1024;
  // Messages mode: each data message goes here, whole, instead of to recv(). Runs on the loop's
  // thread from inside recv(); it may call send_message(), ping() and close().
  std::function<void(WebSocketMessage&&)> on_message{};
};

class WebSocketLayer : public StreamLayer {
 public:
  static std::unique_ptr<WebSocketLayer> client(WebSocketOptions options = {});
  static std::unique_ptr<WebSocketLayer> server(WebSocketOptions options = {});
  ~WebSocketLayer() override;
  WebSocketLayer(const WebSocketLayer&) = delete;
  WebSocketLayer& operator=(const WebSocketLayer&) = delete;

  bool is_server() const { return server_; }
  const WebSocketOptions& options() const { return options_; }

  // ---- messages ----
  // Queues one message; false when it cannot be sent: back-pressure (queued_bytes() at the
  // bound), not established, or closing. The dispatcher writes it when the socket is writable.
  bool send_message(WebSocketMessageType type, std::string_view data);
  bool send_text(std::string_view text) { return send_message(WebSocketMessageType::kText, text); }
  bool send_binary(std::string_view data) {
    return send_message(WebSocketMessageType::kBinary, data);
  }
  // A ping with up to 125 bytes of payload (the peer's pong is absorbed); false as above.
  bool ping(std::string_view payload = {});
  // Starts the close handshake with `code` (1000 normal, 1001 going away, 3000-4999 the
  // application's) and a reason of up to 123 bytes, after the messages already queued. Nothing
  // can be sent after it. false when closing already, or the reason is too long.
  bool close(uint16_t code = 1000, std::string_view reason = {});
  // Payload bytes queued and not yet written.
  size_t queued_bytes() const;

  // ---- state ----
  // The subprotocol agreed in the upgrade ("" when none).
  const std::string& subprotocol() const { return subprotocol_; }
  // The upgrade request (server) or response (client) head: path, headers.
  const HttpHead& upgrade_head() const { return upgrade_head_; }
  // The close code the peer sent: 0 while none came, 1005 when its close had no code, 1006 when
  // the connection ended without one.
  uint16_t close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_; }
  bool close_received() const { return close_code_ != 0 && close_code_ != 1006; }
  bool close_sent() const;

  // ---- StreamLayer ----
  void start(const LayerPeer& peer) override;
  bool handshake(ByteStream& below) override;
  bool established() const override { return established_; }
  ssize_t read(ByteStream& below, void* buffer, size_t size, int* err) override;
  size_t write(ByteStream& below, const void* data, size_t size, int* err) override;
  void flush(ByteStream& below, int* err) override;
  bool wants_write() const override;
  bool has_pending() const override;
  bool read_paused() const override;
  void shutdown(ByteStream& below) override;

 private:
  WebSocketLayer(bool server, WebSocketOptions options);
  struct Callbacks;  // wslay's callbacks, reaching into the layer

  void reset();
  void open_session();                        // the wslay context, once upgraded
  void receive(ByteStream& below, int* err);  // wslay_event_recv, then the messages
  // After wslay failed the connection (its close queued): sends the close, best effort, and
  // returns the error's text.
  std::string fail_protocol(ByteStream& below);
  bool closing() const;  // a close is queued, sent or pending: no more messages
  bool queue(uint8_t opcode, std::string_view data);
  bool write_handshake(ByteStream& below);  // true when handshake_out_ is all written

  const bool server_;
  WebSocketOptions options_;
  std::string peer_;  // "host:port", for errors

  // Upgrade.
  std::optional<UpgradeClient> upgrade_client_;
  std::optional<UpgradeServer> upgrade_server_;
  std::string handshake_out_;
  size_t handshake_out_pos_ = 0;
  HttpHead upgrade_head_;
  std::string subprotocol_;
  bool established_ = false;

  // Session.
  wslay_event_context* ctx_ = nullptr;
  ByteStream* below_ = nullptr;  // set while wslay runs a callback
  std::string in_;               // bytes read past the upgrade's header block, fed first
  size_t in_pos_ = 0;
  std::string stream_;  // byte-stream mode: payload waiting for read()
  size_t stream_pos_ = 0;
  std::deque<WebSocketMessage> messages_;  // messages mode: waiting for on_message
  bool below_ended_ = false;               // the stream below ended or broke
  int below_err_ = 0;
  bool end_reported_ = false;  // read() returned 0 (or threw the protocol error)
  bool discard_output_ = false;
  // close(): wslay sends a queued close before queued messages, so it waits here until they
  // are written.
  bool close_pending_ = false;
  bool close_queued_ = false;
  uint16_t close_status_ = 0;
  std::string close_text_;
  std::string failure_;  // the protocol violation read() throws once the payload before it is out
                         // // fail_protocol(): wslay's output goes nowhere
  uint16_t close_code_ = 0;
  std::string close_reason_;
};

}  // namespace asyncore
