// http_upgrade.h — the HTTP/1.1 upgrade that opens a WebSocket (RFC 6455, section 4), as pure
// code: bytes in, bytes out, no sockets. WebSocketLayer (client/websocket.h) drives it; it is
// separate so that the parser can be tested and fuzzed byte by byte.
//
// Tolerant in what it accepts (header names in any case, token lists, bare LF line ends, folded
// header lines, the response arriving one byte at a time), strict in what it checks (status 101,
// Upgrade: websocket, Connection: upgrade, the Sec-WebSocket-Accept digest). Errors are
// std::runtime_error whose text names the peer and the reason:
//   "WebSocket upgrade refused by 127.0.0.1:8080: HTTP 403 Forbidden"
//   "WebSocket upgrade refused by 127.0.0.1:8080: bad Sec-WebSocket-Accept"
//   "WebSocket upgrade refused by 127.0.0.1:8080: not HTTP"
//   "WebSocket upgrade refused by 127.0.0.1:8080: header block over 16384 bytes"
// The bytes that follow the header block are kept (leftover()): they are the first frames.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asyncore {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The default cap on a header block (request or response).
inline constexpr size_t kMaxUpgradeHeaderBytes = 16 * 1024;

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): the Sec-WebSocket-Accept value
// for a Sec-WebSocket-Key (OpenSSL's SHA-1 and base64).
std::string websocket_accept_value(std::string_view key);
// A fresh Sec-WebSocket-Key: base64 of 16 bytes from RAND_bytes.
std::string websocket_new_key();

// A parsed header block: the start line's parts and the header fields in order.
struct HttpHead {
  // Response: version "HTTP/1.1", status 101, reason "Switching Protocols".
  // Request: method "GET", target "/chat", version "HTTP/1.1".
  std::string method, target, version, reason;
  int status = 0;
  HttpHeaders headers;  // names as received, values without surrounding whitespace

  // The value of header `name` (any case); repeated headers joined with ", ". nullopt if absent.
  std::optional<std::string> get(std::string_view name) const;
  // True when header `name` holds `token` in its comma-separated list (any case).
  bool has_token(std::string_view name, std::string_view token) const;
};

// Collects a header block fed in pieces of any size; stops at the empty line.
class HttpHeadReader {
 public:
  explicit HttpHeadReader(size_t max_bytes = kMaxUpgradeHeaderBytes) : max_bytes_(max_bytes) {}
  // Appends bytes; true once the block is complete (further bytes go to leftover()). Throws
  // std::runtime_error("header block over N bytes") when the cap is passed first.
  bool feed(std::string_view data);
  bool done() const { return done_; }
  // The block without its final empty line (valid once done()).
  std::string_view block() const { return std::string_view(buffer_).substr(0, block_size_); }
  std::string_view received() const { return buffer_; }
  // The bytes after the block.
  std::string take_leftover();

 private:
  size_t max_bytes_;
  std::string buffer_;
  size_t scanned_ = 0;     // where the search for the empty line resumes
  size_t block_size_ = 0;  // the block's length, once done
  size_t body_start_ = 0;  // the first byte after the empty line
  bool done_ = false;
};

// Parses a complete block (HttpHeadReader::block()) into start line and headers. `response`
// selects the start line's form. Throws std::runtime_error("not HTTP" / "malformed header line")
// without a peer name; the callers below prefix it.
HttpHead parse_http_head(std::string_view block, bool response);

// What a client puts in its upgrade request.
struct UpgradeRequest {
  std::string host;  // the Host header's value (with ":port" when not the scheme's default)
  std::string path = "/";
  std::string origin;                     // Origin header, when not empty
  std::vector<std::string> subprotocols;  // Sec-WebSocket-Protocol offers, when any
  HttpHeaders extra_headers;              // added as given
};

// The client side: the request to send, then the response checked as it arrives.
class UpgradeClient {
 public:
  // `peer` ("host:port") names the server in errors. A fresh key is drawn here.
  UpgradeClient(std::string peer, const UpgradeRequest& request,
                size_t max_header_bytes = kMaxUpgradeHeaderBytes);
  const std::string& request() const { return request_; }
  const std::string& key() const { return key_; }

  // Feeds response bytes: true once the upgrade succeeded, false while more are needed. Throws
  // std::runtime_error "WebSocket upgrade refused by PEER: ..." when it cannot succeed.
  bool feed(std::string_view data);
  bool done() const { return done_; }
  // The response's head (valid once done()).
  const HttpHead& response() const { return head_; }
  // The subprotocol the server chose ("" when none).
  const std::string& subprotocol() const { return subprotocol_; }
  // The bytes after the response's header block: the first WebSocket frames.
  std::string take_leftover() { return reader_.take_leftover(); }

 private:
  [[noreturn]] void fail(const std::string& why) const;
  void check(const HttpHead& head);

  std::string peer_;
  std::string key_;
  std::string request_;
  std::vector<std::string> offered_;
  HttpHeadReader reader_;
  HttpHead head_;
  std::string subprotocol_;
  bool done_ = false;
};

// The server side: the request checked as it arrives, then the response to send.
class UpgradeServer {
 public:
  // `peer` names the client in errors; `subprotocols` are the ones this server speaks, in order
  // of preference (the first the client offers is chosen); `extra_headers` go into the 101.
  explicit UpgradeServer(std::string peer, std::vector<std::string> subprotocols = {},
                         HttpHeaders extra_headers = {},
                         size_t max_header_bytes = kMaxUpgradeHeaderBytes);

  // Feeds request bytes: true once the request is complete; then response() is the 101 or an
  // error response (400, or 426 for a wrong Sec-WebSocket-Version) and accepted() says which.
  // Throws std::runtime_error only for a block over the cap or bytes that are not HTTP (no
  // response is made then).
  bool feed(std::string_view data);
  bool done() const { return done_; }
  bool accepted() const { return accepted_; }
  // "WebSocket upgrade from PEER refused: <reason>" when not accepted.
  const std::string& error() const { return error_; }
  const std::string& response() const { return response_; }
  // The request's head: target (path), Origin, cookies... (valid once done()).
  const HttpHead& request() const { return head_; }
  const std::string& subprotocol() const { return subprotocol_; }
  std::string take_leftover() { return reader_.take_leftover(); }

 private:
  void refuse(int status, const std::string& reason, const std::string& why);
  void check(const HttpHead& head);

  std::string peer_;
  std::vector<std::string> subprotocols_;
  HttpHeaders extra_headers_;
  HttpHeadReader reader_;
  HttpHead head_;
  std::string response_;
  std::string error_;
  std::string subprotocol_;
  bool accepted_ = false;
  bool done_ = false;
};

}  // namespace asyncore
