// dispatcher.h — Dispatcher: asyncore.dispatcher in C++, driven by a Loop over libevent.
//
// Subclass it and answer the questions and events asyncore asks, under asyncore's names:
//   readable() / writable()            asked on every turn of the loop
//   handle_connect()                   an outgoing connect() completed
//   handle_accept() / handle_accepted  a listening socket has a connection to accept
//   handle_read() / handle_write()     the socket is ready
//   handle_close()                     the peer went away (end of stream, disconnect errno)
//   handle_error()                     an exception escaped a handler (std::current_exception())
//
// OWNERSHIP (read this first)
//   * While open (it has a socket, or a connect(host, port) lookup is pending), a dispatcher
//     owned by a std::shared_ptr is kept alive by the loop's map, as Python's socket map kept a
//     reference: a connection made in handle_accepted() needs no other owner and is destroyed
//     after it closes. Create such dispatchers with make_dispatcher<T>(args...), which also
//     covers the asyncore idiom of calling create_socket()/connect() inside the constructor.
//   * A dispatcher not owned by a shared_ptr (a local or member variable) is owned by you; its
//     destructor closes it and takes it out of the map, so the map never dangles.
//   * close() may be called from any handler, including the dispatcher's own: the object stays
//     valid until the end of the turn, and a closed dispatcher receives no further events, even
//     if its fd number is reused by a new dispatcher in the same turn.
//   * Do not `delete` a dispatcher from inside its own handler; close() it.
//   * close() is virtual, as in Python: Loop::close_all(), the default handle_close() (and so the
//     default handle_error()) and AsyncChat's handle_close() call the subclass's override. An
//     override must call Dispatcher::close(). ~Dispatcher never calls it (no virtual call from a
//     destructor): it tears the socket down itself.
//
// CALLBACKS that outlive the current handler (timers, call_soon_threadsafe(), a callback handed
// to another object) must not capture a reference to a stack variable, nor a dispatcher the map
// owns by `this` unless something guarantees it is still alive when they run:
//   * a map-owned (make_dispatcher) dispatcher: capture a std::weak_ptr and lock it —
//       loop().call_later(5, [weak = weak_from_this()] { if (auto self = weak.lock()) ...; });
//     (weak_from_this() gives a weak_ptr<Dispatcher>; std::static_pointer_cast the lock() result);
//   * `this` is fine for a timer the dispatcher cancels in its close() override and destructor,
//     since a cancelled timer never runs — the loop thread both runs and cancels it.
//
// THREADS: every method runs on the loop's thread (see loop.h, THREADS). To act from another
// thread use Loop::call_soon_threadsafe(). With thread checks compiled in (debug builds, the
// sanitizer builds), the socket operations below LOG(FATAL) when called from another thread
// while the loop runs, e.g. "Dispatcher::send called from thread X while the loop runs on thread
// Y".
//
// Differences from asyncore, each deliberate:
//   * handle_connect() always runs from the loop, never from inside connect(), because connect()
//     is often called from a constructor, where a virtual call would not reach the subclass.
//   * While connecting, the socket is watched for writability even if writable() is false, so
//     handle_connect() is timely (asyncore only saw it when data arrived); handle_write() is then
//     called only if writable() said so.
//   * recv() returns -1 for "nothing now" (asyncore raised BlockingIOError).
//   * handle_expt(): libevent 2.1 has no priority (POLLPRI) event, so out-of-band data is not
//     reported; the handler exists for API parity.
#pragma once

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/address.h"
#include "core/layer.h"
#include "core/loop.h"
#include "core/socket.h"

struct event;
struct evdns_getaddrinfo_request;

