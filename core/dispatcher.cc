#include "core/dispatcher.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <typeinfo>

#include "core/exception_text.h"
#include "core/thread_check.h"
#include "core/tls.h"

namespace asyncore {

struct Dispatcher::DnsLookup {
  Dispatcher* dispatcher;  // dangling once cancelled: use only when result != EVUTIL_EAI_CANCEL
  std::string host;
  uint16_t port;
  Loop* loop;
};

Dispatcher::Dispatcher(Loop& loop) : loop_(loop) {}

Dispatcher::Dispatcher(Loop& loop, Socket sock) : loop_(loop) { set_socket(std::move(sock)); }

Dispatcher::~Dispatcher() {
  // A shared-owned dispatcher can only get here once closed (the map held a reference while it was
  // open); one you own yourself is closed here, which also takes it out of the map.
  self_.reset();
  cancel_dns();
  loop_.del_channel(this);
  if (tls_) tls_->shutdown();  // close_notify, best effort
  if (fd_ >= 0) {
    event_free(event_);
    ::close(fd_);
  }
}

// ---------------------------------------------------------------- socket operations

template <class Fn>
void Dispatcher::guarded(Fn&& fn) {
  try {
    try {
      fn();
    } catch (const std::system_error& e) {
      if (e.code().category() != std::generic_category() &&
          e.code().category() != std::system_category()) {
        throw;
      }
      if (!is_disconnect_errno(e.code().value())) throw;
      disconnect_errno_ = e.code().value();
      handle_close();
    }
  } catch (...) {
    try {
      handle_error();
    } catch (...) {
      // asyncore would let this escape loop(); here it would unwind through libevent's C frames.
      LOG(ERROR) << repr()
                 << ": exception escaped handle_error(), closing: " << current_exception_text();
      close();
    }
  }
}

void Dispatcher::create_socket(int family, int type) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::create_socket");
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(errno, "socket(family " + std::to_string(family) + ")");
  attach(Socket(fd), true);
  unstarted_stream_ = type == SOCK_STREAM;
}

void Dispatcher::set_socket(Socket sock) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::set_socket");
  int fd = sock.fd();
  set_nonblocking_cloexec(fd);
  attach(std::move(sock), true);
  // asyncore: a socket given to the constructor is connected if it has a peer.
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    connected_ = true;
    addr_ = Address(reinterpret_cast<sockaddr*>(&ss), len);
  } else if (errno != ENOTCONN && errno != EINVAL) {
    int err = errno;
    Dispatcher::close();  // may run in a constructor: no virtual call
    throw_errno(err, "getpeername on adopted socket");
  }
}

void Dispatcher::set_file(Socket fd) {
  set_nonblocking_cloexec(fd.fd());
  struct stat st {};
  bool regular = ::fstat(fd.fd(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
  attach(std::move(fd), false);
  always_ready_ = regular;
  connected_ = true;
}

void Dispatcher::attach(Socket sock, bool is_socket) {
  // asyncore replaces the socket; the old one is closed. Not the virtual close(): this is a
  // replacement, not the dispatcher closing (and attach() may run in a constructor).
  if (fd_ >= 0) Dispatcher::close();
  event_ = event_new(loop_.base(), sock.fd(), EV_PERSIST, &Dispatcher::on_event, this);
  if (event_ == nullptr)
    throw std::runtime_error("event_new() failed for fd " + std::to_string(sock.fd()));
  fd_ = sock.release();
  is_socket_ = is_socket;
  always_ready_ = false;
  disconnect_errno_ = 0;
  connect_failed_ = false;
  unstarted_stream_ = false;
  armed_ = 0;
  if (!in_map_) loop_.add_channel(this);
  keep_alive_while_open();
}

void Dispatcher::keep_alive_while_open() {
  if (!is_open() || self_) return;
  self_ = weak_from_this().lock();  // empty for dispatchers not owned by a shared_ptr
}

void Dispatcher::set_reuse_addr() { set_socket_option(SOL_SOCKET, SO_REUSEADDR, 1); }

void Dispatcher::set_socket_option(int level, int name, int value) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::set_socket_option");
  if (::setsockopt(fd_, level, name, &value, sizeof value) != 0) {
    throw_errno(errno, "setsockopt(level " + std::to_string(level) + ", option " +
                           std::to_string(name) + ", value " + std::to_string(value) + ") on " +
                           repr());
  }
}

int Dispatcher::get_socket_option(int level, int name) const {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::get_socket_option");
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd_, level, name, &value, &len) != 0) {
    throw_errno(errno, "getsockopt(level " + std::to_string(level) + ", option " +
                           std::to_string(name) + ") on " + repr());
  }
  return value;
}

