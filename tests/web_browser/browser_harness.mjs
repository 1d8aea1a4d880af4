// What the overlay's browser test and screenshot script share: children with deadlines
// (douyu_danmaku --web, headless Chromium), a DevTools-protocol session over the `ws` package, and
// polling a page with a deadline. Used by overlay_browser_test.mjs and overlay_screenshot.mjs.
//
// Chromium: Debian's `chromium`, started --headless --no-sandbox --disable-gpu
// --disable-background-networking --remote-debugging-port=0 with a fresh --user-data-dir; the
// DevTools port is read from <user-data-dir>/DevToolsActivePort. Every child is killed by
// closeAll(), which the callers run in `finally` and on SIGINT/SIGTERM: no stray browser.
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export class Failure extends Error {}

export function check(condition, what) {
  if (!condition) throw new Failure(what);
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// `ws` from the npm prefix that the ctest fixture WsInterop.InstallWs fills (<build>/interop-node).
export function loadWs(nodePrefix) {
  const require = createRequire(path.join(path.resolve(nodePrefix), "package.json"));
  try {
    return require("ws");
  } catch (e) {
    throw new Failure(`the ws package is not in ${nodePrefix}: run the WsInterop.InstallWs test ` +
                      `(ctest -R WsInterop.InstallWs) or npm install --prefix ${nodePrefix} ws@8`);
  }
}

const children = new Set();
const tmpDirs = new Set();

// A child whose stderr is kept (and stdout, unless ignored); waitFor() waits on its stderr text.
export class Child {
  // group: the child leads a process group of its own, and stop() ends the whole group (Chromium's
  // renderer, GPU and utility processes with it, before its profile is removed).
  constructor(argv, name, { stdout = "ignore", group = false } = {}) {
    this.name = name;
    this.argv = argv;
    this.group = group;
    this.err = "";
    this.exited = null;  // {code, signal} once gone
    this.listeners = new Set();
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ["ignore", stdout, "pipe"], detached: group });
    children.add(this);
    this.proc.stderr.setEncoding("utf8");
    this.proc.stderr.on("data", chunk => {
      this.err += chunk;
      for (const l of this.listeners) l();
    });
    this.proc.on("error", e => {
      this.spawnError = e;
      for (const l of this.listeners) l();
    });
    this.proc.on("exit", (code, signal) => {
      this.exited = { code, signal };
      children.delete(this);
      for (const l of this.listeners) l();
    });
  }

  // Resolves with the first match of `regex` in stderr; fails at the deadline or if the child ends.
  waitFor(regex, seconds, what) {
    return new Promise((resolve, reject) => {
      const done = (err, value) => {
        clearTimeout(timer);
        this.listeners.delete(test);
        err ? reject(err) : resolve(value);
      };
      const test = () => {
        const m = this.err.match(regex);
        if (m) return done(null, m);
        if (this.spawnError) return done(new Failure(`${this.name}: cannot start ${this.argv[0]}: ${this.spawnError.message}`));
        if (this.exited) {
          return done(new Failure(`${this.name} exited (${JSON.stringify(this.exited)}) before ${what}; ` +
                                  `stderr:\n${this.err.slice(-3000)}`));
        }
      };
      const timer = setTimeout(() => done(new Failure(`${this.name}: no ${what} within ${seconds} s; ` +
                                                      `stderr:\n${this.err.slice(-3000)}`)), seconds * 1000);
      this.listeners.add(test);
      test();
    });
  }

  // SIGTERM, then SIGKILL after `seconds`; resolves once the child is gone. A group (Chromium on a
  // throwaway profile: nothing to save) gets SIGKILL at once.
  async stop(seconds = 3) {
    if (this.spawnError) return;
    if (!this.exited) {
      const gone = new Promise(resolve => this.proc.once("exit", resolve));
      this.signal(this.group ? "SIGKILL" : "SIGTERM");
      const timer = setTimeout(() => this.signal("SIGKILL"), seconds * 1000);
      await gone;
      clearTimeout(timer);
    }
    if (this.group) this.signal("SIGKILL");  // what of the group outlived its leader
  }

  signal(name) {
    try {
      this.group ? process.kill(-this.proc.pid, name) : this.proc.kill(name);
    } catch (e) {
      if (e.code !== "ESRCH") throw e;  // gone already
    }
  }
}

export async function closeAll() {
  await Promise.all([...children].map(c => c.stop()));
  for (const dir of tmpDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    } catch (e) {
      console.error(`warning: cannot remove ${dir}: ${e.message}`);
    }
  }
  tmpDirs.clear();
}

// Cleans up on Ctrl-C and on a ctest timeout's SIGTERM too.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => closeAll().finally(() => process.exit(1)));
}

// douyu_danmaku --demo --web=0 ...: resolves with {child, url} once it prints its URL.
export async function startOverlay(binDir, args) {
  const exe = path.join(binDir, "douyu_danmaku");
  check(fs.existsSync(exe), `${exe} is missing: build it first`);
  const child = new Child([exe, "--demo", "--web=0", "--output=none", ...args], "douyu_danmaku");
  const m = await child.waitFor(/web overlay: (http:\/\/\S+\/)/, 30, "'web overlay: http://HOST:PORT/' line");
  return { child, url: m[1] };
}

