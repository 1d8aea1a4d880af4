// A screenshot of the overlay for the README (scripts/overlay_screenshot.sh runs this):
//
//   node overlay_screenshot.mjs --bin-dir=BUILD/bin --node-prefix=BUILD/interop-node --out=FILE.png
//
// douyu_danmaku --demo --web=0 with a lively --demo-rate, the page at 1280x720 over a dark
// background (bg=, standing in for the video an OBS scene would put under it), captured once the
// screen has filled: messages across the whole width, a gift and entries among them.
import path from "node:path";
import { check, loadWs, run, startBrowser, startOverlay } from "./browser_harness.mjs";

const args = {};
for (const a of process.argv.slice(2)) {
  const m = a.match(/^--([a-z-]+)=(.*)$/);
  check(m, `unknown argument ${a}`);
  args[m[1]] = m[2];
}
const out = path.resolve(args.out || "docs/overlay.png");
const BG = "#202634";  // flat: a gradient would make the PNG twice as big

run("overlay screenshot", async () => {
  check(args["bin-dir"] && args["node-prefix"], "usage: --bin-dir=DIR --node-prefix=DIR [--out=FILE]");
  const WebSocket = loadWs(args["node-prefix"]);
  const [{ url }, { page }] = await Promise.all([
    startOverlay(args["bin-dir"], ["--demo-rate=" + (args.rate || "60")]),
    startBrowser(WebSocket, { width: 1280, height: 720 }),
  ]);
  await page.navigate(url + "?size=30&bg=" + encodeURIComponent(BG));
  // Filled: the first wave has reached the left edge (the lanes behind it are full), a gift and
  // some entries are up.
  await page.until(`(() => {
      const fly = [...document.querySelectorAll(".fly.go")];
      return fly.length >= 20 && fly.some(e => e.getBoundingClientRect().left < innerWidth * 0.05) &&
             document.querySelector(".gift.go") && document.querySelectorAll(".enter").length >= 4;
    })()`, 40, "a filled screen");
  await page.screenshot(out);
  console.log(`wrote ${out}`);
});
