// test_certificate.h — a self-signed certificate made at test time with the `openssl` command
// (nothing secret is committed): CN=localhost, subjectAltName DNS:localhost and IP:127.0.0.1, in
// a temporary directory removed with the object. Make one per test suite (SetUpTestSuite).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/tls.h"

namespace asyncore::test {

class TestCertificate {
 public:
  TestCertificate() {
    char tmpl[] = "/tmp/asyncore-cert-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    const std::string cmd = "cd " + dir_ +
                            " && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out "
                            "cert.pem -days 1 -subj /CN=localhost "
                            "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) ADD_FAILURE() << "cannot make a test certificate: " << cmd;
  }
  ~TestCertificate() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

  bool ok() const { return ok_; }
  std::string cert() const { return dir_ + "/cert.pem"; }
  std::string key() const { return dir_ + "/key.pem"; }

  std::shared_ptr<TlsContext> server_context() const {
    TlsOptions o;
    o.cert_file = cert();
    o.key_file = key();
    return TlsContext::server(o);
  }
  // A client that trusts this certificate (and the system store).
  std::shared_ptr<TlsContext> trusting_client_context() const {
    TlsOptions o;
    o.ca_file = cert();
    return TlsContext::client(o);
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace asyncore::test
