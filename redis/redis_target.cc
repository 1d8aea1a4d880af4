#include "redis/redis_target.h"

#include <charconv>

namespace asyncore::redis {
namespace {

bool fail(std::string* error, std::string text) {
  if (error) *error = std::move(text);
  return false;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX-decoding of the URL's password. Errors do not quote it.
bool percent_decode(std::string_view in, std::string* out, std::string* error) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return fail(error, "bad %-escape in the redis password (value not shown)");
    }
    const int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0)
      return fail(error, "bad %-escape in the redis password (value not shown)");
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

template <typename T>
bool parse_number(std::string_view text, T min, T max, T* out) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return false;
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

// HOST[:PORT] or [V6]:PORT into target.
bool parse_host_port(std::string_view text, std::string_view whole, RedisTarget* target,
                     std::string* error) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(error, "missing ']' after the IPv6 address in '" + std::string(whole) + "'");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return fail(error, "expected ':PORT' after ']' in '" + std::string(whole) + "'");
      }
      port = rest.substr(1);
      if (port.empty()) return fail(error, "empty port in '" + std::string(whole) + "'");
    }
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return fail(error, "IPv6 addresses need brackets, e.g. [::1]:6379 (got '" +
                             std::string(whole) + "')");
    }
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) return fail(error, "empty port in '" + std::string(whole) + "'");
    }
  }
  if (host.empty()) return fail(error, "missing host in '" + std::string(whole) + "'");
  if (!port.empty() && !parse_number<uint16_t>(port, 1, 65535, &target->port)) {
    return fail(error,
                "bad port '" + std::string(port) + "' (1..65535) in '" + std::string(whole) + "'");
  }
  target->host = std::string(host);
  return true;
}

}  // namespace

std::optional<RedisTarget> RedisTarget::parse(std::string_view text, std::string* error) {
  RedisTarget target;
  constexpr std::string_view kScheme = "redis://";
  if (text.empty()) {
    fail(error, "empty redis target (expected HOST:PORT or redis://[:PASSWORD@]HOST:PORT[/DB])");
    return std::nullopt;
  }
  if (text.find("://") != std::string_view::npos && !text.starts_with(kScheme)) {
    fail(error, "only redis:// URLs are supported (rediss:// and unix sockets are not)");
    return std::nullopt;
  }
  if (!text.starts_with(kScheme)) {
    if (text.find_first_of("@/") != std::string_view::npos) {
      fail(error, "a password or database needs the URL form redis://:PASSWORD@HOST:PORT/DB");
      return std::nullopt;
    }
    if (!parse_host_port(text, text, &target, error)) return std::nullopt;
    return target;
  }
  std::string_view rest = text.substr(kScheme.size());
  // Userinfo: everything before the LAST '@' of the authority (a password may hold '@').
  const size_t slash =
      rest.find('/', rest.rfind('@') == std::string_view::npos ? 0 : rest.rfind('@'));
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  const size_t at = authority.rfind('@');
  // What errors may quote: the URL without its userinfo.
  std::string safe = std::string(kScheme) + (at == std::string_view::npos ? "" : "***@") +
                     std::string(authority.substr(at == std::string_view::npos ? 0 : at + 1));
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      fail(error, "the password goes after a ':' (redis://:PASSWORD@HOST), in " + safe);
      return std::nullopt;
    }
    if (colon != 0) {
      fail(error, "user names (ACL) are not supported; use redis://:PASSWORD@HOST, in " + safe);
      return std::nullopt;
    }
    if (!percent_decode(userinfo.substr(1), &target.password, error)) return std::nullopt;
    if (target.password.empty()) {
      fail(error, "empty password in " + safe);
      return std::nullopt;
    }
    authority = authority.substr(at + 1);
  }
  if (!parse_host_port(authority, safe, &target, error)) return std::nullopt;
  if (!path.empty() && !parse_number<int>(path, 0, 1'000'000, &target.db)) {
    fail(error, "bad database '" + std::string(path) + "' (a number >= 0) in " + safe);
    return std::nullopt;
  }
  return target;
}

std::string RedisTarget::host_port() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string RedisTarget::redacted() const {
  return "redis://" + std::string(password.empty() ? "" : ":***@") + host_port() + "/" +
         std::to_string(db);
}

}  // namespace asyncore::redis
