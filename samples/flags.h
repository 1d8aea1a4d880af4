// flags.h — the samples' command lines, on gflags (Debian's libgflags, which glog already uses).
//
// Each program DEFINEs its flags with gflags (types, defaults, descriptions, --noX for
// booleans, --a-b as --a_b); glog's own flags (--v, --logtostderr, --minloglevel, ...) come with
// the library. What gflags' ParseCommandLineFlags does not give is a way back on a bad command
// line: it prints its own "ERROR: ..." and calls exit(1) (unknown flag, bad value, missing
// value), and exits 1 after its --help listing. Our programs promise status 2 for a usage error
// and 0 for --help, with their own messages, and douyu_danmaku's parser must be callable from
// tests again and again. So parse_flags() splits the arguments exactly as gflags does and hands
// each value to gflags::SetCommandLineOption (gflags parses and stores it; a failure comes back
// as a return value), after putting every flag back to its default.
#pragma once

#include <string>
#include <vector>

namespace samples {

struct FlagUse {
  std::string name;   // gflags' name of the flag ("demo_rate" for --demo-rate)
  std::string given;  // as written, for messages ("--demo-rate")
  std::string value;  // as given; "true"/"false" for a boolean without one
};

struct ParsedFlags {
  std::string error;  // non-empty: a usage error (unknown flag, missing or bad value)
  bool help = false;  // --help, -h or -help: nothing else was looked at
  std::vector<std::string> positional;  // the arguments that are not flags, in order
  std::vector<FlagUse> uses;  // every flag given, in order (a repeatable flag sees all of them)
};

// `args`: argv without the program name. Every flag of the program (glog's included) is reset to
// its default first, so the result depends on `args` alone; the values stay set afterwards (main()
// reads them, and glog honours its own). Syntax, as gflags': --name=value, --name value (not for
// booleans), --name / --noname for booleans, one dash or two, "--" ends the flags; integers in
// plain decimal (stricter than gflags, whose strtoull reads "\t-1" as 2^64-1). gflags' own
// flags (--flagfile, --fromenv, --helpfull, --version, ...) are refused.
ParsedFlags parse_flags(const std::vector<std::string>& args);

// For main(): parse_flags(argv), then --help prints `usage` to stdout and exits 0, a usage error
// prints "PROGRAM: ERROR" and `usage` to stderr and exits 2. Returns the positional arguments.
std::vector<std::string> parse_flags_or_exit(int argc, char** argv, const std::string& usage);

// After parse_flags_or_exit(): a value the program itself refuses ("--port=70000") is a usage
// error too: "PROGRAM: MESSAGE" and `usage` on stderr, exit status 2.
[[noreturn]] void usage_error(const std::string& message, const std::string& usage);

// "  --name=DEFAULT  description" for each flag DEFINEd in `file` (pass __FILE__), for usage texts.
std::string describe_flags(const char* file);

// The lines a usage text ends with: glog's flags, which every sample accepts.
std::string glog_flags_help();

// Logs go to stderr unless the command line says --nologtostderr: glog's default becomes true
// (call before parsing; --help then shows it).
void log_to_stderr_by_default();

// A small sample's main() in one call: log_to_stderr_by_default(), parse_flags_or_exit(),
// google::InitGoogleLogging(). Returns the positional arguments.
std::vector<std::string> init_sample(int argc, char** argv, const std::string& usage);

}  // namespace samples
