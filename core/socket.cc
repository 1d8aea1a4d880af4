#include "core/socket.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace asyncore {

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int Socket::release() noexcept {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Socket::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool is_disconnect_errno(int err) noexcept {
  switch (err) {
    case ECONNRESET:
    case ENOTCONN:
    case ESHUTDOWN:
    case ECONNABORTED:
    case EPIPE:
    case EBADF:
      return true;
    default:
      return false;
  }
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (maybe not buf).
  const char* msg = strerror_r(err, buf, sizeof buf);
  if (msg == nullptr || *msg == '\0') return "Unknown error " + std::to_string(err);
  return msg;
}

void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

void set_nonblocking_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw_errno(errno, "fcntl(O_NONBLOCK) on fd " + std::to_string(fd));
  }
  int fdflags = ::fcntl(fd, F_GETFD);
  if (fdflags < 0 || ::fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) < 0) {
    throw_errno(errno, "fcntl(FD_CLOEXEC) on fd " + std::to_string(fd));
  }
}

}  // namespace asyncore
