"use strict";
// A raw TCP peer that plays a misbehaving Redis (accepts and never answers, answers the handshake and
// then stops reading, sends an endless reply...). `handler(socket, state)` sets up each accepted socket.
// close() destroys every socket and stops listening.
const net = require("node:net");

async function startPeer(handler) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    handler(socket);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: server.address().port,
    sockets,
    accepted: () => server.connections,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startPeer };
