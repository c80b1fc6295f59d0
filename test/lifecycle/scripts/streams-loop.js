"use strict";
// Streams adapters (createStreamsAdapter) created, used and closed in a loop, on a standalone Redis or, with
// "cluster" as third argument, through a cluster target: a broadcast crosses two servers through the
// stream, a socketsJoin, requests over pub/sub, a second namespace on the same reader, and each round
// closes both servers while their readers are blocked in XREAD (BLOCK 10 s) and a request may still be
// pending. The process must then exit on its own, at once.
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createStreamsAdapter } = require("../../..");
const url = process.argv[2];
const rounds = Number(process.argv[3] || 3);
const target = process.argv[4] === "cluster" ? { cluster: [url] } : url;

async function server() {
  const io = new Server({ adapter: createStreamsAdapter(target, { blockTimeInMs: 10000, streamName: `life-${process.pid}` }) });
  io.of("/").adapter.on("error", () => {});
  io.of("/other");
  await new Promise((r) => io.listen(0) && io.httpServer.once("listening", r));
  return io;
}

async function connect(io, nsp = "/") {
  const client = ioc(`http://127.0.0.1:${io.httpServer.address().port}${nsp}`, { transports: ["websocket"], forceNew: true });
  await new Promise((r) => client.once("connect", r));
  return client;
}

async function until(check) {
  for (let i = 0; i < 500 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
}

(async () => {
  for (let i = 0; i < rounds; i++) {
    const a = await server();
    const b = await server();
    await until(async () => (await a.of("/").adapter.serverCount()) === 2);
    // the readers have sent their first XREAD once each has its starting id
    await until(() => [a, b].every((io) => io.of("/").adapter.stats.reader.lastId !== "$"));
    await new Promise((r) => setTimeout(r, 50));
    b.on("connection", (s) => s.join("room"));
    const cb = await connect(b);
    const co = await connect(b, "/other");
    const got = Promise.all([new Promise((r) => cb.once("hi", r)), new Promise((r) => co.once("o", r))]);
    a.to("room").emit("hi", i, Buffer.from([i]));
    a.of("/other").emit("o", i);
    await got;
    a.socketsJoin("all");
    await until(() => b.of("/").adapter.rooms.has("all"));
    const sockets = await a.fetchSockets();
    if (sockets.length !== 1) throw new Error(`fetchSockets gave ${sockets.length}`);
    b.on("ping", (cb2) => cb2("pong"));
    const replies = await a.serverSideEmitWithAck("ping");
    if (replies.length !== 1 || replies[0] !== "pong") throw new Error(`serverSideEmitWithAck gave ${replies}`);
    const pending = a.timeout(500).fetchSockets().then(
      () => "resolved",
      (err) => err.message,
    );
    cb.close();
    co.close();
    await b.close();
    await a.close();
    await pending;
  }
  console.log("ok");
})();
