// memcache_demo — MemcacheClient's pipelining in one screen: four requests written back to back
// before any reply is read, answered in order:
//
//   memcache_demo [--server=127.0.0.1:11211] [--key=memcache_demo:greeting] [--timeout=5]
//
// prints
//
//   set memcache_demo:greeting -> STORED
//   get memcache_demo:greeting -> "hello, memcached" (flags 42)
//   delete memcache_demo:greeting -> DELETED
//   get memcache_demo:greeting -> not found
//
// Exit status: 0 when every answer is the one expected; 1 otherwise (the server cannot be
// reached, closed the connection or did not answer within --timeout seconds: a line on stderr
// says which); 2 on a bad command line. SIGINT/SIGTERM give up (status 1).
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "samples/flags.h"
#include "samples/memcache/memcache_client.h"
#include "samples/sample_util.h"

DEFINE_string(server, "127.0.0.1:11211", "memcached's HOST:PORT");
DEFINE_string(key, "memcache_demo:greeting", "the key the demo sets, gets and deletes");
DEFINE_double(timeout, 5, "seconds to wait for all the answers");

namespace {

using memcache::Result;
using memcache::Status;

// "HOST:PORT" (or "[V6]:PORT") into its parts; false when it is not that.
bool split_server(const std::string& server, std::string& host, uint16_t& port) {
  const size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = server.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string digits = server.substr(colon + 1);
  char* end = nullptr;
  const long n = std::strtol(digits.c_str(), &end, 10);
  if (digits.empty() || *end != '\0' || n <= 0 || n > 65535) return false;
  port = static_cast<uint16_t>(n);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: memcache_demo [flags]\n" + samples::describe_flags(__FILE__) +
                            "  --help  this text\n\n" + samples::glog_flags_help();
  if (!samples::init_sample(argc, argv, usage).empty()) samples::usage_error("no arguments", usage);
  std::string host;
  uint16_t port = 0;
  if (!split_server(FLAGS_server, host, port)) {
    samples::usage_error("--server: not HOST:PORT: '" + FLAGS_server + "'", usage);
  }
  if (!(FLAGS_timeout > 0 && FLAGS_timeout <= 3600)) {
    samples::usage_error("--timeout: give 0 < seconds <= 3600", usage);
  }
  if (std::string why = memcache::key_error(FLAGS_key); !why.empty()) {
    samples::usage_error("--key: " + why, usage);
  }

  asyncore::Loop loop;
  auto mc = asyncore::make_dispatcher<memcache::MemcacheClient>(loop, host, port);
  samples::StopOnSignals stop(loop, [&](int) { mc->close(); });  // pending requests fail
  const std::string& key = FLAGS_key;
  const std::string value = "hello, memcached";

  // Each callback prints its answer and counts the unexpected ones; the last one closes the
  // client, which empties the loop's map, so loop() returns. The timer ends a silent server.
  int left = 4;
  int unexpected = 0;
  asyncore::TimerId timeout = loop.call_later(FLAGS_timeout, [&] {
    std::fprintf(stderr, "memcache_demo: no answer from %s within %g s\n", FLAGS_server.c_str(),
                 FLAGS_timeout);
    mc->close();
  });
  auto report = [&](const std::string& request, const Result& r, Status expected,
                    const std::string& answer) {
    if (r.status == expected) {
      std::printf("%s -> %s\n", request.c_str(), answer.c_str());
    } else {
      ++unexpected;
      std::printf("%s -> %s %s\n", request.c_str(), memcache::status_name(r.status),
                  r.message.c_str());
    }
    std::fflush(stdout);
    if (--left == 0) {
      loop.cancel(timeout);
      mc->close();
    }
  };

  // Four requests, written before any answer arrives: the pipeline.
  mc->set(key, value, 42, 0,
          [&](const Result& r) { report("set " + key, r, Status::kStored, "STORED"); });
  mc->get(key, [&](Result r) {
    const memcache::Value* v = r.find(key);
    const std::string shown =
        v ? "\"" + v->data + "\" (flags " + std::to_string(v->flags) + ")" : "(missing)";
    if (r.status == Status::kOk && (v == nullptr || v->data != value)) {
      r = Result{Status::kInvalid, {}, shown + ", not the value set"};  // `v` dangles from here
    }
    report("get " + key, r, Status::kOk, shown);
  });
  mc->remove(key,
             [&](const Result& r) { report("delete " + key, r, Status::kDeleted, "DELETED"); });
  mc->get(key, [&](Result r) {
    if (r.status == Status::kOk && !r.values.empty()) {
      r = Result{Status::kInvalid, {}, "(still there after the delete)"};
    }
    report("get " + key, r, Status::kOk, "not found");
  });
  loop.loop();

  if (unexpected == 0) return 0;
  if (mc->connect_failed()) {
    std::fprintf(stderr, "memcache_demo: cannot reach %s: %s\n", FLAGS_server.c_str(),
                 mc->close_reason().c_str());
  } else {
    std::fprintf(stderr, "memcache_demo: %d of 4 answers were not the expected ones (%s)\n",
                 unexpected, mc->close_reason().c_str());
  }
  return 1;
}
