// nxdomain_responder.h — a tiny UDP DNS server on 127.0.0.1 for tests of connect(host, port):
// point a Loop at it with set_dns_nameservers({dns.nameserver()}) and every lookup fails with
// NXDOMAIN (or, silent, is never answered) without touching the real network.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "core/address.h"
#include "core/dispatcher.h"

namespace asyncore::test {

// Answers every query with its own header and question, QR=1, RCODE=3 (NXDOMAIN).
class NxdomainResponder : public Dispatcher {
 public:
  explicit NxdomainResponder(Loop& loop, bool silent = false) : Dispatcher(loop), silent_(silent) {
    create_socket(AF_INET, SOCK_DGRAM);
    bind(Address::ipv4_loopback(0));
    port = Address::local_of(fileno()).port();
  }
  bool writable() override { return false; }
  void handle_read() override {
    unsigned char buf[512];
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fileno(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 12) return;
    ++queries;
    if (silent_) return;
    size_t end = 12;  // skip QNAME labels, then QTYPE + QCLASS
    while (end < static_cast<size_t>(n) && buf[end] != 0) end += buf[end] + 1;
    end += 1 + 4;
    if (end > static_cast<size_t>(n)) return;
    buf[2] |= 0x80;                         // QR: a response
    buf[3] = (buf[3] & 0xF0) | 3;           // RCODE 3: NXDOMAIN
    buf[6] = buf[7] = buf[8] = buf[9] = 0;  // ANCOUNT, NSCOUNT
    buf[10] = buf[11] = 0;                  // ARCOUNT
    ::sendto(fileno(), buf, end, 0, reinterpret_cast<sockaddr*>(&from), len);
  }
  std::string nameserver() const { return "127.0.0.1:" + std::to_string(port); }
  uint16_t port = 0;
  int queries = 0;

 private:
  bool silent_;
};

}  // namespace asyncore::test
