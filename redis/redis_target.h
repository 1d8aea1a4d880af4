// redis_target.h — RedisTarget: where a Redis sink writes, parsed from the --redis flag.
//
// Accepted forms:   HOST:PORT   HOST   [V6ADDR]:PORT   [V6ADDR]
//                   redis://[:PASSWORD@]HOST[:PORT][/DB]     (PASSWORD may be %XX-escaped)
// The password never appears in logs, errors or redacted(): parse() errors quote only the part
// that is wrong, and never the password part.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore::redis {

struct RedisTarget {
  std::string host;  // a name or an address; IPv6 without brackets ("::1")
  uint16_t port = 6379;
  std::string password;  // empty: no AUTH
  int db = 0;            // != 0: SELECT db after connecting

  // nullopt and a one-line reason in *error (when error is not null) on bad input.
  static std::optional<RedisTarget> parse(std::string_view text, std::string* error);
  // "redis://127.0.0.1:6380/2", "redis://:***@[::1]:6379/0": safe to log.
  std::string redacted() const;
  // "127.0.0.1:6380", "[::1]:6379": how errors name the server.
  std::string host_port() const;
};

}  // namespace asyncore::redis
