// endpoint.cc — parsing and printing tcp:// ws:// wss:// endpoints.
#include "douyu/protocol/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace asyncore::douyu {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool valid_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

std::optional<Endpoint> fail(std::string* error, std::string why) {
  if (error) *error = std::move(why);
  return std::nullopt;
}

}  // namespace

const char* transport_scheme(Transport transport) {
  switch (transport) {
    case Transport::kTcp:
      return "tcp";
    case Transport::kWs:
      return "ws";
    case Transport::kWss:
      return "wss";
  }
  return "?";
}

std::string Endpoint::to_string() const {
  std::string out = transport_scheme(transport);
  out += "://";
  bool v6 = host.find(':') != std::string::npos;
  out += v6 ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  if (transport != Transport::kTcp) out += path;
  return out;
}

Endpoint douyu_default_endpoint() {
  return Endpoint{Transport::kWss, "danmuproxy.douyu.com", kDouyuWssFirstPort, "/"};
}

std::optional<Endpoint> parse_endpoint(std::string_view url, std::string* error) {
  const std::string quoted = "\"" + std::string(url) + "\"";
  size_t sep = url.find("://");
  if (sep == std::string_view::npos)
    return fail(error, "URL " + quoted + " has no scheme: write tcp://, ws:// or wss://");
  Endpoint ep;
  std::string scheme = lower(url.substr(0, sep));
  if (scheme == "tcp") {
    ep.transport = Transport::kTcp;
    ep.port = 8601;
  } else if (scheme == "ws") {
    ep.transport = Transport::kWs;
    ep.port = 80;
  } else if (scheme == "wss") {
    ep.transport = Transport::kWss;
    ep.port = 443;
  } else {
    return fail(error, "URL " + quoted + ": unknown scheme \"" + scheme + "\" (tcp, ws or wss)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("#") != std::string_view::npos)
    return fail(error, "URL " + quoted + ": a fragment (#...) is not allowed");
  size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? "" : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos)
    return fail(error, "URL " + quoted + ": user information (user@) is not allowed");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return fail(error, "URL " + quoted + ": unterminated [ in the host");
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(error, "URL " + quoted + ": junk after ]");
      port_text = after.substr(1);
      if (port_text.empty()) return fail(error, "URL " + quoted + ": empty port");
    }
    in6_addr parsed{};  // brackets hold an IPv6 literal, and nothing else (RFC 3986)
    if (::inet_pton(AF_INET6, ep.host.c_str(), &parsed) != 1)
      return fail(error, "URL " + quoted + ": bad IPv6 address \"" + ep.host + "\"");
  } else {
    size_t colon = authority.rfind(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return fail(error, "URL " + quoted + ": empty port");
    }
    if (ep.host.empty()) return fail(error, "URL " + quoted + " has no host");
    if (!std::all_of(ep.host.begin(), ep.host.end(), valid_host_char))
      return fail(error, "URL " + quoted + ": bad host \"" + ep.host + "\"");
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535)
      return fail(error,
                  "URL " + quoted + ": bad port \"" + std::string(port_text) + "\" (1..65535)");
    ep.port = static_cast<uint16_t>(value);
  }
  if (ep.transport == Transport::kTcp) {
    if (!path.empty() && path != "/")
      return fail(error, "URL " + quoted + ": a tcp:// URL has no path");
  } else {
    ep.path = path.empty() ? "/" : std::string(path);
    if (ep.path.front() == '?') ep.path.insert(0, "/");
    for (char c : ep.path)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
        return fail(error, "URL " + quoted + ": the path has a space or control character");
  }
  return ep;
}

}  // namespace asyncore::douyu
