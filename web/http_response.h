// http_response.h — the bytes of an HTTP/1.1 response head, and the short error responses the
// server sends before it closes (docs/WEB.md, "Statuses").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asyncore::web {

// "OK", "Not Found", ... for the statuses this server sends; "Unknown" otherwise.
std::string_view status_reason(int status);

struct ResponseHead {
  int status = 200;
  std::string_view content_type;         // empty: no Content-Type
  std::optional<size_t> content_length;  // nullopt: none (a stream, ended by close)
  bool keep_alive = true;                // false: "Connection: close"
  bool no_cache = false;                 // "Cache-Control: no-cache"
  std::vector<std::pair<std::string_view, std::string_view>> extra;  // more headers, as given
};

// "HTTP/1.1 200 OK\r\nContent-Type: ...\r\n...\r\n\r\n".
std::string format_head(const ResponseHead& head);

// A complete error response: head plus a one-line text body "404 Not Found\n", with
// "Connection: close" and, for 405, "Allow: GET, HEAD". `head_only` (a HEAD request): no body.
std::string error_response(int status, bool head_only = false);

}  // namespace asyncore::web
