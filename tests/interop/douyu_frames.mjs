// douyu_frames.mjs — the Douyu frame format and STT, written again from PROTOCOL.md (not from our
// C++ code), for the Node.js interop peers. A frame: length (u32 LE) = 8 + body bytes, the same
// length again, type (u16 LE) 689 client->server / 690 server->client, encrypt 0, reserved 0,
// body = UTF-8 STT text ending with one NUL byte.
import { createRequire } from 'node:module';
import path from 'node:path';

export const CLIENT_TYPE = 689;
export const SERVER_TYPE = 690;
export const MAX_LENGTH = 1 << 20;

// `ws` from the folder the test installed it in (npm install --prefix DIR ws@8): ESM resolves
// bare names from the importing file's folder, so the peers load it with require from DIR.
export function loadWs(prefix) {
  if (!prefix) throw new Error('--node-prefix=DIR (where `npm install --prefix DIR ws@8` put ws) is required');
  const require = createRequire(path.join(path.resolve(prefix), 'package.json'));
  return require('ws');
}

export function sttEscape(s) {
  return String(s).replaceAll('@', '@A').replaceAll('/', '@S');
}

// One left-to-right pass: @A -> @, @S -> /.
export function sttUnescape(s) {
  let out = '';
  for (let i = 0; i < s.length; ++i) {
    if (s[i] === '@' && i + 1 < s.length && (s[i + 1] === 'A' || s[i + 1] === 'S')) {
      out += s[i + 1] === 'A' ? '@' : '/';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "k@=v/k2@=v2/" -> Map (the first of a repeated key wins).
export function sttParse(body) {
  const m = new Map();
  for (const item of body.split('/')) {
    if (item === '') continue;
    const eq = item.indexOf('@=');
    if (eq < 0) continue;
    const key = sttUnescape(item.slice(0, eq));
    if (!m.has(key)) m.set(key, sttUnescape(item.slice(eq + 2)));
  }
  return m;
}

export function sttBody(pairs) {
  return pairs.map(([k, v]) => `${sttEscape(k)}@=${sttEscape(v)}/`).join('');
}

export function encodeFrame(body, type) {
  const text = Buffer.from(body, 'utf8');
  const length = 8 + text.length + 1;
  const buf = Buffer.alloc(4 + length);
  buf.writeUInt32LE(length, 0);
  buf.writeUInt32LE(length, 4);
  buf.writeUInt16LE(type, 8);
  buf[10] = 0;
  buf[11] = 0;
  text.copy(buf, 12);
  buf[12 + text.length] = 0;
  return buf;
}

// Incremental and strict: push() any bytes, get the whole frames' bodies; a malformed frame throws.
export class FrameDecoder {
  constructor(expectedType) {
    this.expectedType = expectedType;
    this.pending = Buffer.alloc(0);
    this.frames = 0;
  }
  push(chunk) {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const bodies = [];
    while (this.pending.length >= 12) {
      const length = this.pending.readUInt32LE(0);
      const again = this.pending.readUInt32LE(4);
      if (length !== again) throw new Error(`frame lengths differ: ${length} != ${again}`);
      if (length < 9 || length > MAX_LENGTH) throw new Error(`frame length ${length} out of range`);
      const type = this.pending.readUInt16LE(8);
      if (type !== this.expectedType) throw new Error(`frame type ${type}, expected ${this.expectedType}`);
      if (this.pending[10] !== 0 || this.pending[11] !== 0) throw new Error('encrypt/reserved bytes not 0');
      if (this.pending.length < 4 + length) break;
      const body = this.pending.subarray(12, 4 + length);
      if (body[body.length - 1] !== 0) throw new Error('frame body does not end with NUL');
      if (body.indexOf(0) !== body.length - 1) throw new Error('NUL inside a frame body');
      bodies.push(body.subarray(0, body.length - 1).toString('utf8'));
      this.pending = this.pending.subarray(4 + length);
      ++this.frames;
    }
    return bodies;
  }
  get buffered() {
    return this.pending.length;
  }
}

// xorshift32: the same cuts on every run.
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (const a of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    if (!m || !(m[1] in defaults)) {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
    out[m[1]] = m[2];
  }
  return out;
}
