#include "web/http_response.h"

namespace asyncore::web {

std::string_view status_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string format_head(const ResponseHead& head) {
  std::string out = "HTTP/1.1 " + std::to_string(head.status) + " ";
  out += status_reason(head.status);
  out += "\r\nServer: asyncore-web\r\n";
  if (!head.content_type.empty()) {
    out += "Content-Type: ";
    out += head.content_type;
    out += "\r\n";
  }
  if (head.content_length)
    out += "Content-Length: " + std::to_string(*head.content_length) + "\r\n";
  if (head.no_cache) out += "Cache-Control: no-cache\r\n";
  for (const auto& [name, value] : head.extra) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += head.keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  return out;
}

std::string error_response(int status, bool head_only) {
  const std::string body = std::to_string(status) + " " + std::string(status_reason(status)) + "\n";
  ResponseHead head;
  head.status = status;
  head.content_type = "text/plain; charset=utf-8";
  head.content_length = body.size();
  head.keep_alive = false;
  if (status == 405) head.extra.emplace_back("Allow", "GET, HEAD");
  std::string out = format_head(head);
  if (!head_only) out += body;
  return out;
}

}  // namespace asyncore::web
