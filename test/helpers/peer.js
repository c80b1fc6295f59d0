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

// Answers every PING in what it reads with +PONG (a handshake that proves nothing else).
function answerPings(socket, after) {
  let text = "";
  socket.on("data", (d) => {
    text += d.toString("latin1");
    let i;
    while ((i = text.indexOf("PING\r\n")) >= 0) {
      text = text.slice(i + 6);
      socket.write("+PONG\r\n");
      if (after) after();
    }
    if (text.length > 16) text = text.slice(-16);
  });
}

module.exports = { startPeer, answerPings };
