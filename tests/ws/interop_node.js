// WebSocket interop: Node's `ws` client (Debian node-ws, or npm's) against examples/chat:
// echo of text and binary, a 16 MiB message, a fragmented message, close codes. Exits 77
// (skipped) when the module is missing. Usage: node interop_node.js <port>
'use strict';
let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  try {
    WebSocket = require('/usr/share/nodejs/ws');
  } catch (e2) {
    console.log('skipped: no ws module (scripts/dev installs node-ws)');
    process.exit(77);
  }
}

const port = process.argv[2];
let failures = 0;
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures++;
}

function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { maxPayload: 64 * 1024 * 1024 });
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift()(m); else queue.push(m);
    });
    ws.next = () => new Promise((res) => (queue.length ? res(queue.shift()) : waiters.push(res)));
    ws.closed = new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}

async function main() {
  const ws = await open('/ws/echo');
  // ws offers permessage-deflate by default; examples/chat accepts it.
  check(ws.extensions.includes('permessage-deflate'), `node: permessage-deflate negotiated (${ws.extensions})`);
  ws.send('héllo ✓');
  let m = await ws.next();
  check(!m.isBinary && m.data.toString() === 'héllo ✓', 'node: text stays text');
  ws.send(Buffer.from([0, 1, 254, 255]));
  m = await ws.next();
  check(m.isBinary && Buffer.compare(m.data, Buffer.from([0, 1, 254, 255])) === 0, 'node: binary stays binary');
  const big = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  ws.send(big);
  m = await ws.next();
  check(m.isBinary && Buffer.compare(m.data, big) === 0, 'node: a 16 MiB binary message');
  ws.send('frag', { fin: false });
  ws.send('men', { fin: false });
  ws.send('ted', { fin: true });
  m = await ws.next();
  check(m.data.toString() === 'fragmented', 'node: a fragmented message is one message');
  ws.close(4002, 'node done');
  const c = await ws.closed;
  check(c.code === 4002, `node: the close code is echoed (got ${c.code})`);
  process.exit(failures ? 1 : 0);
}

setTimeout(() => {
  console.log('FAIL timed out');
  process.exit(1);
}, 20000);
main().catch((e) => {
  console.log('FAIL ' + e);
  process.exit(1);
});