function findChromium() {
  for (const name of [process.env.CHROMIUM, "chromium", "chromium-browser", "google-chrome"]) {
    if (!name) continue;
    try {
      return execFileSync("sh", ["-c", 'command -v "$1"', "sh", name], { encoding: "utf8" }).trim();
    } catch (e) { /* next */ }
  }
  throw new Failure("chromium is not installed: run scripts/install-deps.sh (Debian's chromium and " +
                    "fonts-noto-cjk render the overlay in this test)");
}

// Headless Chromium and a DevTools session on one blank page of `width`x`height`.
export async function startBrowser(WebSocket, { width = 1280, height = 720 } = {}) {
  const exe = findChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "overlay-chromium-"));
  tmpDirs.add(profile);
  const child = new Child([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--no-first-run",
                           "--remote-debugging-port=0", `--user-data-dir=${profile}`,
                           `--window-size=${width},${height}`, "--hide-scrollbars", "about:blank"],
                          "chromium", { group: true });
  // Chromium writes the file when DevTools listens, and says so on stderr at the same moment.
  await child.waitFor(/DevTools listening on ws:\/\//, 30, "DevTools listening line");
  const [port, browserPath] = (await readWhenThere(path.join(profile, "DevToolsActivePort"), 5)).split("\n");
  const cdp = await Cdp.connect(WebSocket, `ws://127.0.0.1:${port}${browserPath}`);
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  const page = new Page(cdp, sessionId);
  await page.send("Page.enable");
  await page.send("Runtime.enable");
  await page.send("Emulation.setDeviceMetricsOverride",
                  { width, height, deviceScaleFactor: 1, mobile: false });
  return { child, cdp, page };
}

async function readWhenThere(file, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const text = fs.readFileSync(file, "utf8");
      if (text.includes("\n")) return text;
    } catch (e) { /* not yet */ }
    check(Date.now() < deadline, `${file} did not appear within ${seconds} s`);
    await sleep(20);
  }
}

// A DevTools-protocol connection: send() resolves with a command's result.
class Cdp {
  static connect(WebSocket, url) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 << 20 });
      socket.once("open", () => resolve(new Cdp(socket)));
      socket.once("error", e => reject(new Failure(`DevTools connection to ${url}: ${e.message}`)));
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.waiting = new Map();
    this.events = [];  // {method, params, sessionId}: console messages and exceptions, kept
    socket.on("message", data => {
      const msg = JSON.parse(data.toString());
      if (msg.id === undefined) {
        if (this.events.length < 1000) this.events.push(msg);
        return;
      }
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      msg.error ? w.reject(new Failure(`${w.method}: ${JSON.stringify(msg.error)}`)) : w.resolve(msg.result);
    });
    socket.on("close", () => {
      for (const w of this.waiting.values()) w.reject(new Failure(`${w.method}: DevTools connection closed`));
      this.waiting.clear();
    });
  }

  send(method, params = {}, sessionId = undefined, seconds = 20) {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Failure(`${method}: no answer within ${seconds} s`));
      }, seconds * 1000);
      this.waiting.set(id, {
        method,
        resolve: r => { clearTimeout(timer); resolve(r); },
        reject: e => { clearTimeout(timer); reject(e); },
      });
    });
  }
}

class Page {
  constructor(cdp, sessionId) {
    this.cdp = cdp;
    this.sessionId = sessionId;
  }

  send(method, params = {}, seconds = 20) {
    return this.cdp.send(method, params, this.sessionId, seconds);
  }

  async navigate(url) {
    const r = await this.send("Page.navigate", { url });
    check(!r.errorText, `navigating to ${url}: ${r.errorText}`);
  }

  // The value of a JS expression in the page (JSON-able); a thrown exception fails.
  async eval(expression) {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    if (r.exceptionDetails) {
      throw new Failure(`in the page: ${expression}\n  threw ${JSON.stringify(r.exceptionDetails).slice(0, 800)}`);
    }
    return r.result.value;
  }

  // Polls `expression` until it is truthy; returns that value. `what` names the wait on failure,
  // with the last value seen.
  async until(expression, seconds, what) {
    const deadline = Date.now() + seconds * 1000;
    let last;
    for (;;) {
      last = await this.eval(expression);
      if (last) return last;
      if (Date.now() > deadline) {
        throw new Failure(`no ${what} within ${seconds} s (last: ${JSON.stringify(last)}); ` +
                          `page errors: ${JSON.stringify(this.errors())}`);
      }
      await sleep(100);
    }
  }

  // Uncaught exceptions and console errors of the page so far.
  errors() {
    return this.cdp.events
      .filter(e => e.sessionId === this.sessionId &&
                   (e.method === "Runtime.exceptionThrown" ||
                    (e.method === "Runtime.consoleAPICalled" && e.params.type === "error")))
      .map(e => e.method === "Runtime.exceptionThrown"
                  ? e.params.exceptionDetails.exception?.description ?? e.params.exceptionDetails.text
                  : e.params.args.map(a => a.value ?? a.description).join(" "));
  }

  async screenshot(file) {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    fs.writeFileSync(file, Buffer.from(data, "base64"));
  }
}

// Runs main() and exits 0 (pass) or 1 (fail, saying why), always closing every child first.
export async function run(name, main) {
  let status = 0;
  try {
    await main();
    console.log(`${name}: ok`);
  } catch (e) {
    status = 1;
    console.error(`${name}: FAILED: ${e instanceof Failure ? e.message : e.stack}`);
  } finally {
    await closeAll();
  }
  process.exit(status);
}
