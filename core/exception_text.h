// exception_text.h — a one-line description of the exception being handled, for logs.
#pragma once

#include <string>

namespace asyncore {

// "std::system_error: connect to 127.0.0.1:1: Connection refused"; call inside a catch block
// (or inside handle_error(), which runs inside one).
std::string current_exception_text();

// Readable C++ name of a mangled type name (typeid(x).name()).
std::string demangle(const char* mangled);

}  // namespace asyncore
