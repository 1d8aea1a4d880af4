// demo_certificate.h — `--demo --demo-transport=wss`: a self-signed certificate made for this run
// (OpenSSL, EC P-256, CN=localhost, subjectAltName DNS:localhost and IP:127.0.0.1, valid one day)
// in a private temporary directory that is removed at the end. The simulator serves it; the
// client trusts exactly it (--ca-file style), so the demo shows a verified TLS handshake.
#pragma once

#include <string>

namespace danmaku {

class DemoCertificate {
 public:
  // Throws std::runtime_error with OpenSSL's reason when it cannot be made.
  DemoCertificate();
  ~DemoCertificate();
  DemoCertificate(const DemoCertificate&) = delete;
  DemoCertificate& operator=(const DemoCertificate&) = delete;

  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }

 private:
  std::string dir_, cert_file_, key_file_;
};

}  // namespace danmaku
