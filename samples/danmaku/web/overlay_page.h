// The live barrage overlay page (samples/danmaku/web/overlay.html), built into the binary.
//
// The page is one self-contained HTML file (inline CSS and JS, no network but its own origin): it
// opens an EventSource on /events and flies each message across a transparent background, for an
// OBS browser source. Its query options (types, speed, size, max, bg, counter) are read by the page
// only. The bytes are generated at build time from overlay.html (embed_file.cmake), so editing the
// .html and rebuilding is all it takes.
#pragma once

#include <string_view>

namespace danmaku {

// The page's bytes: UTF-8 HTML, served as `text/html; charset=utf-8`. Static storage, valid for
// the whole program; safe to call from any thread.
std::string_view overlay_page();

}  // namespace danmaku
