// address.h — Address: one socket address (IPv4, IPv6 or Unix-domain), the C++ form of the
// (host, port) tuples and path strings asyncore passes to bind() and connect().
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore {

class Address {
 public:
  Address() = default;  // family() == AF_UNSPEC: "no address yet"
  Address(const sockaddr* sa, socklen_t len);

  // Numeric host ("127.0.0.1", "::1", "[::1]"); nullopt when it is not a literal address.
  static std::optional<Address> parse(std::string_view host, uint16_t port);
  // Like parse(), but throws std::invalid_argument naming the host.
  static Address ip(std::string_view host, uint16_t port);
  static Address ipv4_loopback(uint16_t port = 0);
  static Address ipv6_loopback(uint16_t port = 0);
  // Unix-domain socket path (at most 107 bytes); a leading '@' means the abstract namespace.
  static Address unix_path(std::string_view path);

  // The address a socket is bound to / connected to (getsockname / getpeername).
  static Address local_of(int fd);
  static Address peer_of(int fd);

  int family() const { return storage_.ss_family; }
  bool empty() const { return family() == AF_UNSPEC; }
  uint16_t port() const;          // 0 for Unix-domain
  std::string host() const;       // numeric host, or the Unix path
  std::string to_string() const;  // "127.0.0.1:80", "[::1]:80", "unix:/tmp/x"

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }

  friend bool operator==(const Address& a, const Address& b);

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace asyncore
