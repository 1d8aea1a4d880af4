// ws_douyu_server.mjs — an independent Douyu barrage server on the `ws` package (npm), plain ws or
// wss (node:https), for the interop tests (tests/interop/ws_interop.py).
//
//   node ws_douyu_server.mjs --node-prefix=DIR --count=N [--cert=PEM --key=PEM] [--seed=S]
//                            [--flood-after-heartbeat=1]
//
// Prints "listening on ws://127.0.0.1:PORT/" (or wss://) first. Per connection: parses the
// client's frames (strictly: type 689) from binary messages — frames may span messages;
// loginreq -> loginres; joingroup (rid = the login's roomid) -> N chatmsg frames
// type@=chatmsg/seq@=K/rid@=R/uid@=1/nn@=interop/txt@=TEXT(K)/ (K = 1..N), after the first mrkl
// with --flood-after-heartbeat=1; mrkl -> mrkl; logout -> close 1000. The flood's bytes are cut
// into WebSocket messages by a seeded plan: some messages carry 1..50 whole frames, some cut a
// frame at an arbitrary byte, some are 1 byte, some are sent as fragments (fin:false pieces, one
// possibly empty, a ping between fragments). When a connection ends, one JSON line on stdout
// ({"event":"session", ...}) says what the server saw and sent; TLS handshake failures print
// {"event":"tls_error", ...}. Ends on SIGTERM/SIGINT.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import {
  CLIENT_TYPE, SERVER_TYPE, FrameDecoder, encodeFrame, loadWs, parseArgs, rng, sttBody, sttParse,
} from './douyu_frames.mjs';

const args = parseArgs(process.argv.slice(2), {
  'node-prefix': '', count: '1000', cert: '', key: '', seed: '1', 'flood-after-heartbeat': '0',
});
const { WebSocketServer } = loadWs(args['node-prefix']);
const count = Number(args.count);
const tls = args.cert !== '';

