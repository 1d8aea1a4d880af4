// transport.cc — TLS and WebSocket under a Douyu connection.
#include "douyu/client/transport.h"

#include <stdexcept>

#include "client/websocket.h"

namespace asyncore::douyu {

void use_client_transport(Dispatcher& d, Transport transport, const std::string& path,
                          std::shared_ptr<TlsContext> tls) {
  if (transport == Transport::kWss) {
    if (!tls) throw std::invalid_argument("wss:// needs a TLS client context");
    d.start_tls_client(std::move(tls));
  }
  if (transport == Transport::kTcp) {
    d.set_layer(nullptr);
    return;
  }
  WebSocketOptions ws;
  ws.path = path;
  // As Douyu's web page sends it: a proxy may refuse an upgrade from no page at all.
  ws.origin = "https://www.douyu.com";
  d.set_layer(WebSocketLayer::client(ws));
}

void use_server_transport(Dispatcher& d, Transport transport, std::shared_ptr<TlsContext> tls) {
  if (transport == Transport::kWss) {
    if (!tls) throw std::invalid_argument("wss:// needs a TLS server context");
    d.start_tls_server(std::move(tls));
  }
  if (transport != Transport::kTcp) d.set_layer(WebSocketLayer::server(WebSocketOptions{}));
}

}  // namespace asyncore::douyu
