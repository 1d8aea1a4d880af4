// socket_option_test.cc — Dispatcher::set_tcp_nodelay() / set_socket_option() /
// get_socket_option(): the option really changes, and a failure names the option.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <string>
#include <system_error>

#include "core/dispatcher.h"
#include "core/loop.h"

namespace asyncore {
namespace {

TEST(SocketOption, TcpNodelayOnAndOff) {
  Loop loop;
  Dispatcher d(loop);
  d.create_socket(AF_INET);
  EXPECT_EQ(d.get_socket_option(IPPROTO_TCP, TCP_NODELAY), 0);  // Linux default: Nagle on
  d.set_tcp_nodelay();
  EXPECT_NE(d.get_socket_option(IPPROTO_TCP, TCP_NODELAY), 0);
  d.set_tcp_nodelay(false);
  EXPECT_EQ(d.get_socket_option(IPPROTO_TCP, TCP_NODELAY), 0);
}

TEST(SocketOption, GenericIntOption) {
  Loop loop;
  Dispatcher d(loop);
  d.create_socket(AF_INET);
  d.set_socket_option(SOL_SOCKET, SO_KEEPALIVE, 1);
  EXPECT_EQ(d.get_socket_option(SOL_SOCKET, SO_KEEPALIVE), 1);
  d.set_reuse_addr();
  EXPECT_EQ(d.get_socket_option(SOL_SOCKET, SO_REUSEADDR), 1);
}

TEST(SocketOption, FailureNamesTheOption) {
  Loop loop;
  Dispatcher d(loop);  // no socket: EBADF
  try {
    d.set_socket_option(IPPROTO_TCP, TCP_NODELAY, 1);
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EBADF);
    EXPECT_NE(std::string(e.what()).find("setsockopt(level 6, option 1, value 1)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(d.get_socket_option(SOL_SOCKET, SO_KEEPALIVE), std::system_error);
}

}  // namespace
}  // namespace asyncore