namespace asyncore {

class TlsContext;
class TlsSession;

enum class LogType { kInfo, kWarning, kError };

class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  // asyncore.dispatcher(): no socket yet; call create_socket() or set_socket().
  explicit Dispatcher(Loop& loop);
  // asyncore.dispatcher(sock): adopts a connected socket (e.g. one from handle_accepted).
  Dispatcher(Loop& loop, Socket sock);
  virtual ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // ---- socket operations (asyncore names) ----
  // Creates a non-blocking, close-on-exec socket and puts this dispatcher in the map. A stream
  // socket is not watched until connect() or listen() starts (an unconnected TCP socket polls as
  // EPOLLOUT|EPOLLHUP: asyncore would run handle_connect()/handle_read() on a socket that never
  // connected); other types (UDP) are watched at once.
  void create_socket(int family = AF_INET, int type = SOCK_STREAM);
  // Adopts `sock` (made non-blocking); connected is set when it has a peer.
  void set_socket(Socket sock);
  void set_reuse_addr();
  void bind(const Address& addr);
  void listen(int backlog);
  // Starts a non-blocking connect; handle_connect() follows from the loop.
  void connect(const Address& addr);
  // Resolves `host` asynchronously (evdns; numeric hosts skip the lookup), creates a socket of the
  // resolved family if there is none, and connects. A failed lookup reaches handle_error() with
  // a std::runtime_error naming host and port. A socket made earlier with create_socket() (the
  // asyncore idiom) is not watched while the lookup is pending: no handler runs for it before
  // the connect has started.
  void connect(const std::string& host, uint16_t port);
  // One accept(); nullopt when there is nothing to accept now (EWOULDBLOCK, ECONNABORTED).
  std::optional<std::pair<Socket, Address>> accept();
  // Bytes sent; 0 when the socket would block, or when the peer is gone (then handle_close()
  // was called, as asyncore does). Other errors throw std::system_error.
  size_t send(const void* data, size_t size);
  size_t send(std::string_view data) { return send(data.data(), data.size()); }
  // Bytes read (> 0); 0 at end of stream or disconnect (handle_close() was called); -1 when there
  // is nothing to read now. Other errors throw std::system_error.
  ssize_t recv(void* buffer, size_t size);
  // asyncore's recv(n) -> bytes: "" at end of stream or when nothing is there.
  std::string recv(size_t size);
  // Removes the dispatcher from the map and closes the socket. Idempotent. Virtual (see
  // OWNERSHIP); an override must call Dispatcher::close().
  virtual void close();

  // ---- TLS (core/tls.h, docs/TLS.md) ----
  // Puts TLS under recv()/send(). Call before or after connect(): the handshake starts when the
  // TCP connect completes (at once on a connected socket) and is driven by the socket's
  // readiness; handle_connect() comes only once it completed, and while it runs readable() /
  // writable() do not arm the socket and no handle_read()/handle_write() is called. A failed
  // handshake reaches handle_error() with a std::runtime_error "TLS handshake with host:port
  // failed: <OpenSSL's reason>" (connect_failed() is then true), then by default handle_close().
  // `server_name` (SNI and the verified name) defaults to the context's, then to the host given
  // to connect(). recv()/send() keep their contract; send() returning 0 means "retry these bytes
  // first" (OpenSSL's rule; BufferedDispatcher and AsyncChat do). close() sends close_notify,
  // best effort. TLS stays configured for a later connection of the same dispatcher.
  void start_tls_client(std::shared_ptr<TlsContext> ctx, std::string server_name = {});
  // The server side, on an accepted (connected) socket: call it in handle_accepted() right after
  // making the connection's dispatcher, before anything is sent. No handle_connect() follows.
  void start_tls_server(std::shared_ptr<TlsContext> ctx);
  bool tls_enabled() const { return tls_ != nullptr; }
  // True once the TLS handshake completed (false without TLS).
  bool tls_established() const;

  // ---- a protocol layer over the stream (core/layer.h; e.g. WebSocket, client/websocket.h) ----
  // Puts `layer` between recv()/send() and the stream (above TLS, if any). Call before connect()
  // (clients) or in handle_accepted() (servers, after start_tls_server()). Its handshake runs
  // once the connection below is up; handle_connect() comes only once it completed, and a failed
  // one reaches handle_error() (connect_failed() is then true). The layer stays for a later
  // connection of the same dispatcher; nullptr removes it.
  void set_layer(std::unique_ptr<StreamLayer> layer);
  StreamLayer* layer() const { return layer_.get(); }
  // True while TLS or the layer is still handshaking on this connection.
  bool handshaking() const;
  // True when recv() has bytes without reading the socket: TLS decrypted or the layer decoded
  // more than the last recv() took (a reader that stops at a short recv() would leave them for
  // the next loop turn).
  bool input_pending() const;
  // Graceful half-close: the layer's closing message (WebSocket close), TLS close_notify, then
  // shutdown(SHUT_WR), each after what is queued below it has been written. recv() goes on until
  // the peer ends the stream. No-op without a connected socket.
  void shutdown_output();

