// endpoint.h — where a DouyuClient connects: tcp://, ws:// or wss:// HOST:PORT/PATH.
//
// Douyu's web page and every maintained client use wss://danmuproxy.douyu.com:8501..8506/ (the
// same frames as over TCP, carried in binary WebSocket messages); the historic TCP endpoint is
// tcp://openbarrage.douyutv.com:8601. Pure code: no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::douyu {

enum class Transport { kTcp, kWs, kWss };

struct Endpoint {
  Transport transport = Transport::kTcp;
  std::string host;
  uint16_t port = 0;
  std::string path = "/";  // the WebSocket request target (ws/wss only)

  // "wss://danmuproxy.douyu.com:8501/", "tcp://127.0.0.1:8601"; IPv6 hosts in brackets.
  std::string to_string() const;
  bool operator==(const Endpoint&) const = default;
};

// The endpoint a real room uses today: wss://danmuproxy.douyu.com:8501/.
Endpoint douyu_default_endpoint();
// The port range Douyu's WebSocket proxy listens on; a wss client rotates through it.
inline constexpr uint16_t kDouyuWssFirstPort = 8501, kDouyuWssLastPort = 8506;

const char* transport_scheme(Transport transport);  // "tcp", "ws", "wss"

// Parses "SCHEME://HOST[:PORT][/PATH]". SCHEME is tcp, ws or wss (case-insensitive); HOST a
// name, an IPv4 literal or a bracketed IPv6 literal; PORT 1..65535, default 8601 (tcp), 80 (ws),
// 443 (wss); PATH (ws/wss) defaults to "/", and must be empty or "/" for tcp. No user info, no
// fragment. nullopt with *error saying what is wrong.
std::optional<Endpoint> parse_endpoint(std::string_view url, std::string* error);

}  // namespace asyncore::douyu
