#include "core/tls.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <glog/logging.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace asyncore {

static_assert(EV_READ == 0x02 && EV_WRITE == 0x04, "TlsSession's kRead/kWrite are libevent's");

std::string tls_error_text() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    std::string text;
    if (reason != nullptr) {
      text = reason;
    } else {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof buf);
      text = buf;
    }
    if (out.find(text) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out;
}

namespace {

[[noreturn]] void throw_tls(const std::string& what) {
  std::string reason = tls_error_text();
  throw std::runtime_error(what + (reason.empty() ? "" : ": " + reason));
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

// ---------------------------------------------------------------- TlsContext

TlsContext::TlsContext(const TlsOptions& options, bool server)
    : options_(options), server_(server) {
  ctx_ = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx_ == nullptr) throw_tls("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // A peer closing without close_notify is an ordinary end of stream.
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  // Partial writes: send() returns what went out, as a socket does.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (options.compat) {
    SSL_CTX_set_max_proto_version(ctx_, TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=1") != 1) {
      SSL_CTX_free(ctx_);
      throw_tls("TLS compat cipher list");
    }
  }
  auto fail = [this](const std::string& what) {
    std::string reason = tls_error_text();
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    throw std::runtime_error(what + (reason.empty() ? "" : ": " + reason));
  };
  if (server) {
    if (options.cert_file.empty() || options.key_file.empty())
      fail("TLS server context needs cert_file and key_file");
    if (SSL_CTX_use_certificate_chain_file(ctx_, options.cert_file.c_str()) != 1)
      fail("cannot load TLS certificate " + options.cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      fail("cannot load TLS private key " + options.key_file);
    if (SSL_CTX_check_private_key(ctx_) != 1)
      fail("TLS private key " + options.key_file + " does not match " + options.cert_file);
    return;
  }
  if (options.insecure || !options.verify) {
    if (options.insecure) {
      LOG(WARNING) << "TLS client context in insecure mode: server certificates are NOT verified";
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(ctx_) != 1) fail("cannot load the system trust store");
  if (!options.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr) != 1) {
    fail("cannot load TLS CA file " + options.ca_file);
  }
}

TlsContext::~TlsContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

std::shared_ptr<TlsContext> TlsContext::client(const TlsOptions& options) {
  return std::shared_ptr<TlsContext>(new TlsContext(options, false));
}

std::shared_ptr<TlsContext> TlsContext::server(const TlsOptions& options) {
  return std::shared_ptr<TlsContext>(new TlsContext(options, true));
}

// ---------------------------------------------------------------- TlsSession

TlsSession::TlsSession(std::shared_ptr<TlsContext> ctx, std::string server_name)
    : ctx_(std::move(ctx)), server_name_(std::move(server_name)) {
  if (!ctx_) throw std::invalid_argument("TLS: null TlsContext");
  if (server_name_.empty()) server_name_ = ctx_->options().server_name;
}

TlsSession::~TlsSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

void TlsSession::start(int fd) {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  established_ = false;
  failed_ = false;
  handshake_wants_ = read_wants_ = write_wants_ = 0;
  ERR_clear_error();
  ssl_ = SSL_new(ctx_->native());
  if (ssl_ == nullptr) throw_tls("SSL_new failed");
  if (SSL_set_fd(ssl_, fd) != 1) throw_tls("SSL_set_fd failed");
  if (ctx_->is_server()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  if (server_name_.empty()) return;
  const bool verify = !ctx_->options().insecure && ctx_->options().verify;
  if (is_ip_literal(server_name_)) {  // no SNI for an address; check the IP SAN
    if (verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name_.c_str()) != 1)
      throw_tls("TLS: bad IP address " + server_name_);
    return;
  }
  if (SSL_set_tlsext_host_name(ssl_, server_name_.c_str()) != 1)
    throw_tls("TLS: cannot set SNI " + server_name_);
  if (verify && SSL_set1_host(ssl_, server_name_.c_str()) != 1)
    throw_tls("TLS: cannot set host name " + server_name_);
}

short TlsSession::want_of(int ssl_error) const {
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
      return kRead;
    case SSL_ERROR_WANT_WRITE:
      return kWrite;
    default:
      return 0;
  }
}

bool TlsSession::handshake(const std::string& peer) {
  if (established_) return true;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    handshake_wants_ = 0;
    return true;
  }
  int err = SSL_get_error(ssl_, rc);
  if (short w = want_of(err)) {
    handshake_wants_ = w;
    return false;
  }
  failed_ = true;
  int saved_errno = errno;
  std::string reason = tls_error_text();
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    std::string v = X509_verify_cert_error_string(verify);
    if (reason.find(v) == std::string::npos) reason += (reason.empty() ? "" : ": ") + v;
  }
  if (reason.empty()) {
    if (err == SSL_ERROR_SYSCALL && saved_errno != 0) {
      reason = std::strerror(saved_errno);
    } else {
      reason = "connection closed by peer";
    }
  }
  throw std::runtime_error("TLS handshake with " + peer + " failed: " + reason);
}

