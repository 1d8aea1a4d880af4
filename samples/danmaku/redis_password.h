// redis_password.h — keeping the Redis password off the command line that every user can read.
//
// A password in --redis=redis://:PASSWORD@HOST is visible to anyone on the machine (ps,
// /proc/PID/cmdline). Two remedies: the password can come from the environment instead
// (DOUYU_REDIS_PASSWORD, used when --redis gives none), and main() overwrites a password given on
// the command line with '*' as soon as the flags are parsed — which leaves it readable for the
// few milliseconds between exec and that point, hence the environment variable for anything
// shared.
#pragma once

#include "samples/danmaku/options.h"

namespace danmaku {

inline constexpr const char* kRedisPasswordEnv = "DOUYU_REDIS_PASSWORD";

// `options.redis`'s password becomes `env_password` (the variable's value; null when unset) when
// --redis gave none; one given in --redis wins.
void apply_redis_password_env(Options& options, const char* env_password);

// Overwrites in place, with '*' (the same length: the argument area cannot grow), the PASSWORD of
// every argument holding "redis://:PASSWORD@". Returns how many it hid.
int hide_redis_passwords(int argc, char** argv);

}  // namespace danmaku
