#include "client/http_upgrade.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace asyncore {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters (header names, methods).
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// Calls fn(item) for each non-empty item of a comma-separated list.
template <class Fn>
void for_each_list_item(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// A valid Sec-WebSocket-Key: base64 of exactly 16 bytes.
bool valid_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==" || key[21] == '=') return false;
  unsigned char out[18];
  return EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(key.data()), 24) == 18;
}

}  // namespace

std::string websocket_accept_value(std::string_view key) {
  std::string input(key);
  input.append(kGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("WebSocket: SHA-1 unavailable");
  }
  return base64(digest, size);
}

std::string websocket_new_key() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("WebSocket: RAND_bytes failed");
  return base64(bytes, sizeof bytes);
}

// ---- HttpHead ----

std::optional<std::string> HttpHead::get(std::string_view name) const {
  std::optional<std::string> value;
  for (const auto& [n, v] : headers) {
    if (!iequals(n, name)) continue;
    if (value) {
      value->append(", ").append(v);
    } else {
      value = v;
    }
  }
  return value;
}

bool HttpHead::has_token(std::string_view name, std::string_view token) const {
  bool found = false;
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) {
      for_each_list_item(v, [&](std::string_view item) { found = found || iequals(item, token); });
    }
  }
  return found;
}

// ---- HttpHeadReader ----

bool HttpHeadReader::feed(std::string_view data) {
  if (done_) {
    buffer_.append(data);
    return true;
  }
  buffer_.append(data);
  // The block ends at an empty line: "\n\n" or "\n\r\n" (CRLF or bare LF line ends).
  for (size_t i = scanned_; i < buffer_.size(); ++i) {
    if (buffer_[i] != '\n' || i == 0) continue;
    size_t end = 0;
    if (buffer_[i - 1] == '\n') {
      end = i - 1;
    } else if (buffer_[i - 1] == '\r' && i >= 2 && buffer_[i - 2] == '\n') {
      end = i - 2;
    } else {
      continue;
    }
    if (i + 1 > max_bytes_) break;
    block_size_ = end + 1;  // keeps the last line's '\n'
    body_start_ = i + 1;
    done_ = true;
    return true;
  }
  scanned_ = buffer_.size();
  if (buffer_.size() > max_bytes_) {
    throw std::runtime_error("header block over " + std::to_string(max_bytes_) + " bytes");
  }
  return false;
}

std::string HttpHeadReader::take_leftover() {
  if (!done_) return {};
  std::string rest = buffer_.substr(body_start_);
  buffer_.resize(body_start_);
  return rest;
}

HttpHead parse_http_head(std::string_view block, bool response) {
  HttpHead head;
  std::vector<std::string_view> lines;
  while (!block.empty()) {
    size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    block.remove_prefix(nl + 1);
  }
  if (lines.empty()) throw std::runtime_error("not HTTP");
  std::string_view start = lines[0];
  size_t sp1 = start.find(' ');
  if (sp1 == std::string_view::npos) throw std::runtime_error("not HTTP");
  if (response) {
    // HTTP/1.1 101 Switching Protocols
    std::string_view version = start.substr(0, sp1);
    std::string_view rest = start.substr(sp1 + 1);
    std::string_view code = rest.substr(0, rest.find(' '));
    if (version.substr(0, 7) != "HTTP/1." || code.size() != 3 ||
        !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw std::runtime_error("not HTTP");
    }
    head.version = version;
    head.status = std::stoi(std::string(code));
    head.reason = rest.size() > 4 ? trim(rest.substr(4)) : std::string_view();
  } else {
    // GET /chat HTTP/1.1
    size_t sp2 = start.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || !is_token(start.substr(0, sp1)) ||
        start.substr(sp2 + 1, 5) != "HTTP/") {
      throw std::runtime_error("not HTTP");
    }
    head.method = start.substr(0, sp1);
    head.target = start.substr(sp1 + 1, sp2 - sp1 - 1);
    head.version = start.substr(sp2 + 1);
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && is_space(line.front())) {
      // Obsolete line folding: continues the previous field's value.
      if (head.headers.empty()) throw std::runtime_error("malformed header line");
      std::string& value = head.headers.back().second;
      value.append(value.empty() ? "" : " ").append(trim(line));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      throw std::runtime_error("malformed header line");
    }
    head.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
  }
  return head;
}

// ---- UpgradeClient ----

UpgradeClient::UpgradeClient(std::string peer, const UpgradeRequest& request,
                             size_t max_header_bytes)
    : peer_(std::move(peer)),
      key_(websocket_new_key()),
      offered_(request.subprotocols),
      reader_(max_header_bytes) {
  request_ = "GET " + (request.path.empty() ? std::string("/") : request.path) + " HTTP/1.1\r\n";
  request_ += "Host: " + request.host + "\r\n";
  request_ += "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  request_ += "Sec-WebSocket-Key: " + key_ + "\r\n";
  request_ += "Sec-WebSocket-Version: 13\r\n";
  if (!request.origin.empty()) request_ += "Origin: " + request.origin + "\r\n";
  if (!offered_.empty()) {
    request_ += "Sec-WebSocket-Protocol: ";
    for (size_t i = 0; i < offered_.size(); ++i) request_ += (i ? ", " : "") + offered_[i];
    request_ += "\r\n";
  }
  for (const auto& [name, value] : request.extra_headers) request_ += name + ": " + value + "\r\n";
  request_ += "\r\n";
}

