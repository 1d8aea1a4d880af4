// Dispatcher::disconnect_errno(): inside handle_close() it tells a reset peer (ECONNRESET) from an
// orderly close (0), so a client can log which it was (DouyuClient does).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <system_error>

#include "core/dispatcher.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using test::run_until;

// Reads everything; records disconnect_errno() when handle_close() runs.
struct Reader : Dispatcher {
  using Dispatcher::Dispatcher;
  bool writable() override { return false; }
  void handle_read() override {
    char buf[256];
    recv(buf, sizeof buf);
  }
  void handle_close() override {
    ++closes;
    seen_errno = disconnect_errno();
    close();
  }
  int closes = 0;
  int seen_errno = -1;
};

// A connected TCP pair over loopback (socketpair cannot be reset).
std::pair<Socket, Socket> tcp_pair() {
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const Address any = Address::ipv4_loopback(0);
  if (::bind(listener.fd(), any.sockaddr_ptr(), any.length()) != 0 || ::listen(listener.fd(), 1)) {
    throw_errno(errno, "bind/listen");
  }
  const Address to = Address::local_of(listener.fd());
  Socket client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(client.fd(), to.sockaddr_ptr(), to.length()) != 0) throw_errno(errno, "connect");
  Socket server(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC));
  return {std::move(client), std::move(server)};
}

TEST(DisconnectErrno, ResetPeerIsEconnresetInHandleClose) {
  Loop loop;
  auto [mine, peer] = tcp_pair();
  Reader d(loop, std::move(mine));
  const linger abort_on_close{1, 0};
  ASSERT_EQ(::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close),
            0);
  peer.reset();  // RST
  ASSERT_TRUE(run_until(loop, [&] { return d.closes == 1; }));
  EXPECT_EQ(d.seen_errno, ECONNRESET);
}

TEST(DisconnectErrno, OrderlyCloseIsZero) {
  Loop loop;
  auto [mine, peer] = tcp_pair();
  Reader d(loop, std::move(mine));
  peer.reset();  // FIN
  ASSERT_TRUE(run_until(loop, [&] { return d.closes == 1; }));
  EXPECT_EQ(d.seen_errno, 0);
}

TEST(DisconnectErrno, DisconnectErrorThrownByAHandlerIsReported) {
  Loop loop;
  auto [mine, peer] = tcp_pair();
  struct Thrower : Reader {
    using Reader::Reader;
    void handle_read() override { throw std::system_error(EPIPE, std::generic_category(), "io"); }
  } d(loop, std::move(mine));
  ASSERT_EQ(::send(peer.fd(), "x", 1, 0), 1);
  ASSERT_TRUE(run_until(loop, [&] { return d.closes == 1; }));
  EXPECT_EQ(d.seen_errno, EPIPE);
}

}  // namespace
}  // namespace asyncore