void Dispatcher::set_tcp_nodelay(bool on) {
  set_socket_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

void Dispatcher::bind(const Address& addr) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::bind");
  addr_ = addr;
  if (::bind(fd_, addr.sockaddr_ptr(), addr.length()) != 0) {
    throw_errno(errno, "bind to " + addr.to_string());
  }
}

void Dispatcher::listen(int backlog) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::listen");
  accepting_ = true;
  unstarted_stream_ = false;
  if (::listen(fd_, backlog) != 0) throw_errno(errno, "listen on " + addr_.to_string());
}

void Dispatcher::fail_connect(int err) {
  connecting_ = false;
  connect_failed_ = true;
  disconnect_errno_ = err;  // handle_close() after handle_error() can tell why
  throw_errno(err, "connect to " + addr_.to_string());
}

void Dispatcher::connect(const Address& addr) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::connect");
  connected_ = false;
  connecting_ = true;
  connect_failed_ = false;
  unstarted_stream_ = false;
  addr_ = addr;
  if (::connect(fd_, addr.sockaddr_ptr(), addr.length()) == 0) return;  // loop reports it
  int err = errno;
  if (err == EINPROGRESS || err == EALREADY || err == EWOULDBLOCK || err == EISCONN) return;
  fail_connect(err);
}

void Dispatcher::connect(const std::string& host, uint16_t port) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::connect");
  connect_host_ = host;
  if (auto numeric = Address::parse(host, port)) {
    if (fd_ < 0) create_socket(numeric->family());
    connect(*numeric);
    return;
  }
  // First, as it may throw: nothing below may be left half done (a held loop, a leaked lookup).
  evdns_base* dns = loop_.dns();
  cancel_dns();
  connected_ = false;
  connecting_ = true;
  connect_failed_ = false;
  // A socket from create_socket() stays unwatched until the lookup answers: an unconnected TCP
  // socket polls as EPOLLOUT|EPOLLHUP, which would run handle_connect() before any connect.
  if (fd_ >= 0 && armed_ != 0 && !always_ready_) {
    event_del(event_);
    armed_ = 0;
  }
  auto* lookup = new DnsLookup{this, host, port, &loop_};
  dns_lookup_ = lookup;
  // In the map while the lookup is pending (it is open): close_all() and ~Loop reach it.
  if (!in_map_) loop_.add_channel(this);
  keep_alive_while_open();
  loop_.hold();
  evutil_addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  std::string service = std::to_string(port);
  auto* request = evdns_getaddrinfo(dns, host.c_str(), service.c_str(), &hints,
                                    &Dispatcher::on_resolved, lookup);
  // NULL: the callback already ran (answered from /etc/hosts, or failed at once).
  if (request != nullptr && dns_lookup_ == lookup) dns_request_ = request;
}

