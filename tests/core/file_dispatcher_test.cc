// file_dispatcher_test.cc — FileDispatcher over pipes: reading, writing, end of stream, and
// descriptor ownership.
#include "core/file_dispatcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using test::run_until;

struct Pipe {
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
    read_end = Socket(fds[0]);
    write_end = Socket(fds[1]);
  }
  Socket read_end, write_end;
};

struct PipeReader : FileDispatcher {
  using FileDispatcher::FileDispatcher;
  bool writable() override { return false; }
  void handle_read() override { data += recv(4096); }
  void handle_close() override {
    ++closes;
    close();
  }
  std::string data;
  int closes = 0;
};

TEST(FileDispatcher, ReadsAPipeUntilEndOfStream) {
  Loop loop;
  Pipe p;
  PipeReader r(loop, p.read_end.fd());  // duplicates
  p.read_end.reset();
  EXPECT_TRUE(r.connected());
  ASSERT_EQ(::write(p.write_end.fd(), "hello ", 6), 6);
  ASSERT_TRUE(run_until(loop, [&] { return r.data == "hello "; }));
  ASSERT_EQ(::write(p.write_end.fd(), "pipe", 4), 4);
  p.write_end.reset();
  ASSERT_TRUE(run_until(loop, [&] { return r.closes == 1; }));
  EXPECT_EQ(r.data, "hello pipe");
  EXPECT_FALSE(r.is_open());
  EXPECT_EQ(loop.size(), 0u);
}

TEST(FileDispatcher, WritesAPipe) {
  Loop loop;
  Pipe p;
  struct Writer : FileDispatcher {
    Writer(Loop& l, Socket fd, std::string d)
        : FileDispatcher(l, std::move(fd)), out(std::move(d)) {}
    bool readable() override { return false; }
    bool writable() override { return !out.empty(); }
    void handle_write() override {
      out.erase(0, send(out));
      if (out.empty()) close();
    }
    std::string out;
  };
  std::string payload(200000, 'p');                 // larger than a pipe buffer: several writes
  Writer w(loop, std::move(p.write_end), payload);  // takes ownership
  PipeReader r(loop, std::move(p.read_end));
  ASSERT_TRUE(run_until(loop, [&] { return r.closes == 1; }));
  EXPECT_EQ(r.data, payload);
  EXPECT_FALSE(w.is_open());
}

TEST(FileDispatcher, WriteToAClosedPipeIsAClose) {
  Loop loop;
  Pipe p;
  struct Writer : FileDispatcher {
    using FileDispatcher::FileDispatcher;
    bool readable() override { return false; }
    void handle_write() override { send(std::string("x")); }
    void handle_close() override {
      ++closes;
      close();
    }
    void handle_error() override { ADD_FAILURE() << "EPIPE must be a close, not an error"; }
    int closes = 0;
  };
  Writer w(loop, std::move(p.write_end));
  p.read_end.reset();
  ASSERT_TRUE(run_until(loop, [&] { return w.closes == 1; }));  // EPIPE, no SIGPIPE
}

TEST(FileDispatcher, OwnsOnlyItsOwnDescriptor) {
  Loop loop;
  Pipe p;
  int mine;
  {
    PipeReader r(loop, p.read_end.fd());
    mine = r.fileno();
    EXPECT_NE(mine, p.read_end.fd());
    EXPECT_TRUE(::fcntl(mine, F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(mine, F_GETFD) & FD_CLOEXEC);
  }
  EXPECT_FALSE(test::fd_is_open(mine));
  EXPECT_TRUE(test::fd_is_open(p.read_end.fd()));
  EXPECT_EQ(loop.size(), 0u);
}

}  // namespace
}  // namespace asyncore
