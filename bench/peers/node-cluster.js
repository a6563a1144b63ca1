// Node peer for bench/run.py: the cluster module's primary forks N workers, each an
// http.createServer answering every request with 200 "Hello, world!\n" (text/plain).
//
//   node node-cluster.js [--port P] [--workers N]     (or env PORT, WORKERS; defaults 8080, 1)
//
// The primary hands connections to workers round-robin (Node's default on Linux); set
// NODE_CLUSTER_SCHED_POLICY=none to let workers accept on the shared socket instead.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const port = Number(arg('--port', process.env.PORT || 8080));
const workers = Math.max(1, Number(arg('--workers', process.env.WORKERS || 1)));
const host = '127.0.0.1';
const body = 'Hello, world!\n';
const headers = { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) };

if (cluster.isPrimary) {
  let ready = 0;
  let stopping = false;
  for (let i = 0; i < workers; ++i) cluster.fork();
  cluster.on('listening', () => {
    if (++ready === workers) console.log(`node ${process.pid} listening on ${host}:${port}`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`node: worker ${worker.process.pid} died (${signal || code}); stopping`);
      stop();
    } else if (Object.keys(cluster.workers).length === 0) {
      process.exit(0); // every worker reaped: none is left behind as a zombie
    }
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    for (const id in cluster.workers) cluster.workers[id].process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const server = http.createServer((req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  });
  // wrk holds its connections for the whole run; do not let the idle timers cut them.
  server.keepAliveTimeout = 600 * 1000;
  server.headersTimeout = 610 * 1000;
  server.requestTimeout = 0;
  server.listen(port, host);
}