void Dispatcher::on_resolved(int result, evutil_addrinfo* res, void* arg) {
  std::unique_ptr<DnsLookup> lookup(static_cast<DnsLookup*>(arg));
  if (result == EVUTIL_EAI_CANCEL) {  // the dispatcher closed or was destroyed meanwhile
    if (res != nullptr) evutil_freeaddrinfo(res);
    lookup->loop->release_hold();  // held by cancel_dns() until libevent let go of the request
    return;
  }
  Dispatcher* d = lookup->dispatcher;
  d->dns_lookup_ = nullptr;
  d->dns_request_ = nullptr;
  d->loop_.release_hold();
  std::shared_ptr<Dispatcher> keep = d->self_;  // the handlers below may close it
  d->guarded([&] {
    if (result != 0 || res == nullptr) {
      d->connecting_ = false;
      d->connect_failed_ = true;
      throw std::runtime_error("cannot resolve host '" + lookup->host + "' (port " +
                               std::to_string(lookup->port) + "): " + evutil_gai_strerror(result));
    }
    Address addr(res->ai_addr, static_cast<socklen_t>(res->ai_addrlen));
    evutil_freeaddrinfo(res);
    res = nullptr;
    // The socket of the wrong family is replaced, not closed as far as the subclass can tell.
    if (d->fd_ >= 0 && Address::local_of(d->fd_).family() != addr.family()) d->Dispatcher::close();
    if (d->fd_ < 0) d->create_socket(addr.family());
    d->connect(addr);
  });
  if (res != nullptr) evutil_freeaddrinfo(res);
  // A dispatcher that failed before getting a socket is no longer open: let the map go of it.
  if (!d->is_open()) {
    d->loop_.del_channel(d);
    if (d->self_) d->loop_.release_after_turn(std::move(d->self_));
  }
}

void Dispatcher::cancel_dns() {
  if (dns_lookup_ == nullptr) return;
  dns_lookup_ = nullptr;
  if (dns_request_ != nullptr) {
    auto* request = dns_request_;
    dns_request_ = nullptr;
    // libevent reports the cancellation later, from the loop (a deferred callback): the hold
    // stays until on_resolved(EVUTIL_EAI_CANCEL) frees the lookup, so loop() does not return,
    // and ~Loop does not free the resolver, with the request still allocated.
    evdns_getaddrinfo_cancel(request);
  } else {
    loop_.release_hold();
  }
}

std::optional<std::pair<Socket, Address>> Dispatcher::accept() {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::accept");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == EWOULDBLOCK || err == EAGAIN || err == ECONNABORTED || err == EINTR) return {};
    throw_errno(err, "accept on " + addr_.to_string());
  }
  return std::make_pair(Socket(fd), Address(reinterpret_cast<sockaddr*>(&ss), len));
}

size_t Dispatcher::send(const void* data, size_t size) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::send");
  if (handshaking()) return 0;  // the handshake first: "would block"
  int err = 0;
  size_t sent = layer_ ? layer_->write(below_, data, size, &err) : below_.write(data, size, &err);
  if (err == 0) return sent;
  stream_broke(err, "send to ");
  return 0;
}

ssize_t Dispatcher::recv(void* buffer, size_t size) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::recv");
  if (handshaking()) return -1;  // the handshake first: nothing now
  int err = 0;
  ssize_t got = layer_ ? layer_->read(below_, buffer, size, &err) : below_.read(buffer, size, &err);
  if (got != 0) return got;
  stream_broke(err, "recv from ");
  return 0;
}

bool Dispatcher::input_pending() const {
  return (tls_ && tls_->has_pending()) || (layer_ && layer_started_ && layer_->has_pending());
}

void Dispatcher::stream_broke(int err, const char* what) {
  if (err != 0 && !is_disconnect_errno(err))
    throw_errno(err, std::string(tls_ ? "TLS " : "") + what + addr_.to_string());
  disconnect_errno_ = err;
  handle_close();
}

ssize_t Dispatcher::Below::read(void* buffer, size_t size, int* err) {
  *err = 0;
  if (d->tls_) {
    ssize_t got = d->tls_->read(buffer, size, err, d->peer_name_);
    if (got == 0 && (*err == EWOULDBLOCK || *err == EAGAIN || *err == EINTR)) return -1;
    return got;
  }
  ssize_t n = d->is_socket_ ? ::recv(d->fd_, buffer, size, 0) : ::read(d->fd_, buffer, size);
  if (n > 0) return n;
  if (n == 0) return size == 0 ? -1 : 0;  // a zero-byte read says nothing about the peer
  int e = errno;
  if (e == EWOULDBLOCK || e == EAGAIN || e == EINTR) return -1;
  *err = e;
  return 0;
}

