#!/usr/bin/env bash
# Installs the Debian packages this project needs, and nothing when they are all there.
# Shared by both README commands and by .ci/run. Usage: scripts/install-deps.sh [--fuzz] [--bench-tools] [--docs]
# --docs: doxygen, for scripts/docs.sh (the API reference); not part of the default list.
set -euo pipefail

packages=(g++ cmake make pkg-config libevent-dev libgoogle-glog-dev libgflags-dev
          libgtest-dev libgmock-dev libbenchmark-dev python3 libssl-dev openssl
          libwslay-dev libhiredis-dev redis-server memcached libhttp-parser-dev
          chromium fonts-noto-cjk fonts-noto-color-emoji)
# libhttp-parser-dev: the web overlay's HTTP parser (douyu_danmaku --web). chromium and a CJK font:
# the overlay's end-to-end test renders the page in headless Chromium (Chinese barrage without a
# CJK font is drawn as empty boxes; the README's screenshot is taken the same way).
# Node.js and npm run the WebSocket interop tests (tests/interop/, the `ws` package from npm).
# Debian's packages only when the commands are missing: a node from elsewhere (NodeSource, nvm)
# brings its own npm, and Debian's npm package would conflict with it.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --bench-tools) packages+=(gnuplot-nox linux-perf valgrind time bc) ;;
    --docs) packages+=(doxygen) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps.sh: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
