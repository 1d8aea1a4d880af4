// http_server_options.h — HttpServerOptions: the HTTP server's limits and timeouts (one struct,
// shared by the server and its connections).
#pragma once

#include <cstddef>

#include "web/http_request_parser.h"

namespace asyncore::web {

struct HttpServerOptions {
  // Request line and headers of one request, in bytes; past it: 431 and close.
  size_t max_header_bytes = HttpRequestParser::kDefaultMaxHeaderBytes;
  // Seconds a request's head may take to arrive, counted from the connection (first request) or
  // from its first byte (later ones); past it: 408 and close (slowloris).
  double header_timeout = 10;
  // Seconds a keep-alive connection may wait, idle, for its next request; then it is closed. Also
  // how long a response may wait for the client to take any of its bytes (a client that stopped
  // reading); a response that keeps moving, however slowly, is never cut.
  double idle_timeout = 30;
  // Connections at once (event streams included); the next ones get 503 and are closed.
  size_t max_connections = 1024;
  // After a final response (an error status, Connection: close) the write side is shut and the
  // peer's end of stream awaited, so that unread input does not turn the close into a reset that
  // could destroy the response: this many seconds at most.
  double linger_timeout = 2;
  // A connection stops reading requests while this many response bytes wait to be sent
  // (pipelined requests are not parsed faster than their answers leave).
  size_t max_pending_response_bytes = 256 * 1024;
};

}  // namespace asyncore::web