size_t Dispatcher::Below::write(const void* data, size_t size, int* err) {
  *err = 0;
  if (d->tls_) {
    size_t sent = d->tls_->write(data, size, err, d->peer_name_);
    if (*err == EWOULDBLOCK || *err == EAGAIN || *err == EINTR) *err = 0;
    return sent;
  }
  ssize_t n =
      d->is_socket_ ? ::send(d->fd_, data, size, MSG_NOSIGNAL) : ::write(d->fd_, data, size);
  if (n >= 0) return static_cast<size_t>(n);
  int e = errno;
  if (e != EWOULDBLOCK && e != EAGAIN && e != EINTR) *err = e;
  return 0;
}

std::string Dispatcher::recv(size_t size) {
  std::string out(size, '\0');
  ssize_t n = recv(out.data(), size);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

void Dispatcher::close() {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::close");
  connected_ = false;
  accepting_ = false;
  connecting_ = false;
  cancel_dns();
  loop_.del_channel(this);
  if (layer_ && layer_started_ && fd_ >= 0 && !handshaking() && disconnect_errno_ == 0)
    layer_->shutdown(below_);  // the closing message, best effort
  layer_started_ = false;
  output_shutdown_pending_ = false;
  if (tls_) tls_->shutdown();  // close_notify, best effort; the configuration stays
  if (fd_ >= 0) {
    // Also removes a pending activation: no further event reaches this dispatcher this turn.
    event_free(event_);
    event_ = nullptr;
    armed_ = 0;
    ::close(fd_);
    fd_ = -1;
  }
  ++generation_;
  if (self_) loop_.release_after_turn(std::move(self_));
}

// ---------------------------------------------------------------- the loop's side

void Dispatcher::update_interest() {
  // No socket yet, or a connect(host, port) lookup is pending: nothing to watch before the connect
  // starts (connect() disarmed a socket made by create_socket()).
  // A stream socket from create_socket() waits for connect()/listen() too (see create_socket()).
  if (fd_ < 0 || dns_lookup_ != nullptr || unstarted_stream_) return;
  short want = 0;
  const uint64_t generation = generation_;
  // readable()/writable() are user code: an exception goes to handle_error(), as from a handler.
  bool asked = false;
  guarded([&] {
    bool read = readable();
    bool write = !accepting_ && writable();
    if (generation_ != generation) return;  // closed inside a question
    user_wants_write_ = write;
    if (read) want |= EV_READ;
    asked = true;
  });
  if (!asked || generation_ != generation || fd_ < 0) return;
  if (user_wants_write_ || connecting_) want |= EV_WRITE;
  // Bytes TLS already decrypted or the layer already decoded: the socket may stay silent, a read
  // is due (the event is activated by hand once armed, as for a regular file).
  bool pending = false;
  if (tls_handshaking()) {
    want = tls_->wants();  // the user's answers wait for the handshake
  } else if (layer_ && layer_started_ && !layer_->established()) {
    want = EV_READ;  // the layer's handshake: the peer's reply, and its own bytes to write
    if (layer_->wants_write()) want |= EV_WRITE;
    if (tls_) want |= tls_->wants();
    pending = tls_ && tls_->has_pending();
  } else {
    if (want & EV_READ) pending = input_pending();
    if (tls_ && tls_->started()) {
      // Only what the user's own wishes need: a read that must write (a key update), a write
      // that must read. TLS's plain "waiting for data" does not arm reading: back-pressure.
      if ((want & EV_READ) && tls_->read_wants_write()) want |= EV_WRITE;
      if ((want & EV_WRITE) && tls_->write_wants_read()) want |= EV_READ;
    }
    if (layer_ && layer_started_) {
      if (layer_->wants_write()) want |= EV_WRITE;
      if (layer_->read_paused()) want &= ~EV_READ;  // its replies wait for the peer to read
    }
  }
  if (always_ready_) {
    // A regular file is always ready (as poll() reports it); epoll cannot watch it, so the
    // event is activated by hand each turn it is wanted.
    armed_ = want;
    if (want != 0) event_active(event_, want, 0);
    return;
  }
  if (want != armed_) {
    event_del(event_);
    event_assign(event_, loop_.base(), fd_, static_cast<short>(want | EV_PERSIST),
                 &Dispatcher::on_event, this);
    if (want != 0) event_add(event_, nullptr);
    armed_ = want;
  }
  if (pending) event_active(event_, EV_READ, 0);
}

void Dispatcher::on_event(int, short what, void* arg) {
  static_cast<Dispatcher*>(arg)->dispatch(what);
}

void Dispatcher::dispatch(short what) {
  const uint64_t generation = generation_;
  // Handlers may close (and even reopen) this dispatcher: every step checks it is still the same
  // registration before going on.
  auto still_same = [&] { return generation_ == generation && fd_ >= 0; };
  if (handshaking() && !connecting_) {  // server side, or TLS / a layer on a connected socket
    guarded([&] { handshake_step(); });
    return;
  }
  if (tls_ && tls_->started()) {
    // A read waiting for writability, a write waiting for readability (renegotiation, key update).
    if ((what & EV_WRITE) && tls_->read_wants_write()) what |= EV_READ;
    if ((what & EV_READ) && tls_->write_wants_read()) what |= EV_WRITE;
  }
  if (what & EV_READ) guarded([&] { handle_read_event(); });
  if ((what & EV_WRITE) && still_same()) {
    guarded([&] {
      if (accepting_) return;
      if (!connected_ && connecting_) {
        handle_connect_event();
        if (!still_same() || handshaking()) return;
      }
      if (layer_ && layer_started_ && layer_->wants_write()) {
        int err = 0;
        layer_->flush(below_, &err);
        if (err != 0) return stream_broke(err, "send to ");
        if (output_shutdown_pending_ && !layer_->wants_write()) finish_shutdown_output();
      }
      if (user_wants_write_ && still_same()) handle_write();
    });
  }
}

void Dispatcher::handle_read_event() {
  if (accepting_) {
    handle_accept();  // a listening socket is "readable" when a connection waits
  } else if (!connected_) {
    const uint64_t generation = generation_;
    // With TLS or a layer this event belongs to a handshake, armed whatever readable() said: the
    // next turn asks readable() before any handle_read() (what the handshake already read is
    // pending there, see update_interest()). Plain TCP reads at once, as asyncore does.
    const bool handshake_event = tls_ != nullptr || layer_ != nullptr;
    if (connecting_) handle_connect_event();
    if (!handshake_event && generation_ == generation && fd_ >= 0) handle_read();
  } else {
    handle_read();
  }
}

void Dispatcher::handle_write_event() {
  if (accepting_) return;  // listening sockets are never written to
  const uint64_t generation = generation_;
  if (!connected_ && connecting_) handle_connect_event();
  if (generation_ == generation && fd_ >= 0 && !handshaking()) handle_write();
}

void Dispatcher::handle_connect_event() {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) fail_connect(err);
  if (!handshake_step()) return;  // handle_connect() once TLS and the layer are established
  // The socket is connected whatever handle_connect() does, unless it closes the dispatcher (or
  // replaces its socket): then the state belongs to the new registration and is left alone.
  const uint64_t generation = generation_;
  struct Settle {
    Dispatcher* d;
    uint64_t generation;
    ~Settle() {
      if (d->generation_ != generation) return;
      d->connected_ = true;
      d->connecting_ = false;
    }
  } settle{this, generation};
  handle_connect();
}

