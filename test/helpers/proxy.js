"use strict";
// A TCP proxy in front of Redis that can turn the connections it carries into a dead path: blackhole()
// stops reading and forwarding in both directions without closing anything (no FIN, no RST), like a
// stuck middlebox or a path that drops everything. Its kernel still acknowledges what arrives until its
// buffers are full; what it acknowledged is kept. Connections opened afterwards are forwarded as usual.
// release() forwards to Redis what the dead connections had received, even after the client reset them
// (Linux keeps received bytes readable after a reset): what a frozen peer would run once it resumes. heal()
// brings them back both ways.
const net = require("node:net");

// pause() alone lets the socket read on up to its highWaterMark, and see a reset meanwhile (then what it
// buffered is lost with it): stop the handle's reads now, and start them again the same way (the stream
// still waits for the read it had asked for, so resume() alone would not).
function stopReading(socket) {
  socket.pause();
  if (socket._handle && socket._handle.reading) {
    socket._handle.reading = false;
    socket._handle.readStop();
  }
}

function startReading(socket) {
  if (socket._handle && !socket._handle.reading) {
    socket._handle.reading = true;
    socket._handle.readStart();
  }
  socket.resume();
}

async function startProxy(port, host = "127.0.0.1") {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    const pair = { client, upstream, dead: false, released: false };
    pairs.add(pair);
    client.on("data", (d) => {
      if (!pair.dead || pair.released) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!pair.dead) client.write(d);
    });
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.on("close", () => {
      if (!pair.dead || pair.released) upstream.end();
    });
    upstream.on("close", () => {
      pairs.delete(pair);
      if (!pair.dead) client.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  return {
    port: server.address().port,
    // The connections open now go dead; returns how many.
    blackhole() {
      let n = 0;
      for (const pair of pairs) {
        if (pair.dead) continue;
        pair.dead = true;
        stopReading(pair.client);
        stopReading(pair.upstream);
        n++;
      }
      return n;
    },
    // The dead connections come back to life (a path that heals, a frozen middlebox that resumes): what
    // each side had sent is forwarded, both ways, and so is everything after.
    heal() {
      for (const pair of pairs) {
        if (!pair.dead || pair.released) continue;
        pair.dead = false;
        startReading(pair.client);
        startReading(pair.upstream);
      }
    },
    release() {
      for (const pair of pairs) {
        if (!pair.dead || pair.released) continue;
        pair.released = true;
        startReading(pair.client);
        if (pair.client.destroyed) pair.upstream.end();
      }
    },
    close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startProxy };
