// demo_certificate.cc — a throwaway self-signed certificate, made with OpenSSL's API.
#include "samples/danmaku/demo_certificate.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "core/tls.h"

namespace danmaku {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("demo certificate: " + what + ": " + asyncore::tls_error_text());
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) fail(std::string("extension ") + value);
  X509_EXTENSION_free(ext);
}

void write_pem(const std::string& path, bool key_file, EVP_PKEY* key, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("demo certificate: cannot write " + path);
  const int ok = key_file ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr)
                          : PEM_write_X509(f, cert);
  std::fclose(f);
  if (ok != 1) fail("cannot write " + path);
}

}  // namespace

DemoCertificate::DemoCertificate() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) fail("key generation");
  Cert cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  // As `openssl req -x509` makes it: its own trust anchor, for the names the demo connects to.
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("signing");

  char tmpl[] = "/tmp/douyu-danmaku-demo-XXXXXX";  // mode 0700: the key stays private
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("demo certificate: mkdtemp failed");
  dir_ = tmpl;
  cert_file_ = dir_ + "/cert.pem";
  key_file_ = dir_ + "/key.pem";
  try {
    write_pem(key_file_, true, key.get(), cert.get());
    write_pem(cert_file_, false, key.get(), cert.get());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

DemoCertificate::~DemoCertificate() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace danmaku
