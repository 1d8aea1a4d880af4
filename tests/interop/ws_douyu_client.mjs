// ws_douyu_client.mjs — an independent Douyu client on the `ws` package (npm), for the interop
// tests (tests/interop/ws_interop.py): runs one session against our simulator
// (douyu_server --transport=ws|wss --flood=N) and checks it.
//
//   node ws_douyu_client.mjs --node-prefix=DIR --url=wss://127.0.0.1:PORT/ --room=R --count=N
//                            [--ca=PEM] [--timeout=SECONDS]
//
// Sends loginreq + joingroup as Douyu frames cut across binary messages (the first 5 bytes of
// loginreq alone, the rest of it and all of joingroup as one message in two fragments), reads the
// flood, checks every frame strictly (type 690, lengths, NUL) and that the room messages carry
// seq 1..N exactly once, in order, then sends mrkl and waits for the mrkl answer, sends logout
// and expects the server's close 1000. Prints one JSON line; exit 0 only when all of it held.
import fs from 'node:fs';
import {
  CLIENT_TYPE, SERVER_TYPE, FrameDecoder, encodeFrame, loadWs, parseArgs, sttBody, sttParse,
} from './douyu_frames.mjs';

const args = parseArgs(process.argv.slice(2), {
  'node-prefix': '', url: '', room: '9999', count: '1000', ca: '', timeout: '20',
});
const WebSocket = loadWs(args['node-prefix']);
const count = Number(args.count);
const room = args.room;
const result = {
  ok: false, url: args.url, received: 0, first_seq: null, last_seq: null, out_of_order: 0,
  duplicates: 0, missing: 0, extra: 0, loginres: 0, mrkl_answers: 0, pingreq: 0, other_types: [],
  frames: 0, ws_messages: 0, close_code: null, errors: [],
};
let phase = 'login';  // login -> flood -> heartbeat -> logout -> closed
let expected = 1;
const seen = new Set();

function finish() {
  result.missing = count - seen.size;
  result.ok = result.errors.length === 0 && phase === 'closed' && result.received === count &&
              result.out_of_order === 0 && result.duplicates === 0 && result.extra === 0 &&
              result.missing === 0 && result.first_seq === 1 && result.last_seq === count &&
              result.loginres === 1 && result.mrkl_answers === 1 && result.close_code === 1000;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

const timer = setTimeout(() => {
  result.errors.push(`timed out after ${args.timeout} s in phase ${phase}`);
  finish();
}, Number(args.timeout) * 1000);

const options = { perMessageDeflate: false };
if (args.ca !== '') options.ca = fs.readFileSync(args.ca);
const ws = new WebSocket(args.url, options);
const frame = (pairs) => encodeFrame(sttBody(pairs), CLIENT_TYPE);
const decoder = new FrameDecoder(SERVER_TYPE);

ws.on('open', () => {
  const login = frame([['type', 'loginreq'], ['roomid', room]]);
  const join = frame([['type', 'joingroup'], ['rid', room], ['gid', '-9999']]);
  ws.send(login.subarray(0, 5), { binary: true });
  ws.send(Buffer.concat([login.subarray(5), join.subarray(0, 7)]), { binary: true, fin: false });
  ws.send(join.subarray(7), { binary: true, fin: true });
});

ws.on('message', (data, isBinary) => {
  ++result.ws_messages;
  if (!isBinary) {
    result.errors.push('a text message from the server');
    return;
  }
  let bodies;
  try {
    bodies = decoder.push(data);
  } catch (e) {
    result.errors.push(`malformed frame: ${e.message}`);
    ws.terminate();
    return;
  }
  result.frames = decoder.frames;
  for (const body of bodies) {
    const m = sttParse(body);
    const type = m.get('type');
    if (type === 'loginres') {
      ++result.loginres;
      if (phase === 'login') phase = 'flood';
    } else if (type === 'mrkl') {
      ++result.mrkl_answers;
      if (phase === 'heartbeat') {
        phase = 'logout';
        ws.send(frame([['type', 'logout']]), { binary: true });
      }
    } else if (type === 'pingreq') {
      ++result.pingreq;
    } else if (m.has('seq')) {
      const seq = Number(m.get('seq'));
      // (anbc/rnewbc carry the room in drid, no rid)
      if (m.has('rid') && m.get('rid') !== room) result.errors.push(`seq ${seq}: rid ${m.get('rid')}`);
      if (phase !== 'flood' || seen.size >= count) {
        ++result.extra;
        continue;
      }
      ++result.received;
      if (seen.has(seq)) ++result.duplicates;
      seen.add(seq);
      if (seq !== expected) ++result.out_of_order;
      expected = seq + 1;
      result.first_seq ??= seq;
      result.last_seq = seq;
      if (seen.size === count) {
        phase = 'heartbeat';
        ws.send(frame([['type', 'mrkl']]), { binary: true });
      }
    } else {
      result.other_types.push(type ?? '(none)');
    }
  }
});

ws.on('error', (e) => result.errors.push(`websocket: ${e.message}`));
ws.on('close', (code) => {
  result.close_code = code;
  if (phase !== 'logout') result.errors.push(`closed (${code}) in phase ${phase}`);
  phase = 'closed';
  if (decoder.buffered !== 0) result.errors.push(`${decoder.buffered} bytes of an unfinished frame`);
  clearTimeout(timer);
  finish();
});
