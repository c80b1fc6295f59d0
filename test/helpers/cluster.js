"use strict";

// A 3-server fixture on one Redis with two clients per server, plus a "barrier": a broadcast to
// everyone that, once received by every client, proves all earlier publishes from the same
// server have been delivered (Redis keeps per-connection order), so "did not receive" is exact.

const { createServers } = require("./servers");
const { waitForSubscribers } = require("./redis");

let seq = 0;

function waitEvent(socket, event, predicate, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`client ${socket.id} did not receive '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    function handler(...args) {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(args);
    }
    socket.on(event, handler);
  });
}

// Emits "__barrier" from io (namespace nsp) and waits until every socket in `clients` got it.
async function barrier(io, clients, { nsp = "/", timeoutMs = 3000 } = {}) {
  const token = ++seq;
  const waits = clients.map((c) => waitEvent(c, "__barrier", (v) => v === token, timeoutMs));
  io.of(nsp).emit("__barrier", token);
  await Promise.all(waits);
}

// Starts `count` servers with `factory(i)` adapters, waits until every node listens on Redis,
// and connects `perServer` clients to each namespace in `nsps` on each server.
// -> { cluster, ios, clients: { [nsp]: [[c, c], [c, c], ...] }, all(nsp) , close() }
async function startCluster({
  redis,
  factory,
  count = 3,
  perServer = 2,
  nsps = ["/"],
  key = "socket.io",
  serverOpts,
  waitSubscribers = true,
}) {
  const cluster = await createServers({
    count,
    adapter: factory,
    namespaces: nsps.filter((n) => n !== "/"),
    serverOpts,
  });
  try {
    if (waitSubscribers) {
      for (const nsp of nsps) await waitForSubscribers(redis.port, count, { key, nsp });
    }
    const clients = {};
    for (const nsp of nsps) {
      clients[nsp] = [];
      for (let i = 0; i < count; i++) {
        const row = [];
        for (let j = 0; j < perServer; j++) row.push(await cluster.connect(i, { nsp }));
        clients[nsp].push(row);
      }
    }
    return {
      cluster,
      ios: cluster.ios,
      clients,
      all: (nsp = "/") => clients[nsp].flat(),
      serverSocket: (i, client, nsp = "/") => cluster.serverSocket(i, client, nsp),
      close: () => cluster.closeAll(),
    };
  } catch (err) {
    await cluster.closeAll();
    throw err;
  }
}

module.exports = { startCluster, barrier, waitEvent };
