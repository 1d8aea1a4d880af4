// redis_errors.h — how the sink reads Redis error replies: which mean "already there", which are
// worth a retry on a new connection, and which are final.
#pragma once

#include <string_view>

namespace asyncore::redis {

// XADD with an id not above the stream's top (already written, or the stream moved ahead).
inline bool is_id_too_small_error(std::string_view error) {
  return error.starts_with("ERR") && error.find("equal or smaller") != std::string_view::npos;
}

// Errors a server gives while it cannot serve now but will (restarting, loading its AOF, a busy
// script, a replica, a failed fsync or memory pressure): retried on a new connection with backoff.
inline bool is_transient_error(std::string_view error) {
  for (std::string_view prefix :
       {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "MISCONF", "OOM", "READONLY", "CLUSTERDOWN"}) {
    if (error.starts_with(prefix)) return true;
  }
  return false;
}

// The server wants a password (or another one): retrying with the same settings cannot help.
inline bool is_auth_error(std::string_view error) {
  return error.starts_with("NOAUTH") || error.starts_with("WRONGPASS") ||
         error.find("invalid password") != std::string_view::npos;
}

}  // namespace asyncore::redis
