// http_server.h — HttpServer: a small HTTP/1.1 server on this library's Dispatcher, serving
// static resources and Server-Sent Events streams from the loop it shares with everything else.
//
//   Loop loop;
//   auto events = std::make_shared<web::EventStream>(loop);
//   web::HttpServer server(loop, Address::ipv4_loopback(8080));
//   server.add_resource("/", page_html, "text/html; charset=utf-8");
//   server.add_event_stream("/events", events);
//   events->publish(R"({"type":"chatmsg","txt":"hi"})");   // or events->publisher()->post(...)
//   loop.loop();
//
// THE ACCEPT PATH. HttpServer is the listening Dispatcher: asyncore's handle_accepted() makes one
// HttpConnection per client (http_connection.h: its life, deadlines and back-pressure) with
// make_dispatcher, so the loop's map owns it; the server only keeps a registry to close them all
// and to count them. Beyond max_connections a client gets "503 Service Unavailable" at once and
// is closed (a WARNING, at most one a second, counts them).
//
// WHAT IT ANSWERS (docs/WEB.md, "Statuses"):
//   GET/HEAD of a resource  200, Content-Length, Cache-Control: no-cache, keep-alive per the
//                           request (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only if asked)
//   GET of an event stream  200 text/event-stream, no length, open until either side closes
//   other paths 404; other methods 405 (Allow: GET, HEAD); malformed 400; head too large 431;
//   GET with a body 413; head not complete within header_timeout 408; each with a one-line text
//   body, "Connection: close", then a half-close (the response is never lost to a reset).
// The query string is not part of the route: "/?speed=5" is "/".
//
// THREADS: loop thread only (as every Dispatcher); other threads publish through
// EventStream::publisher(). OWNERSHIP: own it (a member, a unique_ptr) or make_dispatcher it;
// closing or destroying it closes every connection. Routes are added before clients come.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/dispatcher.h"
#include "web/event_stream.h"
#include "web/http_connection.h"
#include "web/http_server_options.h"

namespace asyncore::web {

class HttpServer : public Dispatcher {
 public:
  // Binds `addr` (port 0: a free one, see address()) and listens. Throws std::system_error
  // naming the address when it cannot (in use, not an address of this host, ...).
  HttpServer(Loop& loop, const Address& addr, HttpServerOptions options = {});
  ~HttpServer() override;

  // `path` (e.g. "/") answers with `body` as `content_type`.
  void add_resource(std::string path, std::string body, std::string content_type);
  // `path` (e.g. "/events") subscribes its GETs to `stream`, which the server keeps alive.
  void add_event_stream(std::string path, std::shared_ptr<EventStream> stream);

  // The address it listens on (with the port the system chose for port 0).
  const Address& address() const { return bound_; }
  // Open connections (event streams included).
  size_t connections() const { return routes_->connections.size(); }
  // Connections answered 503 because max_connections were open.
  uint64_t refused_connections() const { return refused_; }

  // ---- Dispatcher ----
  void handle_accepted(Socket sock, const Address& addr) override;
  // Stops listening and closes every connection. Idempotent.
  void close() override;

 private:
  std::shared_ptr<HttpRoutes> routes_;
  Address bound_;
  uint64_t refused_ = 0;
  uint64_t refused_logged_ = 0;
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace asyncore::web
