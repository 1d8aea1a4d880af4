#include "core/file_dispatcher.h"

#include <fcntl.h>

#include <cerrno>

namespace asyncore {

namespace {
Socket duplicate(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw_errno(errno, "dup(fd " + std::to_string(fd) + ")");
  return Socket(copy);
}
}  // namespace

FileDispatcher::FileDispatcher(Loop& loop, int fd) : FileDispatcher(loop, duplicate(fd)) {}

FileDispatcher::FileDispatcher(Loop& loop, Socket fd) : Dispatcher(loop) {
  set_file(std::move(fd));
}

}  // namespace asyncore