  // setsockopt(level, name, value) with an int value; throws std::system_error naming the option.
  void set_socket_option(int level, int name, int value);
  // getsockopt() of an int option; throws std::system_error naming the option.
  int get_socket_option(int level, int name) const;
  // TCP_NODELAY: off (false) turns Nagle's algorithm back on. TCP sockets only.
  void set_tcp_nodelay(bool on = true);

  // ---- questions, asked every turn ----
  virtual bool readable() { return true; }
  virtual bool writable() { return true; }

  // ---- handlers (defaults as in asyncore) ----
  virtual void handle_read();
  virtual void handle_write();
  virtual void handle_expt();
  virtual void handle_connect();
  // Default: accept() once and pass the result to handle_accepted().
  virtual void handle_accept();
  // Default: logs "unhandled accepted event" and closes the socket.
  virtual void handle_accepted(Socket sock, const Address& addr);
  // Default: logs "unhandled close event" and close()s.
  virtual void handle_close();
  // Called inside the catch block: std::current_exception() is the error. Default: logs it with
  // the dispatcher's repr and calls handle_close().
  virtual void handle_error();

  // ---- asyncore's event entry points (called by the loop; public as in asyncore) ----
  void handle_read_event();
  void handle_write_event();
  void handle_connect_event();

  // ---- logging (glog) ----
  void log(std::string_view message) const;
  // Messages whose type is in the ignore set are dropped; asyncore ignores warnings by default.
  void log_info(std::string_view message, LogType type = LogType::kInfo) const;
  void set_ignore_warnings(bool ignore) { ignore_warnings_ = ignore; }

  // ---- state ----
  bool connected() const { return connected_; }
  bool accepting() const { return accepting_; }
  bool connecting() const { return connecting_; }
  // The address passed to connect()/bind(), or the peer of an adopted socket.
  const Address& addr() const { return addr_; }
  int fileno() const { return fd_; }
  // Why the last handle_close() came: the disconnect errno (ECONNRESET, EPIPE, ...) that recv(),
  // send() or a handler ran into, or 0 for a plain end of stream. Lets a handle_close() tell
  // "the peer reset the connection" from "the peer closed it". After a failed connect it is the
  // connect's errno (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ...); 0 after a failed lookup.
  // Cleared when a socket is attached.
  int disconnect_errno() const { return disconnect_errno_; }
  // True when the last connect failed: refused, unreachable, timed out, or the host name did not
  // resolve. A failed connect reaches handle_error() (default: then handle_close()); this lets
  // handle_close() tell "never connected" from "the peer left". Cleared when a connect starts or
  // a socket is attached.
  bool connect_failed() const { return connect_failed_; }
  bool is_open() const { return fd_ >= 0 || dns_lookup_ != nullptr; }
  Loop& loop() const { return loop_; }
  // "<ClassName connected 127.0.0.1:80 at 0x...>", as asyncore's __repr__.
  std::string repr() const;

  // Lets the map hold a reference while open. make_dispatcher() calls it; set_socket() and
  // create_socket() do it themselves when called after construction. No-op for a dispatcher
  // not owned by a shared_ptr.
  void keep_alive_while_open();

 protected:
  // For FileDispatcher: adopt a non-socket descriptor (pipes, terminals); recv/send use read/write.
  void set_file(Socket fd);

 private:
  friend class Loop;
  struct DnsLookup;
  static void on_event(int fd, short what, void* arg);
  static void on_resolved(int result, struct ::addrinfo* res, void* arg);

