// held_dns_responder.h — a UDP DNS server on 127.0.0.1 for tests that need a lookup to stay
// pending until the test lets it answer: queries are held until release(), then every name
// resolves to `ipv4` (A records, in that order; 127.0.0.1 by default) and has no IPv6 address (an
// empty AAAA answer).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/address.h"
#include "core/dispatcher.h"

namespace asyncore::test {

class HeldDnsResponder : public Dispatcher {
 public:
  explicit HeldDnsResponder(Loop& loop,
                            std::vector<std::array<unsigned char, 4>> ipv4 = {{127, 0, 0, 1}})
      : Dispatcher(loop), ipv4_(std::move(ipv4)) {
    create_socket(AF_INET, SOCK_DGRAM);
    bind(Address::ipv4_loopback(0));
    port = Address::local_of(fileno()).port();
  }
  bool writable() override { return false; }
  void handle_read() override {
    Query q;
    q.from_len = sizeof q.from;
    ssize_t n = ::recvfrom(fileno(), q.buf, sizeof q.buf, 0, reinterpret_cast<sockaddr*>(&q.from),
                           &q.from_len);
    if (n < 12) return;
    q.size = static_cast<size_t>(n);
    ++queries;
    held_.push_back(q);
    if (released_) answer_held();
  }
  // Answers every held query, and from now on every new one at once.
  void release() {
    released_ = true;
    answer_held();
  }
  std::string nameserver() const { return "127.0.0.1:" + std::to_string(port); }
  uint16_t port = 0;
  int queries = 0;

 private:
  struct Query {
    unsigned char buf[512];
    size_t size = 0;
    sockaddr_storage from{};
    socklen_t from_len = 0;
  };
  void answer_held() {
    for (Query& q : held_) answer(q);
    held_.clear();
  }
  void answer(Query& q) const {
    size_t end = 12;  // skip QNAME labels, then QTYPE + QCLASS
    while (end < q.size && q.buf[end] != 0) end += q.buf[end] + 1;
    end += 1 + 4;
    if (end > q.size) return;
    const bool type_a = q.buf[end - 4] == 0 && q.buf[end - 3] == 1;
    std::vector<unsigned char> out(q.buf, q.buf + end);
    out[2] |= 0x80;                                                              // QR: a response
    out[3] = 0x80;                                                               // RA, RCODE 0
    out[6] = 0, out[7] = type_a ? static_cast<unsigned char>(ipv4_.size()) : 0;  // ANCOUNT
    out[8] = out[9] = out[10] = out[11] = 0;                                     // NSCOUNT, ARCOUNT
    for (size_t i = 0; type_a && i < ipv4_.size(); ++i) {
      const auto& ip = ipv4_[i];
      const unsigned char record[] = {0xC0, 0x0C,             // the name: pointer to the question
                                      0,    1,    0,     1,   // TYPE A, CLASS IN
                                      0,    0,    0,     60,  // TTL
                                      0,    4,    ip[0], ip[1], ip[2], ip[3]};
      out.insert(out.end(), record, record + sizeof record);
    }
    ::sendto(fileno(), out.data(), out.size(), 0, reinterpret_cast<const sockaddr*>(&q.from),
             q.from_len);
  }
  std::vector<std::array<unsigned char, 4>> ipv4_;
  std::vector<Query> held_;
  bool released_ = false;
};

}  // namespace asyncore::test
