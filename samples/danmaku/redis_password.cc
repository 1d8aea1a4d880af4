#include "samples/danmaku/redis_password.h"

#include <cstring>
#include <string_view>

namespace danmaku {

void apply_redis_password_env(Options& options, const char* env_password) {
  if (!options.redis || !options.redis->password.empty()) return;
  if (env_password == nullptr || *env_password == '\0') return;
  options.redis->password = env_password;
}

int hide_redis_passwords(int argc, char** argv) {
  constexpr std::string_view kScheme = "redis://:";
  int hidden = 0;
  for (int i = 1; i < argc; ++i) {
    char* const arg = argv[i];
    const std::string_view text(arg);
    const size_t scheme = text.find(kScheme);
    if (scheme == std::string_view::npos) continue;
    const size_t begin = scheme + kScheme.size();
    // The password ends at the last '@' (RedisTarget::parse's rule: the host has none).
    const size_t end = text.rfind('@');
    if (end == std::string_view::npos || end <= begin) continue;
    std::memset(arg + begin, '*', end - begin);
    ++hidden;
  }
  return hidden;
}

}  // namespace danmaku
