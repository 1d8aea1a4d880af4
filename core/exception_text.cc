#include "core/exception_text.h"

#include <cxxabi.h>

#include <exception>
#include <memory>
#include <typeinfo>

namespace asyncore {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

std::string current_exception_text() {
  std::exception_ptr e = std::current_exception();
  if (!e) return "(no exception)";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return demangle(typeid(ex).name()) + ": " + ex.what();
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return t != nullptr ? demangle(t->name()) : std::string("unknown exception");
  }
}

}  // namespace asyncore
