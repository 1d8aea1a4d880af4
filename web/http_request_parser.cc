#include "web/http_request_parser.h"

#include <http_parser.h>

#include <algorithm>
#include <cctype>

namespace asyncore::web {

namespace {

HttpRequestParser* self(http_parser* p) { return static_cast<HttpRequestParser*>(p->data); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

HttpRequestParser::HttpRequestParser(size_t max_header_bytes)
    : max_header_bytes_(max_header_bytes == 0 ? 1 : max_header_bytes),
      parser_(std::make_unique<http_parser>()),
      settings_(std::make_unique<http_parser_settings>()) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
  http_parser_settings_init(settings_.get());
  settings_->on_message_begin = &on_message_begin;
  settings_->on_url = &on_url;
  settings_->on_header_field = &on_header_field;
  settings_->on_header_value = &on_header_value;
  settings_->on_headers_complete = &on_headers_complete;
  settings_->on_message_complete = &on_message_complete;
}

HttpRequestParser::~HttpRequestParser() = default;

HttpRequestParser::Result HttpRequestParser::parse(std::string_view data) {
  if (failed_) return {Status::kError, 0};
  if (spent_) return {Status::kNeedMore, data.size()};  // after a last request: ignored
  if (HTTP_PARSER_ERRNO(parser_.get()) == HPE_PAUSED) http_parser_pause(parser_.get(), 0);
  complete_ = false;
  size_t used = 0;
  while (used < data.size()) {
    size_t chunk = data.size() - used;
    const bool counting = !head_done_;
    if (counting) {
      // The head may not pass max_header_bytes_: give http_parser no more than what is left.
      if (head_bytes_ >= max_header_bytes_) {
        return fail(431, "request head over " + std::to_string(max_header_bytes_) + " bytes", used);
      }
      chunk = std::min(chunk, max_header_bytes_ - head_bytes_);
    }
    const size_t n = http_parser_execute(parser_.get(), settings_.get(), data.data() + used, chunk);
    const http_errno err = HTTP_PARSER_ERRNO(parser_.get());
    if (counting && !head_done_) head_bytes_ += n;
    // A stop in on_headers_complete leaves the head's last byte (its '\n') uncounted.
    used += err == HPE_CB_headers_complete && n < chunk ? n + 1 : n;
    if (complete_) {
      // Paused in on_message_complete (or stopped in on_headers_complete for a method that
      // is answered before its body): the next request starts on the next parse().
      head_bytes_ = 0;
      head_done_ = false;
      started_ = false;
      if (!request_.keep_alive) spent_ = true;
      return {Status::kRequest, used};
    }
    if (err != HPE_OK) {
      if (refuse_status_ != 0) return fail(refuse_status_, refuse_reason_, used);
      return fail_from_parser(used);
    }
    if (n < chunk) return fail_from_parser(used);  // stopped without saying why: refuse
  }
  return {Status::kNeedMore, used};
}

HttpRequestParser::Result HttpRequestParser::fail(int status, std::string reason, size_t consumed) {
  failed_ = true;
  error_ = {status, std::move(reason)};
  return {Status::kError, consumed};
}

HttpRequestParser::Result HttpRequestParser::fail_from_parser(size_t consumed) {
  const http_errno err = HTTP_PARSER_ERRNO(parser_.get());
  // http_parser's own header limit (80 KiB when built) is a head too large, like ours.
  const int status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
  return fail(status, std::string(http_errno_name(err)) + " (" + http_errno_description(err) + ")",
              consumed);
}

bool HttpRequestParser::finish_target() {
  HttpRequest& r = request_;
  if (r.target == "*" || r.target.empty()) return false;  // OPTIONS * is not a path we serve
  http_parser_url url;
  http_parser_url_init(&url);
  if (http_parser_parse_url(r.target.data(), r.target.size(), 0, &url) != 0) return false;
  auto field = [&](int f) -> std::string {
    if ((url.field_set & (1 << f)) == 0) return {};
    return r.target.substr(url.field_data[f].off, url.field_data[f].len);
  };
  r.path = field(UF_PATH);
  if (r.path.empty()) r.path = "/";
  if (r.path[0] != '/') return false;
  r.query = field(UF_QUERY);
  return true;
}

int HttpRequestParser::on_message_begin(http_parser* p) {
  HttpRequestParser& s = *self(p);
  s.request_ = HttpRequest{};
  s.started_ = true;
  s.in_value_ = false;
  return 0;
}

int HttpRequestParser::on_url(http_parser* p, const char* at, size_t n) {
  self(p)->request_.target.append(at, n);
  return 0;
}

int HttpRequestParser::on_header_field(http_parser* p, const char* at, size_t n) {
  HttpRequestParser& s = *self(p);
  auto& headers = s.request_.headers;
  if (headers.empty() || s.in_value_) headers.emplace_back();  // a new header starts
  s.in_value_ = false;
  headers.back().first += lower(std::string_view(at, n));
  return 0;
}

int HttpRequestParser::on_header_value(http_parser* p, const char* at, size_t n) {
  HttpRequestParser& s = *self(p);
  s.in_value_ = true;
  s.request_.headers.back().second.append(at, n);
  return 0;
}

int HttpRequestParser::on_headers_complete(http_parser* p) {
  HttpRequestParser& s = *self(p);
  HttpRequest& r = s.request_;
  s.head_done_ = true;
  r.method = http_method_str(static_cast<http_method>(p->method));
  r.version_major = p->http_major;
  r.version_minor = p->http_minor;
  r.keep_alive = http_should_keep_alive(p) != 0 && p->upgrade == 0;
  if (!s.finish_target()) {
    s.refuse_status_ = 400;
    s.refuse_reason_ = "request target is not a path: '" + r.target.substr(0, 64) + "'";
    return -1;
  }
  const bool get_or_head = p->method == HTTP_GET || p->method == HTTP_HEAD;
  if (!get_or_head) {
    // Answered (405) and closed before its body, which is never read: the request ends here.
    r.keep_alive = false;
    s.complete_ = true;
    return -1;
  }
  const bool has_body =
      (p->flags & F_CHUNKED) != 0 || ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > 0);
  if (has_body) {
    s.refuse_status_ = 413;
    s.refuse_reason_ = r.method + " with a body";
    return -1;
  }
  return 0;
}

int HttpRequestParser::on_message_complete(http_parser* p) {
  HttpRequestParser& s = *self(p);
  if (p->upgrade) s.request_.keep_alive = false;
  s.complete_ = true;
  http_parser_pause(p, 1);  // one request per parse(): the server answers it before the next
  return 0;
}

}  // namespace asyncore::web
