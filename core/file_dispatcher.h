// file_dispatcher.h — FileDispatcher: asyncore.file_dispatcher, a Dispatcher over a pipe,
// terminal or other non-socket descriptor. recv()/send() become read()/write().
#pragma once

#include "core/dispatcher.h"

namespace asyncore {

class FileDispatcher : public Dispatcher {
 public:
  // Like asyncore, works on a duplicate of `fd` (the caller keeps and closes its own), made
  // non-blocking. The dispatcher starts connected.
  FileDispatcher(Loop& loop, int fd);
  // Takes ownership of `fd` itself instead of duplicating it.
  FileDispatcher(Loop& loop, Socket fd);
};

}  // namespace asyncore
