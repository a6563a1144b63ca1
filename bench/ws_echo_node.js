// Node's `ws` server for bench/ws.py: the peer hive's WebSocket is compared with, serving what
// examples/chat serves — /ws/echo echoes each message to its sender, /ws/chat sends each message
// to every /ws/chat client (ws has no pub/sub: the README's broadcast loop). One process.
// Usage: node ws_echo_node.js <port>
'use strict';
let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  WebSocket = require('/usr/share/nodejs/ws');
}
const chat = new Set();
const wss = new WebSocket.Server({ port: Number(process.argv[2]), host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  if (req.url === '/ws/chat') {
    chat.add(ws);
    ws.on('close', () => chat.delete(ws));
    ws.on('message', (data, isBinary) => {
      for (const c of chat) if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
    });
    return;
  }
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.error('listening'));
