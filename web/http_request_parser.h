// http_request_parser.h — HttpRequestParser: HTTP/1.x requests out of a byte stream, on
// Node's http_parser (Debian's libhttp-parser-dev, 2.9), not by hand.
//
// Feed it whatever recv() returned; it stops after each complete request so the server answers
// requests one at a time, in order (pipelining), and reads no further than it answers:
//
//   HttpRequestParser parser;
//   size_t used = 0;
//   while (used < input.size()) {
//     const auto r = parser.parse(input.substr(used));
//     used += r.consumed;
//     if (r.status == HttpRequestParser::Status::kRequest) answer(parser.request());
//     else if (r.status == HttpRequestParser::Status::kError) { reply(parser.error()); break; }
//     else break;  // kNeedMore: every byte was taken, the request is not complete yet
//   }
//
// What is refused, and with which status (HttpParseError):
//   400  malformed request line or header (http_parser's error name is kept for the log line:
//        "HPE_INVALID_METHOD", "HPE_INVALID_VERSION", ...), a target that is not a path,
//        a method token http_parser does not know (known but unserved methods are the server's
//        405, not the parser's business)
//   431  the request line and headers together over max_header_bytes (default 8 KiB), counted
//        from the first byte of the request to the blank line that ends its head
//   413  a request with a body (Content-Length > 0, or Transfer-Encoding: chunked) on GET or
//        HEAD: neither takes one here (RFC 9110 §9.3.1 lets a server refuse it), and reading and
//        discarding bodies would be work for no client this server has. Other methods get their
//        405 from the server before any body is read.
// After an error the parser is spent: the server answers and closes the connection.
// A request with "Connection: upgrade" (or CONNECT) is parsed as a request whose keep_alive is
// false: nothing after it on the connection is HTTP.
//
// THREADS: none of its own; one parser per connection, used by one thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// http_parser.h stays out of this header: users of the server need not see it.
struct http_parser;
struct http_parser_settings;

namespace asyncore::web {

// One parsed request. Header names are lower-cased; values are as sent (leading and trailing
// blanks trimmed by http_parser). A header sent twice appears twice, in order.
struct HttpRequest {
  std::string method;  // "GET", "HEAD", "POST", ...
  std::string target;  // as sent: "/events?x=1"
  std::string path;    // "/events" (absolute-form "http://h/p" gives "/p"; empty gives "/")
  std::string query;   // "x=1" (no '?'); empty when there is none
  unsigned version_major = 1;
  unsigned version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;
  // http_should_keep_alive(): HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
  // "Connection: keep-alive". False for upgrade requests.
  bool keep_alive = true;

  // The first value of header `name` (lower-case), or nullptr.
  const std::string* header(std::string_view name) const;
};

struct HttpParseError {
  int status = 0;      // 400, 413 or 431
  std::string reason;  // for the log line: "HPE_INVALID_METHOD (invalid HTTP method)", ...
};

class HttpRequestParser {
 public:
  static constexpr size_t kDefaultMaxHeaderBytes = 8 * 1024;

  enum class Status {
    kNeedMore,  // every byte was consumed; the request is not complete yet
    kRequest,   // request() holds a complete request; `consumed` bytes were its last ones
    kError,     // error() says why; the parser takes nothing more
  };
  struct Result {
    Status status;
    size_t consumed;  // bytes of the input used (the rest belongs to the next request)
  };

  explicit HttpRequestParser(size_t max_header_bytes = kDefaultMaxHeaderBytes);
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses from `data` until one request is complete, more input is needed, or an error.
  Result parse(std::string_view data);

  // The last complete request (valid until the next parse()).
  const HttpRequest& request() const { return request_; }
  const HttpParseError& error() const { return error_; }
  // True between a request's first byte and its end: the connection is in the middle of one.
  bool in_request() const { return started_; }

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t n);
  static int on_header_field(http_parser* p, const char* at, size_t n);
  static int on_header_value(http_parser* p, const char* at, size_t n);
  static int on_headers_complete(http_parser* p);
  static int on_message_complete(http_parser* p);
  Result fail(int status, std::string reason, size_t consumed);
  Result fail_from_parser(size_t consumed);
  bool finish_target();  // splits target_ into path and query; false when it is not a path

  const size_t max_header_bytes_;
  std::unique_ptr<http_parser> parser_;
  std::unique_ptr<http_parser_settings> settings_;
  HttpRequest request_;  // being parsed, then the complete one
  bool started_ = false;
  bool head_done_ = false;  // headers complete for the request being parsed
  bool complete_ = false;   // on_message_complete ran in this parse()
  bool in_value_ = false;   // the last header callback was a value
  int refuse_status_ = 0;   // a callback's own refusal (413, 400 for the target)
  std::string refuse_reason_;
  size_t head_bytes_ = 0;  // bytes of the current request's head seen so far
  bool failed_ = false;
  bool spent_ = false;  // a request that ends the connection was returned
  HttpParseError error_;
};

}  // namespace asyncore::web