void UpgradeClient::fail(const std::string& why) const {
  throw std::runtime_error("WebSocket upgrade refused by " + peer_ + ": " + why);
}

bool UpgradeClient::feed(std::string_view data) {
  if (done_) {
    reader_.feed(data);
    return true;
  }
  // A server that answers something else is told apart early (before the cap, too).
  auto check_prefix = [this] {
    std::string_view got = reader_.received();
    constexpr std::string_view kPrefix = "HTTP/";
    if (got.substr(0, kPrefix.size()) != kPrefix.substr(0, std::min(got.size(), kPrefix.size()))) {
      fail("not HTTP");
    }
  };
  try {
    reader_.feed(data);
  } catch (const std::runtime_error& e) {
    check_prefix();
    fail(e.what());
  }
  check_prefix();
  if (!reader_.done()) return false;
  HttpHead head;
  try {
    head = parse_http_head(reader_.block(), /*response=*/true);
  } catch (const std::runtime_error& e) {
    fail(e.what());
  }
  check(head);
  head_ = std::move(head);
  done_ = true;
  return true;
}

void UpgradeClient::check(const HttpHead& head) {
  if (head.status != 101) {
    fail("HTTP " + std::to_string(head.status) + (head.reason.empty() ? "" : " " + head.reason));
  }
  if (!head.has_token("Upgrade", "websocket")) fail("no Upgrade: websocket");
  if (!head.has_token("Connection", "upgrade")) fail("no Connection: upgrade");
  auto accept = head.get("Sec-WebSocket-Accept");
  if (!accept || *accept != websocket_accept_value(key_)) fail("bad Sec-WebSocket-Accept");
  if (head.get("Sec-WebSocket-Extensions")) fail("unrequested Sec-WebSocket-Extensions");
  if (auto chosen = head.get("Sec-WebSocket-Protocol")) {
    if (std::find(offered_.begin(), offered_.end(), *chosen) == offered_.end()) {
      fail("unoffered Sec-WebSocket-Protocol " + *chosen);
    }
    subprotocol_ = *chosen;
  }
}

// ---- UpgradeServer ----

UpgradeServer::UpgradeServer(std::string peer, std::vector<std::string> subprotocols,
                             HttpHeaders extra_headers, size_t max_header_bytes)
    : peer_(std::move(peer)),
      subprotocols_(std::move(subprotocols)),
      extra_headers_(std::move(extra_headers)),
      reader_(max_header_bytes) {}

bool UpgradeServer::feed(std::string_view data) {
  if (done_) {
    reader_.feed(data);
    return true;
  }
  auto not_http = [this](const std::string& why) {
    throw std::runtime_error("WebSocket upgrade from " + peer_ + " refused: " + why);
  };
  try {
    reader_.feed(data);
  } catch (const std::runtime_error& e) {
    not_http(e.what());
  }
  // The method is a token followed by a space: anything else is not HTTP (e.g. a TLS hello).
  std::string_view got = reader_.received();
  std::string_view method = got.substr(0, got.find(' '));
  if (!std::all_of(method.begin(), method.end(), is_tchar) ||
      (method.size() == got.size() && method.size() > 32)) {
    not_http("not HTTP");
  }
  if (!reader_.done()) return false;
  try {
    head_ = parse_http_head(reader_.block(), /*response=*/false);
  } catch (const std::runtime_error& e) {
    not_http(e.what());
  }
  check(head_);
  done_ = true;
  return true;
}

void UpgradeServer::refuse(int status, const std::string& reason, const std::string& why) {
  std::string body = why + "\n";
  response_ = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  if (status == 426) response_ += "Sec-WebSocket-Version: 13\r\n";
  response_ += "Connection: close\r\nContent-Type: text/plain\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
  error_ = "WebSocket upgrade from " + peer_ + " refused: " + why;
  accepted_ = false;
}

void UpgradeServer::check(const HttpHead& head) {
  if (head.method != "GET") return refuse(400, "Bad Request", "method " + head.method + " not GET");
  if (head.version != "HTTP/1.1") return refuse(400, "Bad Request", "not HTTP/1.1");
  if (!head.has_token("Upgrade", "websocket")) {
    return refuse(400, "Bad Request", "no Upgrade: websocket");
  }
  if (!head.has_token("Connection", "upgrade")) {
    return refuse(400, "Bad Request", "no Connection: upgrade");
  }
  if (head.get("Sec-WebSocket-Version").value_or("") != "13") {
    return refuse(426, "Upgrade Required", "Sec-WebSocket-Version not 13");
  }
  auto key = head.get("Sec-WebSocket-Key");
  if (!key || !valid_key(*key)) return refuse(400, "Bad Request", "bad Sec-WebSocket-Key");
  if (auto offered = head.get("Sec-WebSocket-Protocol")) {
    for (const auto& mine : subprotocols_) {
      bool match = false;
      for_each_list_item(*offered, [&](std::string_view item) { match = match || item == mine; });
      if (match) {
        subprotocol_ = mine;
        break;
      }
    }
  }
  response_ = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  response_ += "Sec-WebSocket-Accept: " + websocket_accept_value(*key) + "\r\n";
  if (!subprotocol_.empty()) response_ += "Sec-WebSocket-Protocol: " + subprotocol_ + "\r\n";
  for (const auto& [name, value] : extra_headers_) response_ += name + ": " + value + "\r\n";
  response_ += "\r\n";
  accepted_ = true;
}

}  // namespace asyncore
