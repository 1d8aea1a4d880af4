// tls.h — TLS (OpenSSL 3) as a layer under any Dispatcher's recv()/send().
//
//   auto ctx = std::make_shared<TlsContext>(TlsContext::client(TlsOptions{}));
//   create_socket(); connect("example.com", 443); start_tls_client(ctx);   // in a Dispatcher
//
// The handshake runs non-blocking from the loop once the TCP connect completes; handle_connect()
// is reported only after it; a failed handshake reaches handle_error() with a std::runtime_error
// such as "TLS handshake with 127.0.0.1:4433 failed: certificate verify failed: self-signed
// certificate", then (by default) handle_close(). recv()/send() keep their contract; see
// Dispatcher::start_tls_client() and docs/TLS.md.
#pragma once

#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace asyncore {

struct TlsOptions {
  // Clients: verify the server's certificate against the system store
  // (SSL_CTX_set_default_verify_paths) and, if set, ca_file; and its name (server_name, default
  // the host given to connect()).
  bool verify = true;
  std::string ca_file;  // PEM file of extra trusted certificates (e.g. a self-signed one)
  // No verification at all (clients): logs a WARNING when a context is made with it.
  bool insecure = false;
  // Old servers: TLS 1.2 at most, cipher list "DEFAULT:@SECLEVEL=1".
  bool compat = false;
  // SNI and the name checked against the certificate (SSL_set1_host, or the IP SAN for an IP
  // literal). Empty: the host given to connect(). start_tls_client(ctx, name) overrides it.
  std::string server_name;
  // Servers: PEM certificate (chain) and private key.
  std::string cert_file;
  std::string key_file;
};

// An SSL_CTX (RAII), client or server. Share one between many connections (std::shared_ptr).
// Constructors throw std::runtime_error with OpenSSL's reason when a file cannot be loaded.
class TlsContext {
 public:
  static std::shared_ptr<TlsContext> client(const TlsOptions& options = {});
  static std::shared_ptr<TlsContext> server(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return server_; }
  const TlsOptions& options() const { return options_; }
  SSL_CTX* native() const { return ctx_; }

 private:
  TlsContext(const TlsOptions& options, bool server);
  SSL_CTX* ctx_ = nullptr;
  TlsOptions options_;
  bool server_ = false;
};

// OpenSSL's text for the errors queued on this thread (clears the queue); "" when none.
std::string tls_error_text();

// The per-connection layer: an SSL on the dispatcher's socket (a socket BIO). Used by
// Dispatcher; not meant to be driven by hand. Event bits are libevent's EV_READ / EV_WRITE.
class TlsSession {
 public:
  TlsSession(std::shared_ptr<TlsContext> ctx, std::string server_name);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  bool is_server() const { return ctx_->is_server(); }
  const std::string& server_name() const { return server_name_; }
  void set_default_server_name(const std::string& name) {
    if (server_name_.empty()) server_name_ = name;
  }

  // Creates the SSL on `fd` (after the TCP connect / on an accepted socket).
  void start(int fd);
  bool started() const { return ssl_ != nullptr; }
  bool handshaking() const { return ssl_ != nullptr && !established_; }
  bool established() const { return established_; }

  // One non-blocking handshake step: true when done, false while it waits for the socket.
  // Throws std::runtime_error "TLS handshake with <peer> failed: <reason>".
  bool handshake(const std::string& peer);

  // SSL_read: > 0 bytes; 0 end of stream (close_notify or plain EOF); -1 nothing now.
  // Sets *err to an errno for a socket error (ECONNRESET...), or throws std::runtime_error.
  long read(void* buffer, size_t size, int* err, const std::string& peer);
  // SSL_write (partial writes on): bytes written, 0 would block; *err as read(). As with
  // OpenSSL, after 0 the caller retries with the same bytes first (possibly more appended):
  // BufferedDispatcher and AsyncChat do.
  size_t write(const void* data, size_t size, int* err, const std::string& peer);

  // EV_READ/EV_WRITE the last operation waits for (handshake, read or write).
  short wants() const;
  bool read_wants_write() const { return read_wants_ & kWrite; }
  bool write_wants_read() const { return write_wants_ & kRead; }
  // Decrypted bytes waiting in OpenSSL: handle_read() is due even if the socket is not readable.
  bool has_pending() const;

  // close_notify, best effort (never blocks), then the SSL is freed. Safe to call twice.
  void shutdown();
  // close_notify only (a half-close): reading goes on until the peer's close_notify or EOF.
  void send_close_notify();

 private:
  static constexpr short kRead = 0x02;   // EV_READ
  static constexpr short kWrite = 0x04;  // EV_WRITE
  short want_of(int ssl_error) const;

  std::shared_ptr<TlsContext> ctx_;
  std::string server_name_;
  SSL* ssl_ = nullptr;
  bool established_ = false;
  bool failed_ = false;  // no close_notify after a fatal error
  short handshake_wants_ = 0;
  short read_wants_ = 0;
  short write_wants_ = 0;
};

}  // namespace asyncore
