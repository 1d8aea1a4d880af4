#include "samples/memcache/memcache_client.h"

#include <glog/logging.h>

#include <algorithm>
#include <charconv>
#include <utility>

#include "core/exception_text.h"
#include "core/socket.h"

namespace memcache {

namespace {

// A line from the server, fit for a log message: at most 80 bytes, unprintable bytes escaped.
std::string printable(std::string_view line) {
  std::string out = "'";
  for (unsigned char c : line.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += line.size() > 80 ? "'..." : "'";
  return out;
}

// A whole token as an unsigned number; false for anything else, overflow included.
template <class T>
bool parse_number(std::string_view token, T& out) {
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && end == token.data() + token.size() && !token.empty();
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> tokens;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    if (end > pos) tokens.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  return tokens;
}

}  // namespace

const char* status_name(Status status) {
  switch (status) {
    case Status::kOk:
      return "OK";
    case Status::kStored:
      return "STORED";
    case Status::kNotStored:
      return "NOT_STORED";
    case Status::kExists:
      return "EXISTS";
    case Status::kNotFound:
      return "NOT_FOUND";
    case Status::kDeleted:
      return "DELETED";
    case Status::kServerError:
      return "SERVER_ERROR";
    case Status::kInvalid:
      return "INVALID";
    case Status::kClosed:
      return "CLOSED";
  }
  return "?";
}

const Value* Result::find(std::string_view key) const {
  for (const Value& v : values) {
    if (v.key == key) return &v;
  }
  return nullptr;
}

std::string key_error(std::string_view key) {
  if (key.empty()) return "empty key";
  if (key.size() > MemcacheClient::kMaxKeyLength) {
    return "key of " + std::to_string(key.size()) + " bytes (memcached's limit is " +
           std::to_string(MemcacheClient::kMaxKeyLength) + ")";
  }
  // A space would split the key into two command tokens, "\r\n" would end the command: the
  // server would read something else than what was meant, and the FIFO would go out of step.
  for (unsigned char c : key) {
    if (c <= 0x20 || c == 0x7f) return "key " + printable(key) + " has a space or control byte";
  }
  return "";
}

// ---------------------------------------------------------------- requests

MemcacheClient::MemcacheClient(asyncore::Loop& loop, const std::string& host, uint16_t port)
    : AsyncChat(loop), name_(host + ":" + std::to_string(port)) {
  set_terminator("\r\n");  // every reply starts with a line
  connect(host, port);
}

MemcacheClient::~MemcacheClient() {
  // ~Dispatcher does not call the virtual close(); ours must run to fail what is pending.
  if (is_open()) close();
}

void MemcacheClient::get(std::string_view key, Callback done) {
  get_many({std::string(key)}, std::move(done));
}

void MemcacheClient::get_many(std::vector<std::string> keys, Callback done) {
  if (keys.empty()) {
    done(Result{Status::kInvalid, {}, "get with no keys"});
    return;
  }
  std::string command = "get";
  for (const std::string& key : keys) {
    if (std::string why = key_error(key); !why.empty()) {
      done(Result{Status::kInvalid, {}, why});
      return;
    }
    command += ' ';
    command += key;
  }
  command += "\r\n";
  send_request(Kind::kGet, std::move(keys), command, {}, std::move(done));
}

void MemcacheClient::set(std::string_view key, std::string_view value, uint32_t flags,
                         uint32_t exptime, Callback done) {
  if (std::string why = key_error(key); !why.empty()) {
    done(Result{Status::kInvalid, {}, why});
    return;
  }
  // The value goes as a counted data block: it may hold anything, "\r\n" included.
  std::string command = "set " + std::string(key) + " " + std::to_string(flags) + " " +
                        std::to_string(exptime) + " " + std::to_string(value.size()) + "\r\n";
  send_request(Kind::kSet, {}, command, value, std::move(done));
}

void MemcacheClient::remove(std::string_view key, Callback done) {
  if (std::string why = key_error(key); !why.empty()) {
    done(Result{Status::kInvalid, {}, why});
    return;
  }
  send_request(Kind::kDelete, {}, "delete " + std::string(key) + "\r\n", {}, std::move(done));
}

void MemcacheClient::send_request(Kind kind, std::vector<std::string> keys,
                                  std::string_view command, std::string_view data, Callback done) {
  if (!is_open()) {
    done(Result{Status::kClosed, {}, "client is closed: " + close_reason_});
    return;
  }
  // Into the FIFO first, then out: if push() finds the connection gone (or crosses the
  // high-water mark), close() fails this request with the others, exactly once.
  pending_.push_back(Request{kind, std::move(keys), std::move(done)});
  push(command);
  if (kind == Kind::kSet) {
    push(data);
    push("\r\n");
  }
}

// ---------------------------------------------------------------- replies

void MemcacheClient::collect_incoming_data(std::string_view data) {
  // A data block is bounded by its byte count (checked in start_value); a line only by this.
  if (!reading_value_ && in_.size() + data.size() > kMaxLineLength) {
    protocol_error("reply line longer than " + std::to_string(kMaxLineLength) +
                   " bytes: " + printable(in_ + std::string(data)));
    return;  // closed: AsyncChat drops the rest of the input
  }
  in_.append(data);
}

void MemcacheClient::found_terminator() {
  std::string chunk = std::exchange(in_, {});
  if (reading_value_) {
    finish_value(std::move(chunk));
  } else {
    handle_line(chunk);
  }
}

void MemcacheClient::handle_line(std::string_view line) {
  if (pending_.empty()) {
    protocol_error("reply " + printable(line) + " with no request pending");
    return;
  }
  const Kind kind = pending_.front().kind;
  // Errors may answer any request; they end it, and the connection goes on.
  if (line == "ERROR" || line.starts_with("CLIENT_ERROR ") || line.starts_with("SERVER_ERROR ")) {
    answer(Result{Status::kServerError, {}, std::string(line)});
    return;
  }
  if (kind == Kind::kGet) {
    if (line.starts_with("VALUE ")) {
      start_value(line);
    } else if (line == "END") {
      answer(Result{Status::kOk, std::exchange(values_, {}), {}});
    } else {
      protocol_error("reply " + printable(line) + " to a get");
    }
    return;
  }
  Status status;
  if (kind == Kind::kSet && line == "STORED") {
    status = Status::kStored;
  } else if (kind == Kind::kSet && line == "NOT_STORED") {
    status = Status::kNotStored;
  } else if (kind == Kind::kSet && line == "EXISTS") {
    status = Status::kExists;
  } else if (kind == Kind::kDelete && line == "DELETED") {
    status = Status::kDeleted;
  } else if (line == "NOT_FOUND") {
    status = Status::kNotFound;
  } else {
    protocol_error("reply " + printable(line) + " to a " + (kind == Kind::kSet ? "set" : "delete"));
    return;
  }
  answer(Result{status, {}, {}});
}

// "VALUE <key> <flags> <bytes> [<cas>]": the data block follows, so the terminator becomes a
// byte count — the data may contain "\r\n" itself, a line terminator would cut it.
void MemcacheClient::start_value(std::string_view line) {
  const std::vector<std::string_view> tokens = split_spaces(line);
  uint32_t flags = 0;
  uint64_t bytes = 0;
  if ((tokens.size() != 4 && tokens.size() != 5) || !parse_number(tokens[2], flags) ||
      !parse_number(tokens[3], bytes)) {
    protocol_error("unparseable VALUE line " + printable(line));
    return;
  }
  const std::vector<std::string>& asked = pending_.front().keys;
  if (std::find(asked.begin(), asked.end(), tokens[1]) == asked.end()) {
    protocol_error("VALUE for key " + printable(tokens[1]) + ", which the get did not ask for");
    return;
  }
  if (bytes > max_value_size_) {
    protocol_error("VALUE of " + std::to_string(bytes) + " bytes for key " + printable(tokens[1]) +
                   ", above the limit of " + std::to_string(max_value_size_));
    return;
  }
  value_ = Value{std::string(tokens[1]), {}, flags};
  reading_value_ = true;
  in_.reserve(bytes + 2);
  set_terminator(bytes + 2);  // the data, then its "\r\n"
}

void MemcacheClient::finish_value(std::string block) {
  if (!block.ends_with("\r\n")) {
    protocol_error("data block of key " + printable(value_.key) + " not followed by \\r\\n");
    return;
  }
  block.resize(block.size() - 2);
  value_.data = std::move(block);
  values_.push_back(std::move(value_));
  reading_value_ = false;
  set_terminator("\r\n");  // back to lines: the next VALUE, or END
}

void MemcacheClient::answer(Result result) {
  // Pop before the callback runs: it may make new requests or close() the client, and must find
  // the FIFO already without the request it answers.
  Callback done = std::move(pending_.front().done);
  pending_.pop_front();
  values_.clear();
  done(std::move(result));
}

// ---------------------------------------------------------------- closing

void MemcacheClient::protocol_error(const std::string& what) {
  LOG(ERROR) << "memcache " << name_ << ": protocol error: " << what << "; closing, "
             << pending_.size() << " pending request(s) fail";
  close_reason_ = "protocol error: " + what;
  close();
}

void MemcacheClient::handle_close() {
  // The server closed the connection (or reset it: disconnect_errno() says which).
  if (close_reason_.empty()) {
    close_reason_ =
        disconnect_errno() != 0
            ? "connection to " + name_ + " lost: " + asyncore::errno_text(disconnect_errno())
            : "the server " + name_ + " closed the connection";
  }
  if (!pending_.empty()) {
    LOG(WARNING) << "memcache " << name_ << ": " << close_reason_ << "; " << pending_.size()
                 << " pending request(s) fail";
  }
  close();
}

void MemcacheClient::handle_error() {
  // A failed lookup or connect, or an exception from a callback (its request was already
  // answered; the others fail).
  close_reason_ = asyncore::current_exception_text();
  LOG(ERROR) << "memcache " << name_ << ": " << close_reason_;
  close();
}

void MemcacheClient::close() {
  AsyncChat::close();
  if (close_reason_.empty()) close_reason_ = "closed by the client";
  // Take the FIFO out first: a callback may make a request (it fails at once: the client is
  // closed) or call close() again, and neither may touch the deque being walked.
  std::deque<Request> failed = std::exchange(pending_, {});
  reading_value_ = false;
  values_.clear();
  for (Request& request : failed) request.done(Result{Status::kClosed, {}, close_reason_});
}

}  // namespace memcache
