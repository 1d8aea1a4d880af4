#include "samples/danmaku/web_overlay.h"

#include <atomic>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "core/address.h"
#include "samples/danmaku/format.h"
#include "samples/danmaku/web/overlay_page.h"

namespace danmaku {

using asyncore::Address;

namespace {
std::atomic<uint64_t> next_id{1};
}

WebOverlay::WebOverlay(asyncore::Loop& loop, const std::string& host, uint16_t port,
                       asyncore::web::HttpServerOptions server_options,
                       asyncore::web::EventStreamOptions stream_options)
    : id_(next_id.fetch_add(1, std::memory_order_relaxed)) {
  const std::optional<Address> addr = Address::parse(host, port);
  if (!addr) throw std::runtime_error("--web-host: not a numeric address: " + host);
  auto stream = std::make_shared<asyncore::web::EventStream>(loop, stream_options);
  try {
    server_ = std::make_unique<asyncore::web::HttpServer>(loop, *addr, server_options);
  } catch (const std::system_error& e) {
    throw std::runtime_error("--web: cannot listen on " + addr->to_string() + ": " +
                             e.code().message());
  }
  server_->add_resource("/", std::string(overlay_page()), "text/html; charset=utf-8");
  server_->add_event_stream("/events", stream);
  publisher_ = stream->publisher();
  url_ = "http://" + server_->address().to_string() + "/";
}

WebOverlay::~WebOverlay() { close(); }

void WebOverlay::close() {
  // The server (and, until the end of this turn, connections it closes) hold the references to
  // the stream: the browsers' connections go now, the stream and its keep-alive timer with the
  // last of them (the loop can end).
  server_.reset();
}

void WebOverlay::add(const asyncore::douyu::Message& message) {
  if (!publisher_->has_subscribers()) return;
  Batch& batch = my_batch();
  // The JSON is one line (json_append_message escapes every line break): exactly one data: line.
  batch.framed += "data: ";
  append_jsonl(batch.framed, message);  // ends with '\n'
  batch.framed += '\n';
  ++batch.events;
  if (batch.framed.size() >= kBatchBytes) hand_over(batch);
}

void WebOverlay::caught_up() {
  Batch& batch = my_batch();
  if (batch.events > 0) hand_over(batch);
}

WebOverlay::Batch& WebOverlay::my_batch() {
  // The calling thread's batch, made on its first message and kept until this object goes (one
  // per run; every worker thread ends before it does).
  thread_local uint64_t owner = 0;
  thread_local Batch* batch = nullptr;
  if (owner != id_ || batch == nullptr) {
    std::lock_guard lock(batches_mutex_);
    batches_.push_back(std::make_unique<Batch>());
    batch = batches_.back().get();
    owner = id_;
  }
  return *batch;
}

void WebOverlay::hand_over(Batch& batch) {
  publisher_->post(std::move(batch.framed), batch.events);
  batch.framed = std::string();
  batch.framed.reserve(kBatchBytes + 1024);
  batch.events = 0;
}

}  // namespace danmaku
