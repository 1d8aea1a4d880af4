#include "client/socket_client.h"

#include <glog/logging.h>

#include "core/exception_text.h"

namespace asyncore {

SocketClient::SocketClient(Loop& loop, const std::string& host, uint16_t port)
    : BufferedDispatcher(loop), host_(host), port_(port), read_buffer_(64 * 1024, '\0') {
  connect(host, port);  // creates the socket of the resolved family
}

void SocketClient::handle_connect() {
  if (on_connect_) on_connect_();
}

void SocketClient::handle_read() {
  ssize_t n = recv(read_buffer_.data(), read_buffer_.size());
  if (n > 0 && on_data_) on_data_(std::string_view(read_buffer_.data(), static_cast<size_t>(n)));
}

void SocketClient::handle_close() {
  close();
  if (closed_reported_) return;
  closed_reported_ = true;
  if (on_close_) on_close_();
}

void SocketClient::handle_error() {
  error_ = current_exception_text();
  LOG(ERROR) << "SocketClient " << host_ << ":" << port_ << ": " << error_;
  handle_close();
}

}  // namespace asyncore
