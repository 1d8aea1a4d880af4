// transport.h — the layers under a Douyu connection, client and simulator alike:
//   tcp://  the socket itself (the historic endpoint, PROTOCOL.md §3)
//   ws://   WebSocket (client/websocket.h): the same frames, carried in binary messages
//   wss://  WebSocket over TLS (core/tls.h): what Douyu's web page uses today
// Douyu frames are a byte stream across WebSocket messages (several frames in one message, one
// frame across several messages), so the frame decoder above does not change.
#pragma once

#include <memory>
#include <string>

#include "core/dispatcher.h"
#include "core/tls.h"
#include "douyu/protocol/endpoint.h"

namespace asyncore::douyu {

// Installs the client side of `transport` on `d` before it connects: TLS (wss) with `tls`, which
// must be a client context (nullptr for tcp/ws), and a WebSocket client layer asking for `path`
// (with the Origin of Douyu's web page, https://www.douyu.com).
void use_client_transport(Dispatcher& d, Transport transport, const std::string& path,
                          std::shared_ptr<TlsContext> tls);

// Installs the server side on an accepted connection, in handle_accepted(): TLS (wss) with the
// server context `tls`, then a WebSocket server layer.
void use_server_transport(Dispatcher& d, Transport transport, std::shared_ptr<TlsContext> tls);

}  // namespace asyncore::douyu