// ---------------------------------------------------------------- TLS

void Dispatcher::start_tls_client(std::shared_ptr<TlsContext> ctx, std::string server_name) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::start_tls_client");
  if (ctx && ctx->is_server())
    throw std::invalid_argument("start_tls_client: the TlsContext is a server context");
  if (tls_) tls_->shutdown();
  tls_ = std::make_unique<TlsSession>(std::move(ctx), std::move(server_name));
  if (fd_ >= 0 && connected_) tls_begin();  // TLS on a connected socket: the handshake starts now
}

void Dispatcher::start_tls_server(std::shared_ptr<TlsContext> ctx) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::start_tls_server");
  if (ctx && !ctx->is_server())
    throw std::invalid_argument("start_tls_server: the TlsContext is a client context");
  if (tls_) tls_->shutdown();
  tls_ = std::make_unique<TlsSession>(std::move(ctx), std::string());
  if (fd_ >= 0 && connected_) tls_begin();
}

bool Dispatcher::tls_established() const { return tls_ && tls_->established(); }

bool Dispatcher::tls_handshaking() const { return tls_ && tls_->handshaking(); }

bool Dispatcher::handshaking() const {
  return tls_handshaking() || (layer_ && layer_started_ && !layer_->established());
}

void Dispatcher::tls_begin() {
  tls_->set_default_server_name(connect_host_.empty() ? addr_.host() : connect_host_);
  peer_name_ = addr_.to_string();
  tls_->start(fd_);
}