  void attach(Socket sock, bool is_socket);
  void update_interest();  // asks readable()/writable(); re-arms only on change
  void dispatch(short what);
  // Runs `fn`, routing an escaping exception as asyncore's readwrite() does: a disconnect errno
  // to handle_close(), anything else to handle_error().
  template <class Fn>
  void guarded(Fn&& fn);
  void cancel_dns();
  [[noreturn]] void fail_connect(int err);  // records a failed connect, throws system_error
  bool tls_handshaking() const;
  void tls_begin();  // creates the SSL on fd_ (TCP connected)
  // Drives TLS, then the layer, as far as they go: true once both are established. A failure is
  // recorded (connect_failed() when connecting) and thrown.
  bool handshake_step();
  // After the layer flushed: performs a shutdown_output() that waited for it.
  void finish_shutdown_output();
  // Routes a broken stream's errno, as recv()/send() do: handle_close() for a disconnect,
  // std::system_error otherwise.
  void stream_broke(int err, const char* what);

  // The stream under the layer (and under recv()/send() without one): TLS when configured, else
  // the socket. Errors come back as errno values; recv()/send() route them.
  struct Below final : ByteStream {
    explicit Below(Dispatcher* d) : d(d) {}
    ssize_t read(void* buffer, size_t size, int* err) override;
    size_t write(const void* data, size_t size, int* err) override;
    Dispatcher* d;
  };

  Loop& loop_;
  int fd_ = -1;
  bool is_socket_ = true;
  bool always_ready_ = false;  // regular file: epoll refuses it, poll() calls it always ready
  event* event_ = nullptr;
  short armed_ = 0;  // EV_READ/EV_WRITE currently registered with libevent
  bool user_wants_write_ = false;
  uint64_t generation_ = 0;  // bumped on every close: stale callbacks are recognised
  size_t map_index_ = 0;
  bool in_map_ = false;
  std::shared_ptr<Dispatcher> self_;  // the map's reference while open (shared-owned only)
  DnsLookup* dns_lookup_ = nullptr;
  evdns_getaddrinfo_request* dns_request_ = nullptr;

  bool connected_ = false;
  bool accepting_ = false;
  bool connecting_ = false;
  bool ignore_warnings_ = true;
  bool connect_failed_ = false;
  bool unstarted_stream_ = false;  // create_socket(SOCK_STREAM) before connect()/listen()
  int disconnect_errno_ = 0;
  Address addr_;
  std::string connect_host_;         // the host given to connect(host, port): TLS's default name
  std::unique_ptr<TlsSession> tls_;  // TLS under recv()/send(), when configured
  std::string peer_name_;            // addr_.to_string(), made once per connection for errors
  std::unique_ptr<StreamLayer> layer_;
  bool layer_started_ = false;            // layer_->start() ran for this connection
  bool output_shutdown_pending_ = false;  // shutdown_output() waits for the layer to flush
  Below below_{this};
};

// Creates a shared-owned dispatcher whose lifetime the loop's map manages while it is open.
// Works when the constructor already called create_socket()/connect().
// The static_asserts turn the usual mistakes into one plain message instead of an error deep in
// std::make_shared: a T that is not a Dispatcher, an abstract T (a pure virtual such as
// AsyncChat::found_terminator() not overridden), or arguments T has no constructor for (often a
// Socket passed as an lvalue: write std::move(sock)).
template <class T, class... Args>
std::shared_ptr<T> make_dispatcher(Args&&... args) {
  static_assert(std::is_base_of_v<Dispatcher, T>,
                "make_dispatcher<T>: T must derive from Dispatcher");
  static_assert(!std::is_abstract_v<T>,
                "make_dispatcher<T>: T is abstract; override its pure virtual functions");
  static_assert(std::is_constructible_v<T, Args...>,
                "make_dispatcher<T>: T has no constructor taking these arguments (a Socket must be "
                "passed as std::move(sock))");
  auto d = std::make_shared<T>(std::forward<Args>(args)...);
  static_cast<Dispatcher&>(*d).keep_alive_while_open();
  return d;
}

}  // namespace asyncore
