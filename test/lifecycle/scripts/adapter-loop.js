"use strict";
// Socket.IO servers with our adapter created, used and closed in a loop, some closed with requests
// still pending (a silent peer subscribed to the request channel never answers); the process must
// then exit on its own.
const net = require("node:net");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createAdapter } = require("../../..");
const url = process.argv[2];
const rounds = Number(process.argv[3] || 5);

function silentPeer() {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname, () => {
      const ch = "socket.io-request#/#";
      sock.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${ch.length}\r\n${ch}\r\n`);
      sock.once("data", () => resolve(sock));
    });
    sock.on("error", reject);
  });
}

(async () => {
  const silent = await silentPeer();
  for (let i = 0; i < rounds; i++) {
    const factory = createAdapter(url, { requestsTimeout: 10000 });
    const io = new Server({ adapter: factory });
    io.of("/admin");
    io.on("connection", (s) => s.join("room" + i));
    await new Promise((r) => io.listen(0) && io.httpServer.once("listening", r));
    const port = io.httpServer.address().port;
    const client = ioc(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
    await new Promise((r) => client.once("connect", r));
    const got = new Promise((r) => client.once("hi", r));
    io.to("room" + i).emit("hi", i, Buffer.from([i]));
    await got;
    // The local delivery above does not wait for Redis: wait for both connections, or a request made
    // during the command connection's handshake is refused (ENOTCONN) instead of staying pending.
    while (!factory.client.isReady) await new Promise((r) => setTimeout(r, 5));
    // Requests the silent peer keeps pending until close() rejects them.
    const pending = [io.fetchSockets(), io.of("/").adapter.allRooms(), io.serverSideEmitWithAck("x")].map((p) =>
      p.then(
        () => "resolved",
        (err) => err.code,
      ),
    );
    client.close();
    await io.close();
    const outcomes = await Promise.all(pending);
    if (outcomes.some((o) => o !== "ECLOSED")) throw new Error(`pending requests ended with ${outcomes}`);
  }
  silent.destroy();
  console.log("ok");
})();