// The chat text of message K (the test expects exactly this): '/' and '@' need STT escapes,
// non-ASCII counts bytes, and frames differ in length.
export function chatText(k) {
  return `msg ${k}: a/b@c 弹幕 ${'x'.repeat(k % 37)}`;
}

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Cuts `total` (the flood's frames, back to back) into messages; `ends` = the frame boundaries.
function plan(total, ends, seed) {
  const r = rng(seed);
  const boundary = new Set(ends);
  const msgs = [];
  const stats = { messages: 0, whole_frame_messages: 0, max_frames_in_message: 0, cut_messages: 0,
                  one_byte_messages: 0, fragmented_messages: 0, fragments: 0, empty_fragments: 0,
                  pings: 0 };
  let off = 0;
  let next = 0;  // index into ends of the first end > off
  while (off < total.length) {
    const c = msgs.length === 0 ? -1 : r(10);
    let end;
    if (c < 4) {  // whole frames: the rest of the current one, then up to 50 in all
      const k = c < 0 ? 50 : 1 + r(50);
      end = ends[Math.min(next + k - 1, ends.length - 1)];
    } else if (c < 7) {
      end = off + 1 + r(700);
    } else if (c === 7) {
      end = off + 1;
    } else {
      end = off + 1 + r(2000);
    }
    end = Math.min(end, total.length);
    const bytes = total.subarray(off, end);
    let framesEnded = 0;
    while (next < ends.length && ends[next] <= end) {
      ++next;
      ++framesEnded;
    }
    const m = { pieces: [bytes], pingAfter: -1 };
    if (c >= 8) {  // fragments: 2..5 pieces, cut at random points, maybe one empty
      const n = 2 + r(4);
      const cuts = [];
      for (let i = 0; i < n - 1; ++i) cuts.push(r(bytes.length + 1));
      cuts.sort((a, b) => a - b);
      if (r(4) === 0) cuts.push(cuts[cuts.length - 1]);  // an empty fragment
      m.pieces = [];
      let at = 0;
      for (const cut of cuts) {
        m.pieces.push(bytes.subarray(at, cut));
        at = cut;
      }
      m.pieces.push(bytes.subarray(at));
      if (r(2) === 0) m.pingAfter = r(m.pieces.length - 1);
      ++stats.fragmented_messages;
      stats.fragments += m.pieces.length;
      stats.empty_fragments += m.pieces.filter((p) => p.length === 0).length;
      if (m.pingAfter >= 0) ++stats.pings;
    }
    if (bytes.length === 1) ++stats.one_byte_messages;
    if (!boundary.has(end)) ++stats.cut_messages;
    if (boundary.has(end) && (off === 0 || boundary.has(off))) {
      ++stats.whole_frame_messages;
      stats.max_frames_in_message = Math.max(stats.max_frames_in_message, framesEnded);
    }
    msgs.push(m);
    ++stats.messages;
    off = end;
  }
  return { msgs, stats };
}

function flood(ws, rid, s) {
  const frames = [];
  const ends = [];
  let size = 0;
  for (let k = 1; k <= count; ++k) {
    const f = encodeFrame(sttBody([['type', 'chatmsg'], ['seq', String(k)], ['rid', rid],
                                   ['uid', '1'], ['nn', 'interop'], ['txt', chatText(k)]]),
                          SERVER_TYPE);
    frames.push(f);
    size += f.length;
    ends.push(size);
  }
  const { msgs, stats } = plan(Buffer.concat(frames), ends, Number(args.seed));
  // Every piece is queued in this one turn: nothing else can come between two pieces of a frame.
  for (const m of msgs) {
    m.pieces.forEach((piece, i) => {
      ws.send(piece, { binary: true, fin: i === m.pieces.length - 1, compress: false });
      if (i === m.pingAfter) ws.ping(Buffer.from('interop'));
    });
  }
  s.sent_chatmsg = count;
  s.plan = stats;
}

function serve(ws, req) {
  const s = { event: 'session', peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
              tls, logins: 0, joins: 0, heartbeats: 0, logouts: 0, other_types: [],
              text_messages: 0, errors: [], sent_chatmsg: 0, frames_in: 0, plan: null };
  const decoder = new FrameDecoder(CLIENT_TYPE);
  let room = null;
  let floodWaits = false;
  const fail = (why, code) => {
    s.errors.push(why);
    ws.close(code, why.slice(0, 100));
  };
  const send = (pairs) => ws.send(encodeFrame(sttBody(pairs), SERVER_TYPE), { binary: true });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      ++s.text_messages;
      return fail('a text message (Douyu frames come in binary messages)', 1003);
    }
    let bodies;
    try {
      bodies = decoder.push(data);
    } catch (e) {
      return fail(`malformed frame: ${e.message}`, 1002);
    }
    s.frames_in = decoder.frames;
    for (const body of bodies) {
      const m = sttParse(body);
      const type = m.get('type');
      if (type === 'loginreq') {
        ++s.logins;
        room = m.get('roomid');
        if (!/^[1-9][0-9]*$/.test(room ?? '')) return fail(`loginreq without a room id: ${body}`, 1008);
        send([['type', 'loginres'], ['userid', '0'], ['roomgroup', '0'], ['pg', '0'],
              ['sessionid', '0'], ['username', ''], ['nickname', ''], ['live_stat', '1']]);
      } else if (type === 'joingroup') {
        ++s.joins;
        if (room === null) return fail('joingroup before loginreq', 1008);
        if (m.get('rid') !== room) return fail(`joingroup rid ${m.get('rid')} != roomid ${room}`, 1008);
        if (s.joins > 1) continue;
        if (args['flood-after-heartbeat'] === '1' && s.heartbeats === 0) {
          floodWaits = true;
        } else {
          flood(ws, room, s);
        }
      } else if (type === 'mrkl') {
        ++s.heartbeats;
        send([['type', 'mrkl']]);
        if (floodWaits) {
          floodWaits = false;
          flood(ws, room, s);
        }
      } else if (type === 'logout') {
        ++s.logouts;
        ws.close(1000, 'logout');
      } else {
        s.other_types.push(type ?? '(none)');
      }
    }
  });
  ws.on('error', (e) => s.errors.push(`socket: ${e.message}`));
  ws.on('close', (code) => {
    s.client_close_code = code;  // the code of the client's close (or its reply to ours)
    s.unparsed_bytes = decoder.buffered;
    print(s);
  });
}

const server = tls
  ? https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) })
  : http.createServer();
server.on('tlsClientError', (e) => print({ event: 'tls_error', message: e.message }));
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', serve);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on ${tls ? 'wss' : 'ws'}://127.0.0.1:${server.address().port}/\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