long TlsSession::read(void* buffer, size_t size, int* err, const std::string& peer) {
  *err = 0;
  if (size == 0) return -1;
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int rc = SSL_read_ex(ssl_, buffer, size, &n);
  if (rc == 1) {
    read_wants_ = 0;
    return static_cast<long>(n);
  }
  int e = SSL_get_error(ssl_, rc);
  if (short w = want_of(e)) {
    read_wants_ = w;
    return -1;
  }
  read_wants_ = 0;
  if (e == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify, or EOF (IGNORE_UNEXPECTED_EOF)
  failed_ = true;
  if (e == SSL_ERROR_SYSCALL) {
    int saved = errno;
    std::string reason = tls_error_text();
    if (saved != 0) {
      *err = saved;
      return 0;
    }
    if (reason.empty()) return 0;  // EOF
    throw std::runtime_error("TLS read from " + peer + " failed: " + reason);
  }
  throw_tls("TLS read from " + peer + " failed");
}

size_t TlsSession::write(const void* data, size_t size, int* err, const std::string& peer) {
  *err = 0;
  if (size == 0) return 0;
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int rc = SSL_write_ex(ssl_, data, size, &n);
  if (rc == 1) {
    write_wants_ = 0;
    return n;
  }
  int e = SSL_get_error(ssl_, rc);
  if (short w = want_of(e)) {
    write_wants_ = w;
    return 0;
  }
  write_wants_ = 0;
  failed_ = true;
  if (e == SSL_ERROR_SYSCALL) {
    int saved = errno;
    std::string reason = tls_error_text();
    *err = saved != 0 ? saved : EPIPE;
    if (saved != 0 || reason.empty()) return 0;
    throw std::runtime_error("TLS write to " + peer + " failed: " + reason);
  }
  if (e == SSL_ERROR_ZERO_RETURN) {
    *err = EPIPE;
    return 0;
  }
  throw_tls("TLS write to " + peer + " failed");
}

short TlsSession::wants() const {
  if (ssl_ == nullptr) return 0;
  if (!established_) return handshake_wants_ != 0 ? handshake_wants_ : kRead;
  return static_cast<short>(read_wants_ | write_wants_);
}

bool TlsSession::has_pending() const {
  return ssl_ != nullptr && established_ && SSL_pending(ssl_) > 0;
}

void TlsSession::shutdown() {
  if (ssl_ == nullptr) return;
  if (established_ && !failed_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // one non-blocking try: close_notify, best effort
    ERR_clear_error();
  }
  SSL_free(ssl_);
  ssl_ = nullptr;
  established_ = false;
  handshake_wants_ = read_wants_ = write_wants_ = 0;
}

void TlsSession::send_close_notify() {
  if (ssl_ == nullptr || !established_ || failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // one non-blocking try; SSL_read still returns the peer's data
  ERR_clear_error();
}

}  // namespace asyncore
