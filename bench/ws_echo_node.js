// Node's `ws` echo server for bench/ws_echo.sh: the peer hive's WebSocket echo is compared with.
// Usage: node ws_echo_node.js <port>
'use strict';
let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  WebSocket = require('/usr/share/nodejs/ws');
}
const wss = new WebSocket.Server({ port: Number(process.argv[2]), host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
console.error('listening');
