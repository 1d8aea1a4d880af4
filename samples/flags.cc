// flags.cc — gflags, with usage errors and --help that stay the programs' own (see flags.h).
#include "samples/flags.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

namespace samples {
namespace {

// gflags' own flags read files or the environment behind our back (their errors would be
// dropped) or print a listing and exit(1): none of them belongs on our command lines.
bool gflags_own(const std::string& name) {
  static const std::set<std::string> kOwn = {"flagfile",
                                             "fromenv",
                                             "tryfromenv",
                                             "undefok",
                                             "help",
                                             "helpfull",
                                             "helpshort",
                                             "helpxml",
                                             "helpon",
                                             "helpmatch",
                                             "helppackage",
                                             "version",
                                             "tab_completion_columns",
                                             "tab_completion_word"};
  return kOwn.count(name) != 0;
}

// The program's flag called `name` ("demo-rate" finds demo_rate, as in gflags).
bool find_flag(const std::string& name, gflags::CommandLineFlagInfo* info) {
  return gflags::GetCommandLineFlagInfo(name.c_str(), info) && !gflags_own(info->name);
}

bool is_unsigned(const std::string& type) { return type == "uint32" || type == "uint64"; }
bool is_signed(const std::string& type) { return type == "int32" || type == "int64"; }

// gflags reads integers with strtoll/strtoull, which also take blanks, a '+', 0x... and, for
// unsigned types, turn "\t-1" into 2^64-1. Integers here are plain decimal digits ('-' first for
// signed types); the range check stays gflags'.
bool plain_integer(const std::string& type, const std::string& value) {
  const size_t sign = is_signed(type) && !value.empty() && value[0] == '-' ? 1 : 0;
  return value.size() > sign && value.find_first_not_of("0123456789", sign) == std::string::npos;
}

// What a value of gflags' `type` must look like (it did not).
std::string expected(const std::string& type) {
  if (type == "bool") return "true or false";
  if (type == "double") return "not a number";
  if (is_unsigned(type)) return "not a non-negative decimal integer in range";
  if (is_signed(type)) return "not a decimal integer in range";
  return "refused";
}

void reset_to_defaults() {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  for (const auto& f : all) {
    if (f.current_value != f.default_value && !gflags_own(f.name))
      gflags::SetCommandLineOption(f.name.c_str(), f.default_value.c_str());
  }
}

std::string g_program = "program";  // for usage_error(); set by parse_flags_or_exit()

std::string dashed(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

}  // namespace

ParsedFlags parse_flags(const std::vector<std::string>& args) {
  ParsedFlags out;
  auto fail = [&](std::string why) {
    out.error = std::move(why);
    return out;
  };
  reset_to_defaults();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // the rest are arguments, even if they start with '-'
      out.positional.insert(out.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {  // "-" is an argument too (gflags agrees)
      out.positional.push_back(arg);
      continue;
    }
    const size_t dashes = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    const std::string given = arg.substr(0, eq);
    const std::string name = given.substr(dashes);
    std::optional<std::string> value;
    if (eq != std::string::npos) value = arg.substr(eq + 1);
    if (name == "help" || name == "h") {
      out.help = true;
      return out;
    }
    gflags::CommandLineFlagInfo info;
    if (find_flag(name, &info)) {
      if (info.type == "bool" && !value) {
        value = "true";
      } else if (!value) {
        if (i + 1 >= args.size()) return fail(given + " needs a value");
        value = args[++i];
      }
    } else if (name.rfind("no", 0) == 0 && find_flag(name.substr(2), &info) &&
               info.type == "bool") {
      if (value) return fail(given + " takes no value");
      value = "false";
    } else {
      return fail("unknown flag " + given);
    }
    // gflags parses the value by the flag's type and stores it; "" means it refused.
    const bool integer = is_signed(info.type) || is_unsigned(info.type);
    if ((integer && !plain_integer(info.type, *value)) ||
        gflags::SetCommandLineOption(info.name.c_str(), value->c_str()).empty())
      return fail(given + ": bad value '" + *value + "' (" + expected(info.type) + ")");
    out.uses.push_back(FlagUse{info.name, given, *value});
  }
  return out;
}

std::vector<std::string> parse_flags_or_exit(int argc, char** argv, const std::string& usage) {
  const char* slash = std::strrchr(argv[0], '/');
  g_program = slash != nullptr ? slash + 1 : argv[0];
  ParsedFlags parsed = parse_flags(std::vector<std::string>(argv + 1, argv + argc));
  if (parsed.help) {
    std::fputs(usage.c_str(), stdout);
    std::exit(0);
  }
  if (!parsed.error.empty()) usage_error(parsed.error, usage);
  return parsed.positional;
}

void usage_error(const std::string& message, const std::string& usage) {
  std::fprintf(stderr, "%s: %s\n%s", g_program.c_str(), message.c_str(), usage.c_str());
  std::exit(2);
}

std::string describe_flags(const char* file) {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  std::string out;
  for (const auto& f : all) {
    if (f.filename != file) continue;
    std::string head = "  --" + dashed(f.name);
    if (f.type != "bool") head += "=" + (f.default_value.empty() ? "\"\"" : f.default_value);
    head.resize(std::max<size_t>(head.size() + 2, 21), ' ');
    out += head + f.description + "\n";
  }
  return out;
}

std::string glog_flags_help() {
  return R"(Logging (glog's flags; logs go to stderr):
  --v=N              verbose logging up to level N (default 0); --vmodule=FILE=N,... per file
  --minloglevel=N    drop log lines below level N: 0 INFO (default), 1 WARNING, 2 ERROR
  --nologtostderr    write log files instead (to --log_dir=DIR, default /tmp); lines of
                     --stderrthreshold=N (default 2, ERROR) and above still reach stderr
)";
}

void log_to_stderr_by_default() {
  gflags::SetCommandLineOptionWithMode("logtostderr", "true", gflags::SET_FLAGS_DEFAULT);
}

std::vector<std::string> init_sample(int argc, char** argv, const std::string& usage) {
  log_to_stderr_by_default();
  std::vector<std::string> positional = parse_flags_or_exit(argc, argv, usage);
  google::InitGoogleLogging(argv[0]);
  return positional;
}

}  // namespace samples
