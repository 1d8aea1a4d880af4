// cli_process.h — CliProcess: douyu_danmaku (or any program) started with fork/exec, its stdout a
// pipe the test reads (or never reads), a path (a FIFO, /dev/full) or closed, its stderr a pipe
// drained into err(); optionally as another user under a process limit. Every wait has a deadline
// and blocks in poll() on the descriptors (a pidfd for the exit), never in a sleep.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace danmaku_test {

struct CliSpawn {
  enum class Stdout { kPipe, kClosed, kPath };
  CliSpawn(std::vector<std::string> argv_, Stdout out_ = Stdout::kPipe, std::string out_path_ = {})
      : argv(std::move(argv_)), out(out_), out_path(std::move(out_path_)) {}
  std::vector<std::string> argv;
  Stdout out;
  std::string out_path;          // kPath: opened O_WRONLY
  int uid = -1;                  // >= 0: setgid/setuid to it in the child (tests run as root)
  rlim_t nproc = RLIM_INFINITY;  // RLIMIT_NPROC in the child
  std::vector<std::string> env;  // "NAME=value" added to the child's environment
};

class CliProcess {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CliProcess(const CliSpawn& spec) {
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (spec.out == CliSpawn::Stdout::kPipe && ::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe2");
    if (::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe2");
    std::vector<char*> args;
    for (const auto& a : spec.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;  // built before fork(): the child may only make async-signal-safe calls
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    for (const auto& e : spec.env) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork");
    if (pid_ == 0) {  // child: async-signal-safe calls only
      ::dup2(err[1], STDERR_FILENO);
      if (spec.out == CliSpawn::Stdout::kPipe) {
        ::dup2(out[1], STDOUT_FILENO);
      } else if (spec.out == CliSpawn::Stdout::kClosed) {
        ::close(STDOUT_FILENO);
      } else {
        const int fd = ::open(spec.out_path.c_str(), O_WRONLY);
        if (fd < 0) ::_exit(126);
        ::dup2(fd, STDOUT_FILENO);
        ::close(fd);
      }
      if (spec.nproc != RLIM_INFINITY) {
        const rlimit lim{spec.nproc, spec.nproc};
        if (::setrlimit(RLIMIT_NPROC, &lim) != 0) ::_exit(125);
      }
      if (spec.uid >= 0 && (::setgid(spec.uid) != 0 || ::setuid(spec.uid) != 0)) ::_exit(124);
      ::execve(args[0], args.data(), env.data());
      ::_exit(127);
    }
    ::close(err[1]);
    err_ = err[0];
    if (out[1] >= 0) ::close(out[1]);
    out_ = out[0];
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  }
  ~CliProcess() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    for (int fd : {out_, err_, pidfd_}) {
      if (fd >= 0) ::close(fd);
    }
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const { return pid_; }
  int stdout_fd() const { return out_; }
  void signal(int sig) const {
    if (!status_) ::kill(pid_, sig);
  }
  // The reader of stdout goes away (as `head` does after its line).
  void close_stdout() {
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }
  // Everything read from stderr so far.
  const std::string& err() const { return err_text_; }

  // Runs until `done()` or `seconds` pass, draining stderr (and stdout when `read_stdout`). Once
  // the process has exited and its pipes are at end of file, nothing can change: returns done().
  bool pump_until(const std::function<bool()>& done, double seconds, bool read_stdout = false) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (!done()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      std::vector<pollfd> fds;
      if (err_ >= 0) fds.push_back({err_, POLLIN, 0});
      if (read_stdout && out_ >= 0) fds.push_back({out_, POLLIN, 0});
      if (!status_) fds.push_back({pidfd_, POLLIN, 0});
      if (fds.empty()) return done();
      // The bounded slice only re-checks conditions that have no descriptor (pipe fill level).
      ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 20)));
      drain(err_, err_text_);
      if (read_stdout) drain(out_, out_text_);
      reap();
    }
    return true;
  }
  bool wait_stderr(const std::string& needle, double seconds) {
    return pump_until([&] { return err_text_.find(needle) != std::string::npos; }, seconds);
  }
  // The next stdout line (without '\n'), or nullopt after `seconds`.
  std::optional<std::string> read_line(double seconds) {
    std::optional<std::string> line;
    pump_until(
        [&] {
          const auto nl = out_text_.find('\n');
          if (nl == std::string::npos) return false;
          line = out_text_.substr(0, nl);
          out_text_.erase(0, nl + 1);
          return true;
        },
        seconds, true);
    return line;
  }
  // The wait status once exited within `seconds`; stderr is then read to its end.
  std::optional<int> wait(double seconds, bool read_stdout = false) {
    pump_until([&] { return reap(); }, seconds, read_stdout);
    if (status_) pump_until([&] { return err_ < 0; }, 5);
    return status_;
  }
  std::string rest_of_stdout() { return std::exchange(out_text_, {}); }
  // Bytes written to the stdout pipe and not read yet; its capacity.
  int stdout_unread() const {
    int n = 0;
    return out_ >= 0 && ::ioctl(out_, FIONREAD, &n) == 0 ? n : -1;
  }
  int stdout_capacity() const { return out_ >= 0 ? ::fcntl(out_, F_GETPIPE_SZ) : -1; }

 private:
  [[noreturn]] static void throw_errno(const char* what) {
    throw std::runtime_error(std::string(what) + " failed");
  }
  // Reads what is there; at end of file closes `fd` (-1), so it is not polled any more.
  static void drain(int& fd, std::string& into) {
    while (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0 || (p.revents & (POLLIN | POLLHUP)) == 0) return;
      char buf[4096];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) return;
      if (n == 0) {
        ::close(fd);
        fd = -1;
        return;
      }
      into.append(buf, static_cast<size_t>(n));
    }
  }
  bool reap() {
    if (status_) return true;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
    return status_.has_value();
  }

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1, pidfd_ = -1;
  std::string err_text_, out_text_;
  std::optional<int> status_;
};

// $DANMAKU_BIN runs the tests against another build of the binary (e.g. an older one).
inline std::string danmaku_bin() {
  const char* other = std::getenv("DANMAKU_BIN");
  return other != nullptr ? other : std::string(ASYNCORE_BIN_DIR) + "/douyu_danmaku";
}

}  // namespace danmaku_test
