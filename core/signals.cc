#include "core/signals.h"

#include <event2/event.h>
#include <glog/logging.h>

#include <stdexcept>
#include <string>

#include "core/exception_text.h"
#include "core/thread_check.h"

namespace asyncore {

SignalHandler::SignalHandler(Loop& loop, std::initializer_list<int> signals,
                             std::function<void(int)> fn)
    : loop_(loop), fn_(std::move(fn)) {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "SignalHandler::SignalHandler");
  for (int sig : signals) {
    event* ev = evsignal_new(loop_.base(), sig, &SignalHandler::on_signal, this);
    if (ev == nullptr || evsignal_add(ev, nullptr) != 0) {
      if (ev != nullptr) event_free(ev);
      release();
      throw std::runtime_error("SignalHandler: libevent cannot watch signal " +
                               std::to_string(sig));
    }
    events_.push_back(ev);
  }
}

SignalHandler::~SignalHandler() {
  ASYNCORE_CHECK_LOOP_THREAD(loop_, "SignalHandler::~SignalHandler");
  release();
}

void SignalHandler::release() {
  for (event* ev : events_) event_free(ev);  // event_del first: restores the old disposition
  events_.clear();
}

void SignalHandler::on_signal(int signal, short, void* arg) {
  auto* self = static_cast<SignalHandler*>(arg);
  if (!self->fn_) return;
  try {
    self->fn_(signal);
  } catch (...) {
    LOG(ERROR) << "exception escaped the SignalHandler function for signal " << signal << ": "
               << current_exception_text();
  }
}

}  // namespace asyncore