void Dispatcher::set_layer(std::unique_ptr<StreamLayer> layer) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::set_layer");
  layer_ = std::move(layer);
  layer_started_ = false;
  output_shutdown_pending_ = false;
  // On a connected socket (a server's accepted connection) the layer starts now, or after TLS.
  if (layer_ && fd_ >= 0 && connected_ && !tls_handshaking()) guarded([&] { handshake_step(); });
}

bool Dispatcher::handshake_step() {
  try {
    if (tls_) {
      if (!tls_->started()) tls_begin();
      if (!tls_->handshake(peer_name_)) return false;
    }
    if (layer_) {
      if (!layer_started_) {
        peer_name_ = addr_.to_string();
        layer_->start(LayerPeer{connect_host_.empty() ? addr_.host() : connect_host_, addr_.port(),
                                tls_ != nullptr});
        layer_started_ = true;
      }
      if (!layer_->handshake(below_)) return false;
    }
    return true;
  } catch (...) {
    if (connecting_) {
      connecting_ = false;
      connect_failed_ = true;
    }
    disconnect_errno_ = 0;
    throw;
  }
}

void Dispatcher::shutdown_output() {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "Dispatcher::shutdown_output");
  if (fd_ < 0 || !connected_ || !is_socket_) return;
  if (layer_ && layer_started_ && layer_->established()) {
    layer_->shutdown(below_);
    if (layer_->wants_write()) {  // the close message is still queued: after the flush
      output_shutdown_pending_ = true;
      return;
    }
  }
  finish_shutdown_output();
}

void Dispatcher::finish_shutdown_output() {
  output_shutdown_pending_ = false;
  if (tls_ && tls_->established()) tls_->send_close_notify();
  if (::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN)
    LOG(WARNING) << repr() << ": shutdown(SHUT_WR): " << std::strerror(errno);
}

// ---------------------------------------------------------------- default handlers

void Dispatcher::handle_read() { log_info("unhandled read event", LogType::kWarning); }
void Dispatcher::handle_write() { log_info("unhandled write event", LogType::kWarning); }
void Dispatcher::handle_expt() { log_info("unhandled incoming priority event", LogType::kWarning); }
void Dispatcher::handle_connect() { log_info("unhandled connect event", LogType::kWarning); }

void Dispatcher::handle_accept() {
  if (auto pair = accept()) handle_accepted(std::move(pair->first), pair->second);
}

void Dispatcher::handle_accepted(Socket sock, const Address&) {
  sock.reset();
  log_info("unhandled accepted event", LogType::kWarning);
}

void Dispatcher::handle_close() {
  log_info("unhandled close event", LogType::kWarning);
  close();
}

void Dispatcher::handle_error() {
  log_info(
      "uncaptured exception, closing channel " + repr() + " (" + current_exception_text() + ")",
      LogType::kError);
  handle_close();
}

// ---------------------------------------------------------------- logging and repr

void Dispatcher::log(std::string_view message) const { LOG(INFO) << "log: " << message; }

void Dispatcher::log_info(std::string_view message, LogType type) const {
  switch (type) {
    case LogType::kInfo:
      LOG(INFO) << message;
      break;
    case LogType::kWarning:
      if (!ignore_warnings_) LOG(WARNING) << message;
      break;
    case LogType::kError:
      LOG(ERROR) << message;
      break;
  }
}

std::string Dispatcher::repr() const {
  std::string out = "<" + demangle(typeid(*this).name());
  if (accepting_ && !addr_.empty()) {
    out += " listening " + addr_.to_string();
  } else if (connected_) {
    out += " connected " + addr_.to_string();
  } else if (connecting_) {
    out += " connecting " + addr_.to_string();
  }
  char at[32];
  std::snprintf(at, sizeof at, " at %p>", static_cast<const void*>(this));
  return out + at;
}

}  // namespace asyncore
