#!/usr/bin/env bash
# The README's overlay screenshot: douyu_danmaku --demo --web=0 with a lively --demo-rate, the page
# in headless Chromium at 1280x720 over a dark background, captured once the screen has filled
# (tests/web_browser/overlay_screenshot.mjs). Usage: scripts/overlay_screenshot.sh [OUT]
# OUT defaults to docs/overlay.png. BUILD_DIR (default build/) is built first if needed (only
# douyu_danmaku), and the `ws` package is installed into BUILD_DIR/interop-node if missing (as the
# ctest fixture WsInterop.InstallWs does). With pngquant on PATH the PNG is palette-quantized (a
# third of the size, no visible change); the README wants it under 300 KB.
# Needs: chromium, fonts-noto-cjk (scripts/install-deps.sh), node and npm; fonts-noto-color-emoji
# for the simulator's emoji (without it they are drawn as boxes).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/overlay.png}
build=${BUILD_DIR:-build}

fc-match -f '%{family}\n' ':lang=zh-cn' | grep -qiE 'CJK|WenQuanYi|Han Sans' ||
  echo "overlay_screenshot.sh: no CJK font for zh (fc-match :lang=zh-cn); run scripts/install-deps.sh" >&2
fc-match -f '%{family}\n' 'emoji' | grep -qi 'emoji' ||
  echo "overlay_screenshot.sh: no emoji font: the simulator's emoji will be boxes (apt-get install fonts-noto-color-emoji)" >&2

BUILD_TARGETS=douyu_danmaku bash scripts/build.sh "$build"
if [ ! -d "$build/interop-node/node_modules/ws" ]; then
  python3 tests/interop/ws_interop.py install --bin-dir="$build/bin" --node-prefix="$build/interop-node"
fi
node tests/web_browser/overlay_screenshot.mjs --bin-dir="$build/bin" \
  --node-prefix="$build/interop-node" --out="$out" --rate="${RATE:-60}"
if command -v pngquant >/dev/null; then
  pngquant --quality=80-98 --speed=1 --strip --force --output "$out" "$out"
fi
size=$(stat -c %s "$out")
echo "overlay_screenshot.sh: $out, $((size / 1024)) KB" >&2
if [ "$size" -gt $((300 * 1024)) ]; then
  echo "overlay_screenshot.sh: over 300 KB; with pngquant (apt-get install pngquant) it is a third" >&2
fi
