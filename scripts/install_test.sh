#!/usr/bin/env bash
# The install test: installs BUILD_DIR (default build/, already built) into a temporary prefix,
# then builds the out-of-tree consumer tests/install/consumer/ against it two ways,
#   (a) CMake: find_package(asyncore) with -DCMAKE_PREFIX_PATH=<prefix>
#   (b) pkg-config: g++ -std=c++20 main.cc $(pkg-config --cflags --libs asyncore-douyu-simulator ...)
# runs both binaries (each must exit 0), and removes everything it made. The consumer is copied
# out of the tree first, and each build must not have read a single file of the source tree: the
# compilers' dependency lists (every header read), the pkg-config flags and the installed files
# are checked for the source path. Usage: scripts/install_test.sh [BUILD_DIR]
# ASYNCORE_KEEP_INSTALL_TEST=1 keeps the temporary folder (its path is printed).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
[ -f "$build/CMakeCache.txt" ] || { echo "install_test.sh: $build/ is not a build folder (run scripts/build.sh $build first)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/asyncore-install-test.XXXXXX)
if [ "${ASYNCORE_KEEP_INSTALL_TEST:-0}" = 1 ]; then
  echo "install_test.sh: keeping $tmp" >&2
else
  trap 'rm -rf "$tmp"' EXIT
fi
prefix=$tmp/prefix
status=0

# run NAME LOG CMD...: runs CMD with its output in LOG; on failure says so loudly with LOG's tail.
run() {
  local name=$1 log=$2
  shift 2
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    echo "install_test.sh: FAILED: $name (exit status $rc): $*" >&2
    tail -n 40 "$log" | sed 's/^/    /' >&2
    return 1
  fi
}
# no_source_path WHAT FILES...: fails when any of FILES names the source tree (text files only: the
# libraries' debug information names their sources, which is fine).
no_source_path() {
  local what=$1
  shift
  if grep -I -l -F "$root/" "$@" >/dev/null 2>&1; then
    echo "install_test.sh: FAILED: $what refers to the source tree $root:" >&2
    grep -I -n -F "$root/" "$@" | head -n 5 | sed 's/^/    /' >&2
    return 1
  fi
}

echo "=== install: cmake --install $build --prefix $prefix" >&2
run "cmake --install $build" "$tmp/install.log" cmake --install "$build" --prefix "$prefix" || exit 1
for f in include/asyncore/core/dispatcher.h include/asyncore/client/async_chat.h \
         include/asyncore/douyu/client/douyu_client.h include/asyncore/web/http_server.h \
         lib/cmake/asyncore/asyncoreConfig.cmake \
         lib/pkgconfig/asyncore-douyu.pc; do
  [ -f "$prefix/$f" ] || { echo "install_test.sh: FAILED: $f not installed" >&2; exit 1; }
done
[ ! -e "$prefix/include/core" ] || { echo "install_test.sh: FAILED: headers in include/core (expected include/asyncore/core)" >&2; exit 1; }
if find "$prefix" -path "$prefix/bin/*" -o -name '*_test' | grep -q .; then
  echo "install_test.sh: FAILED: executables installed (only libraries and headers belong):" >&2
  find "$prefix" -path "$prefix/bin/*" -o -name '*_test' | head -n 5 >&2
  exit 1
fi
no_source_path "the installed files" -r "$prefix" || exit 1
cp -r tests/install/consumer "$tmp/consumer"

echo "=== consumer (a): CMake, find_package(asyncore)" >&2
if run "configure the consumer with CMake" "$tmp/cmake-configure.log" \
       cmake -S "$tmp/consumer" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
       -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON &&
   run "build the consumer with CMake" "$tmp/cmake-build.log" \
       cmake --build "$tmp/cmake-build" -j "$(nproc)" &&
   # asyncore from the prefix, and no file of the tree in any compile command or header read.
   run "find_package(asyncore) used $prefix" "$tmp/cmake-dir.log" \
       grep -q -F "asyncore_DIR:PATH=$prefix/" "$tmp/cmake-build/CMakeCache.txt" &&
   no_source_path "the CMake build" "$tmp/cmake-build/compile_commands.json" \
       $(find "$tmp/cmake-build" -name 'compiler_depend.make' -o -name '*.d') &&
   run "run the CMake-built consumer" "$tmp/cmake-run.log" timeout 60 "$tmp/cmake-build/consumer"; then
  echo "    $(tail -n 1 "$tmp/cmake-run.log")" >&2
else
  status=1
fi

echo "=== consumer (b): pkg-config" >&2
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
modules="asyncore-web asyncore-douyu-simulator asyncore-douyu asyncore-client asyncore-core"
if flags=$(pkg-config --cflags --libs $modules 2>"$tmp/pkg-config.log"); then
  echo "    pkg-config --cflags --libs $modules: $flags" >&2
  echo "$flags" >"$tmp/pkg-config-flags.txt"
  # -MD: g++ writes every header it read to consumer.d, which must name no file of the tree.
  if no_source_path "pkg-config's flags" "$tmp/pkg-config-flags.txt" &&
     run "build the consumer with pkg-config" "$tmp/pkg-build.log" \
         ${CXX:-g++} -std=c++20 -MD -MF "$tmp/consumer.d" "$tmp/consumer/main.cc" \
         -o "$tmp/consumer-pkg" $flags &&
     no_source_path "the pkg-config build" "$tmp/consumer.d" &&
     run "run the pkg-config-built consumer" "$tmp/pkg-run.log" timeout 60 "$tmp/consumer-pkg"; then
    echo "    $(tail -n 1 "$tmp/pkg-run.log")" >&2
  else
    status=1
  fi
else
  echo "install_test.sh: FAILED: pkg-config --cflags --libs $modules:" >&2
  sed 's/^/    /' "$tmp/pkg-config.log" >&2
  status=1
fi

if [ $status -eq 0 ]; then
  echo "install_test.sh: OK (install, CMake consumer, pkg-config consumer)" >&2
else
  echo "install_test.sh: FAILED (see above)" >&2
fi
exit $status
