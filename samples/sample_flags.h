// sample_flags.h — the samples' tiny command-line parser: `--name=value`, `--name value`,
// `--help`, and positional arguments. Header-only; samples only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace samples {

class Flags {
 public:
  // `known`: the flag names the program accepts (without "--"). An unknown flag, a flag without a
  // value, or --help prints `usage` to stderr and exits (status 2, or 0 for --help).
  Flags(int argc, char** argv, std::set<std::string> known, std::string usage)
      : usage_(std::move(usage)) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") fail(0);
      if (arg.rfind("--", 0) != 0 || arg == "--") {
        positional_.push_back(arg);
        continue;
      }
      std::string name = arg.substr(2);
      std::string value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        std::fprintf(stderr, "flag --%s needs a value\n", name.c_str());
        fail(2);
      }
      if (known.count(name) == 0) {
        std::fprintf(stderr, "unknown flag --%s\n", name.c_str());
        fail(2);
      }
      values_[name] = value;
    }
  }

  std::string get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  uint16_t port(const std::string& name, uint16_t fallback) const {
    std::string text = get(name, std::to_string(fallback));
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < 0 || v > 65535) {
      std::fprintf(stderr, "--%s: not a port number: '%s'\n", name.c_str(), text.c_str());
      fail(2);
    }
    return static_cast<uint16_t>(v);
  }
  const std::vector<std::string>& positional() const { return positional_; }
  [[noreturn]] void fail(int status) const {
    std::fprintf(stderr, "%s", usage_.c_str());
    std::exit(status);
  }

 private:
  std::string usage_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace samples
