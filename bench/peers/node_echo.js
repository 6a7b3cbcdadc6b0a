// SPDX-License-Identifier: BSD-2-Clause
// node_echo.js - the Node.js echo server, as a benchmark peer for
// `sockit compare`.
//
// usage: node node_echo.js PORT     (0 lets the kernel pick a free port)
//
// net.createServer with each socket piped into itself: the echo every
// Node tutorial shows.  pipe() handles backpressure (it pauses reading
// while the socket's write buffer is full).  When ready it prints
// "listening on 127.0.0.1 port N" to stderr, the line sockit's own
// servers print, so one harness can start both.
'use strict';
const net = require('net');

const port = Number(process.argv[2]);
if (process.argv.length !== 3 || !Number.isInteger(port)) {
  process.stderr.write('usage: node node_echo.js PORT\n');
  process.exit(2);
}

// noDelay: no Nagle delay on request/response traffic, as sockit does
// (Node's docs: socket.setNoDelay; the server option needs Node >= 17.7).
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy()); // a reset client is not our error
  socket.pipe(socket);
});
server.listen(port, '127.0.0.1', () => {
  process.stderr.write(`listening on 127.0.0.1 port ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
