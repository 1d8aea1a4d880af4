// The overlay page built into douyu_danmaku (samples/danmaku/web): the embedded bytes are the
// file's bytes, and the page needs nothing from the network. The page in a real browser:
// overlay_browser_test.mjs (CMakeLists.txt here).
#include "samples/danmaku/web/overlay_page.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

const std::string kPagePath =
    std::string(ASYNCORE_SOURCE_DIR) + "/samples/danmaku/web/overlay.html";

TEST(OverlayPage, EmbeddedBytesAreTheFile) {
  const std::string file = read_file(kPagePath);
  ASSERT_GT(file.size(), 1000u);
  // EXPECT_EQ on two 20 KB strings would print both; say where they part instead.
  const std::string_view page = danmaku::overlay_page();
  ASSERT_EQ(page.size(), file.size()) << "rebuild: the embedded page is not " << kPagePath;
  const auto [at, _] = std::mismatch(page.begin(), page.end(), file.begin());
  EXPECT_EQ(at, page.end()) << "embedded page differs from the file at byte "
                            << (at - page.begin());
  EXPECT_EQ(page.data()[page.size()], '\0');  // the generator's terminator, outside the view
}

TEST(OverlayPage, IsUtf8HtmlWithItsOwnStream) {
  const std::string_view page = danmaku::overlay_page();
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(page.find("<meta charset=\"utf-8\">"), std::string_view::npos);
  EXPECT_NE(page.find("new EventSource(\"events\")"), std::string_view::npos);
  EXPECT_NE(page.find("html, body"), std::string_view::npos);
  EXPECT_NE(page.find("background: transparent"), std::string_view::npos);  // OBS browser source
}

TEST(OverlayPage, FetchesNothingElse) {  // offline: no CDN, no fonts or images from anywhere
  const std::string_view page = danmaku::overlay_page();
  for (const std::string_view needle : {"src=", "href=", "@import", "url(", "fetch(",
                                        "XMLHttpRequest", "WebSocket(", "innerHTML"}) {
    EXPECT_EQ(page.find(needle), std::string_view::npos) << "the page contains " << needle;
  }
}

}  // namespace
