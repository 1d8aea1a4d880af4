#include "web/http_server.h"

#include <glog/logging.h>
#include <sys/socket.h>

#include <utility>
#include <vector>

#include "web/http_response.h"

namespace asyncore::web {

HttpServer::HttpServer(Loop& loop, const Address& addr, HttpServerOptions options)
    : Dispatcher(loop), routes_(std::make_shared<HttpRoutes>()) {
  routes_->options = options;
  create_socket(addr.family());
  set_reuse_addr();
  bind(addr);
  listen(128);
  bound_ = Address::local_of(fileno());
}

// HttpServer's own close() (a subclass's override is gone by now: a subclass that needs its own
// closing does it in its destructor).
HttpServer::~HttpServer() { HttpServer::close(); }

void HttpServer::add_resource(std::string path, std::string body, std::string content_type) {
  routes_->resources[std::move(path)] = {std::move(body), std::move(content_type)};
}

void HttpServer::add_event_stream(std::string path, std::shared_ptr<EventStream> stream) {
  routes_->streams[std::move(path)] = std::move(stream);
}

void HttpServer::handle_accepted(Socket sock, const Address& addr) {
  if (routes_->connections.size() >= routes_->options.max_connections) {
    // Answered at once, without a connection object: the socket buffer of a new connection takes
    // these few bytes. What the client already sent (its request, usually) is read and discarded
    // first: closing with unread input would send a reset, which can destroy the 503 before the
    // client reads it. Best effort still: input arriving after this is not waited for.
    char discard[4096];
    for (int i = 0; i < 16; ++i) {
      if (::recv(sock.fd(), discard, sizeof discard, MSG_DONTWAIT) <= 0) break;
    }
    const std::string response = error_response(503);
    [[maybe_unused]] const ssize_t n =
        ::send(sock.fd(), response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ++refused_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ >= std::chrono::seconds(1)) {
      LOG(WARNING) << "http: " << addr.to_string() << ": 503 Service Unavailable ("
                   << routes_->options.max_connections << " connections open); closing; "
                   << refused_ - refused_logged_ << " refused since the last such line";
      refused_logged_ = refused_;
      last_refusal_log_ = now;
    }
    return;
  }
  auto c = make_dispatcher<HttpConnection>(loop(), std::move(sock), addr, routes_);
  // Events are small and should leave at once, not wait for Nagle's timer.
  if (addr.family() == AF_INET || addr.family() == AF_INET6) c->set_tcp_nodelay();
}

void HttpServer::close() {
  if (is_open()) Dispatcher::close();
  // Each close() takes itself out of the registry: work on a copy.
  const std::vector<HttpConnection*> all(routes_->connections.begin(), routes_->connections.end());
  for (HttpConnection* c : all) c->close();
}

}  // namespace asyncore::web
